import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationServer } from '../../../lambda/local/authorization-server.ts';
import { type LocalBroker, startLocalBroker } from '../../../lambda/local/local-broker.ts';
import { configFor, FIXTURE_SECRET, startFixtureServer } from '../support/fixtures.ts';
import { type RawResponse, rawRequest } from '../support/raw-http.ts';

describe('Function: startLocalBroker (the local HTTP route)', () => {
  let server: AuthorizationServer;
  let broker: LocalBroker;

  beforeAll(async () => {
    server = await startFixtureServer();
    broker = await startLocalBroker({ config: configFor(server, { clientSecret: { value: FIXTURE_SECRET } }) });
  });
  afterAll(async () => {
    await broker?.stop();
    await server?.stop();
  });

  /** The route still serves a token: the process survived what came before. */
  async function expectStillServing(): Promise<void> {
    const reply = await rawRequest(broker.url, '/clients/shop/token?scope=read');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ token_type: 'Bearer', scope: 'read' });
  }

  function expectJsonError(reply: RawResponse, status: number, error: string, description: RegExp): void {
    expect(reply.status).toBe(status);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(reply.body)).toEqual({ error, error_description: expect.stringMatching(description) });
  }

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    'treats a query key %s as data, not as a member of Object.prototype',
    async (key) => {
      // Act
      const reply = await rawRequest(broker.url, `/clients/shop/token?${key}=x&${key}=y&scope=read`);

      // Assess
      expect(reply.status).toBe(200);
      await expectStillServing();
    },
  );

  it.each([
    ['GET //[', '//['],
    ['a protocol-relative target', '//evil.example/clients/shop/token'],
    ['an absolute-form target', 'http://x/clients/shop/token'],
    ['a prefixed path', '/x/clients/shop/token'],
    ['a suffixed path', '/clients/shop/token/x'],
    ['dot segments', '/clients/../clients/shop/token'],
  ])('answers 400 invalid_request with a JSON error for %s, and keeps serving', async (_case, target) => {
    // Act
    const reply = await rawRequest(broker.url, target);

    // Assess
    expectJsonError(reply, 400, 'invalid_request', /^The path must be \/clients\/\{client\}\/token$/);
    await expectStillServing();
  });

  it('answers 400 naming the problem for a client name that is not one, echoing only its start', async () => {
    // Prepare
    const name = `Shop${'x'.repeat(5000)}`;

    // Act
    const reply = await rawRequest(broker.url, `/clients/${name}/token`);

    // Assess
    expectJsonError(reply, 400, 'invalid_request', /^client "Shopx+"\.\.\. \(5004 characters\) must be a client name/);
    expect(reply.body.length).toBeLessThan(300);
  });

  it('answers a request line Node refuses with a JSON 400, and keeps serving', async () => {
    // Act: a raw control character in the target; Node's parser refuses it before the route runs.
    const reply = await rawRequest(broker.url, '/clients/shop/token\x01');

    // Assess
    expectJsonError(reply, 400, 'invalid_request', /^The HTTP request is malformed$/);
    await expectStillServing();
  });

  it('answers CONNECT, which never reaches the request listener, with a JSON 400', async () => {
    // Act
    const reply = await rawRequest(broker.url, 'localhost:443', 'CONNECT');

    // Assess
    expectJsonError(reply, 400, 'invalid_request', /^Method "CONNECT" is not allowed; use GET$/);
    await expectStillServing();
  });

  it('answers 400 for a method other than GET', async () => {
    // Act
    const reply = await rawRequest(broker.url, '/clients/shop/token', 'DELETE');

    // Assess
    expectJsonError(reply, 400, 'invalid_request', /^Method "DELETE" is not allowed; use GET$/);
  });

  describe('requests a web page can make a browser send', () => {
    const port = () => new URL(broker.url).port;

    /** A refusal: plain text saying why, and nothing a page could use. */
    async function expectRefused(reply: RawResponse, status: number, reason: RegExp): Promise<void> {
      expect(reply.status).toBe(status);
      expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(reply.body).toMatch(reason);
      expect(reply.body).not.toMatch(/access_token|Bearer/);
      await expectStillServing();
    }

    it.each([
      ['localhost with the port', () => `localhost:${port()}`],
      ['localhost in capitals', () => `LOCALHOST:${port()}`],
      ['the bound address with the port', () => `127.0.0.1:${port()}`],
    ])('serves a token when the Host is %s', async (_case, host) => {
      // Act
      const reply = await rawRequest(broker.url, '/clients/shop/token?scope=read', 'GET', { Host: host() });

      // Assess
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    });

    it.each([
      ['a host name rebound to 127.0.0.1', () => `rebind.attacker.example:${port()}`],
      ['a name that starts like localhost', () => `localhost.attacker.example:${port()}`],
      ['the bound address with another port', () => `127.0.0.1:${Number(port()) + 1}`],
      ['the bound address without the port', () => '127.0.0.1'],
      ['localhost without the port', () => 'localhost'],
      ['an IPv6 loopback the broker does not listen on', () => `[::1]:${port()}`],
      ['empty', () => ''],
    ])('refuses with 421, without a token, a Host that is %s', async (_case, host) => {
      // Prepare
      const tokenRequests = server.tokenRequestCount();

      // Act
      const reply = await rawRequest(broker.url, '/clients/shop/token?scope=read', 'GET', { Host: host() });

      // Assess
      await expectRefused(reply, 421, new RegExp(`Host must be 127\\.0\\.0\\.1:${port()} or localhost:${port()}`));
      expect(server.tokenRequestCount()).toBe(tokenRequests);
    });

    it.each([
      ['another site', () => 'https://attacker.example'],
      ['an opaque origin', () => 'null'],
      ["the broker's own origin", () => `http://127.0.0.1:${port()}`],
    ])('refuses with 403, without a token, a request with an Origin of %s', async (_case, origin) => {
      // Act
      const reply = await rawRequest(broker.url, '/clients/shop/token?scope=read', 'GET', { Origin: origin() });

      // Assess
      await expectRefused(reply, 403, /Origin header: web pages may not use the local broker/);
    });

    it('refuses a CONNECT with a foreign Host the same way', async () => {
      // Act
      const reply = await rawRequest(broker.url, 'localhost:443', 'CONNECT', { Host: 'rebind.attacker.example' });

      // Assess
      await expectRefused(reply, 421, /Host must be/);
    });

    it('listening on [::1], serves a Host of [::1] or localhost with the port', async (context) => {
      // Prepare
      const config = configFor(server, { clientSecret: { value: FIXTURE_SECRET } });
      const ipv6 = await startLocalBroker({ config, host: '::1' }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRNOTAVAIL' || error.code === 'EAFNOSUPPORT') context.skip('no IPv6 loopback here');
        throw error;
      });

      try {
        // Act
        const own = await rawRequest(ipv6.url, '/clients/shop/token?scope=read');
        const named = await rawRequest(ipv6.url, '/clients/shop/token?scope=read', 'GET', {
          Host: `localhost:${new URL(ipv6.url).port}`,
        });
        const rebound = await rawRequest(ipv6.url, '/clients/shop/token?scope=read', 'GET', {
          Host: `rebind.attacker.example:${new URL(ipv6.url).port}`,
        });

        // Assess
        expect(ipv6.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
        expect([own.status, named.status, rebound.status]).toEqual([200, 200, 421]);
      } finally {
        await ipv6.stop();
      }
    });
  });
});
