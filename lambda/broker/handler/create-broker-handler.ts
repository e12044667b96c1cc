import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { STSClient } from '@aws-sdk/client-sts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../shared/contract.ts';
import { createCacheClients } from '../adapters/cache-clients.ts';
import { DynamoDbTokenStore } from '../adapters/dynamodb-token-store.ts';
import { trustingFetch } from '../adapters/mutual-tls-fetch.ts';
import {
  createOAuthTokenEndpoint,
  type OAuthTokenEndpointDeps,
  systemTokenEndpointDeps,
} from '../adapters/oauth-token-endpoint.ts';
import { createSecretsManagerClient } from '../adapters/secrets-manager-client.ts';
import { SecretsManagerReader } from '../adapters/secrets-manager-reader.ts';
import { createStsClient } from '../adapters/sts-client.ts';
import { StsWebIdentityTokenIssuer } from '../adapters/sts-web-identity-token-issuer.ts';
import type { BrokerConfig } from '../core/config.ts';
import { SecretStore } from '../core/secret-store.ts';
import type { SharedTokenStore } from '../core/shared-token-store.ts';
import { TokenBroker } from '../core/token-broker.ts';
import { TokenCache } from '../core/token-cache.ts';
import { WebIdentityTokenCache } from '../core/web-identity-token-cache.ts';
import type { WebIdentityTokenIssuer } from '../core/web-identity-token-issuer.ts';
import { createAuditLog } from './audit.ts';
import { createHandler } from './create-handler.ts';
import { meteredTokenEndpoint } from './metered-token-endpoint.ts';
import type { SharedCacheSettings } from './shared-cache-settings.ts';
import { powertoolsTelemetry } from './telemetry.ts';

/** What a caller of {@link createBrokerHandler} may replace; everything has a production default. */
export interface BrokerHandlerOverrides {
  /**
   * The `service` of log lines and metrics: one per broker in an account and region.
   * @default `SERVICE_NAME` (`token-broker`)
   */
  readonly serviceName?: string;
  /** @default a Powertools logger for the broker's service, at POWERTOOLS_LOG_LEVEL */
  readonly logger?: Logger;
  /**
   * Receives the audit lines (one JSON line per token request), whatever the broker's log level.
   * @default standard output
   */
  readonly writeAuditLine?: (line: string) => void;
  /** @default Powertools metrics in the broker's namespace, with its service dimension */
  readonly metrics?: Metrics;
  /**
   * @default a client for the Lambda's region, configured from the environment, with bounded
   * timeouts (`SECRETS_MANAGER_BOUNDS`), created at first use
   */
  readonly secretsManager?: SecretsManagerClient;
  /**
   * For `aws_web_identity` clients. @default a client for the Lambda's region on its regional
   * endpoint, with bounded timeouts (`createStsClient`), created at first use
   */
  readonly sts?: STSClient;
  /** What issues `aws_web_identity` clients' assertions in place of STS (tests). @default STS `GetWebIdentityToken` over `sts` */
  readonly webIdentityTokens?: WebIdentityTokenIssuer;
  /** @default global fetch, real timers */
  readonly tokenEndpoint?: OAuthTokenEndpointDeps;
  /**
   * The CA certificates the token endpoints' HTTPS connections trust, in place of Node's roots
   * (`trustedCaFrom`: the roots plus a private CA). @default Node's roots
   */
  readonly trustedCa?: readonly string[];
  /**
   * The fleet cache's table, key and namespace (the Lambda entry reads them from the environment).
   * @default none: memory only
   */
  readonly sharedCache?: SharedCacheSettings;
  /** A shared tier to use instead of the one `sharedCache` describes (tests). */
  readonly sharedStore?: SharedTokenStore;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface BrokerHandler {
  /** The Lambda handler: API Gateway requests, direct invocations and warm-ups. */
  readonly handler: ReturnType<typeof createHandler>;
  readonly broker: TokenBroker;
}

/**
 * The one composition root: the Lambda entry point and the local route both build the broker and
 * its handler here, from a parsed configuration. It reads and writes no environment variable.
 */
export function createBrokerHandler(config: BrokerConfig, overrides: BrokerHandlerOverrides = {}): BrokerHandler {
  const now = overrides.now ?? Date.now;
  const serviceName = overrides.serviceName ?? SERVICE_NAME;
  const logger = overrides.logger ?? new Logger({ serviceName });
  // Not a logger: the audit stays on when the broker's own logs are turned down. (Lambda's
  // advanced logging controls could still filter its INFO level; the construct does not set them.)
  const audit = createAuditLog({
    service: serviceName,
    ...(overrides.writeAuditLine ? { write: overrides.writeAuditLine } : {}),
    now,
  });
  const metrics = overrides.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  let secretsManager = overrides.secretsManager;
  const reader = new SecretsManagerReader(() => {
    secretsManager ??= createSecretsManagerClient();
    return secretsManager;
  });
  let sts = overrides.sts;
  const webIdentityIssuer =
    overrides.webIdentityTokens ??
    new StsWebIdentityTokenIssuer(() => {
      sts ??= createStsClient();
      return sts;
    });
  const telemetry = powertoolsTelemetry(logger, metrics);
  const shared = overrides.sharedStore ?? (overrides.sharedCache && dynamoDbTokenStore(overrides.sharedCache));
  const cache = new TokenCache({
    ...(shared ? { shared } : {}),
    ...(overrides.sleep ? { sleep: overrides.sleep } : {}),
    telemetry,
    now,
    refreshWaitMs: config.refreshWaitMs,
  });
  const broker = new TokenBroker(config, {
    secrets: new SecretStore(reader, { ttlMs: config.secretTtlMs, now }),
    webIdentityTokens: new WebIdentityTokenCache(webIdentityIssuer, { now }),
    cache,
    requestToken: meteredTokenEndpoint(
      createOAuthTokenEndpoint({
        telemetry,
        ...trusting(overrides.tokenEndpoint ?? systemTokenEndpointDeps, overrides.trustedCa),
      }),
      metrics,
      now,
    ),
    telemetry,
    ...(overrides.sharedCache ? { cacheNamespace: overrides.sharedCache.namespace } : {}),
    now,
  });
  return { handler: createHandler({ broker, logger, audit, metrics }), broker };
}

/** The token endpoint's connections, mutual TLS ones included, trusting `ca` when given. */
function trusting(deps: OAuthTokenEndpointDeps, ca: readonly string[] | undefined): OAuthTokenEndpointDeps {
  return ca ? { ...deps, fetch: trustingFetch(ca, deps.fetch), mutualTls: { ...deps.mutualTls, ca } } : deps;
}

/**
 * Every call bounded: 1 s to connect, 1 s for the answer, two attempts. A slow table costs a
 * refresh a few seconds at worst, inside the request deadline; a caller with a usable token never
 * waits for it.
 */
function dynamoDbTokenStore(settings: SharedCacheSettings): SharedTokenStore {
  const { dynamodb, kms } = createCacheClients({ connectionTimeoutMs: 1_000, requestTimeoutMs: 1_000, maxAttempts: 2 });
  return new DynamoDbTokenStore({ dynamodb, kms, ...settings });
}
