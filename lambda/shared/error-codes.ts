/**
 * The error codes the broker puts in `error`, with the HTTP status each maps to and whether the
 * same request may succeed if tried again. The broker answers with them, the caller library reads
 * them back: one definition for both sides.
 */
export const BROKER_ERRORS = {
  invalid_request: { status: 400, retryable: false },
  invalid_scope: { status: 400, retryable: false },
  unknown_client: { status: 404, retryable: false },
  upstream_rejected: { status: 502, retryable: false },
  upstream_unavailable: { status: 503, retryable: true },
  /**
   * Secrets Manager (or, for `aws_web_identity`, AWS STS) unreachable, throttled or not answering in
   * time: the client's secret (or client assertion) could not be obtained.
   */
  secret_store_unavailable: { status: 503, retryable: true },
  internal_error: { status: 500, retryable: true },
} as const satisfies Record<string, { readonly status: number; readonly retryable: boolean }>;

export type BrokerErrorCode = keyof typeof BROKER_ERRORS;

export function isBrokerErrorCode(value: unknown): value is BrokerErrorCode {
  return typeof value === 'string' && Object.hasOwn(BROKER_ERRORS, value);
}
