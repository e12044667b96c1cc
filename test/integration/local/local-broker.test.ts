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
});
