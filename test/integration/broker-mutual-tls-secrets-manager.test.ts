import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemTokenEndpointDeps } from '../../lambda/broker/adapters/oauth-token-endpoint.ts';
import { parseBrokerConfig } from '../../lambda/broker/core/config.ts';
import type { AuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { type LocalBroker, startLocalBroker } from '../../lambda/local/local-broker.ts';
import {
  clientCertificateSecret,
  type KeyAndCertificate,
  registeredJwk,
  selfSignedClient,
  subjectDn,
  TestPki,
} from '../support/test-pki.ts';
import { getToken, introspect, startFixtureServer } from './support/fixtures.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from './support/moto-server.ts';

const skipReason = motoUnavailableReason();

const title = `Broker reading a client certificate from Secrets Manager (moto server)${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

describe.skipIf(skipReason !== undefined)(title, () => {
  const pki = TestPki.create();
  const first = selfSignedClient('shop-2025');
  const next = selfSignedClient('shop-2026');
  const registering = (...pairs: KeyAndCertificate[]) => ({ jwks: { keys: pairs.map(registeredJwk) } });
  let moto: MotoServer;
  let secretsManager: SecretsManagerClient;
  let server: AuthorizationServer;
  const brokers: LocalBroker[] = [];

  const broker = async (secretId: string) => {
    const config = parseBrokerConfig({
      clients: [
        {
          name: 'shop',
          tokenEndpoint: server.tokenEndpoint,
          mtlsTokenEndpoint: server.mtlsTokenEndpoint,
          clientId: 'm2m-self-signed',
          authMethod: 'self_signed_tls_client_auth',
          clientSecret: { secretId },
          scopes: ['read', 'write'],
        },
      ],
    });
    const started = await startLocalBroker({
      config,
      secretsManager,
      tokenEndpoint: { ...systemTokenEndpointDeps, mutualTls: { ca: pki.ca.certificate } },
    });
    brokers.push(started);
    return started;
  };

  beforeAll(async () => {
    moto = await startMotoServer();
    secretsManager = moto.secretsManager();
    const serverPair = pki.server();
    server = await startFixtureServer({
      mutualTls: {
        certificate: serverPair.certificate,
        privateKey: serverPair.privateKey,
        clientCa: pki.ca.certificate,
        clients: [
          {
            client_id: 'm2m-self-signed',
            token_endpoint_auth_method: 'self_signed_tls_client_auth',
            ...registering(first),
          },
        ],
      },
    });
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
    server.updateClient('m2m-self-signed', registering(first));
  });
  afterAll(async () => {
    await server?.stop();
    await moto?.stop();
  });

  it('obtains a token with the certificate and key of a JSON secret', async () => {
    // Prepare
    const secret = await secretsManager.send(
      new CreateSecretCommand({ Name: `shop/${randomUUID()}`, SecretString: clientCertificateSecret(first) }),
    );
    const { url } = await broker(secret.ARN as string);

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(200);
    expect(server.clientCertificates().at(-1)).toBe(subjectDn(first));
  });

  it('picks up a pending certificate after the server refuses the current one, on a new TLS agent', async () => {
    // Prepare: a token obtained with the first certificate.
    const secret = await secretsManager.send(
      new CreateSecretCommand({ Name: `shop/${randomUUID()}`, SecretString: clientCertificateSecret(first) }),
    );
    const arn = secret.ARN as string;
    const { url } = await broker(arn);
    expect((await getToken(url, 'shop', 'read')).status).toBe(200);

    // Act: the rotation stored the next certificate as AWSPENDING, and the server accepts only it.
    await secretsManager.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: clientCertificateSecret(next),
        ClientRequestToken: randomUUID(),
        VersionStages: ['AWSPENDING'],
      }),
    );
    server.updateClient('m2m-self-signed', registering(next));
    const before = server.clientCertificates().length;
    const reply = await getToken(url, 'shop', 'write');

    // Assess: refused with the first certificate, then served with the pending one.
    expect(reply.status).toBe(200);
    expect(server.clientCertificates().slice(before)).toEqual([subjectDn(first), subjectDn(next)]);
    expect(await introspect(server, reply.body.access_token as string)).toMatchObject({
      active: true,
      client_id: 'm2m-self-signed',
    });
  });

  it('answers 502 when neither the current nor a pending certificate is accepted', async () => {
    // Prepare
    const secret = await secretsManager.send(
      new CreateSecretCommand({ Name: `shop/${randomUUID()}`, SecretString: clientCertificateSecret(first) }),
    );
    const { url } = await broker(secret.ARN as string);
    server.updateClient('m2m-self-signed', registering(next));

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(502);
    expect(reply.body.error).toBe('upstream_rejected');
  });
});
