/**
 * The caller library's one error type. Every failure `getToken` can produce is a
 * `TokenBrokerError` with a stable `code`; the broker's own codes pass through unchanged.
 *
 * Messages, descriptions and causes never carry an access token, an Authorization header or
 * credentials: callers log these errors.
 */
import { BROKER_ERRORS, type BrokerErrorCode } from '../shared/error-codes.ts';

/**
 * The broker's own codes (`invalid_request`, `invalid_scope`, `unknown_client`,
 * `upstream_rejected`, `upstream_unavailable`, `secret_store_unavailable`, `internal_error`: see
 * `lambda/shared/error-codes.ts`),
 * and the library's own for what happens before or around the broker.
 */
export type TokenBrokerErrorCode =
  | BrokerErrorCode
  /** IAM refused the call: the function's role has no grant, or the signature or credentials are invalid. */
  | 'access_denied'
  /** API Gateway or Lambda throttled the call (429). Retryable. */
  | 'throttled'
  /** The broker's function failed or API Gateway answered 5xx without a broker body. Retryable. */
  | 'broker_unavailable'
  /** No connection, or the connection failed. Retryable. */
  | 'network_error'
  /** One attempt took longer than its timeout. Retryable. */
  | 'timeout'
  /** An answer outside the broker's contract: a 200 without a token, a redirect, an unknown status. */
  | 'unexpected_response';

/** Codes worth another attempt: the same request may succeed a moment later. */
const RETRYABLE: ReadonlySet<TokenBrokerErrorCode> = new Set([
  ...(Object.keys(BROKER_ERRORS) as BrokerErrorCode[]).filter((code) => BROKER_ERRORS[code].retryable),
  'throttled',
  'broker_unavailable',
  'network_error',
  'timeout',
]);

export interface TokenBrokerErrorOptions {
  /** HTTP status of the broker's answer (or the `statusCode` of a direct invocation's result). */
  readonly status?: number;
  /** Server-requested wait before the next attempt (`Retry-After`), in milliseconds. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

export class TokenBrokerError extends Error {
  override readonly name = 'TokenBrokerError';
  readonly status?: number;
  readonly retryAfterMs?: number;

  constructor(
    readonly code: TokenBrokerErrorCode,
    /** The broker's `error_description`, or the library's own short explanation. */
    readonly description: string,
    options: TokenBrokerErrorOptions = {},
  ) {
    super(`${code}: ${description}`, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  /** Whether the library would (and a caller may) try again later. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

/** Thrown by constructors for a missing or invalid option; the message names the option. */
export class TokenBrokerConfigError extends Error {
  override readonly name = 'TokenBrokerConfigError';
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`Invalid token broker client option: ${field} ${problem}`);
  }
}
