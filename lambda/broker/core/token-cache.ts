import { randomUUID } from 'node:crypto';
import { type CachedToken, isFresh, isUsable } from './cached-token.ts';
import { BrokerError } from './errors.ts';
import { MemoryTokenStore } from './memory-token-store.ts';
import {
  type CooldownPolicy,
  DEFAULT_COOLDOWNS,
  errorOfRecordedFailure,
  recordedFailureOf,
} from './refresh-failure.ts';
import type { KeyDescriptor, Lease, RecordedFailure, ServedKey, SharedTokenStore } from './shared-token-store.ts';

export type { CachedToken } from './cached-token.ts';

/**
 * Where a served token came from: this instance's memory, the fleet's shared tier, the
 * authorization server just now, or a still-valid token served after its refresh failed.
 */
export type TokenSource = 'memory' | 'shared' | 'fetched' | 'stale';

export interface CacheResult {
  readonly token: CachedToken;
  readonly source: TokenSource;
  /** With source `stale`: why the refresh failed. */
  readonly refreshError?: unknown;
}

/** One key's request to the cache, built by the broker from the client's configuration. */
export interface CacheRequest {
  readonly key: string;
  /** Which client and scope set the key stands for: stored with it for the warm-up. */
  readonly descriptor: KeyDescriptor;
  /** Obtains a new token from the authorization server (retries included). */
  readonly fetch: () => Promise<CachedToken>;
  /** One attempt's timeout: a lease lasts about that long and is renewed while its holder works. */
  readonly attemptMs: number;
  /** How long a caller with no usable token may wait for another instance's refresh. */
  readonly waitMs: number;
}

/** Time left in the invocation that asks (Lambda's `getRemainingTimeInMillis`). */
export type RemainingTime = () => number;

const UNBOUNDED: RemainingTime = () => Number.POSITIVE_INFINITY;

/** What the cache reports; the broker wires it to logs and metrics. */
export interface CacheTelemetry {
  /** The shared tier failed; it is bypassed for its cool-down. Called once per cool-down. */
  sharedTierFailed(operation: string, error: unknown): void;
  /** A token too large for the shared tier is kept in this instance's memory only. */
  tokenTooLarge(client: string): void;
}

export interface TokenCacheOptions {
  /** The fleet's tier. @default none: memory only, as one instance */
  readonly shared?: SharedTokenStore;
  readonly telemetry?: CacheTelemetry;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Lease owner id. @default a random UUID per instance, drawn only with a shared tier (leases are its only use) */
  readonly instanceId?: string;
  /**
   * How long the request that starts a refresh-ahead waits for it before answering with the
   * current token (the refresh goes on). Other requests never wait while a usable token exists.
   * @default 250 (ms)
   */
  readonly refreshWaitMs?: number;
  /** @default {@link DEFAULT_COOLDOWNS} */
  readonly cooldowns?: CooldownPolicy;
  /** After a shared-tier failure, how long it is bypassed. @default 30000 (ms) */
  readonly sharedTierCooldownMs?: number;
  /**
   * The longest a shared-tier call takes while the instance runs, its retries included (the
   * adapter's SDK timeouts bound it). A call that fails after longer was in flight while Lambda
   * froze the instance, and timed out when it thawed: that says nothing about the tier, so the
   * tier is neither bypassed nor reported failing.
   * @default 10000 (ms)
   */
  readonly sharedTierCallLimitMs?: number;
  /** How often one instance records a key's last use in the shared tier. @default 60000 (ms) */
  readonly touchIntervalMs?: number;
}

/** Outcome of a warm-up's refresh of one key. */
export type RefreshOutcome = 'fresh' | 'refreshed' | 'failed';

const NO_TELEMETRY: CacheTelemetry = { sharedTierFailed() {}, tokenTooLarge() {} };
/** Extra room a lease taker must have beyond one attempt, so it can still answer its caller. */
const TAKEOVER_MARGIN_MS = 1_000;
const POLL_START_MS = 25;
const POLL_MAX_MS = 500;

