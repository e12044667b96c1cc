import { normalizeScopes } from '../../shared/oauth-syntax.ts';
import type { CacheKeys } from './cache-key.ts';
import type { CachedToken } from './cached-token.ts';
import type { ClientConfig } from './config.ts';
import { BrokerError } from './errors.ts';
import { quoteInput } from './quote-input.ts';
import type { CacheRequest } from './token-cache.ts';

/** Scope sets remembered per client; past it, a request is still served, only not memoised. */
const MEMO_LIMIT = 64;
/** How many refused scopes an invalid_scope error names. */
const REFUSED_SCOPES_SHOWN = 3;

/**
 * One client's cache requests, built once per scope set asked for: the hot path of a cache hit
 * does no scope normalization, hashing or allocation beyond a map lookup.
 */
export class ClientRequests {
  readonly client: ClientConfig;
  readonly #allowed: ReadonlySet<string>;
  readonly #keys: CacheKeys;
  readonly #obtain: (client: ClientConfig, scopes: readonly string[]) => Promise<CachedToken>;
  readonly #default: CacheRequest;
  readonly #byScopes = new Map<string, CacheRequest>();

  constructor(
    client: ClientConfig,
    keys: CacheKeys,
    obtain: (client: ClientConfig, scopes: readonly string[]) => Promise<CachedToken>,
  ) {
    this.client = client;
    this.#allowed = new Set(client.scopes);
    this.#keys = keys;
    this.#obtain = obtain;
    this.#default = this.forScopes(client.scopes);
  }

  /**
   * The request for the scopes a caller asked for (`undefined` or empty: the client's defaults).
   * @throws BrokerError `invalid_scope` naming the scopes the client may not ask for
   */
  resolve(requested: readonly string[] | undefined): CacheRequest {
    if (requested === undefined || requested.length === 0) return this.#default;
    const asked = requested.join(' ');
    const known = this.#byScopes.get(asked);
    if (known) return known;
    const scopes = normalizeScopes(requested);
    const refused = scopes.filter((s) => !this.#allowed.has(s));
    if (refused.length > 0) {
      const allowed = this.client.scopes.join(' ') || 'none';
      throw new BrokerError(
        'invalid_scope',
        `Client "${this.client.name}" may not request ${listRefused(refused)} (allowed: ${allowed})`,
      );
    }
    const request = this.forScopes(scopes);
    if (this.#byScopes.size < MEMO_LIMIT) this.#byScopes.set(asked, request);
    return request;
  }

  /** The request for a normalized scope set already known to be allowed (the warm-up's). */
  forScopes(scopes: readonly string[]): CacheRequest {
    const { key, descriptor } = this.#keys.of(this.client, scopes);
    return {
      key,
      descriptor,
      fetch: () => this.#obtain(this.client, scopes),
      attemptMs: this.client.attemptTimeoutMs,
      waitMs: this.client.deadlineMs,
    };
  }
}

/** The refused scopes as the caller sent them, bounded: a few, each cut to the echo limit. */
function listRefused(refused: readonly string[]): string {
  const shown = refused.slice(0, REFUSED_SCOPES_SHOWN).map(quoteInput).join(', ');
  const more = refused.length - REFUSED_SCOPES_SHOWN;
  return more > 0 ? `${shown} and ${more} more` : shown;
}
