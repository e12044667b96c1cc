/**
 * Bounded retries with exponential backoff and full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/) inside one overall
 * deadline, for both the broker (towards the authorization server) and the caller library
 * (towards the broker). Which failures are retryable is the caller's decision.
 */

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Deadline for all attempts and waits together, from the first attempt. */
  readonly deadlineMs: number;
  /** @default 100 */
  readonly baseDelayMs?: number;
  /** @default 2000 */
  readonly maxDelayMs?: number;
}

export interface RetryDecision {
  readonly retry: boolean;
  /** Server-requested wait (`Retry-After`), honoured instead of the jittered delay when longer. */
  readonly retryAfterMs?: number;
}

/** Time and chance, injected so tests run without real waits. */
export interface RetryClock {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
}

export const systemRetryClock: RetryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/**
 * Runs `attempt` until it succeeds, `classify` says the failure is final, the retries are used up,
 * or the next wait would cross the deadline; then throws the last failure.
 * `attempt` receives the time left before the deadline, to bound its own timeout.
 */
export async function withRetries<T>(
  attempt: (remainingMs: number) => Promise<T>,
  classify: (error: unknown) => RetryDecision,
  policy: RetryPolicy,
  clock: RetryClock = systemRetryClock,
): Promise<T> {
  const base = policy.baseDelayMs ?? 100;
  const cap = policy.maxDelayMs ?? 2_000;
  const deadline = clock.now() + policy.deadlineMs;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(deadline - clock.now());
    } catch (error) {
      const decision = classify(error);
      if (!decision.retry || retry >= policy.maxRetries) throw error;
      const jittered = clock.random() * Math.min(cap, base * 2 ** retry);
      const delay = Math.max(jittered, decision.retryAfterMs ?? 0);
      if (clock.now() + delay >= deadline) throw error;
      await clock.sleep(delay);
    }
  }
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): `delay-seconds` (digits only) or an HTTP-date, as milliseconds
 * from `nowMs`; `undefined` for anything else.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * `X-Rate-Limit-Reset` (Okta) or `X-RateLimit-Reset` (Auth0): when the rate limit resets, in epoch
 * seconds (digits only), as milliseconds from `nowMs`, never negative; `undefined` for anything else.
 */
export function parseRateLimitReset(value: string | null | undefined, nowMs: number): number | undefined {
  const text = value?.trim() ?? '';
  return /^\d+$/.test(text) ? Math.max(0, Number(text) * 1000 - nowMs) : undefined;
}
