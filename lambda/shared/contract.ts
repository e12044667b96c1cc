/**
 * What the broker runtime, the CDK construct and the caller library must agree on, defined once.
 * Dependency-free on purpose: the caller library imports it without pulling broker code into a
 * consumer's bundle, and the construct imports it without pulling in the runtime.
 */

/** Environment variables, by the side that reads them. */
export const ENV = {
  /** Broker: the configuration JSON (written by the construct). */
  brokerConfig: 'BROKER_CONFIG',
  /** Broker: the fleet cache's DynamoDB table name. Unset with `tokenCacheKeyId`: memory only. */
  tokenCacheTable: 'TOKEN_CACHE_TABLE',
  /** Broker: the KMS key id or ARN that encrypts the fleet cache's tokens. */
  tokenCacheKeyId: 'TOKEN_CACHE_KEY_ID',
  /** Broker: separates stacks sharing one table. @default {@link DEFAULT_CACHE_NAMESPACE} */
  tokenCacheNamespace: 'TOKEN_CACHE_NAMESPACE',
  /**
   * Broker: a PEM file of CA certificates trusted for the token endpoints besides Node.js's roots
   * (the construct's `trustedCaCertificates`, in a layer). @default Node.js's roots only
   */
  trustedCaFile: 'TOKEN_BROKER_TRUSTED_CA_FILE',
  /** Caller library: the broker API's invoke URL. */
  brokerUrl: 'TOKEN_BROKER_URL',
  /** Caller library: the broker function's name or ARN, for direct invocation. */
  brokerFunction: 'TOKEN_BROKER_FUNCTION',
  /** Powertools: service name and metrics namespace. */
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

/**
 * The alias API Gateway invokes the broker through. Only its invocations carry a caller identity
 * API Gateway vouches for: direct invokers may invoke the unqualified function only, so an event
 * that merely looks like API Gateway's cannot put another principal in the audit.
 */
export const API_ALIAS = 'api';

/** Namespace of the fleet cache's keys when `TOKEN_CACHE_NAMESPACE` is unset. */
export const DEFAULT_CACHE_NAMESPACE = 'default';

/**
 * Powertools service name: the `service` field of every log line and the `service` dimension of
 * every metric. The default; a broker deployed beside another in the same account and region
 * gets its own (`TokenBroker`'s `serviceName`), so their metrics, alarms and dashboards stay apart.
 */
export const SERVICE_NAME = 'token-broker';

/** What a service name may be: it is a metric dimension value and appears in alarm names. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SERVICE_NAME_SYNTAX =
  '1 to 64 letters, digits, dots, hyphens or underscores, starting with a letter or digit';

/** CloudWatch namespace of the broker's metrics (EMF). */
export const METRICS_NAMESPACE = 'M2MTokenBroker';

/** Metric names: part of the deployed product, since the construct alarms on some of them. */
export const METRIC = {
  requestFailed: 'RequestFailed',
  warmUpFailure: 'WarmUpFailure',
  tokenFetched: 'TokenFetched',
  /** A token request failed after retries: the alarm to watch. */
  upstreamFailure: 'UpstreamFailure',
  staleTokenServed: 'StaleTokenServed',
  /** The fleet cache's table or key failed; the broker fell back to memory. */
  sharedCacheFailure: 'SharedCacheFailure',
  /** A token too large for a table item, kept in memory only. */
  sharedCacheOversized: 'SharedCacheOversized',
  /** A token's refresh window is shorter than the warm-up's look-ahead. */
  refreshWindowTooShort: 'RefreshWindowTooShort',
  /** One per warm-up that completed: the heartbeat alarm fires when none arrives. */
  warmUpRun: 'WarmUpRun',
  /** Keys a warm-up refreshed, found fresh, and left for the next one (its budget ran out). */
  warmUpRefreshed: 'WarmUpRefreshed',
  warmUpFresh: 'WarmUpFresh',
  warmUpDeferred: 'WarmUpDeferred',
  /** Seconds a served token had left: how close to expiry callers get their tokens. */
  tokenRemainingLifetime: 'TokenRemainingLifetime',
  /**
   * One per call to an authorization server's token endpoint (retries included), in milliseconds,
   * with the dimensions `authorizationServer` and `outcome` ({@link TOKEN_ENDPOINT_OUTCOME}).
   */
  tokenEndpointLatency: 'TokenEndpointLatency',
} as const;

/**
 * Metric dimensions besides `service`. Each has a small, bounded set of values: `error` the
 * broker's error codes, `authorizationServer` the host names of the configured token endpoints.
 * `RequestFailed` is published twice: with `service` only, and with `service` and `error`.
 */
export const METRIC_DIMENSION = {
  service: 'service',
  error: 'error',
  authorizationServer: 'authorizationServer',
  outcome: 'outcome',
} as const;

/** Values of the `outcome` dimension of `TokenEndpointLatency`. */
export const TOKEN_ENDPOINT_OUTCOME = { ok: 'ok', failed: 'failed' } as const;

/**
 * Where a served token came from, one metric per source. The number of tokens served is the
 * sample count of `TokenRemainingLifetime`, which every served token adds to.
 */
export const TOKEN_SOURCE_METRIC = {
  memory: 'TokenServedFromMemory',
  shared: 'TokenServedFromSharedCache',
  fetched: 'TokenServedFetched',
  stale: 'TokenServedStale',
} as const;

/**
 * The audit line: one per token request, served or refused, written whatever the log level.
 * Its `audit` field holds {@link AUDIT.kind}; the construct's saved Logs Insights query and the
 * README's queries filter on it.
 */
export const AUDIT = {
  message: 'Token request',
  marker: 'audit',
  kind: 'token-request',
  /** Values of the line's `outcome` field. */
  outcome: { served: 'served', refused: 'refused' },
} as const;

/** The warm-up event: `{ "warmup": true, "lookAheadSeconds": N }`. */
export interface WarmUpEvent {
  readonly warmup: true;
  /** Refresh every key that reaches its refresh point within this many seconds. */
  readonly lookAheadSeconds?: number;
}

/** Bounds of a warm-up's look-ahead; the default serves a bare `{ "warmup": true }` or a scheduled event. */
export const WARM_UP_LOOK_AHEAD = { defaultSeconds: 360, minSeconds: 0, maxSeconds: 3_600 } as const;

export function warmUpEvent(lookAheadSeconds?: number): WarmUpEvent {
  return lookAheadSeconds === undefined ? { warmup: true } : { warmup: true, lookAheadSeconds };
}

/**
 * The fleet cache's DynamoDB table, as an operator or a test creates it: on-demand billing, a
 * string partition key and a TTL attribute in epoch seconds. Everything else is the broker's.
 */
export const CACHE_TABLE = { partitionKey: 'pk', ttlAttribute: 'ttl' } as const;

/**
 * The KMS encryption context of every data key the fleet cache uses: it binds a ciphertext to its
 * item and namespace, and the broker role's `kms:GenerateDataKey`/`kms:Decrypt` grant is
 * conditioned on the namespace (`kms:EncryptionContext:<namespace key>`).
 */
export const CACHE_ENCRYPTION_CONTEXT = {
  namespaceKey: 'm2m-token-broker:namespace',
  itemKey: 'm2m-token-broker:item',
} as const;

/**
 * A caller's freshness requirement: the token served must have at least this many seconds left.
 * The query parameter of the API, the field of a direct invocation, and the largest value either
 * side accepts (each client may cap it lower, `maxMinTtlSeconds`).
 */
export const MIN_TTL = { queryParameter: 'min_ttl', directField: 'minTtlSeconds', maxSeconds: 86_400 } as const;
