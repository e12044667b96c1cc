/**
 * Bounded retries with exponential backoff and full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), inside an overall
 * deadline. Which failures are retryable is the caller's decision.
 */

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Overall deadline for all attempts and waits, from the first attempt. */
  readonly deadlineMs: number;
  /** @default 100 */
  readonly baseDelayMs?: number;
  /** @default 2000 */
  readonly maxDelayMs?: number;
}

export interface RetryDecision {
  readonly retry: boolean;
  /** Server-requested wait (Retry-After), honoured instead of the jittered delay when longer. */
  readonly retryAfterMs?: number;
}

export interface RetryDeps {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
}

export const realRetryDeps: RetryDeps = {
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
  deps: RetryDeps = realRetryDeps,
): Promise<T> {
  const base = policy.baseDelayMs ?? 100;
  const cap = policy.maxDelayMs ?? 2_000;
  const deadline = deps.now() + policy.deadlineMs;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(deadline - deps.now());
    } catch (error) {
      const decision = classify(error);
      if (!decision.retry || retry >= policy.maxRetries) throw error;
      const jittered = deps.random() * Math.min(cap, base * 2 ** retry);
      const delay = Math.max(jittered, decision.retryAfterMs ?? 0);
      if (deps.now() + delay >= deadline) throw error;
      await deps.sleep(delay);
    }
  }
}
