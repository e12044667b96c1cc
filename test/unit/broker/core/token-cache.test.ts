import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import {
  type CachedToken,
  type CacheRequest,
  type CacheTelemetry,
  TokenCache,
  type TokenCacheOptions,
} from '../../../../lambda/broker/core/token-cache.ts';
import { FakeSharedStore } from '../support/fake-shared-store.ts';

const HOUR_MS = 3_600_000;
const REFRESH_POINT_MS = 0.75 * HOUR_MS;
const now = () => Date.now();

/** A one-hour token obtained now, refreshed after 75% of its lifetime. */
function hourToken(accessToken: string): CachedToken {
  const obtainedAt = now();
  return {
    accessToken,
    tokenType: 'Bearer',
    scope: 'read',
    obtainedAt,
    refreshAt: obtainedAt + REFRESH_POINT_MS,
    expiresAt: obtainedAt + HOUR_MS,
  };
}

/**
 * The authorization server as the cache sees it: numbered tokens, an optional delay per answer
 * (on the fake clock), and a failure to throw while `failing` is set.
 */
function authorizationServer(options: { delayMs?: number } = {}) {
  const server = {
    calls: 0,
    delayMs: options.delayMs ?? 0,
    failing: undefined as Error | undefined,
    fetch: async (): Promise<CachedToken> => {
      server.calls++;
      const n = server.calls;
      if (server.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, server.delayMs));
      if (server.failing) throw server.failing;
      return hourToken(`token-${n}`);
    },
  };
  return server;
}

type Server = ReturnType<typeof authorizationServer>;

function request(server: Server, overrides: Partial<CacheRequest> = {}): CacheRequest {
  return {
    key: 'shop-read',
    descriptor: { client: 'shop', scopes: ['read'] },
    fetch: server.fetch,
    attemptMs: 5_000,
    waitMs: 15_000,
    ...overrides,
  };
}

function recordingTelemetry() {
  const events: string[] = [];
  const telemetry: CacheTelemetry = {
    sharedTierFailed: (operation) => events.push(`sharedTierFailed:${operation}`),
    tokenTooLarge: (client) => events.push(`tokenTooLarge:${client}`),
  };
  return { events, telemetry };
}

function cache(options: TokenCacheOptions = {}): TokenCache {
  return new TokenCache({ now, ...options });
}

const unavailable = (retryAfterSeconds?: number) =>
  new BrokerError('upstream_unavailable', 'The authorization server of client shop kept failing (HTTP 500)', {
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });

const rejected = () =>
  new BrokerError('upstream_rejected', 'The authorization server rejected the credentials of client shop', {
    rejection: 'credentials_rejected',
  });

