import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { type LocalBroker, type LocalBrokerOptions, startLocalBroker } from '../../lambda/local/local-broker.ts';
import { type CapturedOutput, captureOutput } from './support/captured-output.ts';
import { configFor, FIXTURE_SECRET, getToken, introspect, startFixtureServer } from './support/fixtures.ts';

describe('Broker against a real authorization server (oidc-provider)', () => {
  let server: AuthorizationServer;
  const brokers: LocalBroker[] = [];

  const broker = async (
    client: Parameters<typeof configFor>[1],
    overrides: Omit<LocalBrokerOptions, 'config'> = {},
  ) => {
    const started = await startLocalBroker({ config: configFor(server, client), ...overrides });
    brokers.push(started);
    return started;
  };

  beforeAll(async () => {
    server = await startFixtureServer();
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each([
    ['client_secret_post', { clientId: 'm2m', clientSecret: { value: FIXTURE_SECRET } }],
    ['client_secret_basic', { clientId: 'm2m-basic', clientSecret: { value: FIXTURE_SECRET } }],
  ])('serves an active token obtained with %s', async (authMethod, client) => {
    // Prepare
    const { url } = await broker({ ...client, authMethod });

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    expect(reply.body.expires_in).toBeGreaterThan(3590);
    expect(reply.body.expires_in).toBeLessThanOrEqual(3600);
    expect(reply.body.expires_at).toBeTypeOf('number');
    const introspection = await introspect(server, reply.body.access_token as string);
    expect(introspection).toMatchObject({ active: true, client_id: client.clientId, scope: 'read' });
  });

  it('obtains a token with client_secret_basic and a secret full of reserved characters, in one request', async () => {
    // Prepare: oidc-provider URL-decodes Basic credentials, as RFC 6749 §2.3.1 asks.
    const secret = "p@ss:w/rd+%&=?# ~!*'()-41b9";
    server.setClientSecret('m2m-basic', secret);
    try {
      const { url } = await broker({
        clientId: 'm2m-basic',
        authMethod: 'client_secret_basic',
        clientSecret: { value: secret },
      });
      const before = server.tokenRequestCount();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect(server.tokenRequestCount() - before).toBe(1);
    } finally {
      server.setClientSecret('m2m-basic', FIXTURE_SECRET);
    }
  });

  it('serves an active token obtained with private_key_jwt, the secret holding a PEM private key', async () => {
    // Prepare
    const { url } = await broker({
      clientId: 'm2m-jwt',
      authMethod: 'private_key_jwt',
      clientSecret: { value: server.m2mJwtPrivateKeyPem },
    });

    // Act
    const reply = await getToken(url, 'shop');

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body.scope).toBe('read write');
    const introspection = await introspect(server, reply.body.access_token as string);
    expect(introspection).toMatchObject({ active: true, client_id: 'm2m-jwt', scope: 'read write' });
  });

  it('answers five concurrent requests for the same client and scopes with one token request', async () => {
    // Prepare
    const { url } = await broker({ clientSecret: { value: FIXTURE_SECRET } });
    const before = server.tokenRequestCount();

    // Act
    const replies = await Promise.all(Array.from({ length: 5 }, () => getToken(url, 'shop', 'write read')));

    // Assess
    expect(server.tokenRequestCount() - before).toBe(1);
    expect(new Set(replies.map((r) => r.body.access_token)).size).toBe(1);
    expect(replies.every((r) => r.status === 200)).toBe(true);
  });

  it('serves the cached token again without asking the server, with the remaining lifetime', async () => {
    // Prepare: the broker's clock stands still until the test moves it.
    let clockMs = Date.now();
    const { url } = await broker({ clientSecret: { value: FIXTURE_SECRET } }, { now: () => clockMs });
    const first = await getToken(url, 'shop', 'read');
    const before = server.tokenRequestCount();
    clockMs += 600_000;

    // Act
    const second = await getToken(url, 'shop', 'read');

    // Assess
    expect(server.tokenRequestCount()).toBe(before);
    expect(second.body.access_token).toBe(first.body.access_token);
    expect(second.body.expires_at).toBe(first.body.expires_at);
    expect(second.body.expires_in).toBe((first.body.expires_in as number) - 600);
  });

  describe('with a wrong client secret', () => {
    let output: CapturedOutput;
    beforeAll(() => {
      output = captureOutput();
    });
    afterAll(() => output.restore());

    it('answers 502 upstream_rejected, and neither the body nor the logs contain the secret', async () => {
      // Prepare
      const wrongSecret = 'not-the-password-8c1f';
      const { url } = await broker({ clientSecret: { value: wrongSecret } });

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error).toBe('upstream_rejected');
      expect(reply.body.error_description).toMatch(/rejected the credentials of client shop/);
      expect(JSON.stringify(reply.body)).not.toContain(wrongSecret);
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({ message: 'Token request failed', client: 'shop', code: 'upstream_rejected' }),
      );
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({ message: 'Request refused', client: 'shop', code: 'upstream_rejected' }),
      );
      const logs = output.text();
      expect(logs).not.toContain(wrongSecret);
      expect(logs).not.toContain(Buffer.from(`m2m:${wrongSecret}`).toString('base64'));
    });
  });
});

describe('Broker when the authorization server goes away', () => {
  it('keeps serving a cached token that is past its refresh point but still valid', async () => {
    // Prepare: one-hour tokens refreshed at half their lifetime, on a clock the test moves.
    const server = await startFixtureServer();
    let clockMs = Date.now();
    const local = await startLocalBroker({
      config: configFor(server, { clientSecret: { value: FIXTURE_SECRET }, refreshAt: 0.5, deadlineMs: 1000 }),
      now: () => clockMs,
    });
    const output = captureOutput();
    try {
      const first = await getToken(local.url, 'shop', 'read');
      clockMs += ((first.body.expires_in as number) - 600) * 1000;
      await server.stop();

      // Act: answered at once with the current token while the refresh runs (and fails) behind it.
      const second = await getToken(local.url, 'shop', 'read');
      await waitFor(() => /Token request failed/.test(output.text()));
      const third = await getToken(local.url, 'shop', 'read');

      // Assess
      expect(second.status).toBe(200);
      expect(second.body.access_token).toBe(first.body.access_token);
      expect(second.body.expires_in).toBe(600);
      expect(third.body.access_token).toBe(first.body.access_token);
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({
          message: 'Refresh failed; serving the current token, still valid',
          client: 'shop',
          code: 'upstream_unavailable',
        }),
      );
    } finally {
      output.restore();
      await local.stop();
    }
  });

  it('answers 503 upstream_unavailable with Retry-After when there is no valid token', async () => {
    // Prepare
    const server = await startFixtureServer();
    const config = configFor(server, { clientSecret: { value: FIXTURE_SECRET }, deadlineMs: 1000 });
    await server.stop();
    const local = await startLocalBroker({ config });
    const output = captureOutput();
    try {
      // Act
      const reply = await getToken(local.url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(503);
      expect(reply.body.error).toBe('upstream_unavailable');
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({ message: 'Token request failed', client: 'shop', code: 'upstream_unavailable' }),
      );
    } finally {
      output.restore();
      await local.stop();
    }
  });
});

/** Polls `condition` every 20 ms for up to 5 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 5_000) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
