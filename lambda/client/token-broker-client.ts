import { type RetryDecision, type RetryPolicy, systemRetryClock, withRetries } from '../shared/retry.ts';
import { type BrokerToken, readBrokerResponse } from './broker-response.ts';
import { TokenBrokerConfigError, TokenBrokerError } from './errors.ts';
import { HttpTransport, type HttpTransportOptions } from './http-transport.ts';
import { TokenCache } from './token-cache.ts';
import { cacheKey, normalizeTokenRequest } from './token-request.ts';
import type { TokenRequest, TokenTransport } from './token-transport.ts';

export interface TokenBrokerClientOptions extends HttpTransportOptions {
  /**
   * How requests reach the broker. Pass a `LambdaInvokeTransport` (from `lambda/client/invoke-transport.ts`)
   * to invoke the broker function directly, from outside the VPC. `url`, `region`, `credentials`
   * and `fetch` configure the default transport and cannot be combined with this option.
   * @default an `HttpTransport`: SigV4-signed calls to `url`
   */
  readonly transport?: TokenTransport;
  /**
   * Time budget of one `getToken` that needs the broker, retries and waits included.
   * @default 10000 (ms)
   */
  readonly deadlineMs?: number;
  /**
   * Timeout of one attempt. The broker may itself be retrying its authorization server, so
   * keep this at a few seconds.
   * @default 5000 (ms), or `deadlineMs` when that is shorter
   */
  readonly attemptTimeoutMs?: number;
  /**
   * Retries after the first attempt, for throttling (429), 5xx other than `upstream_rejected`,
   * network errors and timeouts.
   * @default 3
   */
  readonly maxRetries?: number;
  /** Waits between retries; inject one in tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Gets OAuth 2.0 access tokens from the token broker for the calling Lambda function.
 *
 * Create one at module scope, outside the handler: its cache then lives as long as the execution
 * environment. A token is served from the cache until shortly before its expiry (see `refreshAtMs`);
 * concurrent calls for the same client and scopes share one request; retryable failures are
 * retried with jittered backoff inside `deadlineMs`. Failures throw a `TokenBrokerError`.
 *
 * @example
 * const tokens = new TokenBrokerClient();
 * const { accessToken } = await tokens.getToken({ client: 'shop', scopes: ['read'] });
 */
export class TokenBrokerClient {
  readonly #transport: TokenTransport;
  readonly #policy: RetryPolicy;
  readonly #attemptTimeoutMs: number;
  readonly #clock: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #cache: TokenCache;

  constructor(options: TokenBrokerClientOptions = {}) {
    const {
      transport,
      deadlineMs = 10_000,
      maxRetries = 3,
      clock = Date.now,
      sleep = systemRetryClock.sleep,
    } = options;
    const attemptTimeoutMs = options.attemptTimeoutMs ?? Math.min(5_000, deadlineMs);
    if (transport !== undefined) {
      const conflicting = (['url', 'region', 'credentials', 'fetch'] as const).find((k) => options[k] !== undefined);
      if (conflicting) {
        throw new TokenBrokerConfigError(conflicting, 'configures the default transport; pass it to the transport');
      }
    }
    checkInteger(deadlineMs, 'deadlineMs', 1, 900_000);
    checkInteger(attemptTimeoutMs, 'attemptTimeoutMs', 1, deadlineMs);
    checkInteger(maxRetries, 'maxRetries', 0, 10);
    this.#transport = transport ?? new HttpTransport(options);
    this.#policy = { deadlineMs, maxRetries, baseDelayMs: 100, maxDelayMs: 2_000 };
    this.#attemptTimeoutMs = attemptTimeoutMs;
    this.#clock = clock;
    this.#sleep = sleep;
    this.#cache = new TokenCache(clock);
  }

  /**
   * A token for `client` with `scopes` (omitted or empty: the client's default scopes), with at
   * least `minTtlSeconds` left when given.
   * @throws {TokenBrokerError} with the broker's `code` (`invalid_scope`, `unknown_client`,
   * `upstream_rejected`, `upstream_unavailable`, ...) or `access_denied` when IAM refuses the call.
   */
  async getToken(request: TokenRequest): Promise<BrokerToken> {
    const normalized = normalizeTokenRequest(request);
    return this.#cache.get(
      cacheKey(normalized),
      () =>
        withRetries(
          (remainingMs) =>
            withTimeout(
              async (signal) => readBrokerResponse(await this.#transport.send(normalized, signal), this.#clock()),
              Math.max(0, Math.min(this.#attemptTimeoutMs, remainingMs)),
            ),
          classify,
          this.#policy,
          { now: this.#clock, sleep: this.#sleep, random: Math.random },
        ),
      (normalized.minTtlSeconds ?? 0) * 1000,
    );
  }
}

function classify(error: unknown): RetryDecision {
  if (!(error instanceof TokenBrokerError) || !error.retryable) return { retry: false };
  return error.retryAfterMs === undefined ? { retry: true } : { retry: true, retryAfterMs: error.retryAfterMs };
}

/** Runs one attempt with an AbortSignal that fires at its timeout. */
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

function checkInteger(value: number, field: string, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TokenBrokerConfigError(field, `must be a whole number from ${min} to ${max}`);
  }
}
