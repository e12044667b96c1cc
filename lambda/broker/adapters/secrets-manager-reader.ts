import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { BrokerError } from '../core/errors.ts';
import type { SecretReader, SecretStage } from '../core/secret-store.ts';
import { awsErrorName, isAwsServiceUnavailable } from './aws-service-unavailable.ts';

/**
 * {@link SecretReader} over AWS Secrets Manager. The SDK client is injected (tests point it at
 * moto). A Secrets Manager that cannot be reached, is throttled or does not answer in time is
 * `secret_store_unavailable` (503, with Retry-After); anything else (a missing secret, a denied
 * read) is `internal_error`.
 */
export class SecretsManagerReader implements SecretReader {
  readonly #client: () => SecretsManagerClient;

  /** A factory defers creating the SDK client until a secret is read: local runs may never need one. */
  constructor(client: SecretsManagerClient | (() => SecretsManagerClient)) {
    this.#client = typeof client === 'function' ? client : () => client;
  }

  async read(secretId: string, stage: SecretStage): Promise<{ text: string; versionId: string } | undefined> {
    try {
      const out = await this.#client().send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
      if (out.SecretString === undefined) {
        throw new BrokerError(
          'internal_error',
          `Secret ${secretId} holds binary data; store the client secret as a string`,
        );
      }
      return { text: out.SecretString, versionId: out.VersionId ?? 'unversioned' };
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      // Secrets Manager answers ResourceNotFoundException both for a missing secret and for a
      // missing stage; only the latter is normal (no rotation in progress).
      if (error instanceof ResourceNotFoundException && stage === 'AWSPENDING') return undefined;
      if (isAwsServiceUnavailable(error)) {
        throw new BrokerError('secret_store_unavailable', `Secrets Manager is unavailable (${awsErrorName(error)})`, {
          cause: error,
          retryAfterSeconds: 1,
        });
      }
      const name = (error as { name?: string }).name ?? 'Error';
      throw new BrokerError('internal_error', `Secret ${secretId} could not be read (${name})`, { cause: error });
    }
  }
}
