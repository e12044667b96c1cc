import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  type ScanCommandOutput,
  UpdateItemCommand,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError } from '../core/config.ts';
import type {
  KeyDescriptor,
  Lease,
  LeaseRequest,
  RecordedFailure,
  ServedKey,
  SharedEntry,
  SharedTokenStore,
} from '../core/shared-token-store.ts';
import type { CachedToken } from '../core/token-cache.ts';
import { DynamoDbExpression } from './dynamodb-expression.ts';
import {
  TOKEN_ITEM as A,
  decodeDescriptor,
  decodeItem,
  descriptorAttributes,
  itemSizeBytes,
  number,
  TOKEN_ITEM_SCHEMA_VERSION,
  tokenAttributes,
} from './token-cache-item.ts';
import { type EnvelopeBinding, TokenEnvelope } from './token-envelope.ts';
import { TokenStoreError } from './token-store-error.ts';

/** DynamoDB refuses items above 400 KB. */
const DYNAMODB_MAX_ITEM_BYTES = 400 * 1024;
/** A failure's description is the broker's own text; a bound keeps an odd one from bloating the item. */
const MAX_FAILURE_DESCRIPTION_CHARS = 1_000;

export interface DynamoDbTokenStoreOptions {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
  /** A table laid out per `CACHE_TABLE`: partition key `pk` (S), TTL on `ttl`. */
  readonly tableName: string;
  /**
   * The KMS key that encrypts tokens: key id, key ARN, alias name or alias ARN. A key id or key ARN
   * lets a reader skip items sealed under another key without asking KMS.
   */
  readonly keyId: string;
  /** This stack's namespace: written into items, bound into their encryption, filtered by the warm-up. */
  readonly namespace: string;
  /**
   * How far instances' clocks may disagree: a lease is taken over only once it expired this long ago.
   * @default 2000 (ms)
   */
  readonly clockSkewMs?: number;
  /**
   * How long an item lives after it was last served (its `ttl`); the warm-up alone does not keep it.
   * @default 86400000 (1 day)
   */
  readonly retentionMs?: number;
  /**
   * Largest item a commit writes, counted as DynamoDB counts; a larger token stays out of the table.
   * The headroom below DynamoDB's 400 KB covers the attributes a commit does not write (descriptor,
   * lease, failure).
   * @default 358400 (350 KiB)
   */
  readonly maxItemBytes?: number;
}

/**
 * {@link SharedTokenStore} over one DynamoDB table, tokens encrypted with KMS envelope encryption
 * ({@link TokenEnvelope}). Only `GetItem` (strongly consistent), `UpdateItem` (conditional where it
 * fences) and `Scan`, and KMS `GenerateDataKey` and `Decrypt`: the construct grants exactly these.
 *
 * An item whose schema version or namespace is not this store's is a miss and is never leased.
 * A failed or refused AWS call throws {@link TokenStoreError}; an item that cannot be decrypted is
 * an entry without a token.
 */
export class DynamoDbTokenStore implements SharedTokenStore {
  readonly #dynamodb: DynamoDBClient;
  readonly #envelope: TokenEnvelope;
  readonly #tableName: string;
  readonly #namespace: string;
  readonly #clockSkewMs: number;
  readonly #retentionMs: number;
  readonly #maxItemBytes: number;

  constructor(options: DynamoDbTokenStoreOptions) {
    this.#tableName = nonEmpty('tableName', options.tableName);
    this.#namespace = nonEmpty('namespace', options.namespace);
    this.#envelope = new TokenEnvelope({ kms: options.kms, keyId: nonEmpty('keyId', options.keyId) });
    this.#dynamodb = options.dynamodb;
    this.#clockSkewMs = inRange('clockSkewMs', options.clockSkewMs ?? 2_000, 0, 3_600_000);
    this.#retentionMs = inRange('retentionMs', options.retentionMs ?? 86_400_000, 1_000, Number.MAX_SAFE_INTEGER);
    this.#maxItemBytes = inRange('maxItemBytes', options.maxItemBytes ?? 350 * 1024, 1, DYNAMODB_MAX_ITEM_BYTES);
  }

