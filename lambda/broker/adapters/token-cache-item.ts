import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { CACHE_TABLE } from '../../shared/contract.ts';
import type { KeyDescriptor, RecordedFailure } from '../core/shared-token-store.ts';
import type { SealedToken, TokenMetadata } from './token-envelope.ts';

/**
 * The fleet cache item's layout version. A reader finding another value treats the item as a miss
 * and never takes its lease: a newer broker's items are left to it.
 */
export const TOKEN_ITEM_SCHEMA_VERSION = 1;

/** Attribute names of a fleet cache item. Times are epoch milliseconds, except `ttl` (seconds). */
export const TOKEN_ITEM = {
  /** S: the cache's key (a hash that includes the namespace). */
  key: CACHE_TABLE.partitionKey,
  /** N: epoch seconds, last served + retention; DynamoDB's TTL deletes the item after it. */
  ttl: CACHE_TABLE.ttlAttribute,
  /** N: {@link TOKEN_ITEM_SCHEMA_VERSION}. */
  schemaVersion: 'schemaVersion',
  /** S: the namespace that wrote the item; the warm-up scans for its own. */
  namespace: 'namespace',
  /** S and L of S: what the warm-up needs to refresh the key without a caller. */
  client: 'client',
  scopes: 'scopes',
  /** N: 0 before the first commit, +1 per commit; fences commits. */
  version: 'tokenVersion',
  /** S and N: the refresh lease's holder and expiry, absent when nobody holds it. */
  leaseOwner: 'leaseOwner',
  leaseUntil: 'leaseUntil',
  /** S, S, N, N: the last failed refresh and its cool-down, absent after a commit. */
  failureCode: 'failureCode',
  failureDescription: 'failureDescription',
  failureUntil: 'failureUntil',
  failureRetryAfterSeconds: 'failureRetryAfterSeconds',
  /** N: when the key was last served. */
  lastServedAt: 'lastServedAt',
  /** S, S, N, N, N: the token's clear fields, authenticated by the ciphertext. */
  tokenType: 'tokenType',
  scope: 'scope',
  obtainedAt: 'obtainedAt',
  refreshAt: 'refreshAt',
  expiresAt: 'expiresAt',
  /** B, B, B: the access token under AES-256-GCM. */
  ciphertext: 'tokenCiphertext',
  iv: 'tokenIv',
  tag: 'tokenTag',
  /** B and S: the data key as KMS encrypted it, and the KMS key's ARN. */
  encryptedDataKey: 'encryptedDataKey',
  keyArn: 'kmsKeyArn',
} as const;

const A = TOKEN_ITEM;

/** The token attributes a commit writes. */
export function tokenAttributes(metadata: TokenMetadata, sealed: SealedToken): Record<string, AttributeValue> {
  return {
    [A.tokenType]: { S: metadata.tokenType },
    [A.scope]: { S: metadata.scope },
    [A.obtainedAt]: number(metadata.obtainedAt),
    [A.refreshAt]: number(metadata.refreshAt),
    [A.expiresAt]: number(metadata.expiresAt),
    [A.ciphertext]: { B: sealed.ciphertext },
    [A.iv]: { B: sealed.iv },
    [A.tag]: { B: sealed.tag },
    [A.encryptedDataKey]: { B: sealed.encryptedDataKey },
    [A.keyArn]: { S: sealed.keyArn },
  };
}

export function descriptorAttributes(descriptor: KeyDescriptor): Record<string, AttributeValue> {
  return {
    [A.client]: { S: descriptor.client },
    [A.scopes]: { L: descriptor.scopes.map((scope) => ({ S: scope })) },
  };
}

export function number(value: number): AttributeValue {
  return { N: String(value) };
}

/** An item as read, field by field; each field `undefined` when absent or malformed. */
export interface DecodedItem {
  readonly schemaVersion?: number;
  readonly namespace?: string;
  readonly version?: number;
  readonly descriptor?: KeyDescriptor;
  readonly lastServedAt?: number;
  readonly lease?: { readonly owner: string; readonly untilMs: number };
  readonly failure?: RecordedFailure;
  readonly token?: { readonly metadata: TokenMetadata; readonly sealed: SealedToken };
}

