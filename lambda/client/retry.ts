import { TokenBrokerError } from './errors.ts';

/**
 * Bounded retries with exponential backoff and full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/) inside one overall
 * deadline, so a caller's Lambda never waits longer than it budgeted.
 */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Deadline for all attempts and waits together, from the first attempt. */
  readonly deadlineMs: number;
  /** Timeout of one attempt (shortened to what is left of the deadline). */
  readonly attemptTimeoutMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface RetryClock {
  readonly now: () => number;
  readonly random: () => number;
}

/**
 * Runs `attempt` with an AbortSignal that fires at its timeout, until it succeeds, fails with a
 * non-retryable `TokenBrokerError`, the retries are used up, or the next wait would cross the
 * deadline. Then throws the last failure. A `Retry-After` longer than the jittered delay wins.
 */
export async function withRetries<T>(
  attempt: (signal: AbortSignal) => Promise<T>,
  policy: RetryPolicy,
  clock: RetryClock,
): Promise<T> {
  const deadline = clock.now() + policy.deadlineMs;
  for (let retry = 0; ; retry++) {
    try {
      return await withTimeout(attempt, Math.max(0, Math.min(policy.attemptTimeoutMs, deadline - clock.now())));
    } catch (error) {
      if (!(error instanceof TokenBrokerError) || !error.retryable || retry >= policy.maxRetries) throw error;
      const jittered = clock.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
      const delay = Math.max(jittered, error.retryAfterMs ?? 0);
      if (clock.now() + delay >= deadline) throw error;
      await sleep(delay);
    }
  }
}

async function withTimeout<T>(attempt: (signal: AbortSignal) => Promise<T>, timeoutMs: number): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await attempt(controller.signal);
  } catch (error) {
    // Whatever the transport threw on abort (AbortError, a DOMException, an SDK error), it was our timeout.
    if (controller.signal.aborted && !(error instanceof TokenBrokerError)) {
      throw new TokenBrokerError('timeout', `No answer within ${timeoutMs} ms`, { cause: error });
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
