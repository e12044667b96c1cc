import { randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TOKEN_ITEM } from '../../lambda/broker/adapters/token-cache-item.ts';
import { type AuthorizationServer, startAuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { type LocalBroker, startLocalBroker } from '../../lambda/local/local-broker.ts';
import { AUDIT, METRIC, METRICS_NAMESPACE } from '../../lambda/shared/contract.ts';
import { type CapturedOutput, captureOutput } from './support/captured-output.ts';
import { configFor, getToken } from './support/fixtures.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from './support/moto-server.ts';
import { createCacheKey, createTokenCacheTable } from './support/token-cache-resources.ts';

const skipReason = motoUnavailableReason();
const title = `Fleet cache: the table's server stopped mid-run${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

const MINUTE_MS = 60_000;
const TIER_FAILED = 'Shared token cache failed; using memory and the authorization server directly';

/**
 * The table and key live in a moto process of their own, which the test stops while the fleet
 * runs; the client secret is a literal (local run), so nothing else depends on that process.
 */
describe.skipIf(skipReason !== undefined)(title, () => {
  let tableServer: MotoServer;
  let server: AuthorizationServer;
  let output: CapturedOutput;
  let sharedCache: { tableName: string; keyId: string; namespace: string };
  const clientSecret = `fleet-secret-${randomUUID()}`;
  const brokers: LocalBroker[] = [];
  let nowMs = Date.now();

  /** When the table last heard that the key was served (written after the answer, without waiting). */
  const lastServedAt = async () => {
    const { Items } = await tableServer.dynamodb().send(new ScanCommand({ TableName: sharedCache.tableName }));
    return Items?.[0]?.[TOKEN_ITEM.lastServedAt]?.N;
  };
  const instance = async () => {
    const config = configFor(server, { clientSecret: { value: clientSecret } }, { refreshWaitMs: 5_000 });
    const started = await startLocalBroker({ config, sharedCache, now: () => nowMs });
    brokers.push(started);
    return started;
  };

  beforeAll(async () => {
    tableServer = await startMotoServer();
    for (const [name, value] of Object.entries(tableServer.environment())) vi.stubEnv(name, value);
    const tableName = await createTokenCacheTable(tableServer.dynamodb());
    const keyId = (await createCacheKey(tableServer.kms())).arn;
    sharedCache = { tableName, keyId, namespace: 'table-down' };
    server = await startAuthorizationServer();
    server.setClientSecret('m2m', clientSecret);
    output = captureOutput();
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
  });
  afterAll(async () => {
    output?.restore();
    vi.unstubAllEnvs();
    await server?.stop();
    await tableServer?.stop();
  });

  it('serves every caller from memory or the authorization server, and reports the failure once per cool-down', async () => {
    // Prepare: an instance holds a token obtained through the table (and has recorded its use
    // there); then the table's server stops.
    const first = await instance();
    const shared = await getToken(first.url, 'shop', 'read');
    await vi.waitFor(async () => expect(await lastServedAt()).toBeDefined());
    const fetchedBefore = server.tokenRequestCount();
    await tableServer.stop();

    // Act: a fresh token in memory; a new instance; a refresh-ahead; an expired token.
    const fromMemory = await getToken(first.url, 'shop', 'read');
    const second = await instance();
    const newInstance = await getToken(second.url, 'shop', 'read');
    nowMs += 46 * MINUTE_MS;
    const refreshedAhead = await getToken(first.url, 'shop', 'read');
    nowMs += 20 * MINUTE_MS;
    const afterExpiry = await getToken(second.url, 'shop', 'read');

    // Assess
    expect(fromMemory).toMatchObject({ status: 200, body: { access_token: shared.body.access_token } });
    for (const reply of [newInstance, refreshedAhead, afterExpiry]) expect(reply.status).toBe(200);
    expect(server.tokenRequestCount() - fetchedBefore).toBe(3);
    const lines = output.logLines();
    const served = lines
      .filter((l) => l.message === AUDIT.message && l.outcome === AUDIT.outcome.served)
      .map((l) => l.source);
    expect(served).toEqual(['fetched', 'memory', 'fetched', 'fetched', 'fetched']);
    const failures = lines.filter((l) => l.message === TIER_FAILED);
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatchObject({
      level: 'WARN',
      operation: 'read',
      causes: expect.arrayContaining(['TokenStoreError token_store_unavailable']),
    });
    const metricLines = lines.filter((l) => METRIC.sharedCacheFailure in l);
    expect(metricLines).toHaveLength(3);
    expect(metricLines[0]).toMatchObject({
      [METRIC.sharedCacheFailure]: 1,
      _aws: { CloudWatchMetrics: [expect.objectContaining({ Namespace: METRICS_NAMESPACE })] },
    });
    const text = output.text();
    expect(text).not.toContain(clientSecret);
    for (const reply of [shared, newInstance, refreshedAhead, afterExpiry]) {
      expect(text).not.toContain(reply.body.access_token as string);
    }
  });
});