/**
 * Access tokens per key, in this instance's memory and, when configured, in a tier the whole
 * fleet shares. The rules, so that callers never wait on the authorization server while a usable
 * token exists, and the fleet asks it once per refresh:
 *
 * - **Fresh** (before its refresh point) in memory: served at once.
 * - **Usable but past its refresh point** (refresh-ahead): served at once. The first such request
 *   starts one refresh per key and waits for it at most `refreshWaitMs`.
 * - **Nothing usable**: the request waits: for the shared tier's token, for the instance holding
 *   the refresh lease, or for its own fetch. During a remembered failure's cool-down it gets the
 *   recorded error at once.
 * - **Refresh**: under a lease in the shared tier (one refresher for the fleet), committed fenced
 *   on the lease and the token version; a failure is recorded with its cool-down. A token marked
 *   `ephemeral` (too short-lived to cache) goes to the requests waiting for it and nowhere else.
 * - **Shared tier failing** (unreachable, throttled, denied): bypassed for a cool-down; the
 *   instance falls back to memory and fetching directly. It never fails a caller. A call that
 *   fails only after Lambda froze the instance with it in flight is no tier failure.
 *
 * A Lambda instance may be frozen with a refresh in flight: a refresh that resumes late commits
 * only if its lease still holds, and memory never trades a token for a shorter-lived one.
 */
export class TokenCache {
  readonly #memory: MemoryTokenStore;
  readonly #shared: SharedTokenStore | undefined;
  readonly #telemetry: CacheTelemetry;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #owner: string;
  readonly #refreshWaitMs: number;
  readonly #cooldowns: CooldownPolicy;
  readonly #tierCooldownMs: number;
  readonly #tierCallLimitMs: number;
  readonly #touchIntervalMs: number;
  readonly #inFlight = new Map<string, Promise<CacheResult>>();
  /** Per key: until when another instance holds its lease (its refresh-ahead is under way there). */
  readonly #leasedElsewhere = new Map<string, number>();
  /** Per key: the last refresh failure, until its cool-down ends. */
  readonly #failures = new Map<string, RecordedFailure>();
  /** Per key: what it stands for, when it was last served, and when that was last told to the shared tier. */
  readonly #served = new Map<string, { descriptor: KeyDescriptor; lastServedAt: number; touchedAt: number }>();
  #tierDownUntil = 0;

  constructor(options: TokenCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#memory = new MemoryTokenStore(this.#now);
    // Wrapped once: its failures are told apart from the authorization server's.
    this.#shared = options.shared && guarded(options.shared, this.#now);
    this.#telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#owner = options.instanceId ?? (this.#shared ? randomUUID() : '');
    this.#refreshWaitMs = options.refreshWaitMs ?? 250;
    this.#cooldowns = options.cooldowns ?? DEFAULT_COOLDOWNS;
    this.#tierCooldownMs = options.sharedTierCooldownMs ?? 30_000;
    this.#tierCallLimitMs = options.sharedTierCallLimitMs ?? 10_000;
    this.#touchIntervalMs = options.touchIntervalMs ?? 60_000;
  }

  /**
   * A token for the request's key: see the class's rules. With `minTtlMs`, only a token with at
   * least that long left will do: an older one counts as not usable for this request.
   */
  async get(request: CacheRequest, remainingMs: RemainingTime = UNBOUNDED, minTtlMs = 0): Promise<CacheResult> {
    const result = await this.#get(request, remainingMs, minTtlMs);
    this.#noteServed(request);
    return result;
  }

