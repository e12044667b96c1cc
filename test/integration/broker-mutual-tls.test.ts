import { Agent } from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpsFetch } from '../../lambda/broker/adapters/mutual-tls-fetch.ts';
import { systemTokenEndpointDeps } from '../../lambda/broker/adapters/oauth-token-endpoint.ts';
import { parseBrokerConfig } from '../../lambda/broker/core/config.ts';
import { type AuthorizationServer, JWT_ACCESS_TOKEN_RESOURCE } from '../../lambda/local/authorization-server.ts';
import { type LocalBroker, startLocalBroker } from '../../lambda/local/local-broker.ts';
import {
  clientCertificateSecret,
  type KeyAndCertificate,
  registeredJwk,
  selfSignedClient,
  subjectDn,
  TestPki,
} from '../support/test-pki.ts';
import { type CapturedOutput, captureOutput } from './support/captured-output.ts';
import { FIXTURE_SECRET, getToken, introspect, startFixtureServer } from './support/fixtures.ts';
import { type StrictTlsServer, startStrictTlsServer } from './support/openssl-server.ts';

const pki = TestPki.create();
const caIssued = pki.client('/O=M2M Token Broker Tests/CN=shop-broker');
const boundCertificate = pki.client('/O=M2M Token Broker Tests/CN=shop-bound');
const selfSigned = selfSignedClient('shop-self-signed');

/** A line from the middle of a PEM key's base64: any echo of the key would contain it. */
const keyLine = (pair: KeyAndCertificate) => pair.privateKey.split('\n')[2] as string;