export function decodeItem(item: Record<string, AttributeValue>): DecodedItem {
  const read = reader(item);
  const leaseOwner = read.string(A.leaseOwner);
  const leaseUntil = read.number(A.leaseUntil);
  return {
    schemaVersion: read.number(A.schemaVersion),
    namespace: read.string(A.namespace),
    version: read.number(A.version),
    descriptor: decodeDescriptor(item),
    lastServedAt: read.number(A.lastServedAt),
    lease:
      leaseOwner !== undefined && leaseUntil !== undefined ? { owner: leaseOwner, untilMs: leaseUntil } : undefined,
    failure: decodeFailure(item),
    token: decodeToken(item),
  };
}

export function decodeDescriptor(item: Record<string, AttributeValue>): KeyDescriptor | undefined {
  const client = reader(item).string(A.client);
  const scopes = item[A.scopes]?.L?.map((scope) => scope.S);
  if (client === undefined || scopes === undefined || !scopes.every((scope) => scope !== undefined)) return undefined;
  return { client, scopes: scopes as string[] };
}

function decodeFailure(item: Record<string, AttributeValue>): RecordedFailure | undefined {
  const read = reader(item);
  const code = read.string(A.failureCode);
  const description = read.string(A.failureDescription);
  const untilMs = read.number(A.failureUntil);
  if ((code !== 'upstream_unavailable' && code !== 'upstream_rejected') || description === undefined) return undefined;
  if (untilMs === undefined) return undefined;
  const retryAfterSeconds = read.number(A.failureRetryAfterSeconds);
  return retryAfterSeconds === undefined
    ? { code, description, untilMs }
    : { code, description, untilMs, retryAfterSeconds };
}

function decodeToken(item: Record<string, AttributeValue>): DecodedItem['token'] {
  const read = reader(item);
  const tokenType = read.string(A.tokenType);
  const scope = read.string(A.scope);
  const obtainedAt = read.number(A.obtainedAt);
  const refreshAt = read.number(A.refreshAt);
  const expiresAt = read.number(A.expiresAt);
  const ciphertext = read.binary(A.ciphertext);
  const iv = read.binary(A.iv);
  const tag = read.binary(A.tag);
  const encryptedDataKey = read.binary(A.encryptedDataKey);
  const keyArn = read.string(A.keyArn);
  if (tokenType !== 'Bearer' || scope === undefined || obtainedAt === undefined || refreshAt === undefined) return;
  if (expiresAt === undefined || !ciphertext || !iv || !tag || !encryptedDataKey || keyArn === undefined) return;
  return {
    metadata: { tokenType, scope, obtainedAt, refreshAt, expiresAt },
    sealed: { ciphertext, iv, tag, encryptedDataKey, keyArn },
  };
}

function reader(item: Record<string, AttributeValue>) {
  return {
    string: (name: string): string | undefined => item[name]?.S,
    number: (name: string): number | undefined => {
      const text = item[name]?.N;
      const value = text === undefined ? Number.NaN : Number(text);
      return Number.isFinite(value) ? value : undefined;
    },
    binary: (name: string): Uint8Array | undefined => item[name]?.B,
  };
}

/**
 * An item's size as DynamoDB counts it toward its 400 KB limit: names in UTF-8 plus values
 * (numbers rounded up to DynamoDB's worst case per digit pair).
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */
export function itemSizeBytes(item: Record<string, AttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name, 'utf8') + valueSize(value);
  return size;
}

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return Math.ceil(value.N.replace(/[^0-9]/g, '').length / 2) + 1;
  if (value.B !== undefined) return value.B.length;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, element) => sum + 1 + valueSize(element), 0);
  if (value.M !== undefined) return 3 + itemSizeBytes(value.M) + Object.keys(value.M).length;
  return 1;
}
