/** A token as cached: absolute times in epoch milliseconds. Never logged. */
export interface CachedToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  readonly scope: string;
  readonly obtainedAt: number;
  /** After this, the token is refreshed (ahead of its expiry; callers are still served it). */
  readonly refreshAt: number;
  readonly expiresAt: number;
  /**
   * Served to the requests that waited for this fetch, never stored (memory or shared tier): it
   * lives less than the client's `minCacheableLifetimeSeconds`.
   */
  readonly ephemeral?: true;
}

/**
 * Margin before expiry within which a token is no longer served: a token must still be usable by
 * the caller when it arrives. min(30 s, 10% of its lifetime), and at least 1 s, so that the
 * `expires_in` a caller gets (whole seconds, rounded down) is never 0.
 */
function safetyMarginMs(token: CachedToken): number {
  return Math.max(1_000, Math.min(30_000, (token.expiresAt - token.obtainedAt) / 10));
}

/** Still worth serving at `nowMs`: valid beyond the safety margin. */
export function isUsable(token: CachedToken, nowMs: number): boolean {
  return nowMs < token.expiresAt - safetyMarginMs(token);
}

/** Before its refresh point at `nowMs`: served without starting a refresh. */
export function isFresh(token: CachedToken, nowMs: number): boolean {
  return nowMs < token.refreshAt;
}
