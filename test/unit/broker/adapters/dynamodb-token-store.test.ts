import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import {
  DynamoDbTokenStore,
  type DynamoDbTokenStoreOptions,
} from '../../../../lambda/broker/adapters/dynamodb-token-store.ts';
import { ConfigError } from '../../../../lambda/broker/core/config.ts';

const options: DynamoDbTokenStoreOptions = {
  dynamodb: new DynamoDBClient({ region: 'us-east-1' }),
  kms: new KMSClient({ region: 'us-east-1' }),
  tableName: 'token-cache',
  keyId: 'alias/token-cache',
  namespace: 'default',
};

describe('Class: DynamoDbTokenStore (options)', () => {
  it('accepts the required options alone', () => {
    // Act & Assess
    expect(() => new DynamoDbTokenStore(options)).not.toThrow();
  });

  it.each<[keyof DynamoDbTokenStoreOptions, unknown, string]>([
    ['tableName', ' ', 'must be a non-empty string'],
    ['keyId', '', 'must be a non-empty string'],
    ['namespace', '', 'must be a non-empty string'],
    ['clockSkewMs', -1, 'must be an integer from 0 to 3600000'],
    ['retentionMs', 0.5, `must be an integer from 1000 to ${Number.MAX_SAFE_INTEGER}`],
    ['maxItemBytes', 400 * 1024 + 1, 'must be an integer from 1 to 409600'],
  ])('refuses %s = %j, naming the field', (field, value, problem) => {
    // Act & Assess
    expect(() => new DynamoDbTokenStore({ ...options, [field]: value })).toThrow(
      new ConfigError(`DynamoDbTokenStore.${field}`, problem),
    );
  });
});
