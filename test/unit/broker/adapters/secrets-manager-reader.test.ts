import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretsManagerReader } from '../../../../lambda/broker/adapters/secrets-manager-reader.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';

/**
 * Only the answers a real Secrets Manager API (moto) cannot give on demand: throttling, service
 * failures, access denied. Unreachable and hung ones are in the moto integration tests. Reads, stages, missing and binary secrets run against moto in
 * test/integration/broker/adapters/secrets-manager-reader.test.ts.
 */
describe('Class: SecretsManagerReader (errors moto cannot produce)', () => {
  const client = new SecretsManagerClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-used' },
  });
  const secretsManager = mockClient(client);
  const reader = new SecretsManagerReader(client);

  afterEach(() => {
    secretsManager.reset();
  });

  function awsError(name: string): Error {
    return Object.assign(new Error(`${name}: the service says no`), { name, $metadata: {} });
  }

  async function failureOf(outcome: Promise<unknown>): Promise<BrokerError> {
    const error = await outcome.then(
      () => new Error('expected the read to fail'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BrokerError);
    return error as BrokerError;
  }

  it.each(['ThrottlingException', 'InternalServiceError', 'ServiceUnavailableException'])(
    'reports %s as secret_store_unavailable',
    async (name) => {
      // Prepare
      secretsManager.on(GetSecretValueCommand).rejects(awsError(name));

      // Act
      const error = await failureOf(reader.read('shop/m2m-client', 'AWSCURRENT'));

      // Assess
      expect(error.code).toBe('secret_store_unavailable');
      expect(error.description).toContain(name);
      expect(error.retryAfterSeconds).toBe(1);
    },
  );

  it('reports an error the SDK marks retryable as secret_store_unavailable', async () => {
    // Prepare
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(Object.assign(awsError('SomethingNew'), { $retryable: { throttling: false } }));

    // Act
    const error = await failureOf(reader.read('shop/m2m-client', 'AWSCURRENT'));

    // Assess
    expect(error.code).toBe('secret_store_unavailable');
  });

  it('reports an unknown error answered with HTTP 503 as secret_store_unavailable', async () => {
    // Prepare
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(Object.assign(awsError('SomethingNew'), { $metadata: { httpStatusCode: 503 } }));

    // Act
    const error = await failureOf(reader.read('shop/m2m-client', 'AWSCURRENT'));

    // Assess
    expect(error.code).toBe('secret_store_unavailable');
  });

  it('reports access denied as internal_error', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).rejects(awsError('AccessDeniedException'));

    // Act
    const error = await failureOf(reader.read('shop/m2m-client', 'AWSCURRENT'));

    // Assess
    expect(error.code).toBe('internal_error');
    expect(error.description).toContain('shop/m2m-client');
    expect(error.description).toContain('AccessDeniedException');
  });
});
