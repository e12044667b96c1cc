import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Fetch } from '../../../lambda/client/http-transport.ts';
import { TokenBrokerClient, type TokenBrokerClientOptions } from '../../../lambda/client/index.ts';
import { type FakeBroker, startFakeBroker } from './support/fake-broker-server.ts';
import { verifySigV4 } from './support/sigv4-verifier.ts';

const PERMANENT = { accessKeyId: 'AKIAPERMANENT', secretAccessKey: 'permanent-secret-key' };
const SESSION = {
  accessKeyId: 'ASIASESSION',
  secretAccessKey: 'session-secret-key',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE-session-token',
};
const VERIFY = {
  region: 'eu-west-1',
  service: 'execute-api',
  credentials: new Map([
    [PERMANENT.accessKeyId, { secretAccessKey: PERMANENT.secretAccessKey }],
    [SESSION.accessKeyId, { secretAccessKey: SESSION.secretAccessKey, sessionToken: SESSION.sessionToken }],
  ]),
};

/** A fetch that changes the request after it was signed, as a man in the middle would. */
function tamperingFetch(change: (url: string, headers: Record<string, string>) => string): Fetch {
  return (url, init) => {
    const headers = { ...(init.headers as Record<string, string>) };
    return fetch(change(url, headers), { ...init, headers });
  };
}

describe('Class: HttpTransport', () => {
  let broker: FakeBroker;
  afterEach(async () => {
    await broker?.stop();
  });

  function client(options: TokenBrokerClientOptions = {}): TokenBrokerClient {
    return new TokenBrokerClient({ url: broker.url, region: 'eu-west-1', maxRetries: 0, ...options });
  }

  it('sends a request whose signature an independent verifier recomputes', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });

    // Act
    const token = await client({ credentials: PERMANENT }).getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(token.scope).toBe('read');
    expect(broker.requests).toHaveLength(1);
    const [request] = broker.requests;
    expect(request?.verdict).toMatchObject({ ok: true, accessKeyId: PERMANENT.accessKeyId });
    expect(request?.url).toBe('/prod/clients/shop/token?scope=read');
    expect(request?.headers['x-amz-security-token']).toBeUndefined();
    expect(request?.verdict?.ok && request.verdict.signedHeaders).toEqual(
      expect.arrayContaining(['host', 'x-amz-date']),
    );
  });

  it('sends and signs X-Amz-Security-Token with session credentials', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });

    // Act
    await client({ credentials: SESSION }).getToken({ client: 'shop' });

    // Assess
    const [request] = broker.requests;
    expect(request?.headers['x-amz-security-token']).toBe(SESSION.sessionToken);
    expect(request?.verdict).toMatchObject({
      ok: true,
      signedHeaders: expect.arrayContaining(['x-amz-security-token']),
    });
  });

  it('signs a multi-scope query sent as scope=read%20write', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });

    // Act
    await client({ credentials: SESSION }).getToken({ client: 'shop', scopes: ['write', 'read'] });

    // Assess
    expect(broker.requests[0]?.url).toBe('/prod/clients/shop/token?scope=read%20write');
    expect(broker.requests[0]?.verdict?.ok).toBe(true);
  });

  it('signs a freshness requirement sent as min_ttl, before scope in the canonical order', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });

    // Act
    await client({ credentials: SESSION }).getToken({ client: 'shop', scopes: ['read'], minTtlSeconds: 120 });

    // Assess
    expect(broker.requests[0]?.url).toBe('/prod/clients/shop/token?min_ttl=120&scope=read');
    expect(broker.requests[0]?.verdict?.ok).toBe(true);
  });

  it('signs the same resource whether or not the URL ends with a slash', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });

    // Act
    await client({ url: `${broker.url}/`, credentials: SESSION }).getToken({ client: 'shop' });

    // Assess
    expect(broker.requests[0]?.url).toBe('/prod/clients/shop/token');
    expect(broker.requests[0]?.verdict?.ok).toBe(true);
  });

  it('asks the credentials provider for every signature, so rotated credentials are used', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });
    const credentials = vi.fn(async () => SESSION);

    // Act
    await client({ credentials }).getToken({ client: 'shop', scopes: ['read'] });
    await client({ credentials }).getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(credentials).toHaveBeenCalledTimes(2);
    expect(broker.requests.every((r) => r.verdict?.ok)).toBe(true);
  });

  it.each([
    ['the query', (url: string) => url.replace('scope=read', 'scope=admin')],
    ['the path', (url: string) => url.replace('/clients/shop/', '/clients/billing/')],
    [
      'the session token',
      (url: string, headers: Record<string, string>) => {
        headers['x-amz-security-token'] = `${SESSION.sessionToken}x`;
        return url;
      },
    ],
    [
      'the date',
      (url: string, headers: Record<string, string>) => {
        const date = headers['x-amz-date'] ?? '';
        headers['x-amz-date'] = date.replace(/\d{2}Z$/, date.endsWith('00Z') ? '01Z' : '00Z');
        return url;
      },
    ],
  ])('is refused with access_denied when %s is changed after signing', async (_part, change) => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });
    const tampered = client({ credentials: SESSION, fetch: tamperingFetch(change) });

    // Act
    const result = tampered.getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    await expect(result).rejects.toMatchObject({ name: 'TokenBrokerError', code: 'access_denied', status: 403 });
    expect(broker.requests[0]?.verdict).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('is refused with access_denied when signed with the wrong secret', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });
    const wrongSecret = { ...SESSION, secretAccessKey: 'not-the-secret' };

    // Act
    const result = client({ credentials: wrongSecret }).getToken({ client: 'shop' });

    // Assess
    await expect(result).rejects.toMatchObject({ code: 'access_denied' });
    expect(broker.requests[0]?.verdict).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('keeps the canonical request of a signature-mismatch answer out of the error', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });
    const wrongSecret = { ...SESSION, secretAccessKey: 'not-the-secret' };

    // Act
    const error = await client({ credentials: wrongSecret })
      .getToken({ client: 'shop' })
      .catch((e: unknown) => e);

    // Assess
    expect(String((error as Error).message)).toMatch(/^access_denied: The request signature we calculated/);
    expect(String((error as Error).message)).not.toMatch(/Canonical String/);
  });

  it('reports access_denied without sending anything when no credentials can be found', async () => {
    // Prepare
    broker = await startFakeBroker({ verify: VERIFY });
    const noCredentials = async () => {
      throw new Error('Could not load credentials from any providers');
    };

    // Act
    const result = client({ credentials: noCredentials }).getToken({ client: 'shop' });

    // Assess
    await expect(result).rejects.toMatchObject({ code: 'access_denied' });
    expect(broker.requests).toHaveLength(0);
  });

  it('maps a refused connection to network_error', async () => {
    // Prepare
    broker = await startFakeBroker();
    const url = broker.url;
    await broker.stop();
    const client = new TokenBrokerClient({ url, region: 'eu-west-1', credentials: PERMANENT, maxRetries: 0 });

    // Act
    const error = await client.getToken({ client: 'shop' }).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'TokenBrokerError', code: 'network_error', retryable: true });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });
});