describe('Class: TokenCache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('in one instance (memory only)', () => {
    it('fetches a token on the first request', async () => {
      // Prepare
      const server = authorizationServer();

      // Act
      const result = await cache().get(request(server));

      // Assess
      expect(result).toMatchObject({ source: 'fetched', token: { accessToken: 'token-1' } });
    });

    it('serves the token from memory before its refresh point, without asking the server', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache();
      await tokens.get(request(server));
      vi.advanceTimersByTime(REFRESH_POINT_MS - 1);

      // Act
      const result = await tokens.get(request(server));

      // Assess
      expect(result).toMatchObject({ source: 'memory', token: { accessToken: 'token-1' } });
      expect(server.calls).toBe(1);
    });

    it('keeps one token per key', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache();

      // Act
      const shop = await tokens.get(request(server));
      const billing = await tokens.get(request(server, { key: 'billing-read' }));

      // Assess
      expect([shop.token.accessToken, billing.token.accessToken]).toEqual(['token-1', 'token-2']);
    });

    it('makes one token request for many concurrent first requests', async () => {
      // Prepare
      const server = authorizationServer({ delayMs: 100 });
      const tokens = cache();

      // Act
      const results = Promise.all(Array.from({ length: 50 }, () => tokens.get(request(server))));
      await vi.advanceTimersByTimeAsync(100);

      // Assess
      expect(new Set((await results).map((r) => r.token.accessToken))).toEqual(new Set(['token-1']));
      expect(server.calls).toBe(1);
    });
  });

  describe('a token too short-lived to cache (ephemeral)', () => {
    const shortLived = (server: Server) => async (): Promise<CachedToken> => ({
      ...(await server.fetch()),
      expiresAt: now() + 3_000,
      refreshAt: now() + 2_250,
      ephemeral: true,
    });

    it('serves it to the request that fetched it, and fetches again for the next one', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache();

      // Act
      const first = await tokens.get(request(server, { fetch: shortLived(server) }));
      const second = await tokens.get(request(server, { fetch: shortLived(server) }));

      // Assess
      expect(first).toMatchObject({ source: 'fetched', token: { accessToken: 'token-1' } });
      expect(second).toMatchObject({ source: 'fetched', token: { accessToken: 'token-2' } });
    });

    it('serves it to every request that waited for the same fetch', async () => {
      // Prepare
      const server = authorizationServer({ delayMs: 100 });
      const tokens = cache();

      // Act
      const all = Promise.all(
        Array.from({ length: 3 }, () => tokens.get(request(server, { fetch: shortLived(server) }))),
      );
      await vi.advanceTimersByTimeAsync(100);

      // Assess
      expect((await all).map((r) => r.token.accessToken)).toEqual(['token-1', 'token-1', 'token-1']);
      expect(server.calls).toBe(1);
    });

    it('neither commits it to the shared tier nor keeps the lease: the next instance fetches at once', async () => {
      // Prepare
      const table = new FakeSharedStore();
      const server = authorizationServer();

      // Act
      const first = await cache({ shared: table, instanceId: 'a' }).get(request(server, { fetch: shortLived(server) }));
      const other = await cache({ shared: table, instanceId: 'b' }).get(request(server, { fetch: shortLived(server) }));

      // Assess
      expect(first.token.accessToken).toBe('token-1');
      expect(other).toMatchObject({ source: 'fetched', token: { accessToken: 'token-2' } });
      expect(table.count('commit')).toBe(0);
      expect(table.count('release')).toBe(2);
      expect((await table.read('shop-read'))?.lease).toBeUndefined();
    });
  });

  describe('refresh-ahead', () => {
    it('answers at once with the current token while a slow refresh runs, and serves the new one after', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache({ refreshWaitMs: 250 });
      await tokens.get(request(server));
      vi.advanceTimersByTime(REFRESH_POINT_MS);
      server.delayMs = 8_000;

      // Act: the first request starts the refresh and waits at most 250 ms; the others not at all.
      const refresher = tokens.get(request(server));
      const others = await Promise.all(Array.from({ length: 20 }, () => tokens.get(request(server))));
      await vi.advanceTimersByTimeAsync(250);
      const first = await refresher;

      // Assess
      expect(first).toMatchObject({ source: 'memory', token: { accessToken: 'token-1' } });
      expect(others.every((r) => r.token.accessToken === 'token-1' && r.source === 'memory')).toBe(true);
      expect(server.calls).toBe(2);

      // Act: the refresh goes on and lands.
      await vi.advanceTimersByTimeAsync(8_000);
      const after = await tokens.get(request(server));

      // Assess
      expect(after).toMatchObject({ source: 'memory', token: { accessToken: 'token-2' } });
      expect(server.calls).toBe(2);
    });

    it('gives the refresher the new token when the refresh is quick', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache({ refreshWaitMs: 250 });
      await tokens.get(request(server));
      vi.advanceTimersByTime(REFRESH_POINT_MS);
      server.delayMs = 100;

      // Act
      const result = tokens.get(request(server));
      await vi.advanceTimersByTimeAsync(100);

      // Assess
      expect(await result).toMatchObject({ source: 'fetched', token: { accessToken: 'token-2' } });
    });
  });

  describe('failures', () => {
    it('serves the still-valid token as stale when its refresh fails, and does not retry during the cool-down', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache();
      await tokens.get(request(server));
      vi.advanceTimersByTime(REFRESH_POINT_MS);
      server.failing = unavailable();

      // Act
      const first = await tokens.get(request(server));
      const during = await tokens.get(request(server));
      vi.advanceTimersByTime(10_000);
      server.failing = undefined;
      const after = await tokens.get(request(server));

      // Assess
      expect(first).toMatchObject({ source: 'stale', token: { accessToken: 'token-1' } });
      expect(during).toMatchObject({ source: 'stale', token: { accessToken: 'token-1' } });
      expect(after.token.accessToken).toBe('token-3');
      expect(server.calls).toBe(3);
    });

    it('with no usable token, remembers the failure: later requests get the error at once, with Retry-After', async () => {
      // Prepare
      const server = authorizationServer();
      server.failing = unavailable();
      const tokens = cache();

      // Act
      const errors: BrokerError[] = [];
      for (let i = 0; i < 30; i++) {
        errors.push(
          await tokens.get(request(server)).then(
            () => expect.fail('served'),
            (e: BrokerError) => e,
          ),
        );
        vi.advanceTimersByTime(100);
      }

      // Assess: one token request for thirty callers within the 10 s cool-down.
      expect(server.calls).toBe(1);
      expect(errors.every((e) => e.code === 'upstream_unavailable')).toBe(true);
      expect(errors[1]?.retryAfterSeconds).toBe(10);
      expect(errors[29]?.retryAfterSeconds).toBe(8);
    });

    it("honours the server's Retry-After for the cool-down, up to five minutes", async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache();

      // Act
      server.failing = unavailable(120);
      await tokens.get(request(server)).catch(() => {});
      vi.advanceTimersByTime(119_000);
      const during = await tokens.get(request(server)).catch((e: BrokerError) => e);
      vi.advanceTimersByTime(1_000);
      server.failing = unavailable(3_600);
      await tokens.get(request(server)).catch(() => {});
      vi.advanceTimersByTime(300_000 - 1);
      const cappedDuring = await tokens.get(request(server)).catch((e: BrokerError) => e);
      vi.advanceTimersByTime(1);
      server.failing = undefined;
      const after = await tokens.get(request(server));

      // Assess
      expect(during).toMatchObject({ code: 'upstream_unavailable', retryAfterSeconds: 1 });
      expect(cappedDuring).toMatchObject({ code: 'upstream_unavailable' });
      expect(after.source).toBe('fetched');
      expect(server.calls).toBe(3);
    });

    it('remembers a rejection for a shorter cool-down', async () => {
      // Prepare
      const server = authorizationServer();
      server.failing = rejected();
      const tokens = cache();
      await tokens.get(request(server)).catch(() => {});

      // Act
      vi.advanceTimersByTime(4_999);
      const during = await tokens.get(request(server)).catch((e: BrokerError) => e);
      vi.advanceTimersByTime(1);
      const after = await tokens.get(request(server)).catch((e: BrokerError) => e);

      // Assess
      expect(during).toMatchObject({ code: 'upstream_rejected' });
      expect(after).toMatchObject({ code: 'upstream_rejected' });
      expect(server.calls).toBe(2);
    });

    it('does not remember failures that are not the authorization server’s', async () => {
      // Prepare
      const server = authorizationServer();
      server.failing = new BrokerError('internal_error', 'Secret shop/m2m has no AWSCURRENT version');
      const tokens = cache();

      // Act
      await tokens.get(request(server)).catch(() => {});
      await tokens.get(request(server)).catch(() => {});

      // Assess
      expect(server.calls).toBe(2);
    });

    it('never serves a token with less than a second left, whatever its lifetime', async () => {
      // Prepare: an 8 s token, whose 10% margin would be 0.8 s.
      const server = authorizationServer();
      const fetch = async (): Promise<CachedToken> => ({
        ...(await server.fetch()),
        expiresAt: now() + 8_000,
        refreshAt: now() + 6_000,
      });
      const tokens = cache();
      await tokens.get(request(server, { fetch }));
      vi.advanceTimersByTime(7_100);
      server.delayMs = 1_000;

      // Act: a slow refresh; refresh-ahead would answer at once with a usable token.
      const outcome = tokens.get(request(server, { fetch }));
      await vi.advanceTimersByTimeAsync(1_000);

      // Assess
      expect(await outcome).toMatchObject({ source: 'fetched', token: { accessToken: 'token-2' } });
    });

    it('throws when the refresh fails within the safety margin before expiry', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache();
      await tokens.get(request(server));
      vi.advanceTimersByTime(HOUR_MS - 29_000);
      server.failing = unavailable();

      // Act
      const outcome = tokens.get(request(server));

      // Assess
      await expect(outcome).rejects.toMatchObject({ code: 'upstream_unavailable' });
    });
  });

  describe('with a shared tier (a fleet)', () => {
    it('asks the authorization server once for the whole fleet, per refresh', async () => {
      // Prepare: 20 instances, each its own memory, one table.
      const table = new FakeSharedStore();
      const server = authorizationServer({ delayMs: 200 });
      const fleet = Array.from({ length: 20 }, (_, i) => cache({ shared: table, instanceId: `i-${i}` }));

      // Act: every instance serves 10 requests at once, cold.
      const first = Promise.all(fleet.flatMap((c) => Array.from({ length: 10 }, () => c.get(request(server)))));
      await vi.advanceTimersByTimeAsync(5_000);
      const firstResults = await first;
      // ... then again past the refresh point.
      vi.advanceTimersByTime(REFRESH_POINT_MS);
      const second = Promise.all(fleet.flatMap((c) => Array.from({ length: 10 }, () => c.get(request(server)))));
      await vi.advanceTimersByTimeAsync(5_000);
      const secondResults = await second;

      // Assess
      expect(new Set(firstResults.map((r) => r.token.accessToken))).toEqual(new Set(['token-1']));
      expect(server.calls).toBe(2);
      expect(secondResults.every((r) => r.token.accessToken === 'token-1' || r.token.accessToken === 'token-2')).toBe(
        true,
      );
      expect(secondResults.filter((r) => r.source === 'stale')).toEqual([]);
    });

    it('serves from memory, without asking the table again, while another instance holds the refresh lease', async () => {
      // Prepare: A and B hold the token; past its refresh point, A refreshes for 5 s under the lease.
      const table = new FakeSharedStore();
      const server = authorizationServer();
      const [a, b] = [cache({ shared: table, instanceId: 'a' }), cache({ shared: table, instanceId: 'b' })];
      await a.get(request(server));
      await b.get(request(server));
      vi.advanceTimersByTime(REFRESH_POINT_MS + 1);
      server.delayMs = 5_000;
      const ahead = a.get(request(server));
      await vi.advanceTimersByTimeAsync(250);
      await ahead;
      const [reads, leases] = [table.count('read'), table.count('acquireLease')];

      // Act: 100 requests on B over 2 s, while A's refresh runs.
      const sources: string[] = [];
      for (let i = 0; i < 100; i++) {
        const served = b.get(request(server));
        await vi.advanceTimersByTimeAsync(20);
        sources.push((await served).source);
      }

      // Assess: a look at the table a second at most, memory in between.
      expect(new Set(sources)).toEqual(new Set(['shared', 'memory']));
      expect(table.count('read') - reads).toBeLessThanOrEqual(3);
      expect(table.count('acquireLease') - leases).toBeLessThanOrEqual(3);
      expect(server.calls).toBe(2);
    });

    it("fills a new instance's memory from the shared tier, without a token request", async () => {
      // Prepare
      const table = new FakeSharedStore();
      const server = authorizationServer();
      await cache({ shared: table, instanceId: 'a' }).get(request(server));

      // Act
      const fresh = cache({ shared: table, instanceId: 'b' });
      const fromTable = await fresh.get(request(server));
      const fromMemory = await fresh.get(request(server));

      // Assess
      expect(fromTable).toMatchObject({ source: 'shared', token: { accessToken: 'token-1' } });
      expect(fromMemory.source).toBe('memory');
      expect(server.calls).toBe(1);
    });

    it('lets a caller with no token wait for the lease holder’s result instead of asking the server', async () => {
      // Prepare
      const table = new FakeSharedStore();
      const server = authorizationServer({ delayMs: 1_000 });
      const holder = cache({ shared: table, instanceId: 'holder' });
      const waiter = cache({ shared: table, instanceId: 'waiter' });

      // Act
      const held = holder.get(request(server));
      await vi.advanceTimersByTimeAsync(10);
      const waited = waiter.get(request(server));
      await vi.advanceTimersByTimeAsync(2_000);

      // Assess
      expect((await held).source).toBe('fetched');
      expect(await waited).toMatchObject({ source: 'shared', token: { accessToken: 'token-1' } });
      expect(server.calls).toBe(1);
    });

    it('takes the lease over when its holder died, once it expired', async () => {
      // Prepare: a holder that never comes back (its fetch never settles).
      const table = new FakeSharedStore(2_000);
      const server = authorizationServer();
      const dead = cache({ shared: table, instanceId: 'dead' });
      void dead.get(request(server, { attemptMs: 1_000, waitMs: 2_000, fetch: () => new Promise(() => {}) }));
      await vi.advanceTimersByTimeAsync(10);
      const survivor = cache({ shared: table, instanceId: 'survivor' });

      // Act
      const result = survivor.get(request(server, { attemptMs: 1_000, waitMs: 15_000 }));
      await vi.advanceTimersByTimeAsync(10_000);

      // Assess: renewed for its 2 s deadline, then 1 s attempt + 1 s margin + 2 s skew, then one request.
      expect(await result).toMatchObject({ source: 'fetched', token: { accessToken: 'token-1' } });
      expect(server.calls).toBe(1);
    });

    it('answers 503 with Retry-After when too little invocation time is left to take over', async () => {
      // Prepare
      const table = new FakeSharedStore(0);
      const server = authorizationServer();
      void cache({ shared: table, instanceId: 'dead' }).get(
        request(server, { attemptMs: 1_000, waitMs: 2_000, fetch: () => new Promise(() => {}) }),
      );
      await vi.advanceTimersByTimeAsync(10);

      // Act
      const outcome = cache({ shared: table, instanceId: 'late' })
        .get(request(server), () => 2_000)
        .catch((e: BrokerError) => e);
      await vi.advanceTimersByTimeAsync(10_000);

      // Assess
      expect(await outcome).toMatchObject({ code: 'upstream_unavailable', retryAfterSeconds: 1 });
      expect(server.calls).toBe(0);
    });

    it('fences a holder whose lease was taken over: its late token never overwrites the newer one', async () => {
      // Prepare: the old holder stalls past its lease; another instance takes over and commits.
      const table = new FakeSharedStore(0);
      const server = authorizationServer();
      let releaseOld: (token: CachedToken) => void = () => {};
      const old = cache({ shared: table, instanceId: 'old' });
      const oldResult = old.get(
        request(server, {
          attemptMs: 1_000,
          waitMs: 1_000,
          fetch: () => new Promise((resolve) => (releaseOld = resolve)),
        }),
      );
      await vi.advanceTimersByTimeAsync(5_000);
      const taker = await cache({ shared: table, instanceId: 'taker' }).get(request(server, { attemptMs: 1_000 }));
      const stale: CachedToken = { ...hourToken('old-holder-token'), expiresAt: now() + HOUR_MS - 60_000 };

      // Act
      releaseOld(stale);
      const oldServed = await oldResult;
      const inTable = await table.read('shop-read');

      // Assess
      expect(taker.token.accessToken).toBe('token-1');
      expect(inTable?.token?.accessToken).toBe('token-1');
      expect(oldServed).toMatchObject({ source: 'shared', token: { accessToken: 'token-1' } });
    });

    it('shares a failed refresh: another instance answers the recorded error at once, without asking', async () => {
      // Prepare
      const table = new FakeSharedStore();
      const server = authorizationServer();
      server.failing = unavailable(30);
      await cache({ shared: table, instanceId: 'a' })
        .get(request(server))
        .catch(() => {});

      // Act
      const outcome = await cache({ shared: table, instanceId: 'b' })
        .get(request(server))
        .catch((e: BrokerError) => e);

      // Assess
      expect(outcome).toMatchObject({ code: 'upstream_unavailable', retryAfterSeconds: 30 });
      expect(server.calls).toBe(1);
    });

    it('gives the lease up after a failure it does not remember, so the next instance need not wait', async () => {
      // Prepare
      const table = new FakeSharedStore();
      const server = authorizationServer();
      server.failing = new BrokerError('internal_error', 'Secret shop/m2m has no AWSCURRENT version');
      await cache({ shared: table, instanceId: 'a' })
        .get(request(server))
        .catch(() => {});
      server.failing = undefined;

      // Act
      const other = await cache({ shared: table, instanceId: 'b' }).get(request(server));

      // Assess
      expect(other).toMatchObject({ source: 'fetched', token: { accessToken: 'token-2' } });
      expect(table.count('release')).toBe(1);
    });

    it('falls back to memory and the server when the shared tier fails, and reports it once per cool-down', async () => {
      // Prepare
      const table = new FakeSharedStore();
      table.failing = Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
      const server = authorizationServer();
      const { events, telemetry } = recordingTelemetry();
      const tokens = cache({ shared: table, telemetry });

      // Act
      const first = await tokens.get(request(server));
      const second = await tokens.get(request(server, { key: 'other' }));

      // Assess
      expect([first.source, second.source]).toEqual(['fetched', 'fetched']);
      expect(events).toEqual(['sharedTierFailed:read']);
    });

    it('keeps a token too large for the shared tier in memory, and says so', async () => {
      // Prepare
      const table = new FakeSharedStore();
      table.maxTokenLength = 3;
      const server = authorizationServer();
      const { events, telemetry } = recordingTelemetry();
      const tokens = cache({ shared: table, telemetry });

      // Act
      await tokens.get(request(server));
      const again = await tokens.get(request(server));

      // Assess
      expect(again.source).toBe('memory');
      expect(events).toEqual(['tokenTooLarge:shop']);
      expect((await table.read('shop-read'))?.token).toBeUndefined();
    });

    it('records when a key was last served, at most once a minute per instance', async () => {
      // Prepare
      const table = new FakeSharedStore();
      const server = authorizationServer();
      const tokens = cache({ shared: table });

      // Act
      for (let i = 0; i < 10; i++) await tokens.get(request(server));
      vi.advanceTimersByTime(60_000);
      await tokens.get(request(server));

      // Assess
      expect(table.count('touch')).toBe(2);
      expect(await tokens.recentlyServed(now() - 1_000, 10)).toMatchObject([
        { key: 'shop-read', client: 'shop', scopes: ['read'] },
      ]);
    });

    it('keeps using the shared tier after a failed record of the last use (a call Lambda froze in flight)', async () => {
      // Prepare: instance a's record of the last use fails just before the refresh point, as a
      // call still in flight when Lambda freezes the environment times out when it thaws.
      const table = new FakeSharedStore();
      const server = authorizationServer();
      const { events, telemetry } = recordingTelemetry();
      const a = cache({ shared: table, instanceId: 'a', telemetry });
      const b = cache({ shared: table, instanceId: 'b' });
      await a.get(request(server));
      await b.get(request(server));
      vi.advanceTimersByTime(REFRESH_POINT_MS - 10_000);
      const touch = table.touch.bind(table);
      table.touch = () => Promise.reject(Object.assign(new Error('Request timed out'), { name: 'TimeoutError' }));
      await a.get(request(server));
      await vi.advanceTimersByTimeAsync(10_000);
      table.touch = touch;
      await b.get(request(server));

      // Act
      const refreshed = await a.get(request(server));

      // Assess
      expect(refreshed).toMatchObject({ source: 'shared', token: { accessToken: 'token-2' } });
      expect(server.calls).toBe(2);
      expect(events).toEqual([]);
    });
  });

  describe('an instance Lambda froze with a shared-tier call in flight', () => {
    /** A refresh-ahead whose table read is in flight when the handler returns and Lambda freezes. */
    async function frozenDuringRead(frozenMs: number) {
      const table = new FakeSharedStore();
      const server = authorizationServer();
      const { events, telemetry } = recordingTelemetry();
      const tokens = cache({ shared: table, telemetry });
      await tokens.get(request(server));
      vi.advanceTimersByTime(REFRESH_POINT_MS + 1);
      const read = table.read.bind(table);
      // The SDK's request timer fires as soon as the environment thaws: the call fails then.
      table.read = () =>
        new Promise((_, reject) =>
          setTimeout(() => reject(Object.assign(new Error('Request timed out'), { name: 'TimeoutError' })), frozenMs),
        );
      const served = tokens.get(request(server));
      await vi.advanceTimersByTimeAsync(250);
      expect(await served).toMatchObject({ source: 'memory', token: { accessToken: 'token-1' } });
      await vi.advanceTimersByTimeAsync(frozenMs);
      table.read = read;
      const readsBefore = table.count('read');
      await tokens.get(request(server, { key: 'other', descriptor: { client: 'shop', scopes: ['write'] } }));
      return { events, readsAfterThaw: table.count('read') - readsBefore };
    }

    it('keeps using the tier and reports nothing when the call failed only after the freeze', async () => {
      // Act: frozen for five minutes.
      const { events, readsAfterThaw } = await frozenDuringRead(300_000);

      // Assess: the next key's refresh reads the table.
      expect(events).toEqual([]);
      expect(readsAfterThaw).toBe(1);
    });

    it('still bypasses the tier for a call that failed within its bounds (control)', async () => {
      // Act: a call that failed after two seconds, as a hung table does.
      const { events, readsAfterThaw } = await frozenDuringRead(2_000);

      // Assess
      expect(events).toEqual(['sharedTierFailed:read']);
      expect(readsAfterThaw).toBe(0);
    });
  });

  describe("a caller's freshness requirement (min TTL)", () => {
    it('serves the cached token while it lives long enough, and gets a new one when it does not', async () => {
      // Prepare: a one-hour token with twenty minutes left, before its refresh point.
      const server = authorizationServer();
      const tokens = cache();
      await tokens.get(request(server));
      vi.advanceTimersByTime(40 * 60_000);

      // Act
      const enough = await tokens.get(request(server), undefined, 15 * 60_000);
      const longer = await tokens.get(request(server), undefined, 25 * 60_000);

      // Assess
      expect(enough).toMatchObject({ source: 'memory', token: { accessToken: 'token-1' } });
      expect(longer).toMatchObject({ source: 'fetched', token: { accessToken: 'token-2' } });
    });

    it('answers 502 naming both lifetimes when even a new token cannot meet it', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache();

      // Act
      const outcome = tokens.get(request(server), undefined, 2 * HOUR_MS);

      // Assess
      await expect(outcome).rejects.toMatchObject({
        code: 'upstream_rejected',
        description:
          'A token with 7200 s left was asked for, but the authorization server issues tokens that live 3600 s',
      });
    });

    it("takes a long-enough token from the fleet's table without a token request", async () => {
      // Prepare
      const table = new FakeSharedStore();
      const server = authorizationServer();
      await cache({ shared: table, instanceId: 'a' }).get(request(server));

      // Act
      const result = await cache({ shared: table, instanceId: 'b' }).get(request(server), undefined, 30 * 60_000);

      // Assess
      expect(result).toMatchObject({ source: 'shared', token: { accessToken: 'token-1' } });
      expect(server.calls).toBe(1);
    });
  });

  describe('Method: refreshIfDue (the warm-up)', () => {
    it('refreshes a token that reaches its refresh point before the look-ahead ends, and leaves others', async () => {
      // Prepare
      const table = new FakeSharedStore();
      const server = authorizationServer();
      const tokens = cache({ shared: table });
      await tokens.get(request(server));
      vi.advanceTimersByTime(REFRESH_POINT_MS - 600_000);

      // Act
      const notDue = await tokens.refreshIfDue(request(server), now() + 300_000);
      const due = await tokens.refreshIfDue(request(server), now() + 900_000);
      const served = await tokens.get(request(server));

      // Assess
      expect(notDue.outcome).toBe('fresh');
      expect(due.outcome).toBe('refreshed');
      expect(served).toMatchObject({ source: 'memory', token: { accessToken: 'token-2' } });
    });

    it('lists the keys served in this instance when there is no shared tier', async () => {
      // Prepare
      const server = authorizationServer();
      const tokens = cache();
      await tokens.get(request(server));
      vi.advanceTimersByTime(120_000);
      await tokens.get(request(server, { key: 'billing', descriptor: { client: 'billing', scopes: [] } }));

      // Act
      const recent = await tokens.recentlyServed(now() - 60_000, 10);

      // Assess
      expect(recent.map((k) => k.client)).toEqual(['billing']);
    });
  });
});
