import type { CachedToken } from '../../../../lambda/broker/core/cached-token.ts';
import type {
  KeyDescriptor,
  Lease,
  LeaseRequest,
  RecordedFailure,
  ServedKey,
  SharedEntry,
  SharedTokenStore,
} from '../../../../lambda/broker/core/shared-token-store.ts';

interface Item {
  token?: CachedToken;
  version: number;
  lease?: { owner: string; untilMs: number };
  failure?: RecordedFailure;
  descriptor?: KeyDescriptor;
  lastServedAt?: number;
}

/**
 * The shared tier's contract in memory, with the adapter's semantics (conditional lease, fenced
 * commit, clock-skew allowance), so unit tests can run a fleet of caches against one table.
 * `failing` makes every call throw, as an unreachable or throttled table would.
 */
export class FakeSharedStore implements SharedTokenStore {
  readonly items = new Map<string, Item>();
  readonly calls: string[] = [];
  failing: Error | undefined;
  /** Largest token (access token length) the item takes. */
  maxTokenLength = Number.POSITIVE_INFINITY;

  constructor(private readonly clockSkewMs = 2_000) {}

  async read(key: string): Promise<SharedEntry | undefined> {
    this.#call('read');
    const item = this.items.get(key);
    if (!item) return undefined;
    return {
      version: item.version,
      ...(item.token ? { token: item.token } : {}),
      ...(item.lease ? { lease: { ...item.lease } } : {}),
      ...(item.failure ? { failure: item.failure } : {}),
    };
  }

  async acquireLease(key: string, request: LeaseRequest): Promise<Lease | undefined> {
    this.#call('acquireLease');
    const item = this.#item(key, request.descriptor);
    if (item.lease && item.lease.untilMs + this.clockSkewMs >= request.nowMs) return undefined;
    item.lease = { owner: request.owner, untilMs: request.untilMs };
    return { owner: request.owner, version: item.version };
  }

  async renewLease(key: string, lease: Lease, untilMs: number): Promise<boolean> {
    this.#call('renewLease');
    const item = this.items.get(key);
    if (item?.lease?.owner !== lease.owner) return false;
    item.lease.untilMs = untilMs;
    return true;
  }

  async commit(key: string, lease: Lease, token: CachedToken): Promise<'committed' | 'lost' | 'too-large'> {
    this.#call('commit');
    const item = this.items.get(key);
    if (item?.lease?.owner !== lease.owner || item.version !== lease.version) return 'lost';
    delete item.lease;
    delete item.failure;
    if (token.accessToken.length > this.maxTokenLength) return 'too-large';
    item.token = token;
    item.version++;
    return 'committed';
  }

  async release(key: string, lease: Lease): Promise<boolean> {
    this.#call('release');
    const item = this.items.get(key);
    if (item?.lease?.owner !== lease.owner || item.version !== lease.version) return false;
    delete item.lease;
    return true;
  }

  async recordFailure(key: string, lease: Lease, failure: RecordedFailure): Promise<boolean> {
    this.#call('recordFailure');
    const item = this.items.get(key);
    if (item?.lease?.owner !== lease.owner || item.version !== lease.version) return false;
    delete item.lease;
    item.failure = failure;
    return true;
  }

  async touch(key: string, servedAtMs: number, descriptor: KeyDescriptor): Promise<void> {
    this.#call('touch');
    this.#item(key, descriptor).lastServedAt = servedAtMs;
  }

  async listRecentlyServed(sinceMs: number, limit: number): Promise<readonly ServedKey[]> {
    this.#call('listRecentlyServed');
    const served: ServedKey[] = [];
    for (const [key, item] of this.items) {
      if (item.descriptor && item.lastServedAt !== undefined && item.lastServedAt >= sinceMs) {
        served.push({
          key,
          ...item.descriptor,
          lastServedAt: item.lastServedAt,
          ...(item.token ? { refreshAt: item.token.refreshAt } : {}),
        });
      }
    }
    return served.slice(0, limit);
  }

  /** How many calls of `operation` were made. */
  count(operation: string): number {
    return this.calls.filter((c) => c === operation).length;
  }

  #item(key: string, descriptor: KeyDescriptor): Item {
    let item = this.items.get(key);
    if (!item) {
      item = { version: 0, descriptor };
      this.items.set(key, item);
    }
    item.descriptor ??= descriptor;
    return item;
  }

  #call(operation: string): void {
    this.calls.push(operation);
    if (this.failing) throw this.failing;
  }
}
