import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { type LocalBroker, startLocalBroker } from '../../lambda/local/local-broker.ts';
import { captureOutput } from './support/captured-output.ts';
import { configFor, FIXTURE_SECRET, getToken, introspect, startFixtureServer } from './support/fixtures.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from './support/moto-server.ts';

const skipReason = motoUnavailableReason();

const title = `Broker reading client secrets from Secrets Manager (moto server)${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let secretsManager: SecretsManagerClient;
  let server: AuthorizationServer;
  const brokers: LocalBroker[] = [];

  const createSecret = async (value: string): Promise<string> => {
    const out = await secretsManager.send(
      new CreateSecretCommand({ Name: `shop/${randomUUID()}`, SecretString: value }),
    );
    return out.ARN as string;
  };
  const broker = async (secretId: string, field?: string) => {
    const clientSecret = field === undefined ? { secretId } : { secretId, field };
    const started = await startLocalBroker({ config: configFor(server, { clientSecret }), secretsManager });
    brokers.push(started);
    return started;
  };

  beforeAll(async () => {
    moto = await startMotoServer();
    secretsManager = moto.secretsManager();
    server = await startFixtureServer();
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
    server.setClientSecret('m2m', FIXTURE_SECRET);
  });
  afterAll(async () => {
    await server?.stop();
    await moto?.stop();
  });

  it('obtains a token with a plain-string secret', async () => {
    // Prepare
    const { url } = await broker(await createSecret(FIXTURE_SECRET));

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(200);
    expect(await introspect(server, reply.body.access_token as string)).toMatchObject({ active: true });
  });

  it('obtains a token with one field of a JSON secret', async () => {
    // Prepare
    const arn = await createSecret(JSON.stringify({ clientId: 'm2m', clientSecret: FIXTURE_SECRET }));
    const { url } = await broker(arn, 'clientSecret');

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(200);
  });

  it('sends nothing for a key/value secret read without field, and logs which secret needs one', async () => {
    // Prepare
    const arn = await createSecret(JSON.stringify({ clientId: 'm2m', clientSecret: FIXTURE_SECRET }));
    const { url } = await broker(arn);
    const tokenRequests = server.tokenRequestCount();
    const output = captureOutput();

    try {
      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(500);
      expect(reply.body).toEqual({ error: 'internal_error', error_description: 'The broker failed; see its logs' });
      expect(server.tokenRequestCount()).toBe(tokenRequests);
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({
          message: 'Request failed',
          client: 'shop',
          code: 'internal_error',
          description: `Secret ${arn} is a JSON object; set clientSecret.field to the key that holds the secret`,
        }),
      );
      expect(output.text()).not.toContain(FIXTURE_SECRET);
    } finally {
      output.restore();
    }
  });

  it('answers 500 internal_error without details when the secret does not exist', async () => {
    // Prepare
    const { url } = await broker('shop/does-not-exist');

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(500);
    expect(reply.body).toEqual({ error: 'internal_error', error_description: 'The broker failed; see its logs' });
  });

  it('picks up a rotation, pending then promoted, with no failed request', async () => {
    // Prepare: a token obtained with the first secret version.
    const arn = await createSecret(FIXTURE_SECRET);
    const { url } = await broker(arn);
    expect((await getToken(url, 'shop', 'read')).status).toBe(200);

    // Act 1: the rotation's setSecret step has stored AWSPENDING and the server switched to it.
    const pendingVersion = randomUUID();
    await secretsManager.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: 'password-rotated',
        ClientRequestToken: pendingVersion,
        VersionStages: ['AWSPENDING'],
      }),
    );
    server.setClientSecret('m2m', 'password-rotated');
    const duringRotation = await getToken(url, 'shop', 'write');

    // Act 2: finishSecret promotes the new version.
    const described = await secretsManager.send(new DescribeSecretCommand({ SecretId: arn }));
    const currentVersion = Object.entries(described.VersionIdsToStages ?? {}).find(([, stages]) =>
      stages.includes('AWSCURRENT'),
    )?.[0];
    await secretsManager.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: pendingVersion,
        RemoveFromVersionId: currentVersion,
      }),
    );
    const afterRotation = await getToken(url, 'shop', 'read write');

    // Assess
    expect(duringRotation.status).toBe(200);
    expect(afterRotation.status).toBe(200);
    expect(await introspect(server, afterRotation.body.access_token as string)).toMatchObject({ active: true });
  });

  it('picks up a rotation already promoted to AWSCURRENT when the server rejects the cached secret', async () => {
    // Prepare
    const arn = await createSecret(FIXTURE_SECRET);
    const { url } = await broker(arn);
    expect((await getToken(url, 'shop', 'read')).status).toBe(200);
    await secretsManager.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'password-next' }));
    server.setClientSecret('m2m', 'password-next');

    // Act
    const reply = await getToken(url, 'shop', 'write');

    // Assess
    expect(reply.status).toBe(200);
  });

  it('answers 502 when neither the current nor a pending secret is accepted', async () => {
    // Prepare
    const { url } = await broker(await createSecret(FIXTURE_SECRET));
    server.setClientSecret('m2m', 'a-secret-nobody-stored');

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(502);
    expect(reply.body.error).toBe('upstream_rejected');
  });
});
