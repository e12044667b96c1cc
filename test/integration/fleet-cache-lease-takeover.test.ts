import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationServer, startAuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { ENV } from '../../lambda/shared/contract.ts';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.ts';
import { type LambdaEnvironment, startLambdaEnvironment } from './support/lambda-environment.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from './support/moto-server.ts';
import { createCacheKey, createTokenCacheTable, readCacheTable } from './support/token-cache-resources.ts';

const skipReason = motoUnavailableReason();
const title = `Fleet cache: a lease holder lost mid-refresh, in its own process${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

const NAMESPACE = 'lease-takeover';
/** One attempt's timeout: the lease lasts this plus 1 s, and is taken over 2 s (clock skew) after that. */
const ATTEMPT_TIMEOUT_MS = 1_000;

interface DirectResult {
  readonly statusCode: number;
  readonly access_token?: string;
}

/**
 * Each broker instance is a Lambda execution environment in a process of its own (the real Lambda
 * entry, configured by its environment), sharing one moto table and key. The authorization server
 * sits behind a proxy that holds token requests on demand, so a holder can be caught mid-refresh.
 */
describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let dynamodb: DynamoDBClient;
  let kms: KMSClient;
  let server: AuthorizationServer;
  let proxy: FaultProxy;
  let tableName: string;
  let keyId: string;
  let env: Record<string, string>;
  const environments: LambdaEnvironment[] = [];

  const environment = async () => {
    const started = await startLambdaEnvironment({ env });
    environments.push(started);
    return started;
  };
  const requestToken = async (instance: LambdaEnvironment, scope: string) => {
    const { result, logLines } = await instance.invoke({ client: 'shop', scopes: [scope] });
    return { ...(result as DirectResult), logLines };
  };
  const tableTokens = async () =>
    (await readCacheTable({ dynamodb, kms, tableName, keyId, namespace: NAMESPACE })).map(({ entry }) => entry);

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
    const config = {
      clients: [
        {
          name: 'shop',
          tokenEndpoint: `${proxy.url}${new URL(server.tokenEndpoint).pathname}`,
          clientId: 'm2m',
          clientSecret: { secretId: secret.ARN },
          scopes: ['read', 'write'],
          attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
        },
      ],
    };
    env = {
      [ENV.brokerConfig]: JSON.stringify(config),
      [ENV.tokenCacheTable]: tableName,
      [ENV.tokenCacheKeyId]: keyId,
      [ENV.tokenCacheNamespace]: NAMESPACE,
      POWERTOOLS_METRICS_DISABLED: 'true',
      ...moto.environment(),
    };
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
    expect(taken.logLines).toContainEqual(expect.objectContaining({ message: 'Token served', source: 'fetched' }));
    expect(requestsAfterTakeover).toBe(2);
    expect(tableAfterTakeover).toEqual([expect.objectContaining({ version: 1 })]);
    expect(tableAfterTakeover[0]?.token?.accessToken).toBe(taken.access_token);
    // ...the resumed holder obtained a token of its own, late, and its commit was refused:
    expect(late.statusCode).toBe(200);
    expect(late.access_token).not.toBe(taken.access_token);
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
});
