import { DEFAULT_CACHE_NAMESPACE } from '../../shared/contract.ts';
import type { BrokerErrorCode } from '../../shared/error-codes.ts';
import { normalizeScopes } from '../../shared/oauth-syntax.ts';
import { CacheKeys } from './cache-key.ts';
import { ClientRequests } from './client-requests.ts';
import type { BrokerConfig, ClientConfig } from './config.ts';
import { BrokerError, toBrokerError } from './errors.ts';
import { quoteInput } from './quote-input.ts';
import type { SecretStore } from './secret-store.ts';
import type { CachedToken, CacheRequest, CacheTelemetry, TokenCache, TokenSource } from './token-cache.ts';
import { MIN_LIFETIME_SECONDS, type TokenEndpoint, type TokenResponse } from './token-endpoint.ts';
import type { WebIdentityTokenCache } from './web-identity-token-cache.ts';

/** How far past its deadline a failed token request must end to have been frozen, not slow. */
const FROZEN_MARGIN_MS = 5_000;

export interface TokenRequest {
  readonly client: string;
  /** Scopes wanted; `undefined` means all the client's configured scopes. */
  readonly scopes?: readonly string[];
  /** The token must have at least this many seconds left (`min_ttl`), up to the client's `maxMinTtlSeconds`. */
  readonly minTtlSeconds?: number;
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
  /** The client's server accepts each client assertion once: a new one is fetched for each token request from now on. */
  assertionReuseRefused(client: string): void;
}

export interface TokenBrokerDeps {
  readonly secrets: SecretStore;
  /** The client assertions of `aws_web_identity` clients. @default none: such a client fails with `internal_error` */
  readonly webIdentityTokens?: WebIdentityTokenCache;
  readonly cache: TokenCache;
  readonly requestToken: TokenEndpoint;
  readonly telemetry: BrokerTelemetry;
  /** Separates brokers sharing one table (`TOKEN_CACHE_NAMESPACE`). @default DEFAULT_CACHE_NAMESPACE */
  readonly cacheNamespace?: string;
  readonly now?: () => number;
}

/** How many keys a warm-up refreshes at once. */
const WARM_UP_CONCURRENCY = 4;
/** Time a warm-up keeps in hand: it starts no refresh it could not finish. */
const WARM_UP_RESERVE_MS = 1_000;

/** What a client presents to its token endpoint, and how to get another one after a rejection. */
interface Credential {
  /** The client secret, the private key, or (`aws_web_identity`) the client assertion. */
  readonly value: string;
  /** Another credential to try once when the server rejected this one; `undefined` when there is none. */
  readonly replacement: () => Promise<{ readonly value: string } | undefined>;
  /** Called when the server accepted the replacement. */
  readonly replacementAccepted?: () => void;
}

/**
 * The broker's core, shared by the Lambda handler, the local server and the tests: validates a
 * request against the configuration, serves the cached token or obtains a new one.
 */
export class TokenBroker {
  readonly #clients: ReadonlyMap<string, ClientRequests>;
  readonly #config: BrokerConfig;
  readonly #deps: TokenBrokerDeps;
  readonly #now: () => number;

  constructor(config: BrokerConfig, deps: TokenBrokerDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    const keys = new CacheKeys(deps.cacheNamespace ?? DEFAULT_CACHE_NAMESPACE);
    const obtain = (client: ClientConfig, scopes: readonly string[]) => this.#obtain(client, scopes);
    this.#clients = new Map(config.clients.map((c) => [c.name, new ClientRequests(c, keys, obtain)]));
  }

