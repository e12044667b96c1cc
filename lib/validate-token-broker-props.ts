import { Duration, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ENV, SERVICE_NAME, SERVICE_NAME_PATTERN, SERVICE_NAME_SYNTAX } from '../lambda/shared/contract.ts';
import { CACHE_NAMESPACE_MAX_LENGTH, CACHE_NAMESPACE_SYNTAX } from './shared-token-cache.ts';
import type { SharedCacheOptions, TokenBrokerProps } from './token-broker-props.ts';
import { warmUpLookAheadSeconds } from './warm-up-schedule.ts';

/** The props with their defaults applied, after validation. */
export interface TokenBrokerSettings {
  readonly memorySize: number;
  readonly reservedConcurrency?: number;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
  readonly stageName: string;
  readonly throttlingRateLimit: number;
  readonly throttlingBurstLimit: number;
  /** `undefined` when the warm-up schedule is off. */
  readonly warmUpInterval?: Duration;
  /** `undefined` when the fleet cache is off (memory only). */
  readonly sharedCache?: SharedCacheOptions;
  readonly serviceName: string;
}

/** API Gateway's integration timeout; the function must give up before it. */
const API_GATEWAY_TIMEOUT_SECONDS = 29;
/** Lambda's limit for all environment variables together; the configuration is one of them. */
const ENVIRONMENT_LIMIT_BYTES = 4096;
/** Room for the other variables and for secret ARNs, which are still tokens at this point. */
const ENVIRONMENT_RESERVE_BYTES = 300;
const ARN_ALLOWANCE_BYTES = 120;
/** The fleet cache's variables: a table name and a key ARN (tokens at this point) and the namespace. */
const SHARED_CACHE_ENVIRONMENT_BYTES =
  [ENV.tokenCacheTable, ENV.tokenCacheKeyId, ENV.tokenCacheNamespace].join('').length +
  2 * ARN_ALLOWANCE_BYTES +
  CACHE_NAMESPACE_MAX_LENGTH;
const STAGE_NAME = /^[A-Za-z0-9_-]{1,128}$/;
const VPC_ENDPOINT_ID = /^vpce-[0-9a-f]{8,17}$/;

/**
 * Checks every prop other than `config` (validated by the runtime's parser) and applies the
 * defaults. Errors name the prop; values that are still tokens are not checked.
 */
export function validateTokenBrokerProps(props: TokenBrokerProps, maxDeadlineMs: number): TokenBrokerSettings {
  validateNetwork(props);
  const sharedCache = sharedCacheOptions(props.sharedCache ?? true);
  validateConfigSize(props, sharedCache !== undefined);
  const timeout = props.timeout ?? defaultTimeout(maxDeadlineMs);
  validateTimeout(timeout, maxDeadlineMs, props.timeout === undefined);
  const warmUp = props.warmUp ?? true;
  if (!warmUp && props.warmUpInterval !== undefined) {
    throw new Error('warmUpInterval is set but warmUp is false: remove one of them');
  }
  const warmUpInterval = warmUp ? (props.warmUpInterval ?? Duration.minutes(5)) : undefined;
  if (warmUpInterval && !warmUpInterval.isUnresolved()) {
    const minutes = warmUpInterval.toSeconds() / 60;
    if (!Number.isInteger(minutes) || minutes < 1) {
      throw new Error(
        `warmUpInterval must be a whole number of minutes, at least 1 (got ${warmUpInterval.toHumanString()})`,
      );
    }
    warmUpLookAheadSeconds(warmUpInterval);
  }
  const serviceName = props.serviceName ?? SERVICE_NAME;
  if (!Token.isUnresolved(serviceName) && !SERVICE_NAME_PATTERN.test(serviceName)) {
    throw new Error(`serviceName "${serviceName.slice(0, 80)}" must be ${SERVICE_NAME_SYNTAX}`);
  }
  const stageName = props.stageName ?? 'v1';
  if (!Token.isUnresolved(stageName) && !STAGE_NAME.test(stageName)) {
    throw new Error(`stageName "${stageName}" must be 1 to 128 letters, digits, hyphens or underscores`);
  }
  return {
    memorySize: integerIn(props.memorySize ?? 512, 'memorySize', 128, 10_240),
    ...(props.reservedConcurrency === undefined
      ? {}
      : { reservedConcurrency: integerIn(props.reservedConcurrency, 'reservedConcurrency', 1, 10_000) }),
    timeout,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    stageName,
    throttlingRateLimit: numberIn(props.throttlingRateLimit ?? 50, 'throttlingRateLimit', 1, 10_000),
    throttlingBurstLimit: integerIn(props.throttlingBurstLimit ?? 100, 'throttlingBurstLimit', 1, 5_000),
    ...(warmUpInterval ? { warmUpInterval } : {}),
    ...(sharedCache ? { sharedCache } : {}),
    serviceName,
  };
}

