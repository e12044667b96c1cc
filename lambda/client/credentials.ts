import { defaultProvider } from '@aws-sdk/credential-provider-node';

/** AWS credentials, as the AWS SDK's providers return them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Present for temporary credentials (a Lambda role's always are); sent as `X-Amz-Security-Token`. */
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

let shared: AwsCredentialsProvider | undefined;

/**
 * The AWS SDK's default provider chain (in Lambda: the function role's credentials from the
 * environment), created once per process. The chain memoizes and refreshes before expiry itself.
 */
export function defaultCredentials(): AwsCredentialsProvider {
  shared ??= defaultProvider();
  return shared;
}
