import { DEFAULT_CACHE_NAMESPACE } from '../../shared/contract.ts';
import type { BrokerErrorCode } from '../../shared/error-codes.ts';
import { normalizeScopes } from '../../shared/oauth-syntax.ts';
import { CacheKeys } from './cache-key.ts';
import type { BrokerConfig, ClientConfig } from './config.ts';
import { BrokerError, toBrokerError } from './errors.ts';
import { quoteInput } from './quote-input.ts';
import type { SecretStore, SecretVersion } from './secret-store.ts';
import type { CachedToken, CacheRequest, CacheTelemetry, TokenCache, TokenSource } from './token-cache.ts';
import type { TokenEndpoint, TokenResponse } from './token-endpoint.ts';

export interface TokenRequest {
  readonly client: string;
  /** Scopes wanted; `undefined` means all the client's configured scopes. */
  readonly scopes?: readonly string[];
}

/** What bounds one invocation's work. */
export interface InvocationBudget {
  /** Time left in the invocation (Lambda's `getRemainingTimeInMillis`). @default unbounded */
  readonly remainingMs?: () => number;
}

/** What the broker returns for a token request: the remaining lifetime, not the original one. */
export interface IssuedToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Seconds left, rounded down. */
  readonly expiresIn: number;
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly scope: string;
  readonly source: TokenSource;
}

export type WarmUpOutcome =
  | {
      readonly client: string;
      readonly scope: string;
      readonly status: 'fresh' | 'refreshed';
      readonly expiresAt: number;
    }
  | { readonly client: string; readonly scope: string; readonly status: 'failed'; readonly error: BrokerErrorCode }
  | { readonly client: string; readonly scope: string; readonly status: 'deferred' };

export interface WarmUpSummary {
  readonly refreshed: number;
  readonly fresh: number;
  readonly failed: number;
  /** Keys left for the next warm-up: the time budget ran out. */
  readonly deferred: number;
  readonly keys: readonly WarmUpOutcome[];
}

/** What the broker tells the outside world; the handler wires it to Powertools. */
export interface BrokerTelemetry extends CacheTelemetry {
  tokenFetched(client: string, credentials: 'current' | 'rotated'): void;
  upstreamFailed(client: string, error: BrokerError): void;
  servedStale(client: string, error: BrokerError): void;
  /** A token's refresh point comes sooner than the warm-up looks ahead: callers will see refresh-ahead. */
  refreshWindowTooShort(client: string, refreshWindowSeconds: number, lookAheadSeconds: number): void;
}

export interface TokenBrokerDeps {
  readonly secrets: SecretStore;
  readonly cache: TokenCache;
  readonly requestToken: TokenEndpoint;
  readonly telemetry: BrokerTelemetry;
  /** Separates brokers sharing one table (`TOKEN_CACHE_NAMESPACE`). @default DEFAULT_CACHE_NAMESPACE */
  readonly cacheNamespace?: string;
  readonly now?: () => number;
}

/** How many refused scopes an invalid_scope error names. */
const REFUSED_SCOPES_SHOWN = 3;
/** How many keys a warm-up refreshes at once. */
const WARM_UP_CONCURRENCY = 4;
/** Time a warm-up keeps in hand: it starts no refresh it could not finish. */
const WARM_UP_RESERVE_MS = 1_000;

/**
 * The broker's core, shared by the Lambda handler, the local server and the tests: validates a
 * request against the configuration, serves the cached token or obtains a new one.
 */
export class TokenBroker {
  readonly #clients: ReadonlyMap<string, ClientConfig>;
  readonly #config: BrokerConfig;
  readonly #deps: TokenBrokerDeps;
  readonly #now: () => number;
  readonly #keys: CacheKeys;

  constructor(config: BrokerConfig, deps: TokenBrokerDeps) {
    this.#config = config;
    this.#clients = new Map(config.clients.map((c) => [c.name, c]));
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#keys = new CacheKeys(deps.cacheNamespace ?? DEFAULT_CACHE_NAMESPACE);
  }

  async getToken(request: TokenRequest, budget: InvocationBudget = {}): Promise<IssuedToken> {
    const client = this.#clients.get(request.client);
    if (!client) throw new BrokerError('unknown_client', `No client named ${quoteInput(request.client)} is configured`);
    const scopes = resolveScopes(client, request.scopes);
    const { token, source, refreshError } = await this.#deps.cache.get(this.#cacheRequest(client, scopes, budget));
    if (source === 'stale') this.#deps.telemetry.servedStale(client.name, toBrokerError(refreshError));
    const nowMs = this.#now();
    return {
      accessToken: token.accessToken,
      tokenType: 'Bearer',
      expiresIn: Math.max(0, Math.floor((token.expiresAt - nowMs) / 1000)),
      expiresAt: Math.floor(token.expiresAt / 1000),
      scope: token.scope,
      source,
    };
  }

