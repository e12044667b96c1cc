import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { BrokerConfigInput } from '../../lib/broker-config-input.ts';
import { PROJECT_ROOT } from '../../lib/bundling.ts';

/**
 * The context of `cdk.json`: the feature flags `cdk init` sets for the installed aws-cdk-lib. Tests
 * synthesize with the flags `cdk synth` uses, so what they assert is what gets deployed.
 */
export const CDK_JSON_CONTEXT: Readonly<Record<string, unknown>> = (
  JSON.parse(readFileSync(`${PROJECT_ROOT}cdk.json`, 'utf8')) as { context: Record<string, unknown> }
).context;

/** Skips esbuild: these tests assert on templates; `bundling.test.ts` builds the real bundle. */
export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

/** The context of a test app: `cdk.json`'s, without bundling. */
export const TEST_CONTEXT = { ...CDK_JSON_CONTEXT, ...NO_BUNDLING };

export const EXISTING_ENDPOINT_ID = 'vpce-0123456789abcdef0';

/** One client with a placeholder secret, one with an existing secret named in the configuration. */
export const TWO_CLIENTS: BrokerConfigInput = {
  clients: [
    { name: 'shop', tokenEndpoint: 'https://auth.example.com/token', clientId: 'm2m', scopes: ['read'] },
    {
      name: 'billing',
      tokenEndpoint: 'https://login.example.org/oauth2/token',
      clientId: 'billing-app',
      clientSecret: { secretId: 'prod/billing', field: 'client_secret' },
      authMethod: 'client_secret_basic',
    },
  ],
};

/** A stack in a fixed account and region, without bundling. */
export function newTestStack(): Stack {
  return new Stack(new App({ context: TEST_CONTEXT }), 'Test', {
    env: { account: '123456789012', region: 'eu-west-1' },
  });
}

/** An `execute-api` endpoint imported by id, as a platform team that already has one passes it. */
export function importEndpoint(stack: Stack, id = EXISTING_ENDPOINT_ID): ec2.IInterfaceVpcEndpoint {
  return ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(stack, `Endpoint-${id}`, {
    vpcEndpointId: id,
    port: 443,
  });
}

/** The statements of `AWS::IAM::Policy` resources, e.g. `template.findResources('AWS::IAM::Policy')`. */
export function policyStatements(policies: Record<string, Record<string, unknown>>): PolicyStatementJson[] {
  return Object.values(policies).flatMap(
    (r) => (r.Properties as { PolicyDocument: { Statement: PolicyStatementJson[] } }).PolicyDocument.Statement,
  );
}

export interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, unknown>;
}

/**
 * A statement with its actions sorted: `@aws-cdk/aws-iam:minimizePolicies` merges statements and
 * sorts their actions, and the order of actions means nothing to IAM.
 */
export function withSortedActions(statement: PolicyStatementJson): PolicyStatementJson {
  return Array.isArray(statement.Action) ? { ...statement, Action: [...statement.Action].sort() } : statement;
}

export function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}
