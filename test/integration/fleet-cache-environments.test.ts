import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationServer, startAuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { AUDIT, ENV } from '../../lambda/shared/contract.ts';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.ts';
import { type LambdaEnvironment, startLambdaEnvironment } from './support/lambda-environment.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from './support/moto-server.ts';
import { createCacheKey, createTokenCacheTable, readCacheTable } from './support/token-cache-resources.ts';

const skipReason = motoUnavailableReason();
const title = `Fleet cache: broker instances as Lambda execution environments, each in its own process${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

/** One attempt's timeout: the lease lasts this plus 1 s, and is taken over 2 s (clock skew) after that. */
const ATTEMPT_TIMEOUT_MS = 1_000;
const TIER_FAILED = 'Shared token cache failed; using memory and the authorization server directly';

interface DirectResult {
  readonly statusCode: number;
  readonly access_token?: string;
}

/**
 * Each broker instance is a Lambda execution environment in a process of its own (the real Lambda
 * entry, configured by its environment alone), sharing one moto table and key. The authorization
 * server sits behind a proxy that holds token requests on demand, so a holder can be caught
 * mid-refresh.
 */
describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let dynamodb: DynamoDBClient;
  let kms: KMSClient;
  let server: AuthorizationServer;
  let proxy: FaultProxy;
  let tableName: string;
  let keyId: string;
  let secretArn: string;
  const environments: LambdaEnvironment[] = [];

  /** The function's environment, as the construct would set it. */
  const functionEnvironment = (tokenEndpoint: string, namespace: string) => ({
    [ENV.brokerConfig]: JSON.stringify({
      clients: [
        {
          name: 'shop',
          tokenEndpoint,
          clientId: 'm2m',
          clientSecret: { secretId: secretArn },
          scopes: ['read', 'write'],
          attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
        },
      ],
    }),
    [ENV.tokenCacheTable]: tableName,
    [ENV.tokenCacheKeyId]: keyId,
    [ENV.tokenCacheNamespace]: namespace,
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...moto.environment(),
  });
  const environment = async (
    options: { namespace?: string; tokenEndpoint?: string; frozenWhenIdle?: boolean } = {},
  ) => {
    const tokenEndpoint = options.tokenEndpoint ?? `${proxy.url}${new URL(server.tokenEndpoint).pathname}`;
    const started = await startLambdaEnvironment({
      env: functionEnvironment(tokenEndpoint, options.namespace ?? 'lease-takeover'),
      frozenWhenIdle: options.frozenWhenIdle ?? false,
    });
    environments.push(started);
    return started;
  };
  const requestToken = async (instance: LambdaEnvironment, scope: string) => {
    const { result, logLines } = await instance.invoke({ client: 'shop', scopes: [scope] });
    return { ...(result as DirectResult), logLines };
  };
  const tableTokens = async (namespace = 'lease-takeover') =>
    (await readCacheTable({ dynamodb, kms, tableName, keyId, namespace })).map(({ entry }) => entry);

  beforeAll(async () => {
    moto = await startMotoServer();
    dynamodb = moto.dynamodb();
    kms = moto.kms();
    server = await startAuthorizationServer();
    proxy = await startFaultProxy(new URL(server.issuer).origin);
    tableName = await createTokenCacheTable(dynamodb);
    keyId = (await createCacheKey(kms)).arn;
    const secret = await moto
      .secretsManager()
      .send(new CreateSecretCommand({ Name: 'shop/m2m', SecretString: 'password' }));
    secretArn = secret.ARN as string;
  });
  afterEach(async () => {
    proxy.setMode({ kind: 'pass' });
    proxy.releaseHeld();
    await Promise.all(environments.splice(0).map((e) => e.stop()));
  });
  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
    await moto?.stop();
  });

  it('takes over from a frozen holder once its lease expires, and fences the holder when it resumes', async () => {
    // Prepare: the holder takes the lease and is frozen while the server holds its token request.
    const [holder, other] = await Promise.all([environment(), environment()]);
    proxy.setMode({ kind: 'hold' });
    const before = proxy.requests.length;
    const holderAnswer = requestToken(holder, 'read');
    await proxy.waitForRequests(before + 1);
    holder.freeze();
    proxy.setMode({ kind: 'pass' });

    // Act: another instance is asked while the holder is frozen; then the holder resumes.
    const taken = await requestToken(other, 'read');
    const tableAfterTakeover = await tableTokens();
    const requestsAfterTakeover = proxy.requests.length - before;
    proxy.releaseHeld();
    holder.thaw();
    const late = await holderAnswer;
    const again = await requestToken(other, 'read');

    // Assess: the other instance served a token it fetched under the lease it took over...
    expect(taken.statusCode).toBe(200);
    expect(taken.logLines).toContainEqual(
      expect.objectContaining({ message: AUDIT.message, outcome: AUDIT.outcome.served, source: 'fetched' }),
    );
    expect(requestsAfterTakeover).toBe(2);
    expect(tableAfterTakeover).toEqual([expect.objectContaining({ version: 1 })]);
    expect(tableAfterTakeover[0]?.token?.accessToken).toBe(taken.access_token);
    // ...the resumed holder's commit was refused, and it serves the table's token: its own, asked
    // for before the takeover's, expires first.
    expect(late.statusCode).toBe(200);
    expect(late.access_token).toBe(taken.access_token);
    const table = await tableTokens();
    expect(table).toEqual([expect.objectContaining({ version: 1 })]);
    expect(table[0]?.token?.accessToken).toBe(taken.access_token);
    expect(again).toMatchObject({ statusCode: 200, access_token: taken.access_token });
  });

  it('takes over from a holder killed mid-refresh, and serves every instance', async () => {
    // Prepare
    const [holder, other, third] = await Promise.all([environment(), environment(), environment()]);
    proxy.setMode({ kind: 'hold' });
    const before = proxy.requests.length;
    const holderAnswer = requestToken(holder, 'write').catch((error: unknown) => error);
    await proxy.waitForRequests(before + 1);
    await holder.kill();
    proxy.setMode({ kind: 'pass' });

    // Act
    const [taken, waited] = await Promise.all([requestToken(other, 'write'), requestToken(third, 'write')]);

    // Assess
    expect(await holderAnswer).toBeInstanceOf(Error);
    expect(taken).toMatchObject({ statusCode: 200 });
    expect(waited).toMatchObject({ statusCode: 200, access_token: taken.access_token });
    expect(proxy.requests.length - before).toBe(2);
    const table = await tableTokens();
    expect(table.find((entry) => entry?.token?.scope === 'write')?.token?.accessToken).toBe(taken.access_token);
  });
  describe('frozen between invocations, as Lambda freezes an idle environment', () => {
    /** Tokens of 8 s: refreshed after 6 s, usable until 7.2 s. */
    const TOKEN_LIFETIME_S = 8;
    const INVOCATIONS = 18;
    const PAUSE_MS = 600;

    it('keeps using the table across freezes, and the fleet asks the server once per refresh interval', async () => {
      // Prepare: background table calls (the last-use record) are still in flight when an
      // environment is frozen, and are past their timeout when it thaws. Real time on purpose:
      // what is under test is the SDK's timers across a real freeze of a process.
      const shortLived = await startAuthorizationServer({ accessTokenTtlSeconds: TOKEN_LIFETIME_S });
      try {
        const options = { namespace: 'frozen', tokenEndpoint: shortLived.tokenEndpoint, frozenWhenIdle: true };
        const instances = await Promise.all([environment(options), environment(options)]);
        const startedAt = performance.now();

        // Act: an invocation every 0.6 s, alternating: each environment is frozen for 1.2 s at a time.
        const replies = [];
        for (let i = 0; i < INVOCATIONS; i++) {
          replies.push(await requestToken(instances[i % 2] as LambdaEnvironment, 'read'));
          await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
        }
        const elapsedS = (performance.now() - startedAt) / 1000;

        // Assess
        expect(replies.every((r) => r.statusCode === 200)).toBe(true);
        const logs = instances.flatMap((e) => e.logLines());
        expect(logs.filter((l) => l.message === AUDIT.message && l.outcome === AUDIT.outcome.served)).toHaveLength(
          INVOCATIONS,
        );
        expect(logs.filter((l) => l.message === TIER_FAILED)).toEqual([]);
        const refreshIntervals = Math.ceil(elapsedS / (TOKEN_LIFETIME_S * 0.75));
        expect(shortLived.tokenRequestCount()).toBeLessThanOrEqual(refreshIntervals);
        expect(new Set(replies.map((r) => r.access_token)).size).toBe(shortLived.tokenRequestCount());
      } finally {
        await shortLived.stop();
      }
    });
  });
});