  /**
   * Keeps the fleet ahead of its callers: refreshes every key served recently (the fleet's, from
   * the shared tier, or this instance's) and every client's default scope set, whenever its
   * token would reach its refresh point within `lookAheadSeconds`. A few at a time, within the
   * invocation's time. Never throws: one key's failure is reported and does not stop the others.
   */
  async warmUp(lookAheadSeconds: number, budget: InvocationBudget = {}): Promise<WarmUpSummary> {
    const now = this.#now();
    const lookAheadMs = lookAheadSeconds * 1000;
    const candidates = await this.#warmUpCandidates(now);
    const outcomes: WarmUpOutcome[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < candidates.length; i = next++) {
        const { client, scopes } = candidates[i] as { client: ClientConfig; scopes: readonly string[] };
        const scope = scopes.join(' ');
        const remaining = budget.remainingMs?.() ?? Number.POSITIVE_INFINITY;
        if (remaining < client.deadlineMs + WARM_UP_RESERVE_MS) {
          outcomes.push({ client: client.name, scope, status: 'deferred' });
          continue;
        }
        const request = this.#cacheRequest(client, scopes, budget);
        const { outcome, token, error } = await this.#deps.cache.refreshIfDue(request, this.#now() + lookAheadMs);
        if (outcome === 'failed' || !token) {
          outcomes.push({ client: client.name, scope, status: 'failed', error: toBrokerError(error).code });
          continue;
        }
        if (outcome === 'refreshed' && token.refreshAt - token.obtainedAt < lookAheadMs) {
          this.#deps.telemetry.refreshWindowTooShort(
            client.name,
            Math.floor((token.refreshAt - token.obtainedAt) / 1000),
            lookAheadSeconds,
          );
        }
        outcomes.push({ client: client.name, scope, status: outcome, expiresAt: Math.floor(token.expiresAt / 1000) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(WARM_UP_CONCURRENCY, candidates.length) }, worker));
    const count = (status: WarmUpOutcome['status']) => outcomes.filter((o) => o.status === status).length;
    return {
      refreshed: count('refreshed'),
      fresh: count('fresh'),
      failed: count('failed'),
      deferred: count('deferred'),
      keys: outcomes,
    };
  }

  /** Each client's default scope set, then the keys served recently that are still configured, once each. */
  async #warmUpCandidates(now: number): Promise<{ client: ClientConfig; scopes: readonly string[] }[]> {
    const { warmUpWindowSeconds, warmUpMaxKeys } = this.#config;
    const candidates = new Map<string, { client: ClientConfig; scopes: readonly string[] }>();
    for (const client of this.#clients.values()) {
      candidates.set(this.#keys.of(client, client.scopes).key, { client, scopes: client.scopes });
    }
    const served = await this.#deps.cache.recentlyServed(now - warmUpWindowSeconds * 1000, warmUpMaxKeys);
    for (const { client: name, scopes } of served) {
      const client = this.#clients.get(name);
      if (!client || !scopes.every((s) => client.scopes.includes(s))) continue;
      const normalized = normalizeScopes(scopes);
      candidates.set(this.#keys.of(client, normalized).key, { client, scopes: normalized });
    }
    return [...candidates.values()].slice(0, Math.max(warmUpMaxKeys, this.#clients.size));
  }

  #cacheRequest(client: ClientConfig, scopes: readonly string[], budget: InvocationBudget): CacheRequest {
    const { key, descriptor } = this.#keys.of(client, scopes);
    return {
      key,
      descriptor,
      fetch: () => this.#obtain(client, scopes),
      attemptMs: client.attemptTimeoutMs,
      waitMs: client.deadlineMs,
      ...(budget.remainingMs ? { remainingMs: budget.remainingMs } : {}),
    };
  }

  async #obtain(client: ClientConfig, scopes: readonly string[]): Promise<CachedToken> {
    const { secrets, requestToken, telemetry } = this.#deps;
    try {
      const secret = await secrets.get(client.clientSecret);
      try {
        const response = await requestToken(client, secret.value, scopes);
        telemetry.tokenFetched(client.name, 'current');
        return this.#toCached(client, response);
      } catch (error) {
        if (!(error instanceof BrokerError && error.rejection === 'credentials_rejected')) throw error;
        const rotated = await this.#rotatedSecret(client, secret);
        if (!rotated) throw error;
        const response = await requestToken(client, rotated.value, scopes);
        telemetry.tokenFetched(client.name, 'rotated');
        return this.#toCached(client, response);
      }
    } catch (error) {
      const brokerError = toBrokerError(error);
      if (brokerError.code.startsWith('upstream_')) telemetry.upstreamFailed(client.name, brokerError);
      throw brokerError;
    }
  }

  #rotatedSecret(client: ClientConfig, rejected: SecretVersion): Promise<SecretVersion | undefined> {
    return this.#deps.secrets.reloadAfterRejection(client.clientSecret, rejected);
  }

  #toCached(client: ClientConfig, response: TokenResponse): CachedToken {
    const obtainedAt = this.#now();
    const lifetimeMs = response.expiresInSeconds * 1000;
    return {
      accessToken: response.accessToken,
      tokenType: 'Bearer',
      scope: response.scope,
      obtainedAt,
      refreshAt: obtainedAt + lifetimeMs * client.refreshAt,
      expiresAt: obtainedAt + lifetimeMs,
    };
  }
}

function resolveScopes(client: ClientConfig, requested: readonly string[] | undefined): readonly string[] {
  if (requested === undefined || requested.length === 0) return client.scopes;
  const scopes = normalizeScopes(requested);
  const allowed = new Set(client.scopes);
  const refused = scopes.filter((s) => !allowed.has(s));
  if (refused.length > 0) {
    throw new BrokerError(
      'invalid_scope',
      `Client "${client.name}" may not request ${listRefused(refused)} (allowed: ${client.scopes.join(' ') || 'none'})`,
    );
  }
  return scopes;
}

/** The refused scopes as the caller sent them, bounded: a few, each cut to the echo limit. */
function listRefused(refused: readonly string[]): string {
  const shown = refused.slice(0, REFUSED_SCOPES_SHOWN).map(quoteInput).join(', ');
  const more = refused.length - REFUSED_SCOPES_SHOWN;
  return more > 0 ? `${shown} and ${more} more` : shown;
}
