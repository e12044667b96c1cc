import type { CachedToken } from './cached-token.ts';

/** Process-local tier: survives between invocations of a warm Lambda instance. */
export class MemoryTokenStore {
  readonly #entries = new Map<string, CachedToken>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get(key: string): CachedToken | undefined {
    const token = this.#entries.get(key);
    if (token && token.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return token;
  }

  /**
   * Keeps `token` unless the entry already holds one that lives longer: a refresh that finishes
   * late (an instance thawed long after it started) never replaces a newer token.
   */
  set(key: string, token: CachedToken): void {
    const held = this.#entries.get(key);
    if (held && held.expiresAt > token.expiresAt) return;
    this.#entries.set(key, token);
  }
}