  async getToken(request: TokenRequest, budget: InvocationBudget = {}): Promise<IssuedToken> {
    const requests = this.#clients.get(request.client);
    if (!requests) {
      throw new BrokerError('unknown_client', `No client named ${quoteInput(request.client)} is configured`);
    }
    const cacheRequest = requests.resolve(request.scopes);
    const minTtlMs = minTtlMsOf(request, requests.client);
    const { token, source, refreshError } = await this.#deps.cache.get(cacheRequest, budget.remainingMs, minTtlMs);
    if (source === 'stale') this.#deps.telemetry.servedStale(request.client, toBrokerError(refreshError));
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
        const { client, request } = candidates[i] as { client: ClientConfig; request: CacheRequest };
        const scope = request.descriptor.scopes.join(' ');
        const remaining = budget.remainingMs?.() ?? Number.POSITIVE_INFINITY;
        if (remaining < client.deadlineMs + WARM_UP_RESERVE_MS) {
          outcomes.push({ client: client.name, scope, status: 'deferred' });
          continue;
        }
        const dueBy = this.#now() + lookAheadMs;
        const { outcome, token, error } = await this.#deps.cache.refreshIfDue(request, dueBy, budget.remainingMs);
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
  async #warmUpCandidates(now: number): Promise<{ client: ClientConfig; request: CacheRequest }[]> {
    const { warmUpWindowSeconds, warmUpMaxKeys } = this.#config;
    const candidates = new Map<string, { client: ClientConfig; request: CacheRequest }>();
    for (const requests of this.#clients.values()) {
      const request = requests.resolve(undefined);
      candidates.set(request.key, { client: requests.client, request });
    }
    const served = await this.#deps.cache.recentlyServed(now - warmUpWindowSeconds * 1000, warmUpMaxKeys);
    for (const { client: name, scopes } of served) {
      const requests = this.#clients.get(name);
      if (!requests || !scopes.every((s) => requests.client.scopes.includes(s))) continue;
      const request = requests.forScopes(normalizeScopes(scopes));
      candidates.set(request.key, { client: requests.client, request });
    }
    return [...candidates.values()].slice(0, Math.max(warmUpMaxKeys, this.#clients.size));
  }

  /**
   * One refresh, within the client's `deadlineMs`: the secret read (or the client assertion's
   * fetch) counts against it, and the token request gets what is left. On rejected credentials, one
   * re-read of the secret (a new client assertion) and, if it changed, one more request.
   */
  async #obtain(client: ClientConfig, scopes: readonly string[], thawed = false): Promise<CachedToken> {
    const { requestToken, telemetry } = this.#deps;
    const deadlineAt = this.#now() + client.deadlineMs;
    const left = () => deadlineAt - this.#now();
    try {
      const current = await this.#withinDeadline(client, this.#readCredential(client), left());
      try {
        const sentAt = this.#now();
        const response = await requestToken(client, current.value, scopes, {
          retryRejectedEncoding: true,
          deadlineMs: left(),
        });
        telemetry.tokenFetched(client.name, 'current');
        return this.#toCached(client, response, sentAt);
      } catch (error) {
        if (!(error instanceof BrokerError && error.rejection === 'credentials_rejected')) throw error;
        const rotated = await this.#withinDeadline(client, current.replacement(), left());
        if (!rotated || left() <= 0) throw error;
        // One request with the re-read secret: with the encodings already tried, at most 3 in all.
        const sentAt = this.#now();
        const response = await requestToken(client, rotated.value, scopes, {
          retryRejectedEncoding: false,
          deadlineMs: left(),
        });
        telemetry.tokenFetched(client.name, 'rotated');
        current.replacementAccepted?.();
        return this.#toCached(client, response, sentAt);
      }
    } catch (error) {
      // Failed well past its own deadline: Lambda froze the instance with the request in flight
      // (a refresh-ahead left running after the handler returned). Not the server's failure: once
      // more, afresh, rather than a cool-down recorded for every instance.
      if (!thawed && -left() > FROZEN_MARGIN_MS) return this.#obtain(client, scopes, true);
      const brokerError = toBrokerError(error);
      if (brokerError.code.startsWith('upstream_')) telemetry.upstreamFailed(client.name, brokerError);
      throw brokerError;
    }
  }

  /** The client's secret from Secrets Manager or, for `aws_web_identity`, its client assertion from AWS STS. */
  async #readCredential(client: ClientConfig): Promise<Credential> {
    const { webIdentity, clientSecret } = client;
    if (webIdentity) {
      const tokens = this.#deps.webIdentityTokens;
      if (!tokens) throw new BrokerError('internal_error', `No web identity token source for client ${client.name}`);
      const token = await tokens.get(client.name, webIdentity);
      return {
        value: token.value,
        replacement: () => tokens.replaceRejected(client.name, webIdentity, token),
        replacementAccepted: () => {
          if (tokens.acceptedReplacement(client.name)) this.#deps.telemetry.assertionReuseRefused(client.name);
        },
      };
    }
    if (!clientSecret) throw new BrokerError('internal_error', `Client ${client.name} has no clientSecret`);
    const { secrets } = this.#deps;
    const secret = await secrets.get(clientSecret);
    return { value: secret.value, replacement: () => secrets.reloadAfterRejection(clientSecret, secret) };
  }

  /** A credential read, given up at the refresh's deadline (the SDK's own timeouts may be longer). */
  async #withinDeadline<T>(client: ClientConfig, read: Promise<T>, budgetMs: number): Promise<T> {
    const store = client.webIdentity ? 'AWS STS' : 'Secrets Manager';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          reject(
            new BrokerError(
              'secret_store_unavailable',
              `${store} did not answer within the deadline of client ${client.name} (${client.deadlineMs} ms)`,
              { retryAfterSeconds: 1 },
            ),
          );
        },
        Math.max(0, budgetMs),
      );
    });
    try {
      return await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The lifetime the server gave, bounded: cut to `maxLifetimeSeconds`; under
   * `minCacheableLifetimeSeconds` served but not cached; a second or less refused (it could only
   * be served as a token with 0 seconds left). The lifetime counts from `obtainedAt`, when the
   * request went out, not from its answer, which a freeze may have kept unread.
   */
  #toCached(client: ClientConfig, response: TokenResponse, obtainedAt: number): CachedToken {
    const lifetimeSeconds = Math.min(response.expiresInSeconds, client.maxLifetimeSeconds);
    if (!(lifetimeSeconds > MIN_LIFETIME_SECONDS)) {
      throw new BrokerError(
        'upstream_rejected',
        `The authorization server of client ${client.name} issued a token that expires within ${MIN_LIFETIME_SECONDS} s (${lifetimeSeconds} s)`,
        { rejection: 'invalid_response' },
      );
    }
    const lifetimeMs = lifetimeSeconds * 1000;
    return {
      accessToken: response.accessToken,
      tokenType: 'Bearer',
      scope: response.scope,
      obtainedAt,
      refreshAt: obtainedAt + lifetimeMs * client.refreshAt,
      expiresAt: obtainedAt + lifetimeMs,
      ...(lifetimeSeconds < client.minCacheableLifetimeSeconds ? { ephemeral: true as const } : {}),
    };
  }
}

function minTtlMsOf(request: TokenRequest, client: ClientConfig): number {
  const { minTtlSeconds } = request;
  if (minTtlSeconds === undefined) return 0;
  if (minTtlSeconds > client.maxMinTtlSeconds) {
    throw new BrokerError(
      'invalid_request',
      `min_ttl ${minTtlSeconds} exceeds the ${client.maxMinTtlSeconds} s client ${client.name} allows (maxMinTtlSeconds)`,
    );
  }
  return minTtlSeconds * 1000;
}
