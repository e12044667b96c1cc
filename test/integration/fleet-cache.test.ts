import { randomUUID } from 'node:crypto';
import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TOKEN_ITEM } from '../../lambda/broker/adapters/token-cache-item.ts';
import { type AuthorizationServer, startAuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { type LocalBroker, startLocalBroker } from '../../lambda/local/local-broker.ts';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.ts';
import { configFor, getToken, type TokenReply } from './support/fixtures.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from './support/moto-server.ts';
import { createCacheKey, createTokenCacheTable, readCacheTable } from './support/token-cache-resources.ts';

const skipReason = motoUnavailableReason();
const title = `Fleet cache: broker instances sharing a moto table and KMS key${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

/** Tokens the authorization server issues; refreshed at 75% (45 s), usable until 54 s. */
const TOKEN_LIFETIME_S = 60;
const REFRESH_WINDOW_S = 45;

/** A clock every instance of a fleet reads; the test moves it. */
function virtualClock() {
  let nowMs = Date.now();
  return {
    now: () => nowMs,
    advance(seconds: number) {
      nowMs += seconds * 1000;
    },
  };
}

describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let dynamodb: DynamoDBClient;
  let kms: KMSClient;
  let server: AuthorizationServer;
  let proxy: FaultProxy;
  let tableName: string;
  let keyId: string;
  const brokers: LocalBroker[] = [];

  /** `count` instances, each with its own memory; with `cache`, they share the table through `sharedCache`. */
  const fleet = async (
    count: number,
    options: {
      clock: { now: () => number };
      cache?: { namespace: string; keyId?: string };
      client?: Record<string, unknown>;
      refreshWaitMs?: number;
    },
  ) => {
    const config = configFor(
      server,
      { clientSecret: { value: 'password' }, ...options.client },
      options.refreshWaitMs === undefined ? {} : { refreshWaitMs: options.refreshWaitMs },
    );
    const sharedCache = options.cache && { tableName, keyId, ...options.cache };
    const started = await Promise.all(
      Array.from({ length: count }, () =>
        startLocalBroker({ config, now: options.clock.now, ...(sharedCache ? { sharedCache } : {}) }),
      ),
    );
    brokers.push(...started);
    return started;
  };
  const table = (namespace: string, readerKeyId = keyId) =>
    readCacheTable({ dynamodb, kms, tableName, keyId: readerKeyId, namespace });

  beforeAll(async () => {
    moto = await startMotoServer();
    // What the Lambda entry gets from its environment: the SDK finds moto through these.
    for (const [name, value] of Object.entries(moto.environment())) vi.stubEnv(name, value);
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    dynamodb = moto.dynamodb();
    kms = moto.kms();
    tableName = await createTokenCacheTable(dynamodb);
    keyId = (await createCacheKey(kms)).arn;
    server = await startAuthorizationServer({ accessTokenTtlSeconds: TOKEN_LIFETIME_S });
    proxy = await startFaultProxy(new URL(server.issuer).origin);
  });
  afterEach(async () => {
    proxy.setMode({ kind: 'pass' });
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await proxy?.stop();
    await server?.stop();
    await moto?.stop();
  });

  describe('one token request per refresh interval', () => {
    const INSTANCES = 4;
    const REQUESTS_PER_STEP = 12;
    const STEP_S = 4;
    const RUN_S = 200;

    /**
     * Moves the fleet's clock in steps over the run; at each step, concurrent requests for one
     * client and scope, spread over every instance. Returns the steps at which the authorization
     * server was asked, and how often.
     */
    const run = async (instances: LocalBroker[], clock: ReturnType<typeof virtualClock>) => {
      const asked: { atSeconds: number; requests: number }[] = [];
      const replies: TokenReply[] = [];
      for (let atSeconds = 0; atSeconds <= RUN_S; atSeconds += STEP_S) {
        const before = server.tokenRequestCount();
        const step = await Promise.all(
          Array.from({ length: REQUESTS_PER_STEP }, (_, i) =>
            getToken((instances[(i + atSeconds) % instances.length] as LocalBroker).url, 'shop', 'read'),
          ),
        );
        replies.push(...step);
        const requests = server.tokenRequestCount() - before;
        if (requests > 0) asked.push({ atSeconds, requests });
        clock.advance(STEP_S);
      }
      return { asked, replies };
    };

    /** The steps at which a token reaches its refresh point, one token after the other. */
    const refreshSteps = () => {
      const steps: number[] = [];
      for (let at = 0, due = 0; at <= RUN_S; at += STEP_S) {
        if (at < due) continue;
        steps.push(at);
        due = at + REFRESH_WINDOW_S;
      }
      return steps;
    };

    it('asks once per refresh interval for the whole fleet when the instances share the table', async () => {
      // Prepare: the first request of each step past a refresh point waits for the refresh, so the
      // clock never moves while one is in flight.
      const clock = virtualClock();
      const instances = await fleet(INSTANCES, {
        clock,
        cache: { namespace: `fleet-${randomUUID()}` },
        refreshWaitMs: 5_000,
      });

      // Act
      const { asked, replies } = await run(instances, clock);

      // Assess
      expect(refreshSteps().length).toBeGreaterThanOrEqual(4);
      expect(asked).toEqual(refreshSteps().map((atSeconds) => ({ atSeconds, requests: 1 })));
      expect(replies.every((r) => r.status === 200)).toBe(true);
      expect(new Set(replies.map((r) => r.body.access_token)).size).toBe(refreshSteps().length);
    });

    it('asks once per instance and refresh interval without the table (positive control)', async () => {
      // Prepare
      const clock = virtualClock();
      const instances = await fleet(INSTANCES, { clock, refreshWaitMs: 5_000 });

      // Act
      const { asked } = await run(instances, clock);

      // Assess
      expect(asked).toEqual(refreshSteps().map((atSeconds) => ({ atSeconds, requests: INSTANCES })));
    });
  });

  describe('an item this broker cannot open', () => {
    const tamperCiphertext = async (key: string) => {
      const item = await dynamodb.send(
        new GetItemCommand({ TableName: tableName, Key: { [TOKEN_ITEM.key]: { S: key } }, ConsistentRead: true }),
      );
      const ciphertext = Buffer.from(item.Item?.[TOKEN_ITEM.ciphertext]?.B as Uint8Array);
      ciphertext[0] = (ciphertext[0] as number) ^ 0xff;
      await dynamodb.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { [TOKEN_ITEM.key]: { S: key } },
          UpdateExpression: 'SET #c = :c',
          ExpressionAttributeNames: { '#c': TOKEN_ITEM.ciphertext },
          ExpressionAttributeValues: { ':c': { B: ciphertext } },
        }),
      );
    };

    it.each([
      ['sealed under another KMS key', 'another key'],
      ['whose ciphertext was tampered with', 'tampered'],
    ] as const)('reads an item %s as a miss, refreshes it under the lease and overwrites it', async (_, damage) => {
      // Prepare: an item committed by a writer, then made unreadable for this broker.
      const clock = virtualClock();
      const namespace = `unreadable-${randomUUID()}`;
      const writerKeyId = damage === 'another key' ? (await createCacheKey(kms)).arn : keyId;
      const [writer] = await fleet(1, { clock, cache: { namespace, keyId: writerKeyId } });
      const written = await getToken((writer as LocalBroker).url, 'shop', 'read');
      const [item] = await table(namespace, writerKeyId);
      if (damage === 'tampered') await tamperCiphertext(item?.key as string);
      const [reader, second] = await fleet(2, { clock, cache: { namespace } });
      const before = server.tokenRequestCount();

      // Act
      const read = await getToken((reader as LocalBroker).url, 'shop', 'read');
      const fromTable = await getToken((second as LocalBroker).url, 'shop', 'read');

      // Assess
      expect(item?.entry).toMatchObject({ version: 1, token: { accessToken: written.body.access_token } });
      expect(read.status).toBe(200);
      expect(read.body.access_token).not.toBe(written.body.access_token);
      expect(server.tokenRequestCount() - before).toBe(1);
      expect(fromTable.body.access_token).toBe(read.body.access_token);
      expect(await table(namespace)).toEqual([
        {
          key: item?.key,
          entry: expect.objectContaining({
            version: 2,
            token: expect.objectContaining({ accessToken: read.body.access_token }),
          }),
        },
      ]);
    });
  });

  describe('refresh-ahead with a slow authorization server', () => {
    const SERVER_DELAY_MS = 3_000;

    it('answers every caller while a usable token exists before the server answers the one refresh', async () => {
      // Prepare: every instance holds the token, past its refresh point; the server turns slow.
      const clock = virtualClock();
      const namespace = `slow-${randomUUID()}`;
      const client = {
        tokenEndpoint: `${proxy.url}${new URL(server.tokenEndpoint).pathname}`,
        attemptTimeoutMs: 10_000,
      };
      const warm = await fleet(3, { clock, cache: { namespace }, client });
      const first = await Promise.all(warm.map((b) => getToken(b.url, 'shop', 'read')));
      const [cold] = await fleet(1, { clock, cache: { namespace }, client });
      const instances = [...warm, cold as LocalBroker];
      clock.advance(REFRESH_WINDOW_S + 5);
      proxy.setMode({ kind: 'delay', ms: SERVER_DELAY_MS });
      const before = proxy.requests.length;

      // Act
      const timed = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const started = performance.now();
          const reply = await getToken((instances[i % instances.length] as LocalBroker).url, 'shop', 'read');
          return { reply, started, finished: performance.now() };
        }),
      );
      await vi.waitFor(async () => expect((await table(namespace))[0]?.entry?.version).toBe(2), { timeout: 10_000 });
      // An instance that found the lease held looks at the table again a second later at most.
      clock.advance(1);
      const after = await Promise.all(instances.map((b) => getToken(b.url, 'shop', 'read')));

      // Assess: one refresh; every caller answered with the current token well before the server answered it.
      const refresh = proxy.requests.slice(before);
      expect(refresh).toHaveLength(1);
      const serverAnsweredAt = refresh[0]?.answeredAt as number;
      expect(serverAnsweredAt - (refresh[0]?.receivedAt as number)).toBeGreaterThanOrEqual(SERVER_DELAY_MS);
      for (const { reply, started, finished } of timed) {
        expect(reply.status).toBe(200);
        expect(reply.body.access_token).toBe(first[0]?.body.access_token);
        expect(finished).toBeLessThan(serverAnsweredAt);
        expect(finished - started).toBeLessThan(SERVER_DELAY_MS / 2);
      }
      const refreshed = new Set(after.map((r) => r.body.access_token));
      expect(refreshed.size).toBe(1);
      expect(refreshed.has(first[0]?.body.access_token)).toBe(false);
    });
  });
});
