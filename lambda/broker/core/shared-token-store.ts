import type { CachedToken } from './token-cache.ts';

/**
 * The fleet cache's port: a tier every broker instance reads and writes (DynamoDB and KMS in
 * production, `adapters/dynamodb-token-store.ts`). `TokenCache` drives it; the memory tier keeps
 * its plain `get`/`set`.
 *
 * Every method may throw when the tier fails (unreachable, throttled, denied): the cache then
 * falls back to memory and fetching directly. A method never throws for what it can answer:
 * a missing, unreadable or foreign item is a miss, a lost condition is `false`/`undefined`.
 */
export interface SharedTokenStore {
  /** Strongly consistent read of a key; `undefined` when there is no item (or one of an unknown schema). */
  read(key: string): Promise<SharedEntry | undefined>;
  /**
   * Takes the refresh lease on `key` when nobody holds it or its holder's lease expired more than
   * the clock-skew allowance ago. Creates the item (with `descriptor`) when there is none.
   * @returns the lease, or `undefined` when another instance holds it
   */
  acquireLease(key: string, request: LeaseRequest): Promise<Lease | undefined>;
  /** Extends a lease still held; `false` when it was taken over. */
  renewLease(key: string, lease: Lease, untilMs: number): Promise<boolean>;
  /**
   * Writes a new token, fenced: only while `lease` is still held and the item's token version is
   * still `lease.version`. Clears the lease and any recorded failure.
   * @returns `committed`, `lost` (the lease or version moved on), or `too-large` (kept out of the item)
   */
  commit(key: string, lease: Lease, token: CachedToken): Promise<'committed' | 'lost' | 'too-large'>;
  /**
   * Gives the lease up without writing anything (a token not to be cached, a failure not to be
   * remembered), so other instances need not wait for it to expire. `false` when it was taken over.
   */
  release(key: string, lease: Lease): Promise<boolean>;
  /** Records a failed refresh and its cool-down, releasing the lease (fenced like `commit`). */
  recordFailure(key: string, lease: Lease, failure: RecordedFailure): Promise<boolean>;
  /** Notes that the key was served at `servedAtMs`, for the warm-up and the item's expiry. */
  touch(key: string, servedAtMs: number, descriptor: KeyDescriptor): Promise<void>;
  /** Keys served since `sinceMs`, at most `limit`, for the warm-up. */
  listRecentlyServed(sinceMs: number, limit: number): Promise<readonly ServedKey[]>;
}

/** What the warm-up needs to refresh a key without a caller: which client and scope set. */
export interface KeyDescriptor {
  readonly client: string;
  readonly scopes: readonly string[];
}

export interface ServedKey extends KeyDescriptor {
  readonly key: string;
  readonly lastServedAt: number;
  /** When the key's token reaches its refresh point; `undefined` when it has none. */
  readonly refreshAt?: number;
}

/** A key's item as read. Times are epoch milliseconds. */
export interface SharedEntry {
  /** The token, decrypted; `undefined` when there is none or it cannot be decrypted (a miss). */
  readonly token?: CachedToken;
  /** Token version: 0 before the first commit; fences commits. */
  readonly version: number;
  readonly lease?: { readonly owner: string; readonly untilMs: number };
  readonly failure?: RecordedFailure;
}

export interface LeaseRequest {
  /** This instance's id. */
  readonly owner: string;
  /** When the lease expires unless renewed (epoch ms). */
  readonly untilMs: number;
  /** Epoch ms by the caller's clock: a lease counts as expired after `until + skew`. */
  readonly nowMs: number;
  readonly descriptor: KeyDescriptor;
}

export interface Lease {
  readonly owner: string;
  /** The token version the holder read; its commit must find it unchanged. */
  readonly version: number;
}

/** A failed refresh, remembered so no instance calls the server again before `untilMs`. */
export interface RecordedFailure {
  readonly code: 'upstream_unavailable' | 'upstream_rejected';
  readonly description: string;
  readonly untilMs: number;
  readonly retryAfterSeconds?: number;
}
