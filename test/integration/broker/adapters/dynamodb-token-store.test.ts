import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateAliasCommand, KMSClient, RotateKeyOnDemandCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoDbTokenStore,
  type DynamoDbTokenStoreOptions,
} from '../../../../lambda/broker/adapters/dynamodb-token-store.ts';
import { TOKEN_ITEM, TOKEN_ITEM_SCHEMA_VERSION } from '../../../../lambda/broker/adapters/token-cache-item.ts';
import { TokenStoreError } from '../../../../lambda/broker/adapters/token-store-error.ts';
import type { KeyDescriptor, Lease } from '../../../../lambda/broker/core/shared-token-store.ts';
import type { CachedToken } from '../../../../lambda/broker/core/token-cache.ts';
import { everythingSaidAbout } from '../../../support/leaks.ts';
import {
  MOTO_CREDENTIALS,
  MOTO_REGION,
  type MotoServer,
  motoUnavailableReason,
  startMotoServer,
} from '../../support/moto-server.ts';
import { createCacheKey, createTokenCacheTable } from '../../support/token-cache-resources.ts';

const skipReason = motoUnavailableReason();
const title = `Class: DynamoDbTokenStore (moto server)${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

const NAMESPACE = 'stack-a';
const SKEW_MS = 2_000;
const LEASE_MS = 30_000;
const DESCRIPTOR: KeyDescriptor = { client: 'shop', scopes: ['read', 'write'] };

/** A one-hour token obtained at `now`; the access token is unique so a leak is findable. */
function hourToken(now: number, overrides: Partial<CachedToken> = {}): CachedToken {
  return {
    accessToken: `secret-access-token-${randomUUID()}`,
    tokenType: 'Bearer',
    scope: 'read write',
    obtainedAt: now,
    refreshAt: now + 2_700_000,
    expiresAt: now + 3_600_000,
    ...overrides,
  };
}

describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let dynamodb: DynamoDBClient;
  let kms: KMSClient;
  let tableName: string;
  let keyId: string;

  const store = (options: Partial<DynamoDbTokenStoreOptions> = {}) =>
    new DynamoDbTokenStore({ dynamodb, kms, tableName, keyId, namespace: NAMESPACE, clockSkewMs: SKEW_MS, ...options });
  const newKey = () => `key-${randomUUID()}`;
  const leaseRequest = (owner: string, nowMs: number) => ({
    owner,
    nowMs,
    untilMs: nowMs + LEASE_MS,
    descriptor: DESCRIPTOR,
  });
  const rawItem = async (key: string, table = tableName): Promise<Record<string, AttributeValue> | undefined> =>
    (
      await dynamodb.send(
        new GetItemCommand({ TableName: table, Key: { [TOKEN_ITEM.key]: { S: key } }, ConsistentRead: true }),
      )
    ).Item;
  const putRaw = (item: Record<string, AttributeValue>, table = tableName) =>
    dynamodb.send(new PutItemCommand({ TableName: table, Item: item }));
  const setRaw = (key: string, attribute: string, value: AttributeValue) =>
    dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { [TOKEN_ITEM.key]: { S: key } },
        UpdateExpression: 'SET #a = :v',
        ExpressionAttributeNames: { '#a': attribute },
        ExpressionAttributeValues: { ':v': value },
      }),
    );
  /** Acquires the lease on a new key and commits `token` under it. */
  const committed = async (token: CachedToken, target = store(), key = newKey()) => {
    const lease = (await target.acquireLease(key, leaseRequest('writer', token.obtainedAt))) as Lease;
    expect(await target.commit(key, lease, token)).toBe('committed');
    return key;
  };

  beforeAll(async () => {
    moto = await startMotoServer();
    dynamodb = moto.dynamodb();
    kms = moto.kms();
    tableName = await createTokenCacheTable(dynamodb);
    keyId = (await createCacheKey(kms)).keyId;
  });
  afterAll(async () => {
    await moto?.stop();
  });

  describe('reading and committing', () => {
    it('reads back a committed token, at the next version, without a lease', async () => {
      // Prepare
      const now = Date.now();
      const cache = store();
      const key = newKey();
      const token = hourToken(now);
      const lease = await cache.acquireLease(key, leaseRequest('instance-a', now));

      // Act
      const outcome = await cache.commit(key, lease as Lease, token);
      const entry = await cache.read(key);

      // Assess
      expect(lease).toEqual({ owner: 'instance-a', version: 0 });
      expect(outcome).toBe('committed');
      expect(entry).toEqual({ version: 1, token });
    });

    it('reads a key nobody wrote as undefined', async () => {
      // Act & Assess
      expect(await store().read(newKey())).toBeUndefined();
    });

    it('never stores the access token in clear, and keeps the item alive for the retention', async () => {
      // Prepare
      const now = Date.now();
      const token = hourToken(now);

      // Act
      const key = await committed(token, store({ retentionMs: 3_600_000 }));

      // Assess
      const item = (await rawItem(key)) as Record<string, AttributeValue>;
      const bytes = Object.values(item).map((value) => Buffer.from(value.B ?? value.S ?? JSON.stringify(value)));
      expect(Buffer.concat(bytes).includes(token.accessToken)).toBe(false);
      expect(item[TOKEN_ITEM.ttl]?.N).toBe(String(Math.ceil((now + 3_600_000) / 1000)));
      expect(item[TOKEN_ITEM.client]?.S).toBe(DESCRIPTOR.client);
    });

    it('works with the key named by its ARN or an alias', async () => {
      // Prepare
      const key = await createCacheKey(kms);
      const aliasName = `alias/token-cache-${randomUUID()}`;
      await kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: key.keyId }));
      const token = hourToken(Date.now());

      // Act
      const written = await committed(token, store({ keyId: key.arn }));

      // Assess
      expect((await store({ keyId: aliasName }).read(written))?.token).toEqual(token);
    });

    it('still reads a token after the KMS key was rotated', async () => {
      // Prepare
      const token = hourToken(Date.now());
      const key = await committed(token);

      // Act
      await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));

      // Assess
      expect((await store().read(key))?.token).toEqual(token);
    });
  });

  describe('the refresh lease', () => {
    // One after the other: moto's server is threaded and does not serialize conditional writes to
    // an item (two simultaneous requests can both pass), where DynamoDB does.
    it('refuses the lease to a second instance while the first holds it', async () => {
      // Prepare
      const now = Date.now();
      const key = newKey();

      // Act
      const first = await store().acquireLease(key, leaseRequest('instance-a', now));
      const second = await store().acquireLease(key, leaseRequest('instance-b', now + LEASE_MS));

      // Assess
      expect(first).toEqual({ owner: 'instance-a', version: 0 });
      expect(second).toBeUndefined();
      expect((await store().read(key))?.lease).toEqual({ owner: 'instance-a', untilMs: now + LEASE_MS });
    });

    it('keeps the lease from others until it expired by more than the clock skew', async () => {
      // Prepare
      const now = Date.now();
      const key = newKey();
      await store().acquireLease(key, leaseRequest('instance-a', now));
      const expiredAt = now + LEASE_MS;

      // Act
      const withinSkew = await store().acquireLease(key, leaseRequest('instance-b', expiredAt + SKEW_MS));
      const pastSkew = await store().acquireLease(key, leaseRequest('instance-b', expiredAt + SKEW_MS + 1));

      // Assess
      expect(withinSkew).toBeUndefined();
      expect(pastSkew).toEqual({ owner: 'instance-b', version: 0 });
    });

    it('hands the current token version to the next holder', async () => {
      // Prepare
      const now = Date.now();
      const key = await committed(hourToken(now));

      // Act
      const lease = await store().acquireLease(key, leaseRequest('instance-b', now));

      // Assess
      expect(lease).toEqual({ owner: 'instance-b', version: 1 });
    });

    it('keeps a renewed lease from others past its first expiry', async () => {
      // Prepare
      const now = Date.now();
      const key = newKey();
      const lease = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;

      // Act
      const renewed = await store().renewLease(key, lease, now + 3 * LEASE_MS);
      const taken = await store().acquireLease(key, leaseRequest('instance-b', now + LEASE_MS + SKEW_MS + 1));

      // Assess
      expect(renewed).toBe(true);
      expect(taken).toBeUndefined();
    });

    it('fences an old holder whose lease was taken over: it cannot renew, commit or record a failure', async () => {
      // Prepare
      const now = Date.now();
      const key = newKey();
      const staleLease = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;
      const later = now + LEASE_MS + SKEW_MS + 1;
      const newLease = (await store().acquireLease(key, leaseRequest('instance-b', later))) as Lease;
      const newerToken = hourToken(later);
      await store().commit(key, newLease, newerToken);

      // Act
      const renewed = await store().renewLease(key, staleLease, later + LEASE_MS);
      const outcome = await store().commit(key, staleLease, hourToken(now));
      const failureRecorded = await store().recordFailure(key, staleLease, {
        code: 'upstream_unavailable',
        description: 'stale',
        untilMs: later,
      });

      // Assess
      expect([renewed, outcome, failureRecorded]).toEqual([false, 'lost', false]);
      expect(await store().read(key)).toEqual({ version: 1, token: newerToken });
    });

    it('releases a lease without touching the token, so the next instance takes it at once', async () => {
      // Prepare
      const now = Date.now();
      const token = hourToken(now);
      const key = await committed(token);
      const lease = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;

      // Act
      const released = await store().release(key, lease);
      const next = await store().acquireLease(key, leaseRequest('instance-b', now));

      // Assess
      expect(released).toBe(true);
      expect(next).toEqual({ owner: 'instance-b', version: 1 });
      expect((await store().read(key))?.token).toEqual(token);
    });

    it('does not release a lease that was taken over', async () => {
      // Prepare
      const now = Date.now();
      const key = newKey();
      const staleLease = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;
      const later = now + LEASE_MS + SKEW_MS + 1;
      await store().acquireLease(key, leaseRequest('instance-b', later));

      // Act
      const released = await store().release(key, staleLease);

      // Assess
      expect(released).toBe(false);
      expect((await store().read(key))?.lease?.owner).toBe('instance-b');
    });

    it('fences a holder whose version moved on even when it holds the lease again', async () => {
      // Prepare
      const now = Date.now();
      const key = newKey();
      const first = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;
      await store().commit(key, first, hourToken(now));
      await store().acquireLease(key, leaseRequest('instance-a', now));

      // Act
      const outcome = await store().commit(key, first, hourToken(now));

      // Assess
      expect(outcome).toBe('lost');
    });

    it('gives the lease to exactly one of several instances asking at the same moment', async () => {
      // Prepare: clients of their own, so the requests really run side by side (moto must serialize them).
      const now = Date.now();
      const winners: number[] = [];

      // Act
      for (let round = 0; round < 20; round++) {
        const key = newKey();
        const takers = Array.from({ length: 4 }, () => store({ dynamodb: moto.dynamodb() }));
        const leases = await Promise.all(
          takers.map((taker, i) => taker.acquireLease(key, leaseRequest(`instance-${i}`, now))),
        );
        winners.push(leases.filter(Boolean).length);
      }

      // Assess
      expect(winners).toEqual(winners.map(() => 1));
    });
  });

  describe('failures', () => {
    it('records a failed refresh, releasing the lease, and a commit clears it', async () => {
      // Prepare
      const now = Date.now();
      const key = await committed(hourToken(now));
      const lease = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;
      const failure = {
        code: 'upstream_rejected',
        description: 'The authorization server refused the request',
        untilMs: now + 10_000,
        retryAfterSeconds: 10,
      } as const;

      // Act
      const recorded = await store().recordFailure(key, lease, failure);
      const afterFailure = await store().read(key);
      const next = (await store().acquireLease(key, leaseRequest('instance-b', now))) as Lease;
      await store().commit(key, next, hourToken(now));

      // Assess
      expect(recorded).toBe(true);
      expect(afterFailure).toMatchObject({ version: 1, failure });
      expect(afterFailure?.lease).toBeUndefined();
      const afterCommit = await store().read(key);
      expect(afterCommit?.version).toBe(2);
      expect(afterCommit?.failure).toBeUndefined();
    });
  });

  describe('served keys for the warm-up', () => {
    it('lists the keys its namespace served since a time, with their refresh point', async () => {
      // Prepare
      const namespace = `ns-${randomUUID()}`;
      const mine = store({ namespace });
      const now = Date.now();
      const [recent, older, stale, foreign] = [newKey(), newKey(), newKey(), newKey()];
      const token = hourToken(now);
      await committed(token, mine, recent);
      await mine.touch(recent, now, DESCRIPTOR);
      await mine.touch(older, now - 5_000, { client: 'billing', scopes: [] });
      await mine.touch(stale, now - 60_000, DESCRIPTOR);
      await store({ namespace: `other-${namespace}` }).touch(foreign, now, DESCRIPTOR);

      // Act
      const served = await mine.listRecentlyServed(now - 10_000, 10);

      // Assess
      expect([...served].sort((a, b) => b.lastServedAt - a.lastServedAt)).toEqual([
        { key: recent, ...DESCRIPTOR, lastServedAt: now, refreshAt: token.refreshAt },
        { key: older, client: 'billing', scopes: [], lastServedAt: now - 5_000 },
      ]);
    });

    it('moves the expiry with each serve and keeps the first descriptor', async () => {
      // Prepare
      const now = Date.now();
      const key = newKey();
      const cache = store({ retentionMs: 60_000 });

      // Act
      await cache.touch(key, now, DESCRIPTOR);
      await cache.touch(key, now + 1_000, { client: 'other', scopes: ['x'] });

      // Assess
      const item = await rawItem(key);
      expect(item?.[TOKEN_ITEM.ttl]?.N).toBe(String(Math.ceil((now + 61_000) / 1000)));
      expect(item?.[TOKEN_ITEM.client]?.S).toBe(DESCRIPTOR.client);
      expect(await cache.read(key)).toEqual({ version: 0 });
    });

    it('stops at the limit, across scan pages', async () => {
      // Prepare: items of ~300 KB, so a scan page (1 MB) holds three of them
      const table = await createTokenCacheTable(dynamodb);
      const namespace = `ns-${randomUUID()}`;
      const mine = store({ tableName: table, namespace });
      const now = Date.now();
      const keys = [newKey(), newKey(), newKey(), newKey(), newKey()];
      for (const key of keys) {
        await committed(hourToken(now, { accessToken: 'x'.repeat(300_000) }), mine, key);
        await mine.touch(key, now, DESCRIPTOR);
      }

      // Act
      const all = await mine.listRecentlyServed(now, 100);
      const some = await mine.listRecentlyServed(now, 4);

      // Assess
      const firstPage = await dynamodb.send(new ScanCommand({ TableName: table }));
      expect(firstPage.LastEvaluatedKey).toBeDefined();
      expect(all.map((served) => served.key).sort()).toEqual([...keys].sort());
      expect(some).toHaveLength(4);
    });
  });

  describe('items it must not use', () => {
    it('reads an item of an unknown schema version as a miss and never takes its lease', async () => {
      // Prepare
      const key = newKey();
      const future = {
        [TOKEN_ITEM.key]: { S: key },
        [TOKEN_ITEM.schemaVersion]: { N: String(TOKEN_ITEM_SCHEMA_VERSION + 1) },
        [TOKEN_ITEM.namespace]: { S: NAMESPACE },
        [TOKEN_ITEM.version]: { N: '7' },
      };
      await putRaw(future);

      // Act
      const entry = await store().read(key);
      const lease = await store().acquireLease(key, leaseRequest('instance-a', Date.now()));

      // Assess
      expect(entry).toBeUndefined();
      expect(lease).toBeUndefined();
      expect(await rawItem(key)).toEqual(future);
    });

    it('reads an item of another namespace as a miss', async () => {
      // Prepare
      const key = await committed(hourToken(Date.now()), store({ namespace: 'stack-b' }));

      // Act & Assess
      expect(await store().read(key)).toBeUndefined();
    });

    // Moto answers a Decrypt pinned to another key with AccessDeniedException (KMS:
    // IncorrectKeyException); the store's key-id check answers before asking, so both read a miss.
    it('reads a token sealed under another KMS key as a miss, without failing', async () => {
      // Prepare
      const otherKey = await createCacheKey(kms);
      const key = await committed(hourToken(Date.now()), store({ keyId: otherKey.arn }));

      // Act
      const entry = await store().read(key);

      // Assess
      expect(entry).toEqual({ version: 1 });
    });

    // Moto enforces the encryption context on Decrypt (InvalidCiphertextException), as KMS does. The
    // GCM AAD also binds the item, and catches the copy alone: token-envelope.test.ts, context-blind KMS.
    it('reads a token copied from another item as a miss, and a lease holder overwrites it', async () => {
      // Prepare
      const now = Date.now();
      const source = (await rawItem(await committed(hourToken(now)))) as Record<string, AttributeValue>;
      const key = newKey();
      await putRaw({ ...source, [TOKEN_ITEM.key]: { S: key } });
      const fresh = hourToken(now);

      // Act
      const copied = await store().read(key);
      const lease = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;
      await store().commit(key, lease, fresh);

      // Assess
      expect(copied).toEqual({ version: 1 });
      expect((await store().read(key))?.token).toEqual(fresh);
    });

    it.each([
      ['the ciphertext', TOKEN_ITEM.ciphertext],
      ['the encrypted data key', TOKEN_ITEM.encryptedDataKey],
      ['the authentication tag', TOKEN_ITEM.tag],
    ])('reads a token whose %s was tampered with as a miss', async (_what, attribute) => {
      // Prepare
      const key = await committed(hourToken(Date.now()));
      const bytes = Buffer.from((await rawItem(key))?.[attribute]?.B as Uint8Array);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
      await setRaw(key, attribute, { B: bytes });

      // Act & Assess
      expect(await store().read(key)).toEqual({ version: 1 });
    });

    it.each([
      ['refresh point', TOKEN_ITEM.refreshAt, { N: String(Date.now() + 86_400_000) }],
      ['scope', TOKEN_ITEM.scope, { S: 'admin' }],
    ])('reads a token whose clear %s was changed as a miss', async (_what, attribute, value) => {
      // Prepare
      const key = await committed(hourToken(Date.now()));
      await setRaw(key, attribute, value);

      // Act & Assess
      expect(await store().read(key)).toEqual({ version: 1 });
    });

    it('reads a token whose version was rolled back as a miss', async () => {
      // Prepare
      const now = Date.now();
      const key = await committed(hourToken(now));
      const old = (await rawItem(key)) as Record<string, AttributeValue>;
      const lease = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;
      await store().commit(key, lease, hourToken(now));

      // Act
      await putRaw({ ...old, [TOKEN_ITEM.version]: { N: '2' } });

      // Assess
      expect(await store().read(key)).toEqual({ version: 2 });
    });
  });

  describe('tokens too large for an item', () => {
    it('keeps a token above the item limit out of the table and releases the lease', async () => {
      // Prepare
      const now = Date.now();
      const previous = hourToken(now);
      const key = await committed(previous);
      const lease = (await store().acquireLease(key, leaseRequest('instance-a', now))) as Lease;

      // Act
      const outcome = await store().commit(key, lease, hourToken(now, { accessToken: 'x'.repeat(360_000) }));

      // Assess
      expect(outcome).toBe('too-large');
      expect(await store().read(key)).toEqual({ version: 1, token: previous });
      expect(await store().acquireLease(key, leaseRequest('instance-b', now))).toEqual({
        owner: 'instance-b',
        version: 1,
      });
    });

    it('applies a configured item limit', async () => {
      // Prepare
      const now = Date.now();
      const small = store({ maxItemBytes: 2_000 });
      const key = newKey();
      const lease = (await small.acquireLease(key, leaseRequest('instance-a', now))) as Lease;

      // Act
      const outcome = await small.commit(key, lease, hourToken(now, { accessToken: 'x'.repeat(2_000) }));

      // Assess
      expect(outcome).toBe('too-large');
      expect(await small.read(key)).toEqual({ version: 0 });
    });
  });

  describe('a failing tier', () => {
    it('throws when KMS cannot be reached, instead of reading a miss or writing in clear', async () => {
      // Prepare
      const key = await committed(hourToken(Date.now()));
      const cache = store({ kms: unreachableKms(await closedPort()) });
      const now = Date.now();

      // Act
      const readError = await cache.read(key).catch((caught: unknown) => caught);
      const lease = (await cache.acquireLease(newKey(), leaseRequest('instance-a', now))) as Lease;
      const commitError = await cache.commit(key, lease, hourToken(now)).catch((caught: unknown) => caught);

      // Assess
      expect(readError).toBeInstanceOf(TokenStoreError);
      expect(readError).toMatchObject({ operation: 'Decrypt' });
      expect(commitError).toMatchObject({ operation: 'GenerateDataKey' });
    });

    it('throws from every method once the moto server (DynamoDB and KMS) is gone', async () => {
      // Prepare: a server of its own, to stop
      const doomed = await startMotoServer();
      const doomedDynamodb = doomed.dynamodb();
      const table = await createTokenCacheTable(doomedDynamodb);
      const doomedKey = await createCacheKey(doomed.kms());
      const cache = new DynamoDbTokenStore({
        dynamodb: doomedDynamodb,
        kms: doomed.kms(),
        tableName: table,
        keyId: doomedKey.keyId,
        namespace: NAMESPACE,
      });
      const key = newKey();
      const now = Date.now();
      const token = hourToken(now);
      const lease = (await cache.acquireLease(key, leaseRequest('instance-a', now))) as Lease;
      await doomed.stop();

      // Act
      const outcomes = await Promise.allSettled([
        cache.read(key),
        cache.acquireLease(newKey(), leaseRequest('instance-a', now)),
        cache.renewLease(key, lease, now + LEASE_MS),
        cache.commit(key, lease, token),
        cache.recordFailure(key, lease, { code: 'upstream_unavailable', description: 'down', untilMs: now }),
        cache.touch(key, now, DESCRIPTOR),
        cache.listRecentlyServed(now, 10),
      ]);

      // Assess
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason;
        expect(reason).toBeInstanceOf(TokenStoreError);
        expect(everythingSaidAbout(reason)).not.toContain(token.accessToken);
      }
      expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({ operation: 'GenerateDataKey' });
    });
  });
});

/** A loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function unreachableKms(port: number): KMSClient {
  return new KMSClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: MOTO_REGION,
    credentials: MOTO_CREDENTIALS,
    maxAttempts: 1,
  });
}
