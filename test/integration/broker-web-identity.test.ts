import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  GetWebIdentityTokenCommand,
  OutboundWebIdentityFederationDisabledException,
  STSClient,
} from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENABLE_OUTBOUND_FEDERATION } from '../../lambda/broker/adapters/sts-web-identity-token-issuer.ts';
import { parseBrokerConfig, type WebIdentitySigningAlgorithm } from '../../lambda/broker/core/config.ts';
import { type LocalBroker, startLocalBroker } from '../../lambda/local/local-broker.ts';
import { type CapturedOutput, captureOutput } from './support/captured-output.ts';
import {
  type FederatedAuthorizationServer,
  startFederatedAuthorizationServer,
} from './support/federated-authorization-server.ts';
import { getToken } from './support/fixtures.ts';
import { type LocalStsIssuer, startLocalStsIssuer } from './support/local-sts-issuer.ts';

const CLIENT_ID = 'shop-federated';
const AWS_CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-used' };

/**
 * The whole `aws_web_identity` path: the broker's real STS adapter, over an STS client whose
 * GetWebIdentityToken the local issuer answers, and an authorization server that trusts that
 * issuer for the broker's role (issuer + subject + audience, as Keycloak and Entra ID do).
 */
describe('Broker with authMethod aws_web_identity (outbound identity federation)', () => {
  let sts: LocalStsIssuer;
  const servers: FederatedAuthorizationServer[] = [];
  const brokers: LocalBroker[] = [];
  const stsClient = new STSClient({ region: 'eu-west-1', credentials: AWS_CREDENTIALS });
  const stsMock = mockClient(stsClient);
  const secretsManager = new SecretsManagerClient({ region: 'eu-west-1', credentials: AWS_CREDENTIALS });
  const secretsManagerMock = mockClient(secretsManager);

  const authorizationServer = async (options: { assertionReuse?: boolean } = {}) => {
    const server = await startFederatedAuthorizationServer((issuer) => ({
      ...options,
      clients: [
        { clientId: CLIENT_ID, issuer: sts.issuer, subject: sts.roleArn, audience: issuer, jwksUri: sts.jwksUri },
      ],
    }));
    servers.push(server);
    return server;
  };

  const broker = async (
    server: FederatedAuthorizationServer,
    signingAlgorithm?: WebIdentitySigningAlgorithm,
    audience = server.issuer,
  ) => {
    const config = parseBrokerConfig({
      clients: [
        {
          name: 'shop',
          tokenEndpoint: server.tokenEndpoint,
          clientId: CLIENT_ID,
          authMethod: 'aws_web_identity',
          webIdentity: { audience, ...(signingAlgorithm ? { signingAlgorithm } : {}) },
          scopes: ['read', 'write'],
        },
      ],
    });
    const started = await startLocalBroker({ config, sts: stsClient, secretsManager });
    brokers.push(started);
    return started;
  };

  const stsCalls = () => stsMock.commandCalls(GetWebIdentityTokenCommand).map((call) => call.args[0].input);

  beforeAll(async () => {
    sts = await startLocalStsIssuer();
  });
  beforeEach(() => {
    stsMock.on(GetWebIdentityTokenCommand).callsFake((input) => sts.getWebIdentityToken(input));
  });
  afterEach(async () => {
    stsMock.reset();
    secretsManagerMock.reset();
    await Promise.all([...brokers.splice(0), ...servers.splice(0)].map((s) => s.stop()));
  });
  afterAll(async () => {
    await sts.stop();
  });

  it.each([
    ['RS256', undefined],
    ['ES384', 'ES384'],
  ] as const)('obtains a token with an AWS-signed %s assertion, no secret stored anywhere', async (alg, configured) => {
    // Prepare
    const server = await authorizationServer();
    const { url } = await broker(server, configured);

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    expect(server.issuedTo(reply.body.access_token as string)).toBe(CLIENT_ID);
    expect(server.accepted()).toEqual([
      { clientId: CLIENT_ID, alg, iss: sts.issuer, sub: sts.roleArn, aud: server.issuer },
    ]);
    expect(stsCalls()).toEqual([{ Audience: [server.issuer], SigningAlgorithm: alg, DurationSeconds: 300 }]);
    expect(secretsManagerMock.calls()).toHaveLength(0);
  });

  it('asks STS once for several token requests while the assertion is fresh', async () => {
    // Prepare
    const server = await authorizationServer();
    const { url } = await broker(server);

    // Act
    const replies = [
      await getToken(url, 'shop', 'read'),
      await getToken(url, 'shop', 'write'),
      await getToken(url, 'shop', 'read write'),
    ];

    // Assess
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(server.tokenRequestCount()).toBe(3);
    expect(stsCalls()).toHaveLength(1);
  });

  it('fails with 502 upstream_rejected after one re-fetch when the server refuses the audience', async () => {
    // Prepare: the server verifies what it trusts; this assertion is for someone else.
    const server = await authorizationServer();
    const { url } = await broker(server, undefined, 'https://elsewhere.example.com');

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(502);
    expect(reply.body.error).toBe('upstream_rejected');
    expect(server.tokenRequestCount()).toBe(2);
    expect(server.accepted()).toEqual([]);
    expect(stsCalls()).toHaveLength(2);
  });

  describe('against a server that accepts each assertion once', () => {
    let output: CapturedOutput;
    beforeEach(() => {
      output = captureOutput();
    });
    afterEach(() => output.restore());

    it('fetches a new assertion once when the server rejects the cached one, and logs no assertion', async () => {
      // Prepare
      const server = await authorizationServer({ assertionReuse: false });
      const { url } = await broker(server);
      const mintedBefore = sts.issued().length;
      await getToken(url, 'shop', 'read');

      // Act
      const reply = await getToken(url, 'shop', 'write');

      // Assess
      expect(reply.status).toBe(200);
      expect(server.tokenRequestCount()).toBe(3);
      expect(stsCalls()).toHaveLength(2);
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({ message: 'Obtained a new token', client: 'shop', credentials: 'rotated' }),
      );
      const logs = output.text();
      const assertions = sts.issued().slice(mintedBefore);
      expect(assertions).toHaveLength(2);
      for (const assertion of assertions) expect(logs).not.toContain(assertion);
      expect(logs).not.toContain(reply.body.access_token as string);
    });

    it('learns that the server accepts each assertion once, and then sends a new one without a refusal', async () => {
      // Prepare: one refused replay teaches the broker.
      const server = await authorizationServer({ assertionReuse: false });
      const { url } = await broker(server);
      await getToken(url, 'shop', 'read');
      await getToken(url, 'shop', 'write');
      const [requestsBefore, stsBefore] = [server.tokenRequestCount(), stsCalls().length];

      // Act
      const reply = await getToken(url, 'shop', 'read write');

      // Assess: one token request, one new assertion, and the lesson logged once.
      expect(reply.status).toBe(200);
      expect(server.tokenRequestCount() - requestsBefore).toBe(1);
      expect(stsCalls().length - stsBefore).toBe(1);
      expect(
        output
          .logLines()
          .filter((line) => String(line.message).startsWith('Client assertions are single-use at this server')),
      ).toEqual([expect.objectContaining({ client: 'shop' })]);
    });
  });

  describe('when the AWS account has outbound identity federation disabled', () => {
    let output: CapturedOutput;
    beforeEach(() => {
      output = captureOutput();
    });
    afterEach(() => output.restore());

    it('answers 502 upstream_rejected saying how to enable it, logs it, and asks the server nothing', async () => {
      // Prepare
      stsMock.on(GetWebIdentityTokenCommand).rejects(
        new OutboundWebIdentityFederationDisabledException({
          message: 'not enabled',
          $metadata: { httpStatusCode: 403 },
        }),
      );
      const server = await authorizationServer();
      const { url } = await broker(server);

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error).toBe('upstream_rejected');
      expect(reply.body.error_description).toBe(
        'AWS STS issues no web identity token for client shop: outbound identity federation is disabled in the ' +
          `broker's AWS account; ${ENABLE_OUTBOUND_FEDERATION}`,
      );
      expect(reply.body.error_description).toContain('aws iam enable-outbound-web-identity-federation');
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({
          level: 'ERROR',
          message: 'Token request failed',
          client: 'shop',
          code: 'upstream_rejected',
          description: reply.body.error_description,
          causes: ['OutboundWebIdentityFederationDisabledException'],
        }),
      );
      expect(server.tokenRequestCount()).toBe(0);
    });
  });

  it('answers 503 secret_store_unavailable with Retry-After when STS throttles', async () => {
    // Prepare
    stsMock
      .on(GetWebIdentityTokenCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
    const server = await authorizationServer();
    const { url } = await broker(server);

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(503);
    expect(reply.body).toMatchObject({
      error: 'secret_store_unavailable',
      error_description: 'AWS STS is unavailable (Throttling)',
    });
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(server.tokenRequestCount()).toBe(0);
  });
});
