import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  type DynamoDBClient,
  ScanCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { DynamoDbTokenStore } from '../../../lambda/broker/adapters/dynamodb-token-store.ts';
import { TOKEN_ITEM } from '../../../lambda/broker/adapters/token-cache-item.ts';
import type { SharedEntry } from '../../../lambda/broker/core/shared-token-store.ts';
import { CACHE_TABLE } from '../../../lambda/shared/contract.ts';

/** Creates a fleet cache table exactly as `CACHE_TABLE` describes it: on-demand, `pk` (S), TTL on `ttl`. */
export async function createTokenCacheTable(dynamodb: DynamoDBClient): Promise<string> {
  const tableName = `token-cache-${randomUUID()}`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: CACHE_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: CACHE_TABLE.partitionKey, KeyType: 'HASH' }],
    }),
  );
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: CACHE_TABLE.ttlAttribute, Enabled: true },
    }),
  );
  return tableName;
}

/** Creates a symmetric KMS key (the default key spec) and returns its id and ARN. */
export async function createCacheKey(kms: KMSClient): Promise<{ keyId: string; arn: string }> {
  const out = await kms.send(new CreateKeyCommand({ Description: 'fleet token cache (test)' }));
  const keyId = out.KeyMetadata?.KeyId;
  const arn = out.KeyMetadata?.Arn;
  if (!keyId || !arn) throw new Error('KMS created a key without an id');
  return { keyId, arn };
}

/** The items of `namespace`, read (and decrypted) as a broker of that namespace under `keyId` reads them. */
export async function readCacheTable(options: {
  dynamodb: DynamoDBClient;
  kms: KMSClient;
  tableName: string;
  keyId: string;
  namespace: string;
}): Promise<{ key: string; entry: SharedEntry | undefined }[]> {
  const store = new DynamoDbTokenStore(options);
  const scanned = await options.dynamodb.send(
    new ScanCommand({
      TableName: options.tableName,
      FilterExpression: '#namespace = :namespace',
      ExpressionAttributeNames: { '#namespace': TOKEN_ITEM.namespace },
      ExpressionAttributeValues: { ':namespace': { S: options.namespace } },
    }),
  );
  const keys = (scanned.Items ?? []).map((item) => item[CACHE_TABLE.partitionKey]?.S as string);
  return Promise.all(keys.map(async (key) => ({ key, entry: await store.read(key) })));
}
