import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenBrokerConfigError, TokenBrokerError } from '../../../lambda/client/errors.ts';
import { TokenBrokerClient } from '../../../lambda/client/token-broker-client.ts';
import { everythingSaidAbout } from '../../support/leaks.ts';
import { errorResponse, hang, networkError, scriptedTransport, tokenResponse } from './support/scripted-transport.ts';

const START = new Date('2030-01-01T00:00:00Z');

/** The error `construct` throws. */
function failureOf(construct: () => unknown): unknown {
  try {
    construct();
  } catch (error) {
    return error;
  }
  throw new Error('expected the construction to fail');
}

describe('Class: TokenBrokerClient', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: START });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  describe('getToken', () => {
    it('returns the token, type, expiry and scope the broker reported', async () => {
      // Prepare
      const transport = scriptedTransport(tokenResponse({ scope: 'read write' }));
      const client = new TokenBrokerClient({ transport });

      // Act
      const token = await client.getToken({ client: 'shop', scopes: ['write', 'read'] });

      // Assess
      expect(token).toEqual({
        accessToken: 'eyJ.secret-access-token.sig',
        tokenType: 'Bearer',
        expiresAt: new Date(START.getTime() + 3_600_000),
        scope: 'read write',
      });
      expect(transport.requests).toEqual([{ client: 'shop', scopes: ['read', 'write'] }]);
    });

    it('asks for the default scopes when scopes are omitted or empty', async () => {
      // Prepare
      const transport = scriptedTransport(tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      await client.getToken({ client: 'shop' });
      await client.getToken({ client: 'shop', scopes: [] });

      // Assess
      expect(transport.requests).toEqual([{ client: 'shop' }]);
    });

    it('rejects a client name outside [a-z0-9-] without sending anything', async () => {
      // Prepare
      const transport = scriptedTransport(tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      const result = client.getToken({ client: '../admin' });

      // Assess
      await expect(result).rejects.toMatchObject({ name: 'TokenBrokerError', code: 'invalid_request' });
      expect(transport.requests).toHaveLength(0);
    });

    it('rejects a scope that is not an RFC 6749 scope-token without sending anything', async () => {
      // Prepare
      const transport = scriptedTransport(tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      const result = client.getToken({ client: 'shop', scopes: ['read write'] });

      // Assess
      await expect(result).rejects.toMatchObject({ code: 'invalid_request' });
      expect(transport.requests).toHaveLength(0);
    });
  });

  describe('cache', () => {
    it('returns the cached token within its lifetime without a request', async () => {
      // Prepare
      const transport = scriptedTransport(tokenResponse({ access_token: 'first' }), tokenResponse());
      const client = new TokenBrokerClient({ transport });
      await client.getToken({ client: 'shop', scopes: ['read'] });
      await vi.advanceTimersByTimeAsync(3_539_000);

      // Act
      const token = await client.getToken({ client: 'shop', scopes: ['read'] });

      // Assess
      expect(token.accessToken).toBe('first');
      expect(transport.requests).toHaveLength(1);
    });

    it('requests a new token 60 s before the broker-reported expiry', async () => {
      // Prepare
      const transport = scriptedTransport(
        tokenResponse({ access_token: 'first' }),
        tokenResponse({ access_token: 'second' }),
      );
      const client = new TokenBrokerClient({ transport });
      await client.getToken({ client: 'shop' });
      await vi.advanceTimersByTimeAsync(3_540_000);

      // Act
      const token = await client.getToken({ client: 'shop' });

      // Assess
      expect(token.accessToken).toBe('second');
      expect(transport.requests).toHaveLength(2);
    });

    it('refreshes a short-lived token when 10 % of its lifetime is left', async () => {
      // Prepare
      const transport = scriptedTransport(tokenResponse({ expires_in: 100 }));
      const client = new TokenBrokerClient({ transport });
      await client.getToken({ client: 'shop' });

      // Act
      await vi.advanceTimersByTimeAsync(89_999);
      await client.getToken({ client: 'shop' });
      const beforeRefreshPoint = transport.requests.length;
      await vi.advanceTimersByTimeAsync(1);
      await client.getToken({ client: 'shop' });

      // Assess
      expect(beforeRefreshPoint).toBe(1);
      expect(transport.requests).toHaveLength(2);
    });

    it('serves a cached token only while it has minTtlSeconds left, else asks the broker with min_ttl', async () => {
      // Prepare
      const transport = scriptedTransport(
        tokenResponse({ access_token: 'first' }),
        tokenResponse({ access_token: 'second' }),
      );
      const client = new TokenBrokerClient({ transport });
      await client.getToken({ client: 'shop' });
      await vi.advanceTimersByTimeAsync(3_000_000);

      // Act: 600 s left: enough for 300, not for 900.
      const enough = await client.getToken({ client: 'shop', minTtlSeconds: 300 });
      const fresher = await client.getToken({ client: 'shop', minTtlSeconds: 900 });

      // Assess
      expect([enough.accessToken, fresher.accessToken]).toEqual(['first', 'second']);
      expect(transport.requests).toEqual([{ client: 'shop' }, { client: 'shop', minTtlSeconds: 900 }]);
    });

    it.each([-1, 1.5, 86_401, Number.NaN])('rejects minTtlSeconds %s without sending anything', async (n) => {
      // Prepare
      const transport = scriptedTransport(tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      const result = client.getToken({ client: 'shop', minTtlSeconds: n });

      // Assess
      await expect(result).rejects.toMatchObject({
        code: 'invalid_request',
        description: expect.stringContaining('minTtlSeconds'),
      });
      expect(transport.requests).toHaveLength(0);
    });

    it('keeps one entry per client and scope set, whatever the order of the scopes', async () => {
      // Prepare
      const transport = scriptedTransport(tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      await client.getToken({ client: 'shop', scopes: ['read', 'write'] });
      await client.getToken({ client: 'shop', scopes: ['write', 'read', 'read'] });
      await client.getToken({ client: 'shop', scopes: ['read'] });
      await client.getToken({ client: 'shop' });
      await client.getToken({ client: 'billing', scopes: ['read'] });

      // Assess
      expect(transport.requests).toEqual([
        { client: 'shop', scopes: ['read', 'write'] },
        { client: 'shop', scopes: ['read'] },
        { client: 'shop' },
        { client: 'billing', scopes: ['read'] },
      ]);
    });

    it('shares one in-flight request between concurrent callers', async () => {
      // Prepare
      const transport = scriptedTransport(async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return tokenResponse();
      });
      const client = new TokenBrokerClient({ transport });

      // Act
      const pending = Promise.all(Array.from({ length: 10 }, () => client.getToken({ client: 'shop' })));
      await vi.advanceTimersByTimeAsync(50);
      const tokens = await pending;

      // Assess
      expect(transport.requests).toHaveLength(1);
      expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    });

    it('shares a failure with the concurrent callers and tries again on the next call', async () => {
      // Prepare
      const transport = scriptedTransport(errorResponse(404, 'unknown_client'), tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      const failures = await Promise.allSettled([
        client.getToken({ client: 'shop' }),
        client.getToken({ client: 'shop' }),
      ]);
      const token = await client.getToken({ client: 'shop' });

      // Assess
      expect(failures.map((f) => f.status)).toEqual(['rejected', 'rejected']);
      expect(token.accessToken).toBe('eyJ.secret-access-token.sig');
      expect(transport.requests).toHaveLength(2);
    });
  });

  describe('retries', () => {
    it('waits for Retry-After before retrying upstream_unavailable, then returns the token', async () => {
      // Prepare
      vi.spyOn(Math, 'random').mockReturnValue(0);
      const transport = scriptedTransport(errorResponse(503, 'upstream_unavailable', 2_000), tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      const pending = client.getToken({ client: 'shop' });
      await vi.advanceTimersByTimeAsync(1_999);
      const attemptsBeforeRetryAfter = transport.requests.length;
      await vi.advanceTimersByTimeAsync(1);
      const token = await pending;

      // Assess
      expect(attemptsBeforeRetryAfter).toBe(1);
      expect(transport.requests).toHaveLength(2);
      expect(token.accessToken).toBe('eyJ.secret-access-token.sig');
    });

    it('retries throttling, network errors and attempt timeouts with backoff', async () => {
      // Prepare
      vi.spyOn(Math, 'random').mockReturnValue(1);
      const transport = scriptedTransport(
        { status: 429, body: { message: 'Too Many Requests' } },
        networkError(),
        hang,
        tokenResponse(),
      );
      const client = new TokenBrokerClient({ transport, attemptTimeoutMs: 1_000 });

      // Act
      const pending = client.getToken({ client: 'shop' });
      await vi.advanceTimersByTimeAsync(100 + 200 + 1_000 + 400);
      const token = await pending;

      // Assess
      expect(transport.requests).toHaveLength(4);
      expect(token.scope).toBe('read');
    });

    it('retries internal_error and API Gateway 5xx answers', async () => {
      // Prepare
      vi.spyOn(Math, 'random').mockReturnValue(0);
      const transport = scriptedTransport(
        errorResponse(500, 'internal_error'),
        { status: 504, body: { message: 'Endpoint request timed out' } },
        tokenResponse(),
      );
      const client = new TokenBrokerClient({ transport });

      // Act
      const pending = client.getToken({ client: 'shop' });
      await vi.runAllTimersAsync();
      const token = await pending;

      // Assess
      expect(transport.requests).toHaveLength(3);
      expect(token.tokenType).toBe('Bearer');
    });

    it.each([
      [400, 'invalid_request'],
      [400, 'invalid_scope'],
      [404, 'unknown_client'],
      [502, 'upstream_rejected'],
    ])('does not retry %i %s', async (status, code) => {
      // Prepare
      const transport = scriptedTransport(errorResponse(status, code), tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      const result = client.getToken({ client: 'shop' });

      // Assess
      await expect(result).rejects.toMatchObject({ code, status, retryable: false });
      expect(transport.requests).toHaveLength(1);
    });

    it('does not retry an IAM 403', async () => {
      // Prepare
      const transport = scriptedTransport({ status: 403, body: { message: 'Forbidden' } }, tokenResponse());
      const client = new TokenBrokerClient({ transport });

      // Act
      const result = client.getToken({ client: 'shop' });

      // Assess
      await expect(result).rejects.toMatchObject({ code: 'access_denied', status: 403 });
      expect(transport.requests).toHaveLength(1);
    });

    it('throws the last failure when the next wait would cross the deadline', async () => {
      // Prepare
      vi.spyOn(Math, 'random').mockReturnValue(0);
      const transport = scriptedTransport(errorResponse(503, 'upstream_unavailable', 4_000));
      const client = new TokenBrokerClient({ transport, deadlineMs: 10_000, maxRetries: 10 });

      // Act
      const result = client.getToken({ client: 'shop' });
      const assessed = expect(result).rejects.toMatchObject({ code: 'upstream_unavailable', retryAfterMs: 4_000 });
      await vi.advanceTimersByTimeAsync(10_000);

      // Assess
      await assessed;
      expect(transport.requests).toHaveLength(3);
    });

    it('throws after maxRetries retries', async () => {
      // Prepare
      vi.spyOn(Math, 'random').mockReturnValue(0);
      const transport = scriptedTransport(networkError());
      const client = new TokenBrokerClient({ transport, maxRetries: 2 });

      // Act
      const result = client.getToken({ client: 'shop' });
      const assessed = expect(result).rejects.toMatchObject({ code: 'network_error' });
      await vi.runAllTimersAsync();

      // Assess
      await assessed;
      expect(transport.requests).toHaveLength(3);
    });

    it('reports timeout when an attempt outlives attemptTimeoutMs', async () => {
      // Prepare
      const transport = scriptedTransport(hang);
      const client = new TokenBrokerClient({ transport, attemptTimeoutMs: 2_000, maxRetries: 0 });

      // Act
      const result = client.getToken({ client: 'shop' });
      const assessed = expect(result).rejects.toMatchObject({ code: 'timeout', retryable: true });
      await vi.advanceTimersByTimeAsync(2_000);

      // Assess
      await assessed;
      await expect(result).rejects.toBeInstanceOf(TokenBrokerError);
    });
  });

  describe('options', () => {
    it('fails at construction when no URL is given or set in TOKEN_BROKER_URL', () => {
      // Prepare
      vi.stubEnv('TOKEN_BROKER_URL', '');

      // Act
      const construct = () => new TokenBrokerClient({ region: 'eu-west-1' });

      // Assess
      expect(construct).toThrow(TokenBrokerConfigError);
      expect(construct).toThrow(/url is required/);
    });

    it('reads the URL from TOKEN_BROKER_URL', async () => {
      // Prepare
      vi.stubEnv('TOKEN_BROKER_URL', 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod');
      const fetch = vi.fn(async (_url: string, _init: RequestInit) => Response.json(tokenResponse().body));
      const client = new TokenBrokerClient({ fetch, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });

      // Act
      await client.getToken({ client: 'shop', scopes: ['read', 'write'] });

      // Assess
      expect(fetch.mock.calls[0]?.[0]).toBe(
        'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/clients/shop/token?scope=read%20write',
      );
    });

    it('signs for the region in the execute-api host name, whatever AWS_REGION says', async () => {
      // Prepare
      vi.stubEnv('AWS_REGION', 'us-east-1');
      const fetch = vi.fn(async (_url: string, _init: RequestInit) => Response.json(tokenResponse().body));
      const client = new TokenBrokerClient({
        url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/',
        fetch,
        credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      });

      // Act
      await client.getToken({ client: 'shop' });

      // Assess
      const headers = fetch.mock.calls[0]?.[1].headers as Record<string, string>;
      expect(headers.authorization).toMatch(/Credential=AKID\/\d{8}\/eu-west-1\/execute-api\/aws4_request/);
    });

    it('refuses a plain-http URL to a host other than localhost', () => {
      // Act
      const construct = () => new TokenBrokerClient({ url: 'http://broker.internal/prod', region: 'eu-west-1' });

      // Assess
      expect(construct).toThrow(expect.objectContaining({ name: 'TokenBrokerConfigError', field: 'url' }));
    });

    it('refuses a URL it cannot parse without repeating it, credentials included', () => {
      // Act
      const error = failureOf(
        () => new TokenBrokerClient({ url: 'https://admin:Sup3rS3cret@exa mple.com/prod', region: 'eu-west-1' }),
      );

      // Assess
      expect(error).toMatchObject({ name: 'TokenBrokerConfigError', field: 'url' });
      expect((error as Error).message).toBe(
        'Invalid token broker client option: url is not a valid https: URL (its host or port cannot be read)',
      );
      const said = everythingSaidAbout(error);
      expect(said).not.toContain('Sup3rS3cret');
      expect(said).not.toContain('admin');
      expect(said).not.toContain('exa mple');
    });

    it('names TOKEN_BROKER_URL, not its value, when the URL set there has no scheme', () => {
      // Prepare
      vi.stubEnv('TOKEN_BROKER_URL', `abc123.execute-api.eu-west-1.amazonaws.com/prod/${'x'.repeat(10_000)}`);

      // Act
      const error = failureOf(() => new TokenBrokerClient({ region: 'eu-west-1' }));

      // Assess
      expect((error as Error).message).toBe(
        'Invalid token broker client option: TOKEN_BROKER_URL is not an absolute URL: it must start with https://',
      );
      expect(everythingSaidAbout(error)).not.toContain('abc123');
    });

    it.each([
      ['a well-known scheme, repeated', 'FTP://broker.example/prod', /; it uses ftp:$/],
      ['what parses as a scheme but is a user name, not repeated', 'admin:Sup3rS3cret9@broker.example', /localhost\)$/],
      ['what parses as a scheme but is a password, not repeated', 'Sup3rS3cret9:broker', /localhost\)$/],
      ['a long scheme, not repeated', `${'a'.repeat(5_000)}:broker`, /localhost\)$/],
    ])('refuses a URL with a scheme other than https:: %s', (_case, url, ending) => {
      // Act
      const error = failureOf(() => new TokenBrokerClient({ url, region: 'eu-west-1' }));

      // Assess
      expect((error as Error).message).toMatch(/^Invalid token broker client option: url must use https: /);
      expect((error as Error).message).toMatch(ending);
      expect((error as Error).message.length).toBeLessThan(120);
      expect(everythingSaidAbout(error)).not.toMatch(/admin|sup3rs3cret9|broker\.example|aaaa/i);
    });

    it('refuses default-transport options together with a transport', () => {
      // Act
      const construct = () =>
        new TokenBrokerClient({ transport: scriptedTransport(tokenResponse()), url: 'https://example.com/prod' });

      // Assess
      expect(construct).toThrow(expect.objectContaining({ field: 'url' }));
    });

    it('refuses an attempt timeout longer than the deadline', () => {
      // Act
      const construct = () =>
        new TokenBrokerClient({
          transport: scriptedTransport(tokenResponse()),
          deadlineMs: 1_000,
          attemptTimeoutMs: 2_000,
        });

      // Assess
      expect(construct).toThrow(expect.objectContaining({ field: 'attemptTimeoutMs' }));
    });
  });
});