function sharedCacheOptions(prop: boolean | SharedCacheOptions): SharedCacheOptions | undefined {
  if (prop === false) return undefined;
  if (prop === true) return {};
  const { namespace, key } = prop;
  if (key && 'aliasName' in key) {
    throw new Error(
      'sharedCache.key is an alias: pass the key itself (e.g. kms.Key.fromKeyArn), since IAM grants name ' +
        "the key's ARN and a grant on an alias ARN does not cover the key",
    );
  }
  if (namespace !== undefined && !Token.isUnresolved(namespace) && !CACHE_NAMESPACE_SYNTAX.test(namespace)) {
    throw new Error(
      `sharedCache.namespace "${namespace}" must be 1 to ${CACHE_NAMESPACE_MAX_LENGTH} letters, digits, '.', '_' or '-'`,
    );
  }
  return prop;
}

function validateNetwork(props: TokenBrokerProps): void {
  if ((props.vpc === undefined) === (props.vpcEndpoints === undefined)) {
    throw new Error('Give exactly one of vpcEndpoints (existing execute-api endpoints) or vpc (to create one)');
  }
  if (props.vpcEndpointSubnets && !props.vpc) {
    throw new Error('vpcEndpointSubnets is only used with vpc');
  }
  if (props.vpcEndpoints?.length === 0) throw new Error('vpcEndpoints must not be empty');
  const network = props.brokerNetwork;
  if (network?.securityGroups && network.egress) {
    throw new Error(
      'brokerNetwork.egress applies to the security group the construct creates; with brokerNetwork.securityGroups, ' +
        'add the rules to your own groups',
    );
  }
  if (network?.securityGroups?.length === 0) throw new Error('brokerNetwork.securityGroups must not be empty');
  props.vpcEndpoints?.forEach((endpoint, i) => {
    const id = endpoint.vpcEndpointId;
    if (!Token.isUnresolved(id) && !VPC_ENDPOINT_ID.test(id)) {
      throw new Error(`vpcEndpoints[${i}] has id "${id}", which is not a VPC endpoint id (vpce-...)`);
    }
  });
}

/** The configuration travels in an environment variable; fail at synth, not at deploy. */
function validateConfigSize(props: TokenBrokerProps, sharedCache: boolean): void {
  const clients = props.config.clients.map((client) =>
    client.authMethod === 'aws_web_identity'
      ? client
      : { ...client, clientSecret: { secretId: 'x'.repeat(ARN_ALLOWANCE_BYTES), field: client.clientSecret?.field } },
  );
  const bytes = Buffer.byteLength(JSON.stringify({ ...props.config, clients }));
  const reserve = ENVIRONMENT_RESERVE_BYTES + (sharedCache ? SHARED_CACHE_ENVIRONMENT_BYTES : 0);
  if (bytes > ENVIRONMENT_LIMIT_BYTES - reserve) {
    throw new Error(
      `config is about ${bytes} bytes as JSON; it must fit in Lambda's ${ENVIRONMENT_LIMIT_BYTES}-byte environment ` +
        'with the other variables: drop optional fields or split the clients over two brokers',
    );
  }
}

function defaultTimeout(maxDeadlineMs: number): Duration {
  return Duration.seconds(Math.min(API_GATEWAY_TIMEOUT_SECONDS - 1, Math.ceil(maxDeadlineMs / 1000) + 5));
}

function validateTimeout(timeout: Duration, maxDeadlineMs: number, isDefault: boolean): void {
  if (timeout.isUnresolved()) return;
  const seconds = timeout.toSeconds();
  if (seconds >= API_GATEWAY_TIMEOUT_SECONDS) {
    throw new Error(`timeout must be below API Gateway's ${API_GATEWAY_TIMEOUT_SECONDS} s (got ${seconds} s)`);
  }
  if (seconds * 1000 <= maxDeadlineMs) {
    const what = isDefault ? 'the default timeout' : 'timeout';
    throw new Error(`${what} (${seconds} s) must exceed the largest client deadlineMs (${maxDeadlineMs} ms)`);
  }
}

function integerIn(value: number, prop: string, min: number, max: number): number {
  if (Token.isUnresolved(value)) return value;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${prop} must be a whole number from ${min} to ${max} (got ${value})`);
  }
  return value;
}

function numberIn(value: number, prop: string, min: number, max: number): number {
  if (Token.isUnresolved(value)) return value;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${prop} must be a number from ${min} to ${max} (got ${value})`);
  }
  return value;
}
