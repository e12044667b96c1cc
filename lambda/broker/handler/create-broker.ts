import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerReader } from '../adapters/secrets-manager-reader.ts';
import {
  realTokenEndpointDeps,
  requestClientCredentialsToken,
  type TokenEndpointDeps,
} from '../adapters/token-endpoint.ts';
import type { BrokerConfig } from '../core/config.ts';
import { SecretStore } from '../core/secret-store.ts';
import { type BrokerTelemetry, TokenBroker } from '../core/token-broker.ts';
import { MemoryTokenStore, TokenCache, type TokenStore } from '../core/token-cache.ts';

export interface CreateBrokerOptions {
  readonly telemetry: BrokerTelemetry;
  /** @default a client for the Lambda's region, configured from the environment */
  readonly secretsManager?: SecretsManagerClient;
  /** @default global fetch, real timers */
  readonly tokenEndpoint?: TokenEndpointDeps;
  /** Tiers after the in-memory one (for example a shared table). @default none */
  readonly sharedStores?: readonly TokenStore[];
  readonly now?: () => number;
}

/** Assembles a TokenBroker from its configuration: the composition root for Lambda, local runs and tests. */
export function createTokenBroker(config: BrokerConfig, options: CreateBrokerOptions): TokenBroker {
  const now = options.now ?? Date.now;
  let defaultClient: SecretsManagerClient | undefined;
  const secretsManager = (): SecretsManagerClient => {
    defaultClient ??= options.secretsManager ?? new SecretsManagerClient({});
    return defaultClient;
  };
  const endpointDeps = options.tokenEndpoint ?? realTokenEndpointDeps;
  const cache = new TokenCache({ stores: [new MemoryTokenStore(now), ...(options.sharedStores ?? [])], now });
  return new TokenBroker(config, {
    secrets: new SecretStore(new SecretsManagerReader(secretsManager), { ttlMs: config.secretTtlMs, now }),
    cache,
    requestToken: (client, secret, scopes) => requestClientCredentialsToken(client, secret, scopes, endpointDeps),
    telemetry: options.telemetry,
    now,
  });
}
