/**
 * Access tokens, cached per key until their refresh point, with one in-flight fetch per key.
 *
 * Storage is a list of {@link TokenStore} tiers, nearest first. Today there is one, in memory; a
 * shared tier (say a DynamoDB table every broker instance reads) is one more `TokenStore` at the
 * end of the list, with no change here.
 */

/** A token as cached: absolute times in epoch milliseconds. */
export interface CachedToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  readonly scope: string;
  readonly obtainedAt: number;
  /** After this, the next request or warm-up refreshes the token. */
  readonly refreshAt: number;
  readonly expiresAt: number;
}

/** One tier of token storage. Implementations must not log token values. */
export interface TokenStore {
  get(key: string): Promise<CachedToken | undefined>;
  set(key: string, token: CachedToken): Promise<void>;
}

/** Process-local tier: survives between invocations of a warm Lambda instance. */
export class MemoryTokenStore implements TokenStore {
  readonly #entries = new Map<string, CachedToken>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async get(key: string): Promise<CachedToken | undefined> {
    const token = this.#entries.get(key);
    if (token && token.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return token;
  }

  async set(key: string, token: CachedToken): Promise<void> {
    this.#entries.set(key, token);
  }
}

/** Where a served token came from. */
export type TokenSource = 'cache' | 'fetched' | 'stale';

export interface CacheResult {
  readonly token: CachedToken;
  readonly source: TokenSource;
  /** With source `stale`: why the refresh failed. */
  readonly refreshError?: unknown;
}

export interface TokenCacheOptions {
  readonly stores: readonly TokenStore[];
  readonly now?: () => number;
  /**
   * After a failed refresh, how long the still-valid current token is served as is, without a new
   * attempt. Without it, during an outage every request would wait out the token request's
   * retries before getting the token it could have had at once, and would add load to a failing
   * authorization server.
   * @default 10000 (ms)
   */
  readonly refreshCooldownMs?: number;
}

/**
 * Margin before expiry within which a token is no longer served as a fallback: a token must still
 * be usable by the caller when it arrives. min(30 s, 10% of its lifetime).
 */
export function safetyMarginMs(token: CachedToken): number {
  return Math.min(30_000, (token.expiresAt - token.obtainedAt) / 10);
}

export class TokenCache {
  readonly #stores: readonly TokenStore[];
  readonly #now: () => number;
  readonly #cooldownMs: number;
  readonly #inFlight = new Map<string, Promise<CacheResult>>();
  /** Per key: the last refresh failure, and until when no new refresh is attempted. */
  readonly #failures = new Map<string, { readonly error: unknown; readonly until: number }>();

  constructor(options: TokenCacheOptions) {
    if (options.stores.length === 0) throw new Error('TokenCache needs at least one store');
    this.#stores = options.stores;
    this.#now = options.now ?? Date.now;
    this.#cooldownMs = options.refreshCooldownMs ?? 10_000;
  }

  /**
   * Returns the cached token for `key` while it is before its refresh point; otherwise fetches a
   * new one (shared by concurrent callers). If the fetch fails and the current token is still
   * valid beyond the safety margin, that token is served, and served again without a new attempt
   * for the cool-down; else the fetch's error is thrown.
   */
  async get(key: string, fetchToken: () => Promise<CachedToken>): Promise<CacheResult> {
    const current = await this.#read(key);
    if (current && this.#now() < current.refreshAt) return { token: current, source: 'cache' };
    const failure = this.#failures.get(key);
    if (current && failure && this.#now() < failure.until && this.#usable(current)) {
      return { token: current, source: 'stale', refreshError: failure.error };
    }
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#refresh(key, current, fetchToken).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  async #refresh(
    key: string,
    current: CachedToken | undefined,
    fetchToken: () => Promise<CachedToken>,
  ): Promise<CacheResult> {
    try {
      const token = await fetchToken();
      this.#failures.delete(key);
      await Promise.all(this.#stores.map((store) => store.set(key, token)));
      return { token, source: 'fetched' };
    } catch (error) {
      if (current && this.#usable(current)) {
        this.#failures.set(key, { error, until: this.#now() + this.#cooldownMs });
        return { token: current, source: 'stale', refreshError: error };
      }
      throw error;
    }
  }

  /** Still worth serving: valid beyond the safety margin. */
  #usable(token: CachedToken): boolean {
    return this.#now() < token.expiresAt - safetyMarginMs(token);
  }

  /** The freshest token among the tiers; a nearer tier is filled from a farther one. */
  async #read(key: string): Promise<CachedToken | undefined> {
    let best: CachedToken | undefined;
    for (const [index, store] of this.#stores.entries()) {
      const token = await store.get(key);
      if (token && (!best || token.refreshAt > best.refreshAt)) {
        best = token;
        if (index > 0) await Promise.all(this.#stores.slice(0, index).map((near) => near.set(key, token)));
      }
      if (best && this.#now() < best.refreshAt) return best;
    }
    return best;
  }
}
