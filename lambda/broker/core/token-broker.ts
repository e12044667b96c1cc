import { normalizeScopes } from '../../shared/oauth-syntax.ts';
import type { BrokerConfig, ClientConfig } from './config.ts';
import { BrokerError, toBrokerError } from './errors.ts';
import type { SecretStore, SecretVersion } from './secret-store.ts';
import type { CachedToken, TokenCache, TokenSource } from './token-cache.ts';
import type { TokenEndpoint, TokenResponse } from './token-endpoint.ts';

export interface TokenRequest {
  readonly client: string;
  /** Scopes wanted; `undefined` means all the client's configured scopes. */
  readonly scopes?: readonly string[];
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
  | { readonly client: string; readonly status: 'fresh' | 'refreshed'; readonly expiresAt: number }
  | { readonly client: string; readonly status: 'failed'; readonly error: string };

export interface WarmUpSummary {
  readonly refreshed: number;
  readonly fresh: number;
  readonly failed: number;
  readonly clients: readonly WarmUpOutcome[];
}

/** What the broker tells the outside world; the handler wires it to Powertools. */
export interface BrokerTelemetry {
  tokenFetched(client: string, credentials: 'current' | 'rotated'): void;
  upstreamFailed(client: string, error: BrokerError): void;
  servedStale(client: string, error: BrokerError): void;
}

export interface TokenBrokerDeps {
  readonly secrets: SecretStore;
  readonly cache: TokenCache;
  readonly requestToken: TokenEndpoint;
  readonly telemetry: BrokerTelemetry;
  readonly now?: () => number;
}

/**
 * The broker's core, shared by the Lambda handler, the local server and the tests: validates a
 * request against the configuration, serves the cached token or obtains a new one.
 */
export class TokenBroker {
  readonly #clients: ReadonlyMap<string, ClientConfig>;
  readonly #deps: TokenBrokerDeps;
  readonly #now: () => number;

  constructor(config: BrokerConfig, deps: TokenBrokerDeps) {
    this.#clients = new Map(config.clients.map((c) => [c.name, c]));
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  async getToken(request: TokenRequest): Promise<IssuedToken> {
    const client = this.#clients.get(request.client);
    if (!client) throw new BrokerError('unknown_client', `No client named "${request.client}" is configured`);
    const scopes = resolveScopes(client, request.scopes);
    const { token, source, refreshError } = await this.#deps.cache.get(cacheKey(client, scopes), () =>
      this.#obtain(client, scopes),
    );
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
   * Refreshes every client's default token that is missing or past its refresh point. Never
   * throws: one client's failure is reported in the summary and does not stop the others.
   */
  async warmUp(): Promise<WarmUpSummary> {
    const outcomes = await Promise.all(
      [...this.#clients.values()].map(async (client): Promise<WarmUpOutcome> => {
        try {
          const token = await this.getToken({ client: client.name });
          const status = token.source === 'fetched' ? 'refreshed' : 'fresh';
          if (token.source === 'stale') {
            return { client: client.name, status: 'failed', error: 'upstream_unavailable' };
          }
          return { client: client.name, status, expiresAt: token.expiresAt };
        } catch (error) {
          return { client: client.name, status: 'failed', error: toBrokerError(error).code };
        }
      }),
    );
    const count = (status: WarmUpOutcome['status']) => outcomes.filter((o) => o.status === status).length;
    return { refreshed: count('refreshed'), fresh: count('fresh'), failed: count('failed'), clients: outcomes };
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
      `Client "${client.name}" may not request ${refused.map((s) => `"${s}"`).join(', ')} (allowed: ${client.scopes.join(' ') || 'none'})`,
    );
  }
  return scopes;
}

/** Scopes are normalized (sorted, unique), so "read write" and "write read" share one token. */
function cacheKey(client: ClientConfig, scopes: readonly string[]): string {
  return JSON.stringify([client.name, scopes, client.audience ?? null, client.resource]);
}
