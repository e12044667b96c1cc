import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ConfigError } from '../core/config.ts';

export interface CacheClientsOptions {
  /** @default the SDK's (`AWS_REGION` in Lambda) */
  readonly region?: string;
  /** Longest wait for a TCP/TLS connection, per attempt. */
  readonly connectionTimeoutMs: number;
  /** Longest wait for a whole request and its response, per attempt. */
  readonly requestTimeoutMs: number;
  /** Attempts per call, the first included (the SDK's standard retry mode between them). */
  readonly maxAttempts: number;
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
  const connectionTimeout = positive('connectionTimeoutMs', options.connectionTimeoutMs);
  const requestTimeout = positive('requestTimeoutMs', options.requestTimeoutMs);
  const maxAttempts = positive('maxAttempts', options.maxAttempts);
  const common = () => ({
    ...(options.region === undefined ? {} : { region: options.region }),
    maxAttempts,
    // Without throwOnRequestTimeout, a request past requestTimeout only logs a warning and waits on.
    requestHandler: new NodeHttpHandler({ connectionTimeout, requestTimeout, throwOnRequestTimeout: true }),
  });
  return { dynamodb: new DynamoDBClient(common()), kms: new KMSClient(common()) };
}

function positive(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`createCacheClients.${field}`, 'must be a positive integer');
  }
  return value;
}