  async read(key: string): Promise<SharedEntry | undefined> {
    const out = await this.#send('GetItem', () =>
      this.#dynamodb.send(
        new GetItemCommand({ TableName: this.#tableName, Key: this.#key(key), ConsistentRead: true }),
      ),
    );
    if (!out.Item) return undefined;
    const item = decodeItem(out.Item);
    const { version } = item;
    if (item.schemaVersion !== TOKEN_ITEM_SCHEMA_VERSION || item.namespace !== this.#namespace) return undefined;
    if (version === undefined) return undefined;
    const accessToken =
      item.token && (await this.#envelope.open(item.token.sealed, item.token.metadata, this.#binding(key, version)));
    return {
      version,
      ...(accessToken !== undefined && item.token ? { token: { ...item.token.metadata, accessToken } } : {}),
      ...(item.lease ? { lease: item.lease } : {}),
      ...(item.failure ? { failure: item.failure } : {}),
    };
  }

  async acquireLease(key: string, request: LeaseRequest): Promise<Lease | undefined> {
    const e = new DynamoDbExpression()
      .setIfAbsent(A.schemaVersion, number(TOKEN_ITEM_SCHEMA_VERSION))
      .setIfAbsent(A.namespace, { S: this.#namespace })
      .setIfAbsent(A.version, number(0))
      .setIfAbsent(A.ttl, number(this.#ttlSeconds(request.nowMs)))
      .set(A.leaseOwner, { S: request.owner })
      .set(A.leaseUntil, number(request.untilMs));
    for (const [name, value] of Object.entries(descriptorAttributes(request.descriptor))) e.setIfAbsent(name, value);
    const leaseFree = `attribute_not_exists(${e.name(A.leaseUntil)}) OR ${e.name(A.leaseUntil)} < ${e.value(number(request.nowMs - this.#clockSkewMs))}`;
    const condition = `(attribute_not_exists(${e.name(A.key)}) OR (${this.#ours(e)})) AND (${leaseFree})`;
    const out = await this.#update(key, e, condition, 'ALL_NEW');
    const version = out && decodeItem(out.Attributes ?? {}).version;
    return version === undefined ? undefined : { owner: request.owner, version };
  }

  async renewLease(key: string, lease: Lease, untilMs: number): Promise<boolean> {
    const e = new DynamoDbExpression().set(A.leaseUntil, number(untilMs));
    return (await this.#update(key, e, this.#held(e, lease))) !== undefined;
  }

  async commit(key: string, lease: Lease, token: CachedToken): Promise<'committed' | 'lost' | 'too-large'> {
    const version = lease.version + 1;
    const { accessToken: _sealedSeparately, ...metadata } = token;
    const sealed = await this.#envelope.seal(token, this.#binding(key, version));
    const written = tokenAttributes(metadata, sealed);
    if (this.#committedSize(key, written) > this.#maxItemBytes) {
      await this.release(key, lease);
      return 'too-large';
    }
    const e = new DynamoDbExpression()
      .set(A.version, number(version))
      .setIfAbsent(A.ttl, number(this.#ttlSeconds(token.obtainedAt)))
      .remove(A.leaseOwner, A.leaseUntil, ...FAILURE_ATTRIBUTES);
    for (const [name, value] of Object.entries(written)) e.set(name, value);
    return (await this.#update(key, e, this.#held(e, lease))) ? 'committed' : 'lost';
  }

  async recordFailure(key: string, lease: Lease, failure: RecordedFailure): Promise<boolean> {
    const e = new DynamoDbExpression()
      .set(A.failureCode, { S: failure.code })
      .set(A.failureDescription, { S: failure.description.slice(0, MAX_FAILURE_DESCRIPTION_CHARS) })
      .set(A.failureUntil, number(failure.untilMs))
      .remove(A.leaseOwner, A.leaseUntil);
    if (failure.retryAfterSeconds === undefined) e.remove(A.failureRetryAfterSeconds);
    else e.set(A.failureRetryAfterSeconds, number(failure.retryAfterSeconds));
    return (await this.#update(key, e, this.#held(e, lease))) !== undefined;
  }

  async touch(key: string, servedAtMs: number, descriptor: KeyDescriptor): Promise<void> {
    const e = new DynamoDbExpression()
      .set(A.lastServedAt, number(servedAtMs))
      .set(A.ttl, number(this.#ttlSeconds(servedAtMs)))
      .setIfAbsent(A.schemaVersion, number(TOKEN_ITEM_SCHEMA_VERSION))
      .setIfAbsent(A.namespace, { S: this.#namespace })
      .setIfAbsent(A.version, number(0));
    for (const [name, value] of Object.entries(descriptorAttributes(descriptor))) e.setIfAbsent(name, value);
    await this.#update(key, e, undefined);
  }

  async listRecentlyServed(sinceMs: number, limit: number): Promise<readonly ServedKey[]> {
    const served: ServedKey[] = [];
    if (limit <= 0) return served;
    const e = new DynamoDbExpression();
    const filter = `${this.#ours(e)} AND ${e.name(A.lastServedAt)} >= ${e.value(number(sinceMs))}`;
    const projection = [A.key, A.client, A.scopes, A.lastServedAt, A.refreshAt].map((name) => e.name(name)).join(', ');
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page: ScanCommandOutput = await this.#send('Scan', () =>
        this.#dynamodb.send(
          new ScanCommand({
            TableName: this.#tableName,
            FilterExpression: filter,
            ProjectionExpression: projection,
            ExclusiveStartKey: startKey,
            ...e.placeholders(),
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        const entry = servedKey(item);
        if (entry) served.push(entry);
        if (served.length >= limit) return served;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return served;
  }

  /** Releases a lease without writing a token (one too large for the item, or not to be cached), fenced like `commit`. */
  async release(key: string, lease: Lease): Promise<boolean> {
    const e = new DynamoDbExpression().remove(A.leaseOwner, A.leaseUntil);
    return (await this.#update(key, e, this.#held(e, lease))) !== undefined;
  }

  /** `undefined` when the condition failed. */
  async #update(
    key: string,
    e: DynamoDbExpression,
    condition: string | undefined,
    returnValues: 'NONE' | 'ALL_NEW' = 'NONE',
  ): Promise<UpdateItemCommandOutput | undefined> {
    try {
      return await this.#dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: this.#key(key),
          ...(condition === undefined ? {} : { ConditionExpression: condition }),
          ReturnValues: returnValues,
          ...e.update(),
        }),
      );
    } catch (error) {
      if ((error as { name?: unknown }).name === CONDITION_FAILED) return undefined;
      throw new TokenStoreError('UpdateItem', error);
    }
  }

  async #send<T>(operation: 'GetItem' | 'Scan', call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new TokenStoreError(operation, error);
    }
  }

  /** The item is one this store may use: its schema, its namespace. */
  #ours(e: DynamoDbExpression): string {
    return `${e.name(A.schemaVersion)} = ${e.value(number(TOKEN_ITEM_SCHEMA_VERSION))} AND ${e.name(A.namespace)} = ${e.value({ S: this.#namespace })}`;
  }

  /** The fence: `lease` is still held and the token version has not moved. */
  #held(e: DynamoDbExpression, lease: Lease): string {
    return `${this.#ours(e)} AND ${e.name(A.leaseOwner)} = ${e.value({ S: lease.owner })} AND ${e.name(A.version)} = ${e.value(number(lease.version))}`;
  }

  /** The item after a commit, but for the descriptor (in the headroom). */
  #committedSize(key: string, written: Record<string, AttributeValue>): number {
    return itemSizeBytes({
      ...this.#key(key),
      [A.schemaVersion]: number(TOKEN_ITEM_SCHEMA_VERSION),
      [A.namespace]: { S: this.#namespace },
      [A.version]: number(Number.MAX_SAFE_INTEGER),
      [A.ttl]: number(Number.MAX_SAFE_INTEGER),
      [A.lastServedAt]: number(Number.MAX_SAFE_INTEGER),
      ...written,
    });
  }

  #key(key: string): Record<string, AttributeValue> {
    return { [A.key]: { S: key } };
  }

  #binding(key: string, version: number): EnvelopeBinding {
    return { namespace: this.#namespace, item: key, version };
  }

  #ttlSeconds(fromMs: number): number {
    return Math.ceil((fromMs + this.#retentionMs) / 1000);
  }
}

const CONDITION_FAILED = 'ConditionalCheckFailedException';
const FAILURE_ATTRIBUTES = [A.failureCode, A.failureDescription, A.failureUntil, A.failureRetryAfterSeconds];

/** A scanned item (projected to what the warm-up needs). */
function servedKey(item: Record<string, AttributeValue>): ServedKey | undefined {
  const key = item[A.key]?.S;
  const descriptor = decodeDescriptor(item);
  const lastServedAt = numberOf(item[A.lastServedAt]);
  if (key === undefined || descriptor === undefined || lastServedAt === undefined) return undefined;
  const refreshAt = numberOf(item[A.refreshAt]);
  return { key, ...descriptor, lastServedAt, ...(refreshAt === undefined ? {} : { refreshAt }) };
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  const parsed = value?.N === undefined ? Number.NaN : Number(value.N);
  return Number.isFinite(parsed) ? parsed : undefined;
}

function nonEmpty(field: string, value: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`DynamoDbTokenStore.${field}`, 'must be a non-empty string');
  }
  return value;
}

function inRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`DynamoDbTokenStore.${field}`, `must be an integer from ${min} to ${max}`);
  }
  return value;
}
