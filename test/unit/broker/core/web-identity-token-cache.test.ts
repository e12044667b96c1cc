import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebIdentitySettings } from '../../../../lambda/broker/core/config.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import { WebIdentityTokenCache } from '../../../../lambda/broker/core/web-identity-token-cache.ts';
import { FakeWebIdentityIssuer } from '../support/fake-web-identity-issuer.ts';

const FIVE_MINUTES: WebIdentitySettings = {
  audience: ['https://as.example.com'],
  signingAlgorithm: 'RS256',
  durationSeconds: 300,
};

function setUp(settings: WebIdentitySettings = FIVE_MINUTES) {
  const issuer = new FakeWebIdentityIssuer();
  const cache = new WebIdentityTokenCache(issuer);
  return { issuer, cache, get: () => cache.get('shop', settings) };
}

describe('Class: WebIdentityTokenCache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns the same token until 80% of its lifetime, then a new one', async () => {
    // Prepare
    const { issuer, get } = setUp();
    const first = await get();

    // Act
    vi.advanceTimersByTime(239_000);
    const before = await get();
    vi.advanceTimersByTime(1_000);
    const after = await get();

    // Assess
    expect(before.value).toBe(first.value);
    expect(after.value).not.toBe(first.value);
    expect(issuer.calls).toHaveLength(2);
  });

  it('stops reusing a token 60 s before its expiry when that comes before 80% of its lifetime', async () => {
    // Prepare: 4 minutes: 80% is 192 s, the expiry margin 180 s.
    const { issuer, get } = setUp({ ...FIVE_MINUTES, durationSeconds: 240 });
    await get();

    // Act
    vi.advanceTimersByTime(179_000);
    await get();
    vi.advanceTimersByTime(1_000);
    await get();

    // Assess
    expect(issuer.calls).toHaveLength(2);
  });

  it("follows STS's Expiration when it comes sooner than the requested lifetime", async () => {
    // Prepare: STS says 2 minutes although 5 were asked for.
    const issuer = new FakeWebIdentityIssuer();
    vi.spyOn(issuer, 'issue').mockResolvedValueOnce({ value: 'short', expiresAt: Date.now() + 120_000 });
    const cache = new WebIdentityTokenCache(issuer);
    await cache.get('shop', FIVE_MINUTES);

    // Act
    vi.advanceTimersByTime(59_000);
    const kept = await cache.get('shop', FIVE_MINUTES);
    vi.advanceTimersByTime(1_000);
    const replaced = await cache.get('shop', FIVE_MINUTES);

    // Assess
    expect(kept.value).toBe('short');
    expect(replaced.value).not.toBe('short');
  });

  it('never reuses a one-minute token: each use gets a new one', async () => {
    // Prepare
    const { issuer, get } = setUp({ ...FIVE_MINUTES, durationSeconds: 60 });

    // Act
    await get();
    await get();

    // Assess
    expect(issuer.calls).toHaveLength(2);
  });

  it('asks STS once for concurrent requests of a client', async () => {
    // Prepare
    const { issuer, get } = setUp();
    const release = issuer.hold();

    // Act
    const pending = Promise.all([get(), get(), get()]);
    release();
    const tokens = await pending;

    // Assess
    expect(issuer.calls).toHaveLength(1);
    expect(new Set(tokens.map((t) => t.value)).size).toBe(1);
  });

  it('keeps one token per client', async () => {
    // Prepare
    const { issuer, cache } = setUp();

    // Act
    const shop = await cache.get('shop', FIVE_MINUTES);
    const billing = await cache.get('billing', { ...FIVE_MINUTES, audience: ['api://AzureADTokenExchange'] });

    // Assess
    expect(shop.value).not.toBe(billing.value);
    expect(issuer.calls.map((c) => [c.client, c.settings.audience])).toEqual([
      ['shop', ['https://as.example.com']],
      ['billing', ['api://AzureADTokenExchange']],
    ]);
  });

  it('does not remember a failure: the next request asks again', async () => {
    // Prepare
    const { issuer, get } = setUp();
    issuer.failNext(new BrokerError('secret_store_unavailable', 'AWS STS is unavailable (ThrottlingException)'));

    // Act
    const failure = await get().catch((e: unknown) => e);
    const token = await get();

    // Assess
    expect(failure).toBeInstanceOf(BrokerError);
    expect(token.value).toBe('assertion-2');
  });

  describe('Method: replaceRejected', () => {
    it('fetches a new token in place of the rejected one, which is not handed out again', async () => {
      // Prepare
      const { issuer, cache, get } = setUp();
      const rejected = await get();

      // Act
      const replacement = await cache.replaceRejected('shop', FIVE_MINUTES, rejected);
      const next = await get();

      // Assess
      expect(replacement.value).not.toBe(rejected.value);
      expect(next.value).toBe(replacement.value);
      expect(issuer.calls).toHaveLength(2);
    });

    it('fetches once when two requests report the same rejected token', async () => {
      // Prepare
      const { issuer, cache, get } = setUp();
      const rejected = await get();

      // Act
      const [a, b] = await Promise.all([
        cache.replaceRejected('shop', FIVE_MINUTES, rejected),
        cache.replaceRejected('shop', FIVE_MINUTES, rejected),
      ]);

      // Assess
      expect(a.value).toBe(b.value);
      expect(issuer.calls).toHaveLength(2);
    });

    it('hands out the token fetched meanwhile instead of fetching another', async () => {
      // Prepare
      const { issuer, cache, get } = setUp();
      const rejected = await get();
      const newer = await cache.replaceRejected('shop', FIVE_MINUTES, rejected);

      // Act
      const again = await cache.replaceRejected('shop', FIVE_MINUTES, rejected);

      // Assess
      expect(again.value).toBe(newer.value);
      expect(issuer.calls).toHaveLength(2);
    });
  });
});
