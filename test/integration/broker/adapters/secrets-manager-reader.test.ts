import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SecretsManagerReader } from '../../../../lambda/broker/adapters/secrets-manager-reader.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import { everythingSaidAbout } from '../../../support/leaks.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from '../../support/moto-server.ts';

const skipReason = motoUnavailableReason();
const title = `Class: SecretsManagerReader (moto server)${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

async function failureOf(outcome: Promise<unknown>): Promise<BrokerError> {
  const error = await outcome.then(
    () => new Error('expected the read to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BrokerError);
  return error as BrokerError;
}

describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let secretsManager: SecretsManagerClient;
  let reader: SecretsManagerReader;

  /** A new secret with one string version; returns its name and that version's id. */
  const createSecret = async (value: string): Promise<{ name: string; versionId: string }> => {
    const name = `shop/${randomUUID()}`;
    const out = await secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return { name, versionId: out.VersionId as string };
  };

  beforeAll(async () => {
    moto = await startMotoServer();
    secretsManager = moto.secretsManager();
    reader = new SecretsManagerReader(secretsManager);
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('reads AWSCURRENT and returns its text and version', async () => {
    // Prepare
    const { name, versionId } = await createSecret('secret-v1');

    // Act
    const read = await reader.read(name, 'AWSCURRENT');

    // Assess
    expect(read).toEqual({ text: 'secret-v1', versionId });
  });

  it('reads the AWSPENDING stage a rotation stored, not the current one', async () => {
    // Prepare
    const { name } = await createSecret('secret-v1');
    const pendingVersion = randomUUID();
    await secretsManager.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'secret-v2',
        ClientRequestToken: pendingVersion,
        VersionStages: ['AWSPENDING'],
      }),
    );

    // Act
    const pending = await reader.read(name, 'AWSPENDING');
    const current = await reader.read(name, 'AWSCURRENT');

    // Assess
    expect(pending).toEqual({ text: 'secret-v2', versionId: pendingVersion });
    expect(current?.text).toBe('secret-v1');
  });

  it('returns nothing when the AWSPENDING stage does not exist', async () => {
    // Prepare
    const { name } = await createSecret('secret-v1');

    // Act
    const read = await reader.read(name, 'AWSPENDING');

    // Assess
    expect(read).toBeUndefined();
  });

  it('reports a secret that does not exist as internal_error naming it', async () => {
    // Prepare
    const name = `shop/missing-${randomUUID()}`;

    // Act
    const error = await failureOf(reader.read(name, 'AWSCURRENT'));

    // Assess
    expect(error.code).toBe('internal_error');
    expect(error.description).toContain(name);
    expect(error.description).toContain('ResourceNotFoundException');
  });

  it('refuses a binary secret without returning its bytes', async () => {
    // Prepare
    const name = `shop/${randomUUID()}`;
    await secretsManager.send(
      new CreateSecretCommand({ Name: name, SecretBinary: new TextEncoder().encode('binary-secret-41c7') }),
    );

    // Act
    const error = await failureOf(reader.read(name, 'AWSCURRENT'));

    // Assess
    expect(error.code).toBe('internal_error');
    expect(error.description).toContain('binary');
    const said = everythingSaidAbout(error);
    expect(said).toContain(name);
    expect(said).not.toContain('binary-secret-41c7');
    expect(said).not.toContain(Buffer.from('binary-secret-41c7').toString('base64'));
  });

  it('creates the SDK client only when a secret is first read', async () => {
    // Prepare
    const { name } = await createSecret('secret-v1');
    const factory = vi.fn(() => secretsManager);
    const lazy = new SecretsManagerReader(factory);

    // Act
    const before = factory.mock.calls.length;
    const read = await lazy.read(name, 'AWSCURRENT');

    // Assess
    expect(before).toBe(0);
    expect(factory).toHaveBeenCalled();
    expect(read?.text).toBe('secret-v1');
  });
});