describe('Broker with mutual TLS client authentication (RFC 8705) against oidc-provider over HTTPS', () => {
  let server: AuthorizationServer;
  let mtlsTokenEndpoint: string;
  const brokers: LocalBroker[] = [];
  /** Token requests that went through the broker's shared fetch (every client but the mutual TLS ones). */
  const sharedFetchRequests: string[] = [];

  const broker = async (clients: Record<string, unknown>[]) => {
    const config = parseBrokerConfig(
      {
        clients: clients.map((client) => ({
          name: 'shop',
          tokenEndpoint: server.tokenEndpoint,
          mtlsTokenEndpoint,
          scopes: ['read', 'write'],
          ...client,
        })),
      },
      { allowLiteralSecrets: true },
    );
    const trusting = httpsFetch(new Agent({ ca: pki.ca.certificate }), new URL(mtlsTokenEndpoint).origin);
    const started = await startLocalBroker({
      config,
      tokenEndpoint: {
        ...systemTokenEndpointDeps,
        fetch: (input, init) => {
          sharedFetchRequests.push(String(input));
          return trusting(input, init);
        },
        mutualTls: { ca: pki.ca.certificate },
      },
    });
    brokers.push(started);
    return started;
  };
  const mtlsClient = (clientId: string, pair: KeyAndCertificate, authMethod = 'tls_client_auth') => ({
    clientId,
    authMethod,
    clientSecret: { value: clientCertificateSecret(pair) },
  });

  beforeAll(async () => {
    const serverPair = pki.server();
    server = await startFixtureServer({
      mutualTls: {
        certificate: serverPair.certificate,
        privateKey: serverPair.privateKey,
        clientCa: pki.ca.certificate,
        clients: [
          {
            client_id: 'm2m-tls',
            token_endpoint_auth_method: 'tls_client_auth',
            tls_client_auth_subject_dn: subjectDn(caIssued),
          },
          {
            client_id: 'm2m-self-signed',
            token_endpoint_auth_method: 'self_signed_tls_client_auth',
            jwks: { keys: [registeredJwk(selfSigned)] },
          },
          {
            client_id: 'm2m-tls-bound',
            token_endpoint_auth_method: 'tls_client_auth',
            tls_client_auth_subject_dn: subjectDn(boundCertificate),
            tls_client_certificate_bound_access_tokens: true,
          },
        ],
      },
    });
    mtlsTokenEndpoint = server.mtlsTokenEndpoint as string;
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
    sharedFetchRequests.length = 0;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['tls_client_auth', 'a certificate of the trusted CA, matched by subject DN', 'm2m-tls', caIssued],
    ['self_signed_tls_client_auth', 'the registered self-signed certificate', 'm2m-self-signed', selfSigned],
  ])(
    'serves an active token obtained with %s, presenting %s at the mutual TLS alias',
    async (authMethod, _what, clientId, pair) => {
      // Prepare
      const { url } = await broker([mtlsClient(clientId, pair, authMethod)]);

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
      expect(await introspect(server, reply.body.access_token as string)).toMatchObject({
        active: true,
        client_id: clientId,
      });
      expect(server.clientCertificates().at(-1)).toBe(subjectDn(pair));
      expect(sharedFetchRequests).toEqual([]);
    },
  );

  it("uses a client's certificate for that client's token requests only; another client to the same HTTPS server presents none", async () => {
    // Prepare: two clients of one broker, on the same HTTPS listener.
    const { url } = await broker([
      mtlsClient('m2m-tls', caIssued),
      {
        name: 'billing',
        tokenEndpoint: mtlsTokenEndpoint,
        mtlsTokenEndpoint: undefined,
        clientId: 'm2m',
        authMethod: 'client_secret_post',
        clientSecret: { value: FIXTURE_SECRET },
      },
    ]);
    const before = server.clientCertificates().length;

    // Act
    const shop = await getToken(url, 'shop', 'read');
    const billing = await getToken(url, 'billing', 'read');

    // Assess
    expect([shop.status, billing.status]).toEqual([200, 200]);
    expect(server.clientCertificates().slice(before)).toEqual([subjectDn(caIssued), undefined]);
    expect(sharedFetchRequests).toEqual([mtlsTokenEndpoint]);
    expect(await introspect(server, billing.body.access_token as string)).toMatchObject({
      active: true,
      client_id: 'm2m',
    });
  });

  describe('with a certificate the server does not accept', () => {
    let output: CapturedOutput;
    beforeAll(() => {
      output = captureOutput();
    });
    afterAll(() => output.restore());

    it.each<[string, () => Record<string, unknown>]>([
      [
        'tls_client_auth with the right subject from another CA',
        () => mtlsClient('m2m-tls', TestPki.create('Another CA').client('/O=M2M Token Broker Tests/CN=shop-broker')),
      ],
      [
        'self_signed_tls_client_auth with an unregistered certificate',
        () => mtlsClient('m2m-self-signed', selfSignedClient('shop-self-signed'), 'self_signed_tls_client_auth'),
      ],
      [
        'tls_client_auth with the certificate registered for another client',
        () => mtlsClient('m2m-tls', boundCertificate),
      ],
      [
        'no certificate at all (client_secret_post for a tls_client_auth client)',
        () => ({
          clientId: 'm2m-tls',
          tokenEndpoint: mtlsTokenEndpoint,
          mtlsTokenEndpoint: undefined,
          clientSecret: { value: FIXTURE_SECRET },
        }),
      ],
    ])('answers 502 upstream_rejected for %s, with no key material in the body or the logs', async (_case, client) => {
      // Prepare
      const { url } = await broker([client()]);

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error).toBe('upstream_rejected');
      expect(reply.body.error_description).toMatch(
        /rejected the credentials of client shop \(invalid_client, HTTP 401\)/,
      );
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({ message: 'Token request failed', client: 'shop', code: 'upstream_rejected' }),
      );
      const said = `${JSON.stringify(reply.body)}\n${output.text()}`;
      for (const pair of [caIssued, boundCertificate, selfSigned]) expect(said).not.toContain(keyLine(pair));
      expect(said).not.toContain('PRIVATE KEY');
    });

    it("answers 500 for a secret whose key is not the certificate's, and logs why, naming the client, without key material", async () => {
      // Prepare
      const { url } = await broker([
        mtlsClient('m2m-tls', { certificate: caIssued.certificate, privateKey: boundCertificate.privateKey }),
      ]);
      const before = server.tokenRequestCount();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(500);
      expect(reply.body).toEqual({ error: 'internal_error', error_description: 'The broker failed; see its logs' });
      expect(server.tokenRequestCount()).toBe(before);
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({
          message: 'Request failed',
          description:
            'The private key of client shop does not belong to its certificate (subject CN=shop-broker,O=M2M Token Broker Tests)',
        }),
      );
      expect(output.text()).not.toContain(keyLine(boundCertificate));
    });
  });

  describe('certificate-bound access tokens (RFC 8705 §3)', () => {
    it('refuses one, saying why and how to fix it at the server', async () => {
      // Prepare: JWT access tokens, so the binding can be seen.
      const { url } = await broker([
        { ...mtlsClient('m2m-tls-bound', boundCertificate), resource: JWT_ACCESS_TOKEN_RESOURCE },
      ]);

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error).toBe('upstream_rejected');
      expect(reply.body.error_description).toBe(
        'The authorization server of client shop issued an access token bound to a key (cnf x5t#S256): ' +
          "only a holder of that key can use it, and the broker's callers do not hold it. " +
          'Turn off certificate-bound access tokens for this client at the authorization server ' +
          '(RFC 8705 §3; client metadata tls_client_certificate_bound_access_tokens: false)',
      );
    });

    it('serves a JWT access token of the same server that is not bound', async () => {
      // Prepare
      const { url } = await broker([{ ...mtlsClient('m2m-tls', caIssued), resource: JWT_ACCESS_TOKEN_RESOURCE }]);

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect((reply.body.access_token as string).split('.')).toHaveLength(3);
    });

    it('serves the bound token once the server stops binding them for the client', async () => {
      // Prepare
      server.updateClient('m2m-tls-bound', { tls_client_certificate_bound_access_tokens: false });
      try {
        const { url } = await broker([
          { ...mtlsClient('m2m-tls-bound', boundCertificate), resource: JWT_ACCESS_TOKEN_RESOURCE },
        ]);

        // Act
        const reply = await getToken(url, 'shop', 'read');

        // Assess
        expect(reply.status).toBe(200);
      } finally {
        server.updateClient('m2m-tls-bound', { tls_client_certificate_bound_access_tokens: true });
      }
    });
  });
});