  async #get(request: CacheRequest, remainingMs: RemainingTime, minTtlMs: number): Promise<CacheResult> {
    const { key } = request;
    const now = this.#now();
    const current = this.#memory.get(key);
    const lives = current !== undefined && current.expiresAt - now >= minTtlMs;
    if (current && lives && isFresh(current, now)) return { token: current, source: 'memory' };
    const failure = this.#activeFailure(key, now);
    if (current && lives && isUsable(current, now)) {
      if (failure) return { token: current, source: 'stale', refreshError: errorOfRecordedFailure(failure, now) };
      if (this.#inFlight.has(key) || (this.#leasedElsewhere.get(key) ?? 0) > now)
        return { token: current, source: 'memory' };
      const refreshAhead = { refreshAfter: now, expiresAfter: 0 };
      return this.#waitBriefly(this.#start(request, current, refreshAhead, remainingMs), current);
    }
    if (failure) throw errorOfRecordedFailure(failure, now);
    const need = { refreshAfter: now, expiresAfter: now + minTtlMs };
    let result = await (this.#inFlight.get(key) ?? this.#start(request, undefined, need, remainingMs));
    if (!satisfies(result.token, need) && result.source !== 'fetched' && result.source !== 'stale') {
      // A refresh this request joined was for a less demanding caller: one of its own.
      result = await (this.#inFlight.get(key) ?? this.#start(request, undefined, need, remainingMs));
    }
    if (result.source === 'stale' && result.token.expiresAt < need.expiresAfter) throw result.refreshError;
    if (!isUsable(result.token, this.#now())) {
      throw new BrokerError('upstream_unavailable', 'No usable token could be obtained in time', {
        retryAfterSeconds: 1,
      });
    }
    if (result.token.expiresAt < need.expiresAfter) {
      const lifetime = Math.floor((result.token.expiresAt - result.token.obtainedAt) / 1000);
      throw new BrokerError(
        'upstream_rejected',
        `A token with ${Math.ceil(minTtlMs / 1000)} s left was asked for, but the authorization server issues tokens that live ${lifetime} s`,
      );
    }
    return result;
  }

  /**
   * For the warm-up: refreshes the key if its token reaches its refresh point before `dueByMs`
   * (or there is none), under the same lease and cool-down as any refresh. Never throws.
   */
  async refreshIfDue(
    request: CacheRequest,
    dueByMs: number,
    remainingMs: RemainingTime = UNBOUNDED,
  ): Promise<{ outcome: RefreshOutcome; token?: CachedToken; error?: unknown }> {
    const now = this.#now();
    const current = this.#memory.get(request.key);
    if (current && current.refreshAt > dueByMs) return { outcome: 'fresh', token: current };
    const need = { refreshAfter: dueByMs, expiresAfter: 0 };
    const failure = this.#activeFailure(request.key, now);
    if (failure) return { outcome: 'failed', error: errorOfRecordedFailure(failure, now) };
    try {
      const result = await (this.#inFlight.get(request.key) ?? this.#start(request, current, need, remainingMs));
      if (result.source === 'stale') return { outcome: 'failed', error: result.refreshError };
      return { outcome: result.source === 'fetched' ? 'refreshed' : 'fresh', token: result.token };
    } catch (error) {
      return { outcome: 'failed', error };
    }
  }

  /** Keys served since `sinceMs` (the fleet's when a shared tier answers, else this instance's), at most `limit`. */
  async recentlyServed(sinceMs: number, limit: number): Promise<readonly ServedKey[]> {
    const shared = this.#sharedTier();
    if (shared) {
      try {
        return await shared.listRecentlyServed(sinceMs, limit);
      } catch (error) {
        this.#tierFailed('listRecentlyServed', error);
      }
    }
    const local: ServedKey[] = [];
    for (const [key, served] of this.#served) {
      if (served.lastServedAt >= sinceMs) local.push({ key, ...served.descriptor, lastServedAt: served.lastServedAt });
    }
    return local.sort((a, b) => b.lastServedAt - a.lastServedAt).slice(0, limit);
  }

  /** Starts the one refresh of `request.key` on this instance; a token found that meets `need` will do. */
  #start(
    request: CacheRequest,
    current: CachedToken | undefined,
    need: Need,
    remainingMs: RemainingTime,
  ): Promise<CacheResult> {
    const pending = this.#refresh(request, current, need, remainingMs).finally(() => {
      if (this.#inFlight.get(request.key) === pending) this.#inFlight.delete(request.key);
    });
    this.#inFlight.set(request.key, pending);
    // A refresh-ahead may outlive every request that waited for it: its failure is handled there.
    pending.catch(() => {});
    return pending;
  }

  async #waitBriefly(pending: Promise<CacheResult>, current: CachedToken): Promise<CacheResult> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#refreshWaitMs);
    });
    try {
      const settled = await Promise.race([pending, timeout]);
      return settled ?? { token: current, source: 'memory' };
    } catch (error) {
      return { token: current, source: 'stale', refreshError: error };
    } finally {
      clearTimeout(timer);
    }
  }

  async #refresh(
    request: CacheRequest,
    current: CachedToken | undefined,
    need: Need,
    remainingMs: RemainingTime,
  ): Promise<CacheResult> {
    const shared = this.#sharedTier();
    if (!shared) return this.#fetchDirectly(request, current);
    try {
      const entry = await shared.read(request.key);
      const found = entry?.token;
      if (found && isUsable(found, this.#now()) && (!current || found.expiresAt > current.expiresAt)) {
        this.#memory.set(request.key, found);
        if (satisfies(found, need)) return { token: found, source: 'shared' };
        current = found;
      }
      const failure = entry?.failure;
      if (failure && failure.untilMs > this.#now()) {
        this.#failures.set(request.key, failure);
        const error = errorOfRecordedFailure(failure, this.#now());
        if (current && isUsable(current, this.#now())) return { token: current, source: 'stale', refreshError: error };
        throw error;
      }
      const lease = await shared.acquireLease(request.key, this.#leaseRequest(request));
      if (lease) return await this.#fetchUnderLease(shared, request, lease, current);
      // Until it ends (a second at most: it may commit early), a token past its refresh point is
      // served from memory without asking the table again.
      this.#leasedElsewhere.set(request.key, Math.min(entry?.lease?.untilMs ?? 0, this.#now() + 1_000));
      if (current && isUsable(current, this.#now()) && current.expiresAt >= need.expiresAfter) {
        return { token: current, source: 'shared' };
      }
      return await this.#awaitHolder(shared, request, need, remainingMs);
    } catch (error) {
      if (!(error instanceof SharedTierError)) throw error;
      this.#tierFailed(error.operation, error);
      return this.#fetchDirectly(request, current);
    }
  }

  async #fetchDirectly(request: CacheRequest, current: CachedToken | undefined): Promise<CacheResult> {
    try {
      const token = await request.fetch();
      this.#failures.delete(request.key);
      if (!token.ephemeral) this.#memory.set(request.key, token);
      return { token, source: 'fetched' };
    } catch (error) {
      return this.#afterFailedFetch(request.key, error, current);
    }
  }

  #afterFailedFetch(key: string, error: unknown, current: CachedToken | undefined): CacheResult {
    const failure = recordedFailureOf(error, this.#now(), this.#cooldowns);
    if (failure) this.#failures.set(key, failure);
    if (current && isUsable(current, this.#now())) return { token: current, source: 'stale', refreshError: error };
    throw error;
  }

  /** The lease holder's refresh: fetch, then commit fenced on the lease; renews the lease while it works. */
  async #fetchUnderLease(
    shared: SharedTokenStore,
    request: CacheRequest,
    lease: Lease,
    current: CachedToken | undefined,
  ): Promise<CacheResult> {
    const { key } = request;
    // Renewed while the fetch may legitimately run (its deadline), never for a fetch that hangs.
    const renewEvery = Math.max(50, Math.floor(request.attemptMs / 3));
    const stopRenewingAt = this.#now() + request.waitMs;
    const renewal = setInterval(() => {
      if (this.#now() >= stopRenewingAt) clearInterval(renewal);
      else shared.renewLease(key, lease, this.#now() + this.#leaseMs(request)).catch(() => {});
    }, renewEvery);
    renewal.unref?.();
    let token: CachedToken;
    try {
      token = await request.fetch();
    } catch (error) {
      const failure = recordedFailureOf(error, this.#now(), this.#cooldowns);
      if (failure) await shared.recordFailure(key, lease, failure).catch((e) => this.#tierFailed('recordFailure', e));
      else await shared.release(key, lease).catch((e) => this.#tierFailed('release', e));
      return this.#afterFailedFetch(key, error, current);
    } finally {
      clearInterval(renewal);
    }
    this.#failures.delete(key);
    if (token.ephemeral) {
      await shared.release(key, lease).catch((e) => this.#tierFailed('release', e));
      return { token, source: 'fetched' };
    }
    this.#memory.set(key, token);
    const outcome = await shared.commit(key, lease, token).catch((error: unknown) => {
      this.#tierFailed('commit', error);
      return 'failed' as const;
    });
    if (outcome === 'too-large') this.#telemetry.tokenTooLarge(request.descriptor.client);
    if (outcome === 'lost') {
      // Another instance took the lease over and may have committed a newer token: prefer it.
      const newer = await shared.read(key).catch(() => undefined);
      if (newer?.token && newer.token.expiresAt > token.expiresAt) {
        this.#memory.set(key, newer.token);
        return { token: newer.token, source: 'shared' };
      }
    }
    return { token, source: 'fetched' };
  }

  /**
   * No usable token and another instance holds the lease: wait for its result by reading the
   * item, with backoff, within the caller's budget. If the holder dies, take the lease over when
   * it expires, but only with time left for an attempt.
   */
  async #awaitHolder(
    shared: SharedTokenStore,
    request: CacheRequest,
    need: Need,
    remainingMs: RemainingTime,
  ): Promise<CacheResult> {
    const { key } = request;
    const deadline = this.#now() + request.waitMs;
    for (let delay = POLL_START_MS; ; delay = Math.min(POLL_MAX_MS, delay * 2)) {
      await this.#sleep(Math.min(delay, Math.max(0, deadline - this.#now())));
      const now = this.#now();
      const entry = await shared.read(key);
      if (entry?.token && isUsable(entry.token, now) && entry.token.expiresAt >= need.expiresAfter) {
        this.#memory.set(key, entry.token);
        return { token: entry.token, source: 'shared' };
      }
      if (entry?.failure && entry.failure.untilMs > now) {
        this.#failures.set(key, entry.failure);
        throw errorOfRecordedFailure(entry.failure, now);
      }
      if (!entry?.lease || entry.lease.untilMs < now) {
        if (remainingMs() < request.attemptMs + TAKEOVER_MARGIN_MS) {
          throw new BrokerError(
            'upstream_unavailable',
            'The refreshing instance stopped; too little time is left to take over',
            { retryAfterSeconds: 1 },
          );
        }
        const lease = await shared.acquireLease(key, this.#leaseRequest(request));
        if (lease) return this.#fetchUnderLease(shared, request, lease, undefined);
      }
      if (this.#now() >= deadline) {
        throw new BrokerError('upstream_unavailable', 'Another instance is still obtaining this token', {
          retryAfterSeconds: 1,
        });
      }
    }
  }

  #leaseMs(request: CacheRequest): number {
    return request.attemptMs + TAKEOVER_MARGIN_MS;
  }

  #leaseRequest(request: CacheRequest) {
    const nowMs = this.#now();
    return { owner: this.#owner, untilMs: nowMs + this.#leaseMs(request), nowMs, descriptor: request.descriptor };
  }

  #activeFailure(key: string, now: number): RecordedFailure | undefined {
    const failure = this.#failures.get(key);
    if (failure && failure.untilMs > now) return failure;
    if (failure) this.#failures.delete(key);
    return undefined;
  }

  /** The shared tier, wrapped so its failures are told apart from the authorization server's; none while bypassed. */
  #sharedTier(): SharedTokenStore | undefined {
    if (!this.#shared || this.#now() < this.#tierDownUntil) return undefined;
    return this.#shared;
  }

  #tierFailed(operation: string, error: unknown): void {
    // Frozen mid-call: the operation failed (its caller falls back as usual), the tier did not.
    if (error instanceof SharedTierError && error.elapsedMs > this.#tierCallLimitMs) return;
    const cause = error instanceof SharedTierError ? error.cause : error;
    const now = this.#now();
    if (now >= this.#tierDownUntil) this.#telemetry.sharedTierFailed(operation, cause);
    this.#tierDownUntil = now + this.#tierCooldownMs;
  }

  /**
   * Remembers the key's last use; tells the shared tier at most once per `touchIntervalMs`, without
   * waiting. Best effort: Lambda freezes the environment as soon as the answer is sent, so this
   * call is often still in flight then and times out when the environment thaws (the table has
   * usually applied it). Such a failure says nothing about the tier: it neither bypasses it nor is
   * reported. A tier that really fails shows on the reads, leases and commits.
   */
  #noteServed(request: CacheRequest): void {
    const now = this.#now();
    let served = this.#served.get(request.key);
    if (!served) {
      served = { descriptor: request.descriptor, lastServedAt: now, touchedAt: Number.NEGATIVE_INFINITY };
      this.#served.set(request.key, served);
    }
    served.lastServedAt = now;
    if (now - served.touchedAt < this.#touchIntervalMs) return;
    served.touchedAt = now;
    this.#sharedTier()
      ?.touch(request.key, now, request.descriptor)
      .catch(() => {});
  }
}

/** What a token found must meet to end a refresh: fresh past `refreshAfter`, living until `expiresAfter`. */
interface Need {
  readonly refreshAfter: number;
  readonly expiresAfter: number;
}

function satisfies(token: CachedToken, need: Need): boolean {
  return token.refreshAt > need.refreshAfter && token.expiresAt >= need.expiresAfter;
}

/** A failure of the shared tier itself, as opposed to the authorization server's. */
class SharedTierError extends Error {
  override readonly name = 'SharedTierError';
  constructor(
    readonly operation: string,
    cause: unknown,
    /** From the call to its failure, by the cache's clock. */
    readonly elapsedMs: number,
  ) {
    super(`The shared token tier failed (${operation})`, { cause });
  }
}

function guarded(store: SharedTokenStore, now: () => number): SharedTokenStore {
  const wrap =
    <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      const startedAt = now();
      return call(...args).catch((error: unknown) => {
        throw new SharedTierError(operation, error, now() - startedAt);
      });
    };
  return {
    read: wrap('read', (key) => store.read(key)),
    acquireLease: wrap('acquireLease', (key, request) => store.acquireLease(key, request)),
    renewLease: wrap('renewLease', (key, lease, untilMs) => store.renewLease(key, lease, untilMs)),
    commit: wrap('commit', (key, lease, token) => store.commit(key, lease, token)),
    release: wrap('release', (key, lease) => store.release(key, lease)),
    recordFailure: wrap('recordFailure', (key, lease, failure) => store.recordFailure(key, lease, failure)),
    touch: wrap('touch', (key, at, descriptor) => store.touch(key, at, descriptor)),
    listRecentlyServed: wrap('listRecentlyServed', (since, limit) => store.listRecentlyServed(since, limit)),
  };
}
