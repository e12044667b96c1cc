import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createOAuthTokenEndpoint } from '../../../../lambda/broker/adapters/oauth-token-endpoint.ts';
import type { ClientConfig } from '../../../../lambda/broker/core/config.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import { ECHO_LIMIT } from '../../../../lambda/broker/core/quote-input.ts';
import { SecretStore } from '../../../../lambda/broker/core/secret-store.ts';
import { TokenBroker } from '../../../../lambda/broker/core/token-broker.ts';
import { TokenCache } from '../../../../lambda/broker/core/token-cache.ts';
import type { TokenEndpoint, TokenResponse } from '../../../../lambda/broker/core/token-endpoint.ts';
import { virtualTime } from '../../../support/virtual-time.ts';
import { brokerConfig } from '../support/client-config.ts';
import { FakeSecretReader } from '../support/fake-secret-reader.ts';
import { FakeSharedStore } from '../support/fake-shared-store.ts';
import { recordingTelemetry } from '../support/recording-telemetry.ts';
import { type Answer, errorResponse, scriptedFetch, tokenResponse } from '../support/scripted-fetch.ts';

const now = () => Date.now();
const LOOK_AHEAD_SECONDS = 360;

/**
 * A fake authorization server: it accepts the secrets in `accepted`, numbers its tokens and
 * grants what was asked. Cases it cannot produce are set with `mockImplementationOnce`.
 */
function fakeAuthorizationServer(accepted: string[] = ['secret-v1'], expiresInSeconds = 3600) {
  let issued = 0;
  const requestToken = vi.fn<TokenEndpoint>(
    async (client: ClientConfig, secret: string, scopes: readonly string[]): Promise<TokenResponse> => {
      if (!accepted.includes(secret)) {
        throw new BrokerError('upstream_rejected', 'invalid_client, HTTP 401', { rejection: 'credentials_rejected' });
      }
      issued++;
      return {
        accessToken: `${client.name}-token-${issued}`,
        tokenType: 'Bearer',
        expiresInSeconds,
        scope: scopes.join(' '),
      };
    },
  );
  return { requestToken, accepted };
}

