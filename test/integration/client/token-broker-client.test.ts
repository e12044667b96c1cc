import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../../lambda/broker/core/config.ts';
import {
  type Fetch,
  TokenBrokerClient,
  type TokenBrokerClientOptions,
  TokenBrokerError,
} from '../../../lambda/client/index.ts';
import { LambdaInvokeTransport } from '../../../lambda/client/invoke-transport.ts';
import type { AuthorizationServer } from '../../../lambda/local/authorization-server.ts';
import { type LocalBroker, startLocalBroker } from '../../../lambda/local/local-broker.ts';
import { type DownServer, startDownServer } from '../support/down-server.ts';
import { FIXTURE_SECRET, introspect, startFixtureServer } from '../support/fixtures.ts';

/**
 * The caller library against the local broker (the `npm start` server code) with a real
 * authorization server behind it. The local broker does not check SigV4 (API Gateway does that in
 * AWS), so the library signs with static credentials that nobody verifies here; the signature
 * itself is tested in test/unit/client/http-transport.test.ts.
 */
const CREDENTIALS = { accessKeyId: 'AKIAINTEGRATION', secretAccessKey: 'integration-secret' };

describe('Class: TokenBrokerClient (against the local broker and a real authorization server)', () => {
  let server: AuthorizationServer;
  let downServer: DownServer;
  let broker: LocalBroker;
  const lambdaMock = mockClient(LambdaClient);

  beforeAll(async () => {
    server = await startFixtureServer();
    downServer = await startDownServer();
    const config = parseBrokerConfig(
      {
        clients: [
          {
            name: 'shop',
            tokenEndpoint: server.tokenEndpoint,
            clientId: 'm2m',
            clientSecret: { value: FIXTURE_SECRET },
            scopes: ['read', 'write'],
          },
          {
            name: 'wrong-secret',
            tokenEndpoint: server.tokenEndpoint,
            clientId: 'm2m',
            clientSecret: { value: 'not-the-password' },
            scopes: ['read'],
          },
          {
            name: 'down',
            tokenEndpoint: downServer.tokenEndpoint,
            clientId: 'm2m',
            clientSecret: { value: FIXTURE_SECRET },
            scopes: ['read'],
            attemptTimeoutMs: 200,
            deadlineMs: 400,
            maxRetries: 0,
          },
        ],
      },
      { allowLiteralSecrets: true },
    );
    broker = await startLocalBroker({ config });
  });
  afterEach(() => {
    lambdaMock.reset();
  });
  afterAll(async () => {
    lambdaMock.restore();
    await broker?.stop();
    await downServer?.stop();
    await server?.stop();
  });

  /** A client whose requests to the broker are counted; `clock` lets a test jump ahead in time. */
  function countingClient(options: TokenBrokerClientOptions = {}): {
    client: TokenBrokerClient;
    requests: () => number;
  } {
    let requests = 0;
    const fetch: Fetch = (url, init) => {
      requests++;
      return globalThis.fetch(url, init);
    };
    const client = new TokenBrokerClient({
      url: broker.url,
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      fetch,
      ...options,
    });
    return { client, requests: () => requests };
  }

  it('returns an active token from the authorization server', async () => {
    // Prepare
    const { client } = countingClient();

    // Act
    const token = await client.getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(token).toMatchObject({ tokenType: 'Bearer', scope: 'read' });
    const secondsLeft = (token.expiresAt.getTime() - Date.now()) / 1000;
    expect(secondsLeft).toBeGreaterThan(3500);
    expect(secondsLeft).toBeLessThanOrEqual(3600);
    await expect(introspect(server, token.accessToken)).resolves.toMatchObject({
      active: true,
      client_id: 'm2m',
      scope: 'read',
    });
  });

  it('returns the default scopes when none are asked for', async () => {
    // Prepare
    const { client } = countingClient();

    // Act
    const token = await client.getToken({ client: 'shop' });

    // Assess
    expect(token.scope).toBe('read write');
  });

  it('serves a second call within the lifetime from its cache, without a request', async () => {
    // Prepare
    const { client, requests } = countingClient();
    const first = await client.getToken({ client: 'shop', scopes: ['read'] });

    // Act
    const second = await client.getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(requests()).toBe(1);
    expect(second.accessToken).toBe(first.accessToken);
  });

  it('asks the broker again after the refresh point', async () => {
    // Prepare
    let offsetMs = 0;
    const { client, requests } = countingClient({ clock: () => Date.now() + offsetMs });
    const first = await client.getToken({ client: 'shop', scopes: ['write'] });
    // The refresh point is 60 s before the expiry the broker reported (the broker may have cached
    // the token earlier in this file, so its remaining lifetime is not a round hour).
    const refreshPoint = first.expiresAt.getTime() - 60_000;

    // Act
    offsetMs = refreshPoint - 5_000 - Date.now();
    await client.getToken({ client: 'shop', scopes: ['write'] });
    const beforeRefreshPoint = requests();
    offsetMs = refreshPoint + 5_000 - Date.now();
    const refreshed = await client.getToken({ client: 'shop', scopes: ['write'] });

    // Assess
    expect(beforeRefreshPoint).toBe(1);
    expect(requests()).toBe(2);
    expect(refreshed.scope).toBe('write');
  });

  it('shares one request between concurrent callers', async () => {
    // Prepare
    const { client, requests } = countingClient();
    const tokenRequestsBefore = server.tokenRequestCount();

    // Act
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => client.getToken({ client: 'shop', scopes: ['read', 'write'] })),
    );

    // Assess
    expect(requests()).toBe(1);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(server.tokenRequestCount() - tokenRequestsBefore).toBeLessThanOrEqual(1);
  });

  it.each([
    ['invalid_scope', 400, { client: 'shop', scopes: ['admin'] }],
    ['unknown_client', 404, { client: 'nobody' }],
    ['upstream_rejected', 502, { client: 'wrong-secret' }],
    ['upstream_unavailable', 503, { client: 'down' }],
  ] as const)('throws %s (%i) as the broker reports it', async (code, status, request) => {
    // Prepare
    const { client } = countingClient({ deadlineMs: 1_000 });

    // Act
    const error = await client.getToken(request).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TokenBrokerError);
    expect(error).toMatchObject({ code, status, description: expect.any(String) });
  });

  it('gets a token by direct invocation of the broker handler', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).callsFake(async (input: { Payload: Uint8Array }) => {
      const event: unknown = JSON.parse(new TextDecoder().decode(input.Payload));
      const result = await broker.invoke(event);
      return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(result)) };
    });
    const transport = new LambdaInvokeTransport({
      functionName: 'token-broker',
      lambdaClient: new LambdaClient({ region: 'eu-west-1' }),
    });
    const client = new TokenBrokerClient({ transport });

    // Act
    const token = await client.getToken({ client: 'shop', scopes: ['read'] });
    const refusal = await client.getToken({ client: 'nobody' }).catch((e: unknown) => e);

    // Assess
    await expect(introspect(server, token.accessToken)).resolves.toMatchObject({ active: true, scope: 'read' });
    expect(refusal).toMatchObject({ code: 'unknown_client', status: 404 });
  });
});