describe('Broker with mutual TLS against a server that refuses certificates in the handshake (openssl s_server)', () => {
  let strict: StrictTlsServer;

  beforeAll(async () => {
    strict = await startStrictTlsServer(pki.server(), pki.ca.certificate);
  });
  afterAll(() => strict.stop());

  it('answers 502 upstream_rejected at once, naming the TLS alert, without retrying as for a network failure', async () => {
    // Prepare
    const config = parseBrokerConfig(
      {
        clients: [
          {
            name: 'shop',
            tokenEndpoint: `${strict.origin}/token`,
            clientId: 'm2m-self-signed',
            authMethod: 'self_signed_tls_client_auth',
            clientSecret: { value: clientCertificateSecret(selfSigned) },
            maxRetries: 3,
          },
        ],
      },
      { allowLiteralSecrets: true },
    );
    const sleeps: number[] = [];
    const local = await startLocalBroker({
      config,
      tokenEndpoint: {
        ...systemTokenEndpointDeps,
        mutualTls: { ca: pki.ca.certificate },
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      },
    });
    try {
      // Act
      const reply = await getToken(local.url, 'shop');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error_description).toBe(
        'The authorization server rejected the credentials of client shop (TLS alert unknown_ca)',
      );
      expect(sleeps).toEqual([]);
    } finally {
      await local.stop();
    }
  });
});
