import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TOKEN_RESPONSE_BYTES } from '../../lambda/broker/adapters/bounded-fetch.ts';
import { type LocalBroker, type LocalBrokerOptions, startLocalBroker } from '../../lambda/local/local-broker.ts';
import { type CapturedOutput, captureOutput } from './support/captured-output.ts';
import { type Fault, type FaultServer, startFaultServer } from './support/fault-server.ts';
import { configFor, getToken } from './support/fixtures.ts';

describe('Broker against a misbehaving authorization server (fault server)', () => {
  let server: FaultServer;
  let output: CapturedOutput;
  const brokers: LocalBroker[] = [];

  const broker = async (client: Record<string, unknown> = {}, overrides: Omit<LocalBrokerOptions, 'config'> = {}) => {
    const config = configFor(server, { clientSecret: { value: 'password' }, ...client });
    const started = await startLocalBroker({ config, ...overrides });
    brokers.push(started);
    return started;
  };

  beforeAll(async () => {
    server = await startFaultServer();
    output = captureOutput();
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
    server.requests.splice(0);
    server.answer();
  });
  afterAll(async () => {
    output.restore();
    await server.stop();
  });

  describe('client_secret_basic against a server that does not URL-decode Basic credentials', () => {
    const secret = "p@ss:w/rd+%&=?# ~!*'()-7d1e";
    const basic = { clientId: 'm2m', authMethod: 'client_secret_basic', clientSecret: { value: secret } };

    it('falls back to the plain encoding once, remembers it, and logs which one without any value', async () => {
      // Prepare
      server.answer({ rawBasic: { clientId: 'm2m', secret } });
      const { url } = await broker(basic);

      // Act
      const first = await getToken(url, 'shop', 'read');
      const second = await getToken(url, 'shop', 'write');

      // Assess
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(server.requests).toHaveLength(3);
      expect(output.logLines()).toContainEqual(expect.objectContaining({ client: 'shop', basicAuthEncoding: 'plain' }));
      const logs = output.text();
      for (const { authorization } of server.requests) expect(logs).not.toContain(authorization?.slice(6));
      expect(logs).not.toContain(secret);
      expect(logs).not.toContain(encodeURIComponent(secret));
    });

    it('sends the plain encoding only, when configured', async () => {
      // Prepare
      server.answer({ rawBasic: { clientId: 'm2m', secret } });
      const { url } = await broker({ ...basic, basicAuthEncoding: 'plain' });

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect(server.requests).toHaveLength(1);
    });

    it('answers 502 after both encodings of a wrong secret are refused, with two requests', async () => {
      // Prepare
      server.answer({ rawBasic: { clientId: 'm2m', secret: 'another secret' } });
      const { url } = await broker(basic);

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error_description).toContain('rejected the credentials of client shop');
      expect(server.requests).toHaveLength(2);
    });
  });

  describe('an OAuth error value that is no error code', () => {
    it('answers 502 without the secret the server echoed in error, or the log line it forged', async () => {
      // Prepare: client_secret_post, so the server has the secret as it is.
      const secret = 'echoed-secret-3b9f0e';
      const forged = '{"level":"INFO","message":"Obtained a new token","client":"forged"}';
      server.answer({ status: 400, body: ({ form }) => ({ error: `${form.get('client_secret')}\n${forged}` }) });
      const { url } = await broker({ clientSecret: { value: secret } });

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(server.requests[0]?.form.get('client_secret')).toBe(secret);
      expect(reply.status).toBe(502);
      expect(reply.body.error_description).toMatch(/client shop: an invalid error code \(HTTP 400\)/);
      expect(JSON.stringify(reply.body)).not.toContain(secret);
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({ client: 'shop', description: reply.body.error_description }),
      );
      expect(output.text()).not.toContain(secret);
      expect(output.logLines()).not.toContainEqual(expect.objectContaining({ client: 'forged' }));
    });
  });

  describe('token_type', () => {
    it.each(['DPoP', 'N_A'])('answers 502 upstream_rejected naming a token of type %s', async (tokenType) => {
      // Prepare
      server.answer({ tokenType });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error).toBe('upstream_rejected');
      expect(String(reply.body.error_description).toLowerCase()).toContain(`"${tokenType.toLowerCase()}"`);
    });

    it('serves a token whose type is a lowercase bearer', async () => {
      // Prepare
      server.answer({ tokenType: 'bearer', accessToken: 'lowercase-bearer' });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ access_token: 'lowercase-bearer', token_type: 'Bearer' });
    });

    it('keeps serving the cached Bearer token when a refresh answers DPoP', async () => {
      // Prepare: a one-hour token, then the clock past its refresh point.
      let clockMs = Date.now();
      server.answer({ accessToken: 'working-bearer' });
      const { url } = await broker({}, { now: () => clockMs });
      expect((await getToken(url, 'shop', 'read')).status).toBe(200);
      server.answer({ tokenType: 'DPoP', accessToken: 'dpop-bound' });
      clockMs += 3_000_000;

      // Act
      const during = await getToken(url, 'shop', 'read');
      const after = await getToken(url, 'shop', 'read');

      // Assess
      expect(server.requests).toHaveLength(2);
      expect(during.body.access_token).toBe('working-bearer');
      expect(after.body.access_token).toBe('working-bearer');
      expect(output.logLines()).toContainEqual(
        expect.objectContaining({
          message: 'Refresh failed; serving the current token, still valid',
          code: 'upstream_rejected',
          description: expect.stringContaining('"dpop"'),
        }),
      );
    });
  });

  describe('expires_in', () => {
    it('cuts a lifetime of a year to maxLifetimeSeconds (default one day)', async () => {
      // Prepare
      server.answer({ expiresIn: 31_536_000 });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      // A day, less the moment between caching the token and answering with its remaining lifetime.
      expect(reply.body.expires_in).toBeGreaterThanOrEqual(86_399);
      expect(reply.body.expires_in).toBeLessThanOrEqual(86_400);
    });

    it('serves a 3-second token without caching it: the next request asks the server again', async () => {
      // Prepare
      server.answer({ expiresIn: 3 });
      const { url } = await broker();

      // Act
      const first = await getToken(url, 'shop', 'read');
      const second = await getToken(url, 'shop', 'read');

      // Assess
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(first.body.expires_in).toBeGreaterThanOrEqual(1);
      expect(second.body.access_token).not.toBe(first.body.access_token);
      expect(server.requests).toHaveLength(2);
    });

    it('answers 502 for a token that expires in half a second, instead of serving 0 seconds', async () => {
      // Prepare
      server.answer({ expiresIn: 0.5 });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error).toBe('upstream_rejected');
      expect(reply.body.error_description).toContain('expires within 1 s');
    });

    it('takes the lifetime from the exp of a JWT access token when expires_in is missing', async () => {
      // Prepare
      const exp = Math.floor(Date.now() / 1000) + 1_800;
      const payload = Buffer.from(JSON.stringify({ sub: 'm2m', exp })).toString('base64url');
      server.answer({ expiresIn: null, accessToken: `eyJhbGciOiJSUzI1NiJ9.${payload}.c2ln` });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      // Counted from when the request went out: at most the request's duration short of exp.
      expect(reply.body.expires_at).toBeLessThanOrEqual(exp);
      expect(reply.body.expires_at).toBeGreaterThanOrEqual(exp - 2);
    });

    it('serves a JWT access token no longer than its exp, whatever expires_in says', async () => {
      // Prepare: expires_in in milliseconds by mistake.
      const exp = Math.floor(Date.now() / 1000) + 60;
      const payload = Buffer.from(JSON.stringify({ sub: 'm2m', exp })).toString('base64url');
      server.answer({ expiresIn: 3_600_000, accessToken: `eyJhbGciOiJSUzI1NiJ9.${payload}.c2ln` });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      // Counted from when the request went out: at most the request's duration short of exp.
      expect(reply.body.expires_at).toBeLessThanOrEqual(exp);
      expect(reply.body.expires_at).toBeGreaterThanOrEqual(exp - 2);
      expect(reply.body.expires_in).toBeLessThanOrEqual(60);
    });
  });

  describe('a Java server (Jackson) that sends absent members as null', () => {
    it('serves its token', async () => {
      // Prepare
      server.answer({
        body: {
          access_token: 'jackson-token',
          token_type: 'Bearer',
          expires_in: null,
          scope: null,
          refresh_token: null,
          id_token: null,
        },
      });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ access_token: 'jackson-token', token_type: 'Bearer', scope: 'read' });
    });
  });

  describe('a connection that breaks off or stalls', () => {
    it.each<[string, Fault]>([
      ['a connection reset before the answer', { reset: 'before-answer' }],
      ['an answer slower than the attempt timeout', { delayMs: 1_000 }],
      ['a 503', { status: 503, body: '' }],
    ])('retries %s and serves the next answer', async (_case, fault) => {
      // Prepare
      server.answer(fault, { accessToken: 'second-answer' });
      const { url } = await broker({ attemptTimeoutMs: 300 });

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect(reply.body.access_token).toBe('second-answer');
      expect(server.requests).toHaveLength(2);
    });

    it('waits as long as a 429 Retry-After asks before trying again', async () => {
      // Prepare
      server.answer(
        { status: 429, headers: { 'Retry-After': '1' }, body: { error: 'slow_down' } },
        { accessToken: 'after-slowing-down' },
      );
      const { url } = await broker();
      const started = Date.now();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.body.access_token).toBe('after-slowing-down');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    });

    it('waits until the X-Rate-Limit-Reset of a 429 without Retry-After (Okta) before trying again', async () => {
      // Prepare: the reset is in epoch seconds, 1 to 2 s from now.
      const started = Date.now();
      const reset = String(Math.floor(started / 1000) + 2);
      server.answer(
        { status: 429, headers: { 'X-Rate-Limit-Reset': reset }, body: { error: 'too_many_requests' } },
        { accessToken: 'after-the-reset' },
      );
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.body.access_token).toBe('after-the-reset');
      expect(Date.now()).toBeGreaterThanOrEqual(Number(reset) * 1000);
    });

    it('retries a connection reset in the middle of the body and serves the next answer', async () => {
      // Prepare
      server.answer({ reset: 'mid-body' }, { accessToken: 'after-the-reset' });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect(reply.body.access_token).toBe('after-the-reset');
      expect(server.requests).toHaveLength(2);
    });

    it('answers 503 upstream_unavailable with Retry-After when every body breaks off', async () => {
      // Prepare
      server.answer({ reset: 'mid-body' });
      const { url } = await broker({ maxRetries: 1 });

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(503);
      expect(reply.body).toMatchObject({ error: 'upstream_unavailable' });
      expect(reply.body.error_description).toContain('broke off its answer');
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(server.requests).toHaveLength(2);
    });

    it('gives up on a body that stalls past the attempt timeout and retries', async () => {
      // Prepare
      server.answer({ stallMidBody: true }, { accessToken: 'after-the-stall' });
      const { url } = await broker({ attemptTimeoutMs: 300, deadlineMs: 5_000 });

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(200);
      expect(reply.body.access_token).toBe('after-the-stall');
      expect(server.requests).toHaveLength(2);
    });

    it('answers 503 when the body keeps stalling, within the deadline', async () => {
      // Prepare
      server.answer({ stallMidBody: true });
      const { url } = await broker({ attemptTimeoutMs: 200, deadlineMs: 1_000 });
      const started = Date.now();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(503);
      expect(reply.body.error_description).toContain('not answering in time');
      expect(Date.now() - started).toBeLessThan(3_000);
    });
  });

  describe('the size of the response', () => {
    it('refuses a response that announces more than the limit, naming it', async () => {
      // Prepare
      server.answer({ bodyBytes: 2 * MAX_TOKEN_RESPONSE_BYTES, announceLength: true });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');

      // Assess
      expect(reply.status).toBe(502);
      expect(reply.body.error).toBe('upstream_rejected');
      expect(reply.body.error_description).toContain(`${MAX_TOKEN_RESPONSE_BYTES}-byte limit`);
      expect(server.requests).toHaveLength(1);
    });

    it('drops the connection of an endless unannounced body soon after the limit', async () => {
      // Prepare: 256 MiB, chunked, no Content-Length.
      const total = 256 * MAX_TOKEN_RESPONSE_BYTES;
      server.answer({ bodyBytes: total });
      const { url } = await broker();

      // Act
      const reply = await getToken(url, 'shop', 'read');
      await waitFor(() => server.abandonedBodyBytes().length > 0);

      // Assess: the connection was dropped before the body ended (how much the server wrote by
      // then depends on the machine's load, so only "not all of it" is asserted).
      expect(reply.status).toBe(502);
      expect(reply.body.error_description).toContain(`${MAX_TOKEN_RESPONSE_BYTES}-byte limit`);
      expect(server.abandonedBodyBytes()[0]).toBeLessThan(total);
    });
  });
});

/** Polls `condition` every 20 ms for up to 5 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 5_000) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
