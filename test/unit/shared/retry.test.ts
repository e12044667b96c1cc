import { describe, expect, it } from 'vitest';
import { parseRateLimitReset, parseRetryAfter, type RetryDecision, withRetries } from '../../../lambda/shared/retry.ts';
import { virtualTime } from '../../support/virtual-time.ts';

const retryable = (): RetryDecision => ({ retry: true });

/** An attempt that fails `failures` times, then returns `'ok'`; it records the time it was given. */
function flaky(failures: number, took: (attempt: number) => number = () => 0, clock?: { advance(ms: number): void }) {
  const remaining: number[] = [];
  const attempt = async (remainingMs: number): Promise<string> => {
    remaining.push(remainingMs);
    clock?.advance(took(remaining.length));
    if (remaining.length <= failures) throw new Error(`failure ${remaining.length}`);
    return 'ok';
  };
  return { attempt, remaining, calls: () => remaining.length };
}

describe('Function: withRetries', () => {
  it('retries a retryable failure, then returns the success', async () => {
    // Prepare
    const time = virtualTime();
    const { attempt, calls } = flaky(2);

    // Act
    const result = await withRetries(attempt, retryable, { maxRetries: 3, deadlineMs: 10_000 }, time);

    // Assess
    expect(result).toBe('ok');
    expect(calls()).toBe(3);
    expect(time.sleeps).toHaveLength(2);
  });

  it('gives up after maxRetries and throws the last failure', async () => {
    // Prepare
    const time = virtualTime();
    const { attempt, calls } = flaky(Number.POSITIVE_INFINITY);

    // Act
    const outcome = withRetries(attempt, retryable, { maxRetries: 2, deadlineMs: 10_000 }, time);

    // Assess
    await expect(outcome).rejects.toThrow('failure 3');
    expect(calls()).toBe(3);
  });

  it('does not retry a failure classified as final', async () => {
    // Prepare
    const time = virtualTime();
    const { attempt, calls } = flaky(Number.POSITIVE_INFINITY);

    // Act
    const outcome = withRetries(attempt, () => ({ retry: false }), { maxRetries: 3, deadlineMs: 10_000 }, time);

    // Assess
    await expect(outcome).rejects.toThrow('failure 1');
    expect(calls()).toBe(1);
    expect(time.sleeps).toEqual([]);
  });

  it('hands the failure to the classifier', async () => {
    // Prepare
    const seen: unknown[] = [];
    const { attempt } = flaky(1);

    // Act
    await withRetries(
      attempt,
      (error) => {
        seen.push(error);
        return { retry: true };
      },
      { maxRetries: 1, deadlineMs: 10_000 },
      virtualTime(),
    );

    // Assess
    expect(seen).toEqual([new Error('failure 1')]);
  });

  it.each([
    [0.5, [50, 100, 200, 400, 800, 1_000]],
    [1, [100, 200, 400, 800, 1_600, 2_000]],
    [0, [0, 0, 0, 0, 0, 0]],
  ])('waits random × min(cap, base × 2^n) between attempts (random %s)', async (random, expected) => {
    // Prepare
    const time = virtualTime({ random });
    const { attempt } = flaky(Number.POSITIVE_INFINITY);

    // Act
    await withRetries(attempt, retryable, { maxRetries: 6, deadlineMs: 60_000 }, time).catch(() => {});

    // Assess
    expect(time.sleeps).toEqual(expected);
  });

  it('uses the base and cap of the policy', async () => {
    // Prepare
    const time = virtualTime({ random: 1 });
    const { attempt } = flaky(Number.POSITIVE_INFINITY);

    // Act
    await withRetries(
      attempt,
      retryable,
      { maxRetries: 4, deadlineMs: 60_000, baseDelayMs: 10, maxDelayMs: 50 },
      time,
    ).catch(() => {});

    // Assess
    expect(time.sleeps).toEqual([10, 20, 40, 50]);
  });

  it('waits as long as the server asks when that is longer than the backoff', async () => {
    // Prepare
    const time = virtualTime({ random: 0.5 });
    const { attempt } = flaky(2);

    // Act
    await withRetries(
      attempt,
      () => ({ retry: true, retryAfterMs: 3_000 }),
      { maxRetries: 3, deadlineMs: 10_000 },
      time,
    );

    // Assess
    expect(time.sleeps).toEqual([3_000, 3_000]);
  });

  it('keeps the backoff when the server asks for a shorter wait', async () => {
    // Prepare
    const time = virtualTime({ random: 0.5 });
    const { attempt } = flaky(2);

    // Act
    await withRetries(attempt, () => ({ retry: true, retryAfterMs: 10 }), { maxRetries: 3, deadlineMs: 10_000 }, time);

    // Assess
    expect(time.sleeps).toEqual([50, 100]);
  });

  it('stops without waiting when the wait would cross the deadline', async () => {
    // Prepare
    const time = virtualTime({ random: 1 });
    const { attempt, calls } = flaky(Number.POSITIVE_INFINITY, () => 400, time);

    // Act
    const outcome = withRetries(attempt, retryable, { maxRetries: 10, deadlineMs: 1_000 }, time);

    // Assess: 400 + 100 + 400 = 900 ms used; another 200 ms wait would end at 1100 ms.
    await expect(outcome).rejects.toThrow('failure 2');
    expect(calls()).toBe(2);
    expect(time.sleeps).toEqual([100]);
  });

  it('does not wait for a Retry-After beyond the deadline', async () => {
    // Prepare
    const time = virtualTime();
    const { attempt, calls } = flaky(Number.POSITIVE_INFINITY);

    // Act
    const outcome = withRetries(
      attempt,
      () => ({ retry: true, retryAfterMs: 20_000 }),
      { maxRetries: 3, deadlineMs: 15_000 },
      time,
    );

    // Assess
    await expect(outcome).rejects.toThrow('failure 1');
    expect(calls()).toBe(1);
    expect(time.sleeps).toEqual([]);
  });

  it('tells each attempt how much time is left before the deadline', async () => {
    // Prepare
    const time = virtualTime({ random: 1 });
    const { attempt, remaining } = flaky(2, () => 300, time);

    // Act
    await withRetries(attempt, retryable, { maxRetries: 3, deadlineMs: 2_000 }, time);

    // Assess: each attempt takes 300 ms, the waits are 100 and 200 ms.
    expect(remaining).toEqual([2_000, 1_600, 1_100]);
  });
});

describe('Function: parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delay-seconds as milliseconds', () => {
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP-date as the time left until it, never negative', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });

  it('ignores what RFC 9110 does not allow: fractions, signs, exponents, garbage', () => {
    for (const value of ['1.5', '-1', '+3', '1e3', '', 'soon', '0x10', null, undefined]) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});

describe('Function: parseRateLimitReset', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  const nowSeconds = now / 1000;

  it('reads epoch seconds as the milliseconds left until then', () => {
    expect(parseRateLimitReset(String(nowSeconds + 42), now)).toBe(42_000);
    expect(parseRateLimitReset(` ${nowSeconds + 1} `, now)).toBe(1_000);
  });

  it('reads a reset that has passed as no wait at all', () => {
    expect(parseRateLimitReset(String(nowSeconds - 60), now)).toBe(0);
    expect(parseRateLimitReset('0', now)).toBe(0);
  });

  it('ignores anything but digits', () => {
    for (const value of ['1.5', '-1', '+3', '1e10', '', 'soon', 'Wed, 01 Jan 2025 00:00:30 GMT', null, undefined]) {
      expect(parseRateLimitReset(value, now)).toBeUndefined();
    }
  });
});
