import { BrokerError } from './errors.ts';
import type { RecordedFailure } from './shared-token-store.ts';

/**
 * How long a failed refresh is remembered, during which no instance asks the authorization server
 * again for that key: callers get the usable token, or at once the recorded error.
 */
export interface CooldownPolicy {
  /** After 5xx, 429, a timeout or a network error; a longer `Retry-After` wins. @default 10000 */
  readonly transientMs: number;
  /** After a rejection that would repeat (credentials refused after the secret re-read, invalid_scope...). @default 5000 */
  readonly rejectionMs: number;
  /** Upper bound, whatever `Retry-After` says. @default 300000 */
  readonly maxMs: number;
}

export const DEFAULT_COOLDOWNS: CooldownPolicy = { transientMs: 10_000, rejectionMs: 5_000, maxMs: 300_000 };

/** The failure to remember for `error`, or `undefined` when it is not the authorization server's (nothing to remember). */
export function recordedFailureOf(error: unknown, nowMs: number, policy: CooldownPolicy): RecordedFailure | undefined {
  if (!(error instanceof BrokerError)) return undefined;
  if (error.code === 'upstream_unavailable') {
    const asked = (error.retryAfterSeconds ?? 0) * 1000;
    const untilMs = nowMs + Math.min(policy.maxMs, Math.max(policy.transientMs, asked));
    return { code: error.code, description: error.description, untilMs };
  }
  if (error.code === 'upstream_rejected' && error.rejection !== undefined) {
    return {
      code: error.code,
      description: error.description,
      untilMs: nowMs + Math.min(policy.maxMs, policy.rejectionMs),
    };
  }
  return undefined;
}

/** The error a caller gets, at once, while a failure is remembered. */
export function errorOfRecordedFailure(failure: RecordedFailure, nowMs: number): BrokerError {
  const retryAfterSeconds = Math.max(1, Math.ceil((failure.untilMs - nowMs) / 1000));
  return failure.code === 'upstream_unavailable'
    ? new BrokerError(failure.code, failure.description, { retryAfterSeconds })
    : new BrokerError(failure.code, failure.description);
}
