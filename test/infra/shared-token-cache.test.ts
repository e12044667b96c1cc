import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { CACHE_ENCRYPTION_CONTEXT, CACHE_TABLE, ENV } from '../../lambda/shared/contract.ts';
import { CACHE_NAMESPACE_SYNTAX } from '../../lib/shared-token-cache.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import type { TokenBrokerProps } from '../../lib/token-broker-props.ts';
import {
  asArray,
  importEndpoint,
  newTestStack,
  type PolicyStatementJson,
  policyStatements,
  TEST_CONTEXT,
  TWO_CLIENTS,
  withSortedActions,
} from './synth.ts';

const TABLE_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/shared-token-cache';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const NAMESPACE_CONDITION_KEY = `kms:EncryptionContext:${CACHE_ENCRYPTION_CONTEXT.namespaceKey}`;

function build(props: (stack: Stack) => Partial<TokenBrokerProps> = () => ({})) {
  const stack = newTestStack();
  const broker = new TokenBroker(stack, 'Broker', {
    config: TWO_CLIENTS,
    vpcEndpoints: [importEndpoint(stack)],
    ...props(stack),
  });
  return { stack, broker, template: Template.fromStack(stack) };
}

function brokerVariables(template: Template): Record<string, unknown> {
  const functions = template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { [ENV.brokerConfig]: Match.anyValue() } } },
  });
  const [fn] = Object.values(functions);
  if (!fn) throw new Error('No broker function in the template');
  return (fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
}

/** The broker role's statements on DynamoDB and KMS, other than the secrets' (decrypt via Secrets Manager). */
function cacheStatements(template: Template): PolicyStatementJson[] {
  return policyStatements(template.findResources('AWS::IAM::Policy'))
    .filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:') || a.startsWith('kms:')))
    .map(withSortedActions);
}

describe('Construct: SharedTokenCache (created by TokenBroker by default)', () => {
  let stack: Stack;
  let broker: TokenBroker;
  let template: Template;

  beforeAll(() => {
    ({ stack, broker, template } = build());
  });

  it('creates an on-demand, encrypted table keyed and expired as the runtime expects', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: CACHE_TABLE.partitionKey, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: CACHE_TABLE.partitionKey, AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: CACHE_TABLE.ttlAttribute, Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('deletes the table with the stack, without backups: it holds only tokens that can be fetched again', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false } }),
    });
  });

  it('creates a customer managed key with automatic rotation', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('tells the broker the table, the key and its namespace', () => {
    const namespace = broker.sharedCache?.namespace;

    expect(namespace).toMatch(CACHE_NAMESPACE_SYNTAX);
    expect(brokerVariables(template)).toMatchObject({
      [ENV.tokenCacheTable]: { Ref: expect.stringMatching(/^BrokerSharedCacheTable/) },
      [ENV.tokenCacheKeyId]: { 'Fn::GetAtt': [expect.stringMatching(/^BrokerSharedCacheKey/), 'Arn'] },
      [ENV.tokenCacheNamespace]: namespace,
    });
  });

  it("grants the broker exactly the runtime's table calls, and the key for its own namespace only", () => {
    const cache = broker.sharedCache;
    if (!cache) throw new Error('No shared cache');

    expect(cacheStatements(template)).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
        Resource: stack.resolve(cache.table.tableArn),
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: stack.resolve(cache.key.keyArn),
        Condition: { StringEquals: { [NAMESPACE_CONDITION_KEY]: cache.namespace } },
      },
    ]);
  });
});

describe('Construct: SharedTokenCache (props)', () => {
  it('is left out with sharedCache: false: no table, no key, no variables, no grants', () => {
    const { broker, template } = build(() => ({ sharedCache: false }));

    expect(broker.sharedCache).toBeUndefined();
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    for (const name of [ENV.tokenCacheTable, ENV.tokenCacheKeyId, ENV.tokenCacheNamespace]) {
      expect(brokerVariables(template)).not.toHaveProperty(name);
    }
    expect(cacheStatements(template)).toEqual([]);
  });

  it('uses an existing table and key instead of creating them, and grants exactly those', () => {
    const { template } = build((stack) => ({
      sharedCache: {
        table: dynamodb.Table.fromTableArn(stack, 'Table', TABLE_ARN),
        key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN),
        namespace: 'orders-prod',
      },
    }));

    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(brokerVariables(template)).toMatchObject({
      [ENV.tokenCacheTable]: 'shared-token-cache',
      [ENV.tokenCacheKeyId]: KEY_ARN,
      [ENV.tokenCacheNamespace]: 'orders-prod',
    });
    expect(cacheStatements(template)).toEqual([
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'], Resource: TABLE_ARN },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: KEY_ARN,
        Condition: { StringEquals: { [NAMESPACE_CONDITION_KEY]: 'orders-prod' } },
      },
    ]);
  });

  it('creates only what is left out: a key for an existing table', () => {
    const { template } = build((stack) => ({
      sharedCache: { table: dynamodb.Table.fromTableArn(stack, 'Table', TABLE_ARN) },
    }));

    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::KMS::Key', 1);
    expect(brokerVariables(template)).toMatchObject({ [ENV.tokenCacheTable]: 'shared-token-cache' });
  });

  it('creates only what is left out: a table for an existing key', () => {
    const { template } = build((stack) => ({ sharedCache: { key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN) } }));

    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(brokerVariables(template)).toMatchObject({ [ENV.tokenCacheKeyId]: KEY_ARN });
  });
});

describe('Function: default cache namespace', () => {
  function namespaceOf(stackName: string, brokerIds: readonly string[]): (string | undefined)[] {
    const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Stack', { stackName });
    const vpcEndpoints = [importEndpoint(stack)];
    return brokerIds.map(
      // Each its own service name: two brokers of one stack must not share their metrics.
      (id) => new TokenBroker(stack, id, { config: TWO_CLIENTS, vpcEndpoints, serviceName: id }).sharedCache?.namespace,
    );
  }

  it('stays the same when the same stack is synthesized again', () => {
    expect(namespaceOf('orders-prod', ['Broker'])).toEqual(namespaceOf('orders-prod', ['Broker']));
  });

  it('differs between two brokers of one stack, and between stacks of other names', () => {
    const [first, second] = namespaceOf('orders-prod', ['Broker', 'OtherBroker']);
    const [elsewhere] = namespaceOf('orders-dev', ['Broker']);

    expect(new Set([first, second, elsewhere]).size).toBe(3);
  });

  it('fits the namespace syntax even for a long stack name and deep path', () => {
    const [namespace] = namespaceOf(`a-${'very-long-stack-name-'.repeat(6)}`, ['Broker'.repeat(10)]);

    expect(namespace).toMatch(CACHE_NAMESPACE_SYNTAX);
  });
});
