import type { BrokerErrorCode } from '../../shared/error-codes.ts';

/**
 * Why the authorization server's answer was refused (with `upstream_rejected`). The core decides
 * on it: rejected credentials make it look for a rotated secret.
 */
export type UpstreamRejection =
  /** Any 401 (RFC 6749 §5.2), `invalid_client`, or a 403 without an OAuth error body. */
  | 'credentials_rejected'
  /** An OAuth error about the request itself (`invalid_scope`, `unauthorized_client` other than with 401...). */
  | 'request_rejected'
  /** A 2xx answer that is not a usable token response. */
  | 'invalid_response';

export interface BrokerErrorOptions {
  readonly cause?: unknown;
  /** For the 503 codes (`upstream_unavailable`, `secret_store_unavailable`): when a caller may try again, in seconds. */
  readonly retryAfterSeconds?: number;
  /** For `upstream_rejected`: what was refused. */
  readonly rejection?: UpstreamRejection;
}

/**
 * The broker's one error type. Every failure a caller can see is a `BrokerError` with a stable
 * `code` (`lambda/shared/error-codes.ts` maps each to its HTTP status).
 *
 * Messages and descriptions never carry a secret, a private key, an access token or an
 * Authorization header: they are returned to callers and logged.
 */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  readonly retryAfterSeconds?: number;
  readonly rejection?: UpstreamRejection;

  constructor(
    readonly code: BrokerErrorCode,
    readonly description: string,
    options: BrokerErrorOptions = {},
  ) {
    super(`${code}: ${description}`, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.rejection !== undefined) this.rejection = options.rejection;
  }
}

/** Wraps anything thrown into a BrokerError; unknown failures become `internal_error` with no details. */
export function toBrokerError(error: unknown): BrokerError {
  if (error instanceof BrokerError) return error;
  return new BrokerError('internal_error', 'The broker failed unexpectedly', { cause: error });
}
