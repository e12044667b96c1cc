/** The AWS calls the fleet cache makes: exactly what the construct's grants allow. */
export type TokenStoreOperation = 'GetItem' | 'UpdateItem' | 'Scan' | 'GenerateDataKey' | 'Decrypt';

/**
 * The fleet cache's tier failed: a DynamoDB or KMS call was refused, throttled, timed out or could
 * not reach the service. The cache falls back to memory; the SDK's error is the `cause`.
 *
 * Never thrown for what the tier can answer (a missing or unreadable item is a miss). The message
 * names the call and the service's error name only: no key material, token or item content.
 */
export class TokenStoreError extends Error {
  override readonly name = 'TokenStoreError';
  readonly code = 'token_store_unavailable';
  /** The service's error name, e.g. `ThrottlingException`, `AccessDeniedException`, `TimeoutError`. */
  readonly errorName: string;

  constructor(
    readonly operation: TokenStoreOperation,
    cause: unknown,
  ) {
    const errorName = (cause as { name?: unknown })?.name;
    const shown = typeof errorName === 'string' ? errorName : 'Error';
    super(`Token cache ${operation} failed (${shown})`, { cause });
    this.errorName = shown;
  }
}
