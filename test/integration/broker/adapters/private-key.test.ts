import { randomUUID } from 'node:crypto';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationServer } from '../../../../lambda/local/authorization-server.ts';
import { startLocalBroker } from '../../../../lambda/local/local-broker.ts';
import { type CapturedOutput, captureOutput } from '../../support/captured-output.ts';
import { configFor, getToken, startFixtureServer } from '../../support/fixtures.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from '../../support/moto-server.ts';

const skipReason = motoUnavailableReason();
const title = `A private_key_jwt client whose Secrets Manager secret is not a private key${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let server: AuthorizationServer;
  let output: CapturedOutput;

  beforeAll(async () => {
    moto = await startMotoServer();
    server = await startFixtureServer();
    output = captureOutput();
  });
  afterAll(async () => {
    output?.restore();
    await server?.stop();
    await moto?.stop();
  });

  it('fails its token requests with 500, and the log says what is wrong without the secret', async () => {
    // Prepare: the secret holds a client secret where a private key belongs.
    const notAKey = 'client-secret-not-a-key-7c2e91';
    const secretsManager = moto.secretsManager();
    const { ARN } = await secretsManager.send(
      new CreateSecretCommand({ Name: `shop/${randomUUID()}`, SecretString: notAKey }),
    );
    const config = configFor(server, {
      clientId: 'm2m-jwt',
      authMethod: 'private_key_jwt',
      clientSecret: { secretId: ARN as string },
    });
    const broker = await startLocalBroker({ config, secretsManager });

    try {
      // Act
      const reply = await getToken(broker.url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(500);
      expect(reply.body).toEqual({ error: 'internal_error', error_description: 'The broker failed; see its logs' });
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({
          message: 'Request failed',
          client: 'shop',
          code: 'internal_error',
          description: expect.stringMatching(
            /^Client shop uses private_key_jwt, but its secret is not a usable private key: it is neither PEM nor JSON; expected a PKCS#8, PKCS#1 or SEC1 PEM private key, or a private JWK/,
          ),
        }),
      );
      expect(output.text()).not.toContain(notAKey);
      expect(server.tokenRequestCount()).toBe(0);
    } finally {
      await broker.stop();
    }
  });
});
