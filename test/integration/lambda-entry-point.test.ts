import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { localContext } from '../../lambda/local/api-gateway-event.ts';
import type { AuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { AUDIT } from '../../lambda/shared/contract.ts';
import { type CapturedOutput, captureOutput } from './support/captured-output.ts';
import { FIXTURE_SECRET, startFixtureServer } from './support/fixtures.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from './support/moto-server.ts';

const skipReason = motoUnavailableReason();
const title = `Lambda entry point (lambda/broker/index.ts) configured from its environment${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** Imports the entry point afresh, as a cold start does, with the given environment. */
async function coldStart(env: Record<string, string>): Promise<Handler> {
  vi.resetModules();
  for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
  const module = (await import('../../lambda/broker/index.ts')) as { handler: Handler };
  return module.handler;
}

function apiEvent(client: string, scope?: string) {
  return {
    httpMethod: 'GET',
    resource: `/clients/${client}/token`,
    path: `/clients/${client}/token`,
    pathParameters: null,
    queryStringParameters: scope ? { scope } : null,
    multiValueQueryStringParameters: scope ? { scope: [scope] } : null,
    headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/execute-api/aws4_request' },
    requestContext: { requestId: 'r-1', stage: 'prod' },
  };
}

describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let server: AuthorizationServer;
  let secretArn: string;
  let output: CapturedOutput;

  const environment = (config: unknown) => ({
    BROKER_CONFIG: JSON.stringify(config),
    ...moto.environment(),
    POWERTOOLS_METRICS_DISABLED: 'true',
  });

  beforeAll(async () => {
    moto = await startMotoServer();
    server = await startFixtureServer();
    const secretsManager = moto.secretsManager();
    const created = await secretsManager.send(
      new CreateSecretCommand({ Name: 'shop/m2m-client', SecretString: FIXTURE_SECRET }),
    );
    secretArn = created.ARN as string;
    output = captureOutput();
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  afterAll(async () => {
    output?.restore();
    await server?.stop();
    await moto?.stop();
  });

  it('serves API Gateway, direct and warm-up invocations with the secret from Secrets Manager', async () => {
    // Prepare
    const handler = await coldStart(
      environment({
        clients: [
          {
            name: 'shop',
            tokenEndpoint: server.tokenEndpoint,
            clientId: 'm2m',
            clientSecret: { secretId: secretArn },
            scopes: ['read'],
          },
        ],
      }),
    );
    const context = localContext('token-broker', 25_000);

    // Act
    const warmUp = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, context);
    const api = (await handler(apiEvent('shop', 'read'), context)) as APIGatewayProxyResult;
    const direct = (await handler({ client: 'shop', scopes: ['read'] }, context)) as Record<string, unknown>;

    // Assess
    expect(warmUp).toMatchObject({ refreshed: 1, failed: 0 });
    expect(api.statusCode).toBe(200);
    const body = JSON.parse(api.body) as Record<string, unknown>;
    expect(direct).toMatchObject({ statusCode: 200, access_token: body.access_token, token_type: 'Bearer' });
    expect(server.tokenRequestCount()).toBe(1);
    const audit = output.logLines().filter((line) => line[AUDIT.marker] === AUDIT.kind);
    expect(audit).toEqual([
      expect.objectContaining({ channel: 'api', client: 'shop', outcome: AUDIT.outcome.served, source: 'memory' }),
      expect.objectContaining({ channel: 'direct', client: 'shop', outcome: AUDIT.outcome.served, source: 'memory' }),
    ]);
    expect(output.text()).not.toContain(body.access_token as string);
    expect(output.text()).not.toContain('AWS4-HMAC-SHA256');
  });

  it('fails the cold start with a message naming the field when a literal secret is configured', async () => {
    // Act
    const start = coldStart(
      environment({
        clients: [
          {
            name: 'shop',
            tokenEndpoint: server.tokenEndpoint,
            clientId: 'm2m',
            clientSecret: { value: FIXTURE_SECRET },
          },
        ],
      }),
    );

    // Assess
    await expect(start).rejects.toThrow(
      /clients\[0\]\.clientSecret\.value is a literal secret, allowed only in local runs/,
    );
  });

  it('fails the cold start when BROKER_CONFIG is missing', async () => {
    // Act
    const start = coldStart({ ...environment({}), BROKER_CONFIG: '' });

    // Assess
    await expect(start).rejects.toThrow(/BROKER_CONFIG is not set/);
  });

  it('fails the cold start on a service name no metric could carry, naming the variable', async () => {
    // Act
    const config = {
      clients: [
        { name: 'shop', tokenEndpoint: server.tokenEndpoint, clientId: 'm2m', clientSecret: { secretId: secretArn } },
      ],
    };
    const start = coldStart({ ...environment(config), POWERTOOLS_SERVICE_NAME: 'orders broker' });

    // Assess
    await expect(start).rejects.toThrow(/POWERTOOLS_SERVICE_NAME must be 1 to 64 letters/);
  });
});
