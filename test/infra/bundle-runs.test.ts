import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_ITEM } from '../../lambda/broker/adapters/token-cache-item.ts';
import { type AuthorizationServer, startAuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { DEFAULT_CACHE_NAMESPACE, ENV } from '../../lambda/shared/contract.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from '../integration/support/moto-server.ts';
import { createCacheKey, createTokenCacheTable, readCacheTable } from '../integration/support/token-cache-resources.ts';
import { CDK_JSON_CONTEXT, importEndpoint } from './synth.ts';

const run = promisify(execFile);
const skipReason = motoUnavailableReason();

/**
 * The artifact `cdk deploy` uploads, run as Lambda would: the bundled ES module imported by Node
 * and its `handler` called, with the configuration the construct wrote, against real parts.
 * This catches what only shows in the bundle (a CommonJS dependency's `require`, a missing module).
 */
describe.skipIf(skipReason !== undefined)(
  `Bundle: the broker function's deployed code runs${skipReason ? ` [skipped: ${skipReason}]` : ''}`,
  () => {
    let server: AuthorizationServer;
    let moto: MotoServer;
    let assetDir: string;
    let env: Record<string, string>;
    let cache: { tableName: string; keyId: string };

    const invoke = (events: unknown[], environment: Record<string, string>) =>
      run(process.execPath, [join(assetDir, 'invoke.mjs'), JSON.stringify(events)], {
        env: environment,
        cwd: assetDir,
      });
    const results = (stdout: string) => JSON.parse(stdout.split('RESULTS ')[1] as string) as Record<string, unknown>[];

    beforeAll(async () => {
      server = await startAuthorizationServer();
      moto = await startMotoServer();
      const secretsManager = moto.secretsManager();
      const secret = await secretsManager.send(new CreateSecretCommand({ Name: 'shop/m2m', SecretString: 'password' }));
      cache = {
        tableName: await createTokenCacheTable(moto.dynamodb()),
        keyId: (await createCacheKey(moto.kms())).arn,
      };

      const outdir = mkdtempSync(join(tmpdir(), 'token-broker-run-'));
      const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT } });
      const stack = new Stack(app, 'Bundled');
      const config = {
        clients: [
          {
            name: 'shop',
            tokenEndpoint: server.tokenEndpoint,
            clientId: 'm2m',
            clientSecret: { secretId: secret.ARN as string },
            scopes: ['read'],
          },
        ],
      };
      new TokenBroker(stack, 'Broker', { config, vpcEndpoints: [importEndpoint(stack)] });
      const assembly = app.synth();
      const template = assembly.getStackByName('Bundled').template as {
        Resources: Record<
          string,
          { Type: string; Properties: { Environment?: { Variables?: Record<string, unknown> } } }
        >;
      };
      const fn = Object.values(template.Resources).find(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.BROKER_CONFIG,
      );
      env = {
        PATH: process.env.PATH ?? '',
        BROKER_CONFIG: fn?.Properties.Environment?.Variables?.BROKER_CONFIG as string,
        ...moto.environment(),
      };
      const bundle = readdirSync(outdir).find((d) => d.startsWith('asset.'));
      assetDir = join(outdir, bundle as string);
      writeFileSync(
        join(assetDir, 'invoke.mjs'),
        [
          "import { handler } from './index.mjs';",
          'const context = { functionName: "token-broker", awsRequestId: "r-1", getRemainingTimeInMillis: () => 25000 };',
          'const results = [];',
          'for (const event of JSON.parse(process.argv[2])) results.push(await handler(event, context));',
          'console.log("RESULTS " + JSON.stringify(results));',
        ].join('\n'),
      );
    });
    afterAll(async () => {
      await server?.stop();
      await moto?.stop();
    });

    it('serves a warm-up, an API Gateway request and a direct invocation from one cold start', async () => {
      // Prepare
      const events = [
        { warmup: true },
        {
          httpMethod: 'GET',
          resource: '/clients/shop/token',
          path: '/clients/shop/token',
          queryStringParameters: { scope: 'read' },
          requestContext: { requestId: 'r-1', stage: 'v1' },
        },
        { client: 'shop', scopes: ['read'] },
      ];

      // Act
      const { stdout } = await invoke(events, env);

      // Assess
      const [warmUp, api, direct] = results(stdout);
      expect(warmUp).toMatchObject({ refreshed: 1, failed: 0 });
      expect(api).toMatchObject({ statusCode: 200, headers: { 'Cache-Control': 'no-store' } });
      expect(direct).toMatchObject({ statusCode: 200, token_type: 'Bearer', scope: 'read' });
      expect(server.tokenRequestCount()).toBe(1);
    });

    it('keeps the token it obtained in the fleet cache table, encrypted, for the next cold start', async () => {
      // Prepare
      const cached = { ...env, [ENV.tokenCacheTable]: cache.tableName, [ENV.tokenCacheKeyId]: cache.keyId };
      const request = { client: 'shop', scopes: ['read'] };
      const before = server.tokenRequestCount();

      // Act
      const [first] = results((await invoke([request], cached)).stdout);
      const [second] = results((await invoke([request], cached)).stdout);

      // Assess
      expect(first).toMatchObject({ statusCode: 200, token_type: 'Bearer' });
      const accessToken = first?.access_token as string;
      expect(second).toMatchObject({ statusCode: 200, access_token: accessToken });
      expect(server.tokenRequestCount() - before).toBe(1);
      const { Items } = await moto.dynamodb().send(new ScanCommand({ TableName: cache.tableName }));
      expect(Items).toHaveLength(1);
      expect(Items?.[0]).toHaveProperty(TOKEN_ITEM.ciphertext);
      const bytes = Object.values(Items?.[0] ?? {}).map((v) => Buffer.from(v.B ?? v.S ?? JSON.stringify(v)));
      expect(Buffer.concat(bytes).includes(accessToken)).toBe(false);
      const [item] = await readCacheTable({
        dynamodb: moto.dynamodb(),
        kms: moto.kms(),
        ...cache,
        namespace: DEFAULT_CACHE_NAMESPACE,
      });
      expect(item?.entry?.token?.accessToken).toBe(accessToken);
    });

    it.each([
      [ENV.tokenCacheTable, ENV.tokenCacheKeyId],
      [ENV.tokenCacheKeyId, ENV.tokenCacheTable],
    ])('fails the cold start naming %s when only %s is set', async (missing, set) => {
      // Prepare
      const value = set === ENV.tokenCacheTable ? cache.tableName : cache.keyId;

      // Act
      const started = invoke([{ client: 'shop', scopes: ['read'] }], { ...env, [set]: value });

      // Assess
      await expect(started).rejects.toMatchObject({ stderr: expect.stringContaining(`${missing} is not set`) });
    });
  },
);