function setUp(
  options: { clients?: Record<string, unknown>[]; server?: ReturnType<typeof fakeAuthorizationServer> } = {},
) {
  const reader = new FakeSecretReader()
    .put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1')
    .put('billing/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
  const server = options.server ?? fakeAuthorizationServer();
  const telemetry = recordingTelemetry();
  const config = brokerConfig(
    options.clients ?? [
      { name: 'shop', clientSecret: { secretId: 'shop/m2m-client' } },
      { name: 'billing', clientSecret: { secretId: 'billing/m2m-client' }, scopes: ['invoices'] },
    ],
  );
  const broker = new TokenBroker(config, {
    secrets: new SecretStore(reader, { ttlMs: 300_000, now }),
    cache: new TokenCache({ now }),
    requestToken: server.requestToken,
    telemetry,
    now,
  });
  return { broker, reader, server, telemetry };
}

async function brokerErrorOf(outcome: Promise<unknown>): Promise<BrokerError> {
  const error = await outcome.then(
    () => new Error('expected the request to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BrokerError);
  return error as BrokerError;
}

describe('Class: TokenBroker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('Method: getToken', () => {
    it('returns a token for the client with the remaining lifetime and its source', async () => {
      // Prepare
      const { broker, server } = setUp();

      // Act
      const token = await broker.getToken({ client: 'shop', scopes: ['read'] });

      // Assess
      expect(token).toEqual({
        accessToken: 'shop-token-1',
        tokenType: 'Bearer',
        expiresIn: 3600,
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
        scope: 'read',
        source: 'fetched',
      });
      expect(server.requestToken).toHaveBeenCalledWith(
        expect.objectContaining({ name: 'shop', clientId: 'shop-m2m' }),
        'secret-v1',
        ['read'],
        expect.anything(),
      );
    });

    it('refuses an unknown client', async () => {
      // Prepare
      const { broker, server } = setUp();

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'payroll' }));

      // Assess
      expect(error.code).toBe('unknown_client');
      expect(error.description).toContain('"payroll"');
      expect(server.requestToken).not.toHaveBeenCalled();
    });

    it('refuses a scope the client may not ask for, naming it', async () => {
      // Prepare
      const { broker, server } = setUp();

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop', scopes: ['read', 'admin'] }));

      // Assess
      expect(error.code).toBe('invalid_scope');
      expect(error.description).toContain('"admin"');
      expect(error.description).not.toContain('"read"');
      expect(server.requestToken).not.toHaveBeenCalled();
    });

    it('names refused scopes within bounds: a few, each cut to the echo limit', async () => {
      // Prepare: a megabyte of scopes, one of them a megabyte long.
      const { broker } = setUp();
      const long = 'x'.repeat(1_000_000);
      const many = Array.from({ length: 10_000 }, (_, i) => `s${i}`);

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop', scopes: [long, ...many] }));

      // Assess
      expect(error.code).toBe('invalid_scope');
      expect(error.description).toMatch(/^Client "shop" may not request "s0", "s1", "s10" and 9998 more \(allowed/);
      const other = await brokerErrorOf(broker.getToken({ client: 'shop', scopes: [long] }));
      expect(other.description).toBe(
        `Client "shop" may not request "${'x'.repeat(ECHO_LIMIT)}"... (1000000 characters) (allowed: read write)`,
      );
    });

    it.each([
      ['no scopes', undefined],
      ['an empty scope list', []],
    ])('asks for all the client scopes when given %s', async (_case, scopes) => {
      // Prepare
      const { broker, server } = setUp();

      // Act
      const token = await broker.getToken({ client: 'shop', scopes });

      // Assess
      expect(token.scope).toBe('read write');
      expect(server.requestToken).toHaveBeenCalledWith(
        expect.anything(),
        'secret-v1',
        ['read', 'write'],
        expect.anything(),
      );
    });

    it('serves "write read", "read write" and "read write read" from one token', async () => {
      // Prepare
      const { broker, server } = setUp();

      // Act
      const first = await broker.getToken({ client: 'shop', scopes: ['write', 'read'] });
      const second = await broker.getToken({ client: 'shop', scopes: ['read', 'write'] });
      const third = await broker.getToken({ client: 'shop', scopes: ['read', 'write', 'read'] });

      // Assess
      expect(server.requestToken).toHaveBeenCalledTimes(1);
      expect(server.requestToken).toHaveBeenCalledWith(
        expect.anything(),
        'secret-v1',
        ['read', 'write'],
        expect.anything(),
      );
      expect([first.source, second.source, third.source]).toEqual(['fetched', 'memory', 'memory']);
      expect(second.accessToken).toBe(first.accessToken);
    });

    it('keeps separate tokens for separate scope sets and clients', async () => {
      // Prepare
      const { broker, server } = setUp();

      // Act
      const read = await broker.getToken({ client: 'shop', scopes: ['read'] });
      const write = await broker.getToken({ client: 'shop', scopes: ['write'] });
      const billing = await broker.getToken({ client: 'billing' });

      // Assess
      expect(new Set([read.accessToken, write.accessToken, billing.accessToken]).size).toBe(3);
      expect(server.requestToken).toHaveBeenCalledTimes(3);
    });

    it('reports the remaining lifetime of a cached token, with a constant expiry time', async () => {
      // Prepare
      const { broker } = setUp();
      const first = await broker.getToken({ client: 'shop' });
      vi.advanceTimersByTime(100_000);

      // Act
      const later = await broker.getToken({ client: 'shop' });

      // Assess
      expect(first.expiresIn).toBe(3600);
      expect(later).toMatchObject({ source: 'memory', expiresIn: 3500, expiresAt: first.expiresAt });
    });

    describe('the lifetime the server gives', () => {
      it.each([
        ['a year', 31_536_000, {}, 86_400],
        ['two hours, above a maxLifetimeSeconds of one', 7_200, { maxLifetimeSeconds: 3_600 }, 3_600],
      ])('cuts %s to the longest lifetime the client believes', async (_case, expiresInSeconds, limits, expected) => {
        // Prepare
        const server = fakeAuthorizationServer(['secret-v1'], expiresInSeconds);
        const { broker } = setUp({
          server,
          clients: [{ name: 'shop', clientSecret: { secretId: 'shop/m2m-client' }, ...limits }],
        });

        // Act
        const token = await broker.getToken({ client: 'shop' });

        // Assess
        expect(token.expiresIn).toBe(expected);
      });

      it('serves a token shorter-lived than minCacheableLifetimeSeconds, but asks again for the next request', async () => {
        // Prepare
        const { broker, server } = setUp({ server: fakeAuthorizationServer(['secret-v1'], 4) });

        // Act
        const first = await broker.getToken({ client: 'shop' });
        const second = await broker.getToken({ client: 'shop' });

        // Assess
        expect(first).toMatchObject({ accessToken: 'shop-token-1', expiresIn: 4, source: 'fetched' });
        expect(second).toMatchObject({ accessToken: 'shop-token-2', source: 'fetched' });
        expect(server.requestToken).toHaveBeenCalledTimes(2);
      });

      it('caches a short-lived token when minCacheableLifetimeSeconds allows it', async () => {
        // Prepare
        const { broker, server } = setUp({
          server: fakeAuthorizationServer(['secret-v1'], 4),
          clients: [{ name: 'shop', clientSecret: { secretId: 'shop/m2m-client' }, minCacheableLifetimeSeconds: 2 }],
        });

        // Act
        await broker.getToken({ client: 'shop' });
        const second = await broker.getToken({ client: 'shop' });

        // Assess
        expect(second.source).toBe('memory');
        expect(server.requestToken).toHaveBeenCalledTimes(1);
      });

      it.each([0.5, 1])(
        'refuses a token that lives %s s as an invalid response, never serving 0 seconds',
        async (expiresInSeconds) => {
          // Prepare
          const { broker } = setUp({ server: fakeAuthorizationServer(['secret-v1'], expiresInSeconds) });

          // Act
          const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

          // Assess
          expect(error).toMatchObject({ code: 'upstream_rejected', rejection: 'invalid_response' });
          expect(error.description).toContain('client shop issued a token that expires within 1 s');
        },
      );
    });

    it('tells telemetry about every token it fetches', async () => {
      // Prepare
      const { broker, telemetry } = setUp();

      // Act
      await broker.getToken({ client: 'shop' });
      await broker.getToken({ client: 'shop' });

      // Assess
      expect(telemetry.events).toEqual([{ event: 'tokenFetched', client: 'shop', credentials: 'current' }]);
    });

    it('retries once with the AWSPENDING secret when the current one is rejected, and says so', async () => {
      // Prepare
      const { broker, reader, server, telemetry } = setUp();
      server.accepted.splice(0, 1, 'secret-v2');
      reader.put('shop/m2m-client', 'AWSPENDING', 'secret-v2', 'v2');

      // Act
      const token = await broker.getToken({ client: 'shop' });

      // Assess
      expect(token.source).toBe('fetched');
      expect(server.requestToken).toHaveBeenCalledTimes(2);
      expect(server.requestToken.mock.calls.map((call) => call[1])).toEqual(['secret-v1', 'secret-v2']);
      expect(telemetry.events).toEqual([{ event: 'tokenFetched', client: 'shop', credentials: 'rotated' }]);
    });

    it('keeps using the rotated secret for the next token', async () => {
      // Prepare
      const { broker, reader, server } = setUp();
      server.accepted.splice(0, 1, 'secret-v2');
      reader.put('shop/m2m-client', 'AWSPENDING', 'secret-v2', 'v2');
      await broker.getToken({ client: 'shop', scopes: ['read'] });

      // Act
      await broker.getToken({ client: 'shop', scopes: ['write'] });

      // Assess
      expect(server.requestToken.mock.calls.map((call) => call[1])).toEqual(['secret-v1', 'secret-v2', 'secret-v2']);
    });

    it('fails with upstream_rejected when the re-read secret is rejected too, after two requests', async () => {
      // Prepare
      const { broker, reader, server, telemetry } = setUp();
      server.accepted.splice(0);
      reader.put('shop/m2m-client', 'AWSPENDING', 'secret-v2', 'v2');

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

      // Assess
      expect(error.code).toBe('upstream_rejected');
      expect(server.requestToken).toHaveBeenCalledTimes(2);
      expect(telemetry.events).toEqual([{ event: 'upstreamFailed', client: 'shop', code: 'upstream_rejected' }]);
    });

    it('allows another credentials encoding on the first request of a refresh, not after the secret re-read', async () => {
      // Prepare
      const { broker, reader, server } = setUp();
      server.accepted.splice(0);
      reader.put('shop/m2m-client', 'AWSPENDING', 'secret-v2', 'v2');

      // Act
      await brokerErrorOf(broker.getToken({ client: 'shop' }));

      // Assess
      expect(server.requestToken.mock.calls.map((call) => call[3]?.retryRejectedEncoding)).toEqual([true, false]);
    });

    it('fails with upstream_rejected after one request when no other secret exists', async () => {
      // Prepare
      const { broker, server } = setUp();
      server.accepted.splice(0);

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

      // Assess
      expect(error.code).toBe('upstream_rejected');
      expect(server.requestToken).toHaveBeenCalledTimes(1);
    });

    it('does not look for another secret when the server is unavailable', async () => {
      // Prepare
      const { broker, reader, server, telemetry } = setUp();
      server.requestToken.mockRejectedValueOnce(new BrokerError('upstream_unavailable', 'down'));

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

      // Assess
      expect(error.code).toBe('upstream_unavailable');
      expect(server.requestToken).toHaveBeenCalledTimes(1);
      expect(reader.reads.map((r) => r.stage)).toEqual(['AWSCURRENT']);
      expect(telemetry.events).toEqual([{ event: 'upstreamFailed', client: 'shop', code: 'upstream_unavailable' }]);
    });

    it('turns an unexpected failure into internal_error', async () => {
      // Prepare
      const { broker, server, telemetry } = setUp();
      server.requestToken.mockRejectedValueOnce(new RangeError('bug'));

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

      // Assess
      expect(error.code).toBe('internal_error');
      expect(telemetry.events).toEqual([]);
    });

    it('serves the current token when a refresh fails while it is still valid, and reports it', async () => {
      // Prepare
      const { broker, server, telemetry } = setUp();
      const first = await broker.getToken({ client: 'shop' });
      vi.advanceTimersByTime(3000_000);
      server.requestToken.mockRejectedValueOnce(new BrokerError('upstream_unavailable', 'down'));

      // Act
      const token = await broker.getToken({ client: 'shop' });

      // Assess
      expect(token).toMatchObject({ source: 'stale', accessToken: first.accessToken, expiresIn: 600 });
      expect(telemetry.events.slice(1)).toEqual([
        { event: 'upstreamFailed', client: 'shop', code: 'upstream_unavailable' },
        { event: 'servedStale', client: 'shop', code: 'upstream_unavailable' },
      ]);
    });

    it('fails when the secret cannot be read, without blaming the authorization server', async () => {
      // Prepare
      const { broker, reader, server, telemetry } = setUp();
      reader.failNext(
        new BrokerError('secret_store_unavailable', 'Secrets Manager is unavailable (ThrottlingException)'),
      );

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

      // Assess
      expect(error.code).toBe('secret_store_unavailable');
      expect(server.requestToken).not.toHaveBeenCalled();
      expect(telemetry.events).toEqual([]);
    });

    it('gives up on a secret read that outlasts the deadline, with a Retry-After', async () => {
      // Prepare
      const { broker, reader, server } = setUp();
      const release = reader.hold();

      // Act
      const outcome = brokerErrorOf(broker.getToken({ client: 'shop' }));
      await vi.advanceTimersByTimeAsync(15_000);
      const error = await outcome;
      release();

      // Assess
      expect(error).toMatchObject({ code: 'secret_store_unavailable', retryAfterSeconds: 1 });
      expect(error.description).toContain('within the deadline of client shop');
      expect(server.requestToken).not.toHaveBeenCalled();
    });

    it('gives the token request what the secret read left of the deadline', async () => {
      // Prepare
      const { broker, reader, server } = setUp();
      const release = reader.hold();

      // Act
      const outcome = broker.getToken({ client: 'shop' });
      await vi.advanceTimersByTimeAsync(4_000);
      release();
      await outcome;

      // Assess
      expect(server.requestToken.mock.calls[0]?.[3]?.deadlineMs).toBe(11_000);
    });
  });

  describe('with client_secret_basic over oauth4webapi, against a server that refuses everything', () => {
    const SECRET_V1 = 'v1:p@ss/w+rd%';
    const SECRET_V2 = 'v2:p@ss/w+rd%';

    function basicBroker(pending: boolean, script: (() => Answer)[] = [errorResponse(401)]) {
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', SECRET_V1, 'v1');
      if (pending) reader.put('shop/m2m-client', 'AWSPENDING', SECRET_V2, 'v2');
      const endpoint = scriptedFetch(...script);
      const config = brokerConfig([
        { name: 'shop', authMethod: 'client_secret_basic', clientSecret: { secretId: 'shop/m2m-client' } },
      ]);
      const broker = new TokenBroker(config, {
        secrets: new SecretStore(reader, { ttlMs: 300_000, now }),
        cache: new TokenCache({ now }),
        requestToken: createOAuthTokenEndpoint({ ...virtualTime(), fetch: endpoint.fetch }),
        telemetry: recordingTelemetry(),
        now,
      });
      const sentSecrets = () =>
        endpoint.requests.map((r) => {
          const decoded = Buffer.from(
            (r.headers.get('authorization') ?? '').slice('Basic '.length),
            'base64',
          ).toString();
          return decoded.slice(decoded.indexOf(':') + 1);
        });
      return { broker, sentSecrets };
    }

    it('makes at most 3 token requests: both encodings of the secret, then the re-read one', async () => {
      // Prepare
      const { broker, sentSecrets } = basicBroker(true);

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

      // Assess
      expect(error).toMatchObject({ code: 'upstream_rejected', rejection: 'credentials_rejected' });
      expect(sentSecrets()).toEqual([encodeURIComponent(SECRET_V1).replace('%20', '+'), SECRET_V1, expect.any(String)]);
      expect(decodeURIComponent(sentSecrets()[2] ?? '')).toBe(SECRET_V2);
    });

    it('reads the secret again after both encodings get 401 unauthorized_client (Keycloak), and gets a token with it', async () => {
      // Prepare
      const rejected = errorResponse(401, { error: 'unauthorized_client' });
      const accepted = tokenResponse({ access_token: 'token-for-v2', token_type: 'Bearer', expires_in: 3600 });
      const { broker, sentSecrets } = basicBroker(true, [rejected, rejected, accepted]);

      // Act
      const token = await broker.getToken({ client: 'shop' });

      // Assess
      expect(token.accessToken).toBe('token-for-v2');
      expect(sentSecrets()).toHaveLength(3);
      expect(decodeURIComponent(sentSecrets()[2] ?? '')).toBe(SECRET_V2);
    });

    it('makes 2 token requests when there is no other secret to re-read', async () => {
      // Prepare
      const { broker, sentSecrets } = basicBroker(false);

      // Act
      await brokerErrorOf(broker.getToken({ client: 'shop' }));

      // Assess
      expect(sentSecrets()).toHaveLength(2);
    });
  });

  describe('a token request Lambda froze in flight (a refresh-ahead left running after the handler returned)', () => {
    const HOUR_MS = 3_600_000;
    const notAnswering = () =>
      new BrokerError('upstream_unavailable', 'The authorization server of client shop is not answering in time');

    /** Two instances of one fleet: brokers over one shared table, one authorization server. */
    function fleet() {
      const table = new FakeSharedStore();
      const server = fakeAuthorizationServer();
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
      const telemetry = recordingTelemetry();
      const instance = (id: string) =>
        new TokenBroker(brokerConfig([{ name: 'shop', clientSecret: { secretId: 'shop/m2m-client' } }]), {
          secrets: new SecretStore(reader, { ttlMs: 300_000, now }),
          cache: new TokenCache({ now, shared: table, instanceId: id }),
          requestToken: server.requestToken,
          telemetry,
          now,
        });
      return { table, server, telemetry, a: instance('a'), b: instance('b') };
    }

    it('is made once more on thaw, not recorded as the server failing for the fleet', async () => {
      // Prepare: on A, a refresh-ahead whose request fails only when the instance thaws, 2 h later.
      const { table, server, telemetry, a, b } = fleet();
      await a.getToken({ client: 'shop' });
      vi.advanceTimersByTime(0.75 * HOUR_MS + 1);
      server.requestToken.mockImplementationOnce(
        () => new Promise((_, reject) => setTimeout(() => reject(notAnswering()), 2 * HOUR_MS)),
      );
      const ahead = a.getToken({ client: 'shop' });
      await vi.advanceTimersByTimeAsync(250);
      await ahead;

      // Act: freeze, thaw (the request's timeout fires), then requests on both instances.
      await vi.advanceTimersByTimeAsync(2 * HOUR_MS);
      const onA = await a.getToken({ client: 'shop' });
      const onB = await b.getToken({ client: 'shop' });

      // Assess
      expect(onA.accessToken).toBe('shop-token-2');
      expect(onB.accessToken).toBe('shop-token-2');
      expect(table.count('recordFailure')).toBe(0);
      expect(telemetry.events.filter((e) => e.event === 'upstreamFailed')).toEqual([]);
      expect(server.requestToken).toHaveBeenCalledTimes(3);
    });

    it('control: a request that fails within its deadline is the server failing, recorded for the fleet and reported', async () => {
      // Prepare
      const { table, server, telemetry, a } = fleet();
      await a.getToken({ client: 'shop' });
      vi.advanceTimersByTime(0.75 * HOUR_MS + 1);
      server.requestToken.mockImplementationOnce(
        () => new Promise((_, reject) => setTimeout(() => reject(notAnswering()), 10_000)),
      );

      // Act
      const ahead = a.getToken({ client: 'shop' });
      await vi.advanceTimersByTimeAsync(10_000);
      await ahead;

      // Assess
      expect(table.count('recordFailure')).toBe(1);
      expect(telemetry.events.filter((e) => e.event === 'upstreamFailed')).toHaveLength(1);
      expect(server.requestToken).toHaveBeenCalledTimes(2);
    });

    it('counts the lifetime from when the request went out, not from when its answer was read', async () => {
      // Prepare: an opaque token, answered at once but read 50 min later (the instance froze).
      const { server, broker: a } = setUp({
        clients: [{ name: 'shop', clientSecret: { secretId: 'shop/m2m-client' } }],
      });
      await a.getToken({ client: 'shop' });
      vi.advanceTimersByTime(0.75 * HOUR_MS + 1);
      let answer: () => void = () => {};
      server.requestToken.mockImplementationOnce(
        () =>
          new Promise((resolve) => {
            answer = () =>
              resolve({ accessToken: 'opaque-2', tokenType: 'Bearer', expiresInSeconds: 3600, scope: 'read' });
          }),
      );
      const ahead = a.getToken({ client: 'shop' });
      await vi.advanceTimersByTimeAsync(250);
      await ahead;
      const sentAt = now() - 250;

      // Act: the answer is read at thaw; a request comes a minute after the token's real expiry.
      vi.setSystemTime(sentAt + 50 * 60_000);
      answer();
      await vi.advanceTimersByTimeAsync(0);
      vi.setSystemTime(sentAt + HOUR_MS + 60_000);
      const served = await a.getToken({ client: 'shop' });

      // Assess: not the expired opaque token, which a lifetime counted from the thaw would still serve.
      expect(served.accessToken).not.toBe('opaque-2');
      expect(served.expiresAt * 1000).toBeGreaterThan(now());
    });
  });

  describe('a freshness requirement (minTtlSeconds)', () => {
    it('serves a token with at least that long left, obtaining a new one when the cached one is older', async () => {
      // Prepare
      const { broker, server } = setUp();
      await broker.getToken({ client: 'shop' });
      vi.advanceTimersByTime(50 * 60_000);

      // Act: ten minutes left, fifteen asked for.
      const token = await broker.getToken({ client: 'shop', minTtlSeconds: 900 });

      // Assess
      expect(token).toMatchObject({ source: 'fetched', expiresIn: 3600 });
      expect(server.requestToken).toHaveBeenCalledTimes(2);
    });

    it("refuses more than the client's maxMinTtlSeconds with invalid_request naming it", async () => {
      // Prepare
      const { broker, server } = setUp();

      // Act
      const error = await brokerErrorOf(broker.getToken({ client: 'shop', minTtlSeconds: 901 }));

      // Assess
      expect(error.code).toBe('invalid_request');
      expect(error.description).toContain('maxMinTtlSeconds');
      expect(server.requestToken).not.toHaveBeenCalled();
    });
  });

  describe('Method: warmUp', () => {
    it('refreshes every client, reports a failing one, and does not throw', async () => {
      // Prepare
      const { broker, server } = setUp();
      server.requestToken.mockImplementation(async (client, _secret, scopes) => {
        if (client.name === 'billing') throw new BrokerError('upstream_unavailable', 'down');
        return { accessToken: 'shop-token', tokenType: 'Bearer', expiresInSeconds: 3600, scope: scopes.join(' ') };
      });

      // Act
      const summary = await broker.warmUp(LOOK_AHEAD_SECONDS);

      // Assess
      expect(summary).toMatchObject({ refreshed: 1, fresh: 0, failed: 1 });
      expect(summary.keys).toEqual(
        expect.arrayContaining([
          { client: 'shop', scope: 'read write', status: 'refreshed', expiresAt: Math.floor(Date.now() / 1000) + 3600 },
          { client: 'billing', scope: 'invoices', status: 'failed', error: 'upstream_unavailable' },
        ]),
      );
    });

    it('leaves fresh tokens alone', async () => {
      // Prepare
      const { broker, server } = setUp();
      const first = await broker.warmUp(LOOK_AHEAD_SECONDS);
      vi.advanceTimersByTime(60_000);

      // Act
      const second = await broker.warmUp(LOOK_AHEAD_SECONDS);

      // Assess
      expect(first).toMatchObject({ refreshed: 2, fresh: 0, failed: 0 });
      expect(second).toMatchObject({ refreshed: 0, fresh: 2, failed: 0 });
      expect(server.requestToken).toHaveBeenCalledTimes(2);
    });

    it('refreshes tokens that reach their refresh point within the look-ahead', async () => {
      // Prepare
      const { broker, server } = setUp();
      await broker.warmUp(LOOK_AHEAD_SECONDS);
      vi.advanceTimersByTime(2700_000 - LOOK_AHEAD_SECONDS * 1000);

      // Act
      const summary = await broker.warmUp(LOOK_AHEAD_SECONDS);

      // Assess
      expect(summary).toMatchObject({ refreshed: 2, fresh: 0, failed: 0 });
      expect(server.requestToken).toHaveBeenCalledTimes(4);
    });

    it('counts a client served a stale token as failed', async () => {
      // Prepare
      const { broker, server } = setUp({ clients: [{ name: 'shop', clientSecret: { secretId: 'shop/m2m-client' } }] });
      await broker.warmUp(LOOK_AHEAD_SECONDS);
      vi.advanceTimersByTime(3000_000);
      server.requestToken.mockRejectedValueOnce(new BrokerError('upstream_unavailable', 'down'));

      // Act
      const summary = await broker.warmUp(LOOK_AHEAD_SECONDS);

      // Assess
      expect(summary).toEqual({
        refreshed: 0,
        fresh: 0,
        failed: 1,
        deferred: 0,
        keys: [{ client: 'shop', scope: 'read write', status: 'failed', error: 'upstream_unavailable' }],
      });
    });
  });
});
