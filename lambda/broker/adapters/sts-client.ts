import { STSClient } from '@aws-sdk/client-sts';
import { boundedSdkConfig, type SdkCallBounds } from './bounded-sdk-config.ts';

/** As for Secrets Manager: a hung STS costs a refresh about 6 s at most, inside its deadline. */
const STS_BOUNDS: SdkCallBounds = { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxAttempts: 2 };

/**
 * The broker's STS client, every call bounded, on the regional endpoint of the Lambda's region
 * (`AWS_REGION`, `sts.<region>.amazonaws.com`). Regional on purpose, not by the SDK's default:
 * `GetWebIdentityToken` does not exist on the global endpoint (`sts.amazonaws.com`).
 */
export function createStsClient(bounds: SdkCallBounds = STS_BOUNDS): STSClient {
  return new STSClient({ ...boundedSdkConfig('createStsClient', bounds), useGlobalEndpoint: false });
}
