import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type CachedToken,
  MemoryTokenStore,
  safetyMarginMs,
  TokenCache,
  type TokenStore,
} from '../../../../lambda/broker/core/token-cache.ts';

const HOUR_MS = 3_600_000;
const now = () => Date.now();

/** A one-hour token obtained now, refreshed after 75% of its lifetime. */
function hourToken(accessToken: string): CachedToken {
  const obtainedAt = now();
  return {
    accessToken,
    tokenType: 'Bearer',
    scope: 'read',
    obtainedAt,
    refreshAt: obtainedAt + 0.75 * HOUR_MS,
    expiresAt: obtainedAt + HOUR_MS,
  };
}

/** A token source that numbers its tokens, or fails while `failing` is set. */
function tokenSource() {
  const source = {
    calls: 0,
    failing: undefined as Error | undefined,
    fetch: async (): Promise<CachedToken> => {
      source.calls++;
      if (source.failing) throw source.failing;
      return hourToken(`token-${source.calls}`);
    },
  };
  return source;
}

describe('Class: TokenCache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses to work without a store', () => {
    // Act & Assess
    expect(() => new TokenCache({ stores: [], now })).toThrow('at least one store');
  });

  it('fetches a token on the first request', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result.source).toBe('fetched');
    expect(result.token.accessToken).toBe('token-1');
  });

  it('returns the cached token before its refresh point', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(0.75 * HOUR_MS - 1);

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result).toMatchObject({ source: 'cache', token: { accessToken: 'token-1' } });
    expect(source.calls).toBe(1);
  });

  it('fetches a new token once the refresh point has passed', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(0.75 * HOUR_MS);

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result).toMatchObject({ source: 'fetched', token: { accessToken: 'token-2' } });
    expect(source.calls).toBe(2);
  });

  it('keeps one token per key', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();
    await cache.get('shop', source.fetch);

    // Act
    const other = await cache.get('billing', source.fetch);
    const first = await cache.get('shop', source.fetch);

    // Assess
    expect(other.token.accessToken).toBe('token-2');
    expect(first).toMatchObject({ source: 'cache', token: { accessToken: 'token-1' } });
  });

  it('shares one fetch among concurrent requests for the same key', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();

    // Act
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => cache.get('shop', source.fetch)));

    // Assess
    expect(source.calls).toBe(1);
    expect(new Set(results.map((r) => r.token.accessToken))).toEqual(new Set(['token-1']));
  });

  it('shares one failure among concurrent requests, and does not cache it', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();
    source.failing = new Error('authorization server down');

    // Act
    const outcomes = await Promise.allSettled([cache.get('shop', source.fetch), cache.get('shop', source.fetch)]);
    source.failing = undefined;
    const next = await cache.get('shop', source.fetch);

    // Assess
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(next).toMatchObject({ source: 'fetched', token: { accessToken: 'token-2' } });
    expect(source.calls).toBe(2);
  });

  it('serves the current token as stale when a refresh fails while it is still valid', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(0.9 * HOUR_MS);
    const failure = new Error('authorization server down');
    source.failing = failure;

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result).toMatchObject({ source: 'stale', token: { accessToken: 'token-1' } });
    expect(result.refreshError).toBe(failure);
  });

  it('serves the stale token at once, without a new attempt, during the cool-down after a failed refresh', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now, refreshCooldownMs: 10_000 });
    const source = tokenSource();
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(0.9 * HOUR_MS);
    const failure = new Error('authorization server down');
    source.failing = failure;
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(9_000);

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result).toMatchObject({ source: 'stale', token: { accessToken: 'token-1' }, refreshError: failure });
    expect(source.calls).toBe(2);
  });

  it('tries to refresh again on the first request after the cool-down', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now, refreshCooldownMs: 10_000 });
    const source = tokenSource();
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(0.9 * HOUR_MS);
    source.failing = new Error('authorization server down');
    await cache.get('shop', source.fetch);
    source.failing = undefined;
    vi.advanceTimersByTime(10_000);

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result).toMatchObject({ source: 'fetched', token: { accessToken: 'token-3' } });
  });

  it('tries to refresh during the cool-down once the current token is no longer usable', async () => {
    // Prepare: a refresh fails 3 s before the safety margin; the cool-down outlasts the token.
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now, refreshCooldownMs: 60_000 });
    const source = tokenSource();
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(HOUR_MS - 30_000 - 3_000);
    source.failing = new Error('authorization server down');
    await cache.get('shop', source.fetch);
    source.failing = undefined;
    vi.advanceTimersByTime(5_000);

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result).toMatchObject({ source: 'fetched', token: { accessToken: 'token-3' } });
  });

  it('throws when a refresh fails within the safety margin before expiry', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(HOUR_MS - 30_000);
    source.failing = new Error('authorization server down');

    // Act
    const outcome = cache.get('shop', source.fetch);

    // Assess
    await expect(outcome).rejects.toThrow('authorization server down');
  });

  it('throws when a refresh fails after the token expired', async () => {
    // Prepare
    const cache = new TokenCache({ stores: [new MemoryTokenStore(now)], now });
    const source = tokenSource();
    await cache.get('shop', source.fetch);
    vi.advanceTimersByTime(HOUR_MS + 1);
    source.failing = new Error('authorization server down');

    // Act
    const outcome = cache.get('shop', source.fetch);

    // Assess
    await expect(outcome).rejects.toThrow('authorization server down');
  });

  it('serves a token found only in a farther tier and copies it into the nearer one', async () => {
    // Prepare
    const near = new MemoryTokenStore(now);
    const far = new MemoryTokenStore(now);
    await far.set('shop', hourToken('shared-token'));
    const cache = new TokenCache({ stores: [near, far], now });
    const source = tokenSource();

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result).toMatchObject({ source: 'cache', token: { accessToken: 'shared-token' } });
    expect(source.calls).toBe(0);
    expect((await near.get('shop'))?.accessToken).toBe('shared-token');
  });

  it('prefers a fresher token of a farther tier over a nearer one past its refresh point', async () => {
    // Prepare
    const near = new MemoryTokenStore(now);
    const far = new MemoryTokenStore(now);
    await near.set('shop', hourToken('old-token'));
    vi.advanceTimersByTime(0.8 * HOUR_MS);
    await far.set('shop', hourToken('new-token'));
    const cache = new TokenCache({ stores: [near, far], now });
    const source = tokenSource();

    // Act
    const result = await cache.get('shop', source.fetch);

    // Assess
    expect(result).toMatchObject({ source: 'cache', token: { accessToken: 'new-token' } });
    expect(source.calls).toBe(0);
    expect((await near.get('shop'))?.accessToken).toBe('new-token');
  });

  it('stores a fetched token in every tier', async () => {
    // Prepare
    const near = new MemoryTokenStore(now);
    const far = new MemoryTokenStore(now);
    const cache = new TokenCache({ stores: [near, far], now });

    // Act
    await cache.get('shop', tokenSource().fetch);

    // Assess
    expect((await near.get('shop'))?.accessToken).toBe('token-1');
    expect((await far.get('shop'))?.accessToken).toBe('token-1');
  });

  it('does not read a farther tier while the nearer one has a fresh token', async () => {
    // Prepare
    const near = new MemoryTokenStore(now);
    const reads: string[] = [];
    const far: TokenStore = {
      get: async (key) => {
        reads.push(key);
        return undefined;
      },
      set: async () => {},
    };
    const cache = new TokenCache({ stores: [near, far], now });
    await near.set('shop', hourToken('near-token'));

    // Act
    const result = await cache.get('shop', tokenSource().fetch);

    // Assess
    expect(result.token.accessToken).toBe('near-token');
    expect(reads).toEqual([]);
  });
});

describe('Class: MemoryTokenStore', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns a stored token until it expires, then nothing', async () => {
    // Prepare
    const store = new MemoryTokenStore(now);
    await store.set('shop', hourToken('token-1'));

    // Act
    vi.advanceTimersByTime(HOUR_MS - 1);
    const before = await store.get('shop');
    vi.advanceTimersByTime(1);
    const after = await store.get('shop');

    // Assess
    expect(before?.accessToken).toBe('token-1');
    expect(after).toBeUndefined();
  });
});

describe('Function: safetyMarginMs', () => {
  it.each([
    [HOUR_MS, 30_000],
    [60_000, 6_000],
  ])('is min(30 s, 10%% of the lifetime) for a lifetime of %i ms', (lifetime, margin) => {
    // Prepare
    const token: CachedToken = {
      accessToken: 't',
      tokenType: 'Bearer',
      scope: '',
      obtainedAt: 0,
      refreshAt: lifetime * 0.75,
      expiresAt: lifetime,
    };

    // Act & Assess
    expect(safetyMarginMs(token)).toBe(margin);
  });
});
