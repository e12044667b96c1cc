import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { boundedSdkConfig, type SdkCallBounds } from './bounded-sdk-config.ts';

/**
 * A secret read gives up within about 6 s (2 × (1 s + 2 s), plus back-off) when Secrets Manager
 * hangs: inside the token request's deadline (default 15 s), far from API Gateway's 29 s.
 * GetSecretValue answers in tens of milliseconds when it works.
 */
const SECRETS_MANAGER_BOUNDS: SdkCallBounds = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  maxAttempts: 2,
};

/**
 * The broker's Secrets Manager client, every call bounded. Region, credentials and endpoint follow
 * the SDK's configuration (`AWS_REGION`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`...).
 */
export function createSecretsManagerClient(bounds: SdkCallBounds = SECRETS_MANAGER_BOUNDS): SecretsManagerClient {
  return new SecretsManagerClient(boundedSdkConfig('createSecretsManagerClient', bounds));
}
