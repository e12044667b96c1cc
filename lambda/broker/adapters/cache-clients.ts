import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { boundedSdkConfig, type SdkCallBounds } from './bounded-sdk-config.ts';

export interface CacheClientsOptions extends SdkCallBounds {
  /** @default the SDK's (`AWS_REGION` in Lambda) */
  readonly region?: string;
}

/** The SDK clients of the fleet cache: one DynamoDB, one KMS, sharing the same bounds. */
export interface CacheClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
}

/**
 * SDK clients whose every call is bounded, so a hung table or key cannot hold a request past its
 * budget: a call takes at most about `maxAttempts × (connectionTimeoutMs + requestTimeoutMs)` plus
 * the SDK's back-off between attempts. The SDK's defaults would wait without limit.
 *
 * Endpoints follow the SDK's configuration (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_KMS`).
 */
export function createCacheClients(options: CacheClientsOptions): CacheClients {
  // One request handler per client: a client destroys its handler with itself.
  const common = () => ({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...boundedSdkConfig('createCacheClients', options),
  });
  return { dynamodb: new DynamoDBClient(common()), kms: new KMSClient(common()) };
}