describe('Class: HttpTransport (private API through one VPC endpoint, without private DNS)', () => {
  const ENDPOINT_URL = 'https://a1b2c3d4e5-vpce-0123456789abcdef0.execute-api.eu-central-1.amazonaws.com/v1/';
  const NOW = Date.parse('2025-01-01T00:00:00Z');

  /** A fetch that keeps what would go on the wire and answers like the broker. */
  function capturingFetch(): { fetch: Fetch; sent: { url: URL; headers: Record<string, string> }[] } {
    const sent: { url: URL; headers: Record<string, string> }[] = [];
    const fetch: Fetch = async (url, init) => {
      sent.push({ url: new URL(url), headers: { ...(init.headers as Record<string, string>) } });
      return Response.json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, scope: 'read' });
    };
    return { fetch, sent };
  }

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("signs for the endpoint-specific host and the region in its name, not the caller's", async () => {
    // Prepare: the caller runs in another region than the API.
    vi.stubEnv('AWS_REGION', 'us-east-1');
    const { fetch, sent } = capturingFetch();
    const client = new TokenBrokerClient({
      url: ENDPOINT_URL,
      credentials: SESSION,
      fetch,
      clock: () => NOW,
      maxRetries: 0,
    });

    // Act
    await client.getToken({ client: 'shop', scopes: ['read'] });

    // Assess: what API Gateway recomputes from the request as it arrives, Host included.
    const [request] = sent;
    if (!request) throw new Error('nothing sent');
    expect(request.url.href).toBe(`${ENDPOINT_URL}clients/shop/token?scope=read`);
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const verdict = verifySigV4(
      {
        method: 'GET',
        url: `${request.url.pathname}${request.url.search}`,
        headers: { ...headers, host: request.url.host },
        body: Buffer.alloc(0),
      },
      { ...VERIFY, region: 'eu-central-1', now: new Date(NOW) },
    );
    expect(verdict).toMatchObject({ ok: true, signedHeaders: expect.arrayContaining(['host']) });
    expect(headers.authorization).toContain('/eu-central-1/execute-api/aws4_request');
  });

  it("refuses the endpoint's own DNS name, which needs a header fetch cannot set", () => {
    expect(
      () =>
        new TokenBrokerClient({
          url: 'https://vpce-0123456789abcdef0-abcdefgh.execute-api.eu-central-1.vpce.amazonaws.com/v1/',
          credentials: SESSION,
        }),
    ).toThrow(/use https:\/\/\{api\}-\{vpce\}\.execute-api\.\{region\}\.amazonaws\.com\/\{stage\}\/ instead/);
  });
});
