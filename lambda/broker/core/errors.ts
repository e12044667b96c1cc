/**
 * The broker's one error type. Every failure a caller can see is a `BrokerError` with a stable
 * `code`; `toHttpStatus` in responses.ts is the one place that maps codes to HTTP statuses.
 *
 * Messages and descriptions never carry a secret, a private key, an access token or an
 * Authorization header: they are returned to callers and logged.
 */
export type BrokerErrorCode =
  | 'invalid_request'
  | 'invalid_scope'
  | 'unknown_client'
  | 'upstream_rejected'
  | 'upstream_unavailable'
  | 'internal_error';

export class BrokerError extends Error {
  override readonly name = 'BrokerError';

  constructor(
    readonly code: BrokerErrorCode,
    readonly description: string,
    options: {
      cause?: unknown;
      /** For `upstream_unavailable`: when a caller may try again, in seconds. */
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(`${code}: ${description}`, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  readonly retryAfterSeconds?: number;
}

/** Wraps anything thrown into a BrokerError; unknown failures become `internal_error` with no details. */
export function toBrokerError(error: unknown): BrokerError {
  if (error instanceof BrokerError) return error;
  return new BrokerError('internal_error', 'The broker failed unexpectedly', { cause: error });
}
