import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { BrokerConfigInput } from '../lib/broker-config-input.ts';
import { PROJECT_ROOT } from '../lib/bundling.ts';
import { type BrokerNetworkLayout, TokenBrokerStack } from '../lib/token-broker-stack.ts';

/** Used when no `-c config=...` is given, so `cdk synth` works with no arguments. */
const DEFAULT_CONFIG_FILE = `${PROJECT_ROOT}bin/example-clients.json`;

/**
 * The example app, configured from context only (no lookups, so `cdk synth` needs no credentials):
 * - `config`: the clients JSON file, in the runtime's schema (default `bin/example-clients.json`)
 * - `vpcEndpointId`: an existing `execute-api` endpoint (default: a new VPC with one)
 * - `consumer`: `false` to leave out the example consumer
 * - `apiGatewayCloudWatchRole`: `false` when the account already has API Gateway's logging role
 * - `reservedConcurrency`: the broker's reserved concurrency (default: none)
 * - `sharedCache`: `false` for each instance's memory cache only, without the fleet cache's table and key
 * - `brokerNetwork`: `outside` (default), `endpoints` or `nat`: where the broker function runs
 * - `authServerCidrs`: comma-separated address ranges of the authorization servers (broker in the VPC)
 * - `alarmEmail`: an address every alarm notifies
 * - `trustedCaFile`: a PEM file of CA certificates the broker trusts besides Node.js's roots
 * - `grants`: a JSON file `{ "client": ["role ARN", ...] }` of other teams' roles that may get tokens
 * - `stackName` (default `TokenBroker`), `account` and `region` (default: environment-agnostic)
 * - `availabilityZones`: comma-separated zones of the new VPC (default: two CloudFormation picks at
 *   deploy time; no lookup, so synth needs no credentials even with account and region)
 */
export function buildExampleApp(app: App): TokenBrokerStack {
  const context = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return value === undefined || value === null ? undefined : String(value);
  };
  const account = context('account');
  const region = context('region');
  const stack = new TokenBrokerStack(app, context('stackName') ?? 'TokenBroker', {
    description: 'OAuth 2.0 client-credentials token broker (private API, IAM authorized)',
    ...(account || region ? { env: { account, region } } : {}),
    config: readConfigFile(context('config') ?? DEFAULT_CONFIG_FILE),
    vpcEndpointId: context('vpcEndpointId'),
    exampleConsumer: booleanContext('consumer', context('consumer')),
    apiGatewayCloudWatchRole: booleanContext('apiGatewayCloudWatchRole', context('apiGatewayCloudWatchRole')),
    reservedConcurrency: numberContext('reservedConcurrency', context('reservedConcurrency')),
    sharedCache: booleanContext('sharedCache', context('sharedCache')),
    serviceName: context('serviceName'),
    brokerNetwork: layoutContext(context('brokerNetwork')),
    authServerCidrs: listContext(context('authServerCidrs')),
    alarmEmail: context('alarmEmail'),
    grants: grantsFile(context('grants')),
    trustedCaCertificates: pemFile('trustedCaFile', context('trustedCaFile')),
    availabilityZones: listContext(context('availabilityZones')),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

/** The file is only JSON-decoded here: the construct validates it with the runtime's parser. */
function readConfigFile(path: string): BrokerConfigInput {
  return readJsonFile('config', path) as BrokerConfigInput;
}

/** `{ "shop": ["arn:aws:iam::123456789012:role/orders-fn"] }`; the construct checks the names and ARNs. */
function grantsFile(path: string | undefined): Record<string, string[]> | undefined {
  if (path === undefined) return undefined;
  const grants = readJsonFile('grants', path);
  const valid =
    typeof grants === 'object' &&
    grants !== null &&
    !Array.isArray(grants) &&
    Object.values(grants).every((arns) => Array.isArray(arns) && arns.every((arn) => typeof arn === 'string'));
  if (!valid) {
    throw new Error(`Context grants: ${resolve(path)} must map client names to lists of role ARNs`);
  }
  return grants as Record<string, string[]>;
}

/** The file is only read here: the construct checks that it holds CA certificates and nothing else. */
function pemFile(key: string, path: string | undefined): string | undefined {
  return path === undefined ? undefined : readContextFile(key, path);
}

function readContextFile(key: string, path: string): string {
  const file = resolve(path);
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Context ${key}: cannot read ${file}`, { cause: error });
  }
}

function readJsonFile(key: string, path: string): unknown {
  const file = resolve(path);
  const text = readContextFile(key, path);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`Context ${key}: ${file} is not valid JSON (${(error as Error).message})`, { cause: error });
  }
}

function layoutContext(value: string | undefined): BrokerNetworkLayout | undefined {
  if (value === undefined) return undefined;
  if (value === 'outside' || value === 'endpoints' || value === 'nat') return value;
  throw new Error(`Context brokerNetwork must be outside, endpoints or nat (got "${value}")`);
}

function listContext(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
}

function booleanContext(key: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`Context ${key} must be true or false (got "${value}")`);
}

function numberContext(key: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`Context ${key} must be a number (got "${value}")`);
  return n;
}
