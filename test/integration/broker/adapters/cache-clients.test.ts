import { randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DecryptCommand } from '@aws-sdk/client-kms';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCacheClients } from '../../../../lambda/broker/adapters/cache-clients.ts';
import { DynamoDbTokenStore } from '../../../../lambda/broker/adapters/dynamodb-token-store.ts';
import { TokenStoreError } from '../../../../lambda/broker/adapters/token-store-error.ts';
import { ConfigError } from '../../../../lambda/broker/core/config.ts';
import { type HungServer, startHungServer } from '../../support/hung-server.ts';

describe('Function: createCacheClients', () => {
  let hung: HungServer;

  beforeEach(async () => {
    hung = await startHungServer();
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', hung.url);
    vi.stubEnv('AWS_ENDPOINT_URL_KMS', hung.url);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'testing');
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await hung.stop();
  });

  it('gives up on a hung DynamoDB and KMS within the request timeout', async () => {
    // Prepare
    const { dynamodb, kms } = createCacheClients({
      region: 'us-east-1',
      connectionTimeoutMs: 200,
      requestTimeoutMs: 300,
      maxAttempts: 1,
    });
    const started = Date.now();

    // Act
    const outcomes = await Promise.allSettled([
      dynamodb.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'k' } } })),
      kms.send(new DecryptCommand({ CiphertextBlob: new Uint8Array(8) })),
    ]);

    // Assess
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect((outcomes[0] as PromiseRejectedResult).reason).toMatchObject({ name: 'TimeoutError' });
  });

  it('makes a store read against a hung table fail as the tier failing, within its budget', async () => {
    // Prepare
    const clients = createCacheClients({
      region: 'us-east-1',
      connectionTimeoutMs: 200,
      requestTimeoutMs: 200,
      maxAttempts: 2,
    });
    const store = new DynamoDbTokenStore({ ...clients, tableName: 't', keyId: randomUUID(), namespace: 'n' });
    const started = Date.now();

    // Act
    const error = await store.read('k').catch((caught: unknown) => caught);

    // Assess
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(TokenStoreError);
    expect(error).toMatchObject({ operation: 'GetItem', errorName: 'TimeoutError' });
  });

  it('refuses a timeout that is not a positive integer, naming it', () => {
    // Act & Assess
    expect(() => createCacheClients({ connectionTimeoutMs: 0, requestTimeoutMs: 100, maxAttempts: 1 })).toThrow(
      new ConfigError('createCacheClients.connectionTimeoutMs', 'must be a positive integer'),
    );
  });
});
