import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBrokerHandler } from '../../../../lambda/broker/handler/create-broker-handler.ts';
import {
  API_ALIAS,
  AUDIT,
  METRIC,
  METRIC_DIMENSION,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  TOKEN_SOURCE_METRIC,
} from '../../../../lambda/shared/contract.ts';
import { virtualTime } from '../../../support/virtual-time.ts';
import { brokerConfig, CLIENT_SECRET, TOKEN_ENDPOINT } from '../support/client-config.ts';

const ACCESS_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.handler-access-token.sig';
const AUTHORIZATION =
  'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20250101/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=SECRETSIG0123456789abcdef';
const NOW = new Date('2025-01-01T00:00:00Z');

type Endpoint = (form: URLSearchParams) => Response;

const grantAll: Endpoint = (form) =>
  Response.json({ access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 3600, scope: form.get('scope') });

const context: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'token-broker',
  functionVersion: '$LATEST',
  // Through the alias API Gateway invokes, as the construct wires it.
  invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:token-broker:${API_ALIAS}`,
  memoryLimitInMB: '256',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/token-broker',
  logStreamName: '2025/01/01/[$LATEST]0123456789abcdef',
  getRemainingTimeInMillis: () => 29_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};

/** A REST API proxy event for GET /clients/shop/token, signed by the caller. */
function apiEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resource: '/clients/shop/token',
    path: '/clients/shop/token',
    httpMethod: 'GET',
    headers: { Authorization: AUTHORIZATION, Host: 'abc123.execute-api.eu-west-1.amazonaws.com' },
    multiValueHeaders: { Authorization: [AUTHORIZATION] },
    queryStringParameters: { scope: 'read' },
    multiValueQueryStringParameters: { scope: ['read'] },
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      httpMethod: 'GET',
      path: '/prod/clients/shop/token',
      protocol: 'HTTP/1.1',
      requestId: 'f7e1d2c3-0000-4000-8000-000000000000',
      requestTimeEpoch: NOW.getTime(),
      resourceId: 'res123',
      resourcePath: '/clients/shop/token',
      stage: 'prod',
      identity: {
        accountId: '123456789012',
        caller: 'AROAEXAMPLE:consumer',
        sourceIp: '203.0.113.10',
        userArn: 'arn:aws:sts::123456789012:assumed-role/consumer/x',
      },
      authorizer: null,
    },
    ...overrides,
  };
}

/**
 * A broker with literal secrets in front of a scripted token endpoint, logging through Powertools.
 * `defaultLoggers` leaves the loggers to the composition root, as the Lambda entry point does.
 */
function setUp(
  endpoint: Endpoint = grantAll,
  {
    defaultLoggers = false,
    writeAuditLine,
  }: { defaultLoggers?: boolean; writeAuditLine?: (line: string) => void } = {},
) {
  const requests: URLSearchParams[] = [];
  const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    const form = new URLSearchParams(String(init?.body));
    requests.push(form);
    return endpoint(form);
  }) as typeof globalThis.fetch;
  const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: 'DEBUG' });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  const config = brokerConfig([{ name: 'shop', scopes: ['read', 'write'] }]);
  const { sleep, random } = virtualTime();
  const { handler } = createBrokerHandler(config, {
    ...(defaultLoggers ? {} : { logger }),
    metrics,
    tokenEndpoint: { fetch, now: Date.now, sleep, random },
    ...(writeAuditLine ? { writeAuditLine } : {}),
  });
  return { invoke: (event: unknown) => handler(event, context) as Promise<unknown>, handler, requests };
}

function parsedBody(result: unknown): Record<string, unknown> {
  return JSON.parse((result as { body: string }).body) as Record<string, unknown>;
}

describe('Function: createBrokerHandler', () => {
  let output: string[];

  beforeEach(() => {
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    vi.stubEnv('POWERTOOLS_DEV', undefined);
    output = [];
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown) => {
        output.push(String(chunk));
        return true;
      }) as typeof stream.write);
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    vi.useRealTimers();
  });

  function logLines(): Record<string, unknown>[] {
    return output
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  function auditLines(): Record<string, unknown>[] {
    return logLines().filter((l) => l[AUDIT.marker] === AUDIT.kind);
  }

  /**
   * The expected lines were logged (a capture that caught nothing fails here) and no line holds
   * the client secret, the access token or the caller's signature.
   */
  function expectLoggedWithoutSecrets(...expected: [Record<string, unknown>, ...Record<string, unknown>[]]): void {
    for (const line of expected) expect(logLines()).toContainEqual(expect.objectContaining(line));
    const logs = output.join('');
    expect(logs).not.toContain(CLIENT_SECRET);
    expect(logs).not.toContain(encodeURIComponent(CLIENT_SECRET));
    expect(logs).not.toContain(ACCESS_TOKEN);
    expect(logs).not.toContain('SECRETSIG');
    expect(logs).not.toContain('AWS4-HMAC-SHA256');
  }

  describe('API Gateway requests', () => {
    it('answers 200 with the token, no-store, and the token fields', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      const result = (await invoke(apiEvent())) as { statusCode: number; headers: Record<string, string> };

      // Assess
      expect(result.statusCode).toBe(200);
      expect(result.headers).toMatchObject({ 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      expect(parsedBody(result)).toEqual({
        access_token: ACCESS_TOKEN,
        token_type: 'Bearer',
        expires_in: 3600,
        expires_at: NOW.getTime() / 1000 + 3600,
        scope: 'read',
      });
    });

    it("audits each served token with the caller's IAM principal, without the token or the Authorization header", async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      await invoke(apiEvent());
      await invoke(apiEvent());

      // Assess
      const audit = auditLines();
      expect(audit).toHaveLength(2);
      expect(audit.map((l) => l.source)).toEqual(['fetched', 'memory']);
      expect(audit[0]).toMatchObject({
        message: AUDIT.message,
        channel: 'api',
        principal: 'arn:aws:sts::123456789012:assumed-role/consumer/x',
        callerId: 'AROAEXAMPLE:consumer',
        account: '123456789012',
        apiRequestId: 'f7e1d2c3-0000-4000-8000-000000000000',
        client: 'shop',
        scope: 'read',
        outcome: AUDIT.outcome.served,
        expiresAt: NOW.getTime() / 1000 + 3600,
        expiresIn: 3600,
        function_request_id: context.awsRequestId,
      });
      expectLoggedWithoutSecrets({ [AUDIT.marker]: AUDIT.kind, client: 'shop' });
    });

    it('audits an API-shaped event that did not come through the API alias as direct, without its claimed identity', async () => {
      // Prepare: a direct invoker (unqualified ARN) sending an event that names another principal.
      const { handler } = setUp();
      const unqualified = { ...context, invokedFunctionArn: context.invokedFunctionArn.replace(`:${API_ALIAS}`, '') };

      // Act
      const result = await handler(apiEvent(), unqualified);

      // Assess
      expect(result).toMatchObject({ statusCode: 200 });
      const [line] = auditLines();
      expect(line).toMatchObject({ channel: 'direct', client: 'shop', outcome: AUDIT.outcome.served });
      expect(line).not.toHaveProperty('principal');
      expect(line).not.toHaveProperty('sourceVpce');
      expect(JSON.stringify(line)).not.toContain('assumed-role/consumer');
    });

    it('writes the audit line and nothing else when the token comes from memory', async () => {
      // Prepare
      const { invoke } = setUp();
      await invoke(apiEvent());
      output.length = 0;

      // Act
      await invoke(apiEvent());

      // Assess
      expect(logLines()).toEqual([expect.objectContaining({ [AUDIT.marker]: AUDIT.kind, source: 'memory' })]);
    });

    it('audits a refused request with its status and error code, and who asked', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      await invoke(apiEvent({ queryStringParameters: { scope: 'read admin' } }));

      // Assess
      expect(auditLines()).toEqual([
        expect.objectContaining({
          principal: 'arn:aws:sts::123456789012:assumed-role/consumer/x',
          client: 'shop',
          scope: 'read admin',
          outcome: AUDIT.outcome.refused,
          status: 400,
          error: 'invalid_scope',
        }),
      ]);
    });

    it('audits even when the broker logs only errors (POWERTOOLS_LOG_LEVEL=ERROR)', async () => {
      // Prepare: the loggers the Lambda entry point gets.
      vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'ERROR');
      const { invoke } = setUp(grantAll, { defaultLoggers: true });

      // Act
      await invoke(apiEvent());
      await invoke(apiEvent({ resource: '/clients/payroll/token', path: '/clients/payroll/token' }));

      // Assess: the refusal's own warning is below ERROR, its audit line is not.
      expect(logLines()).toEqual([
        expect.objectContaining({ [AUDIT.marker]: AUDIT.kind, outcome: AUDIT.outcome.served, source: 'fetched' }),
        expect.objectContaining({
          [AUDIT.marker]: AUDIT.kind,
          outcome: AUDIT.outcome.refused,
          error: 'unknown_client',
        }),
      ]);
    });

    it("names the broker's own service in its log lines, audit lines and metrics", async () => {
      // Prepare: the loggers and metrics the Lambda entry point gets, metrics on.
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
      const { sleep, random } = virtualTime();
      const { handler } = createBrokerHandler(brokerConfig([{ name: 'shop' }]), {
        serviceName: 'orders-broker',
        tokenEndpoint: {
          fetch: async (_url, init) => grantAll(new URLSearchParams(String(init?.body))),
          now: Date.now,
          sleep,
          random,
        },
      });

      // Act
      await handler(apiEvent(), context);

      // Assess
      const lines = logLines();
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const line of lines) expect(line.service).toBe('orders-broker');
      expect(lines).toContainEqual(expect.objectContaining({ [AUDIT.marker]: AUDIT.kind }));
      expect(lines).toContainEqual(expect.objectContaining({ _aws: expect.anything(), TokenServedFetched: 1 }));
    });

    it('sends the audit lines where writeAuditLine says, and only there', async () => {
      // Prepare
      const audit: string[] = [];
      const { invoke } = setUp(grantAll, { writeAuditLine: (line) => audit.push(line) });

      // Act
      await invoke(apiEvent());

      // Assess
      expect(audit.map((line) => JSON.parse(line) as unknown)).toEqual([
        expect.objectContaining({ [AUDIT.marker]: AUDIT.kind, outcome: AUDIT.outcome.served, client: 'shop' }),
      ]);
      expect(auditLines()).toEqual([]);
      expect(logLines()).toContainEqual(expect.objectContaining({ message: 'Obtained a new token' }));
    });

    it('does not log the event even when POWERTOOLS_LOGGER_LOG_EVENT is set', async () => {
      // Prepare
      vi.stubEnv('POWERTOOLS_LOGGER_LOG_EVENT', 'true');
      const { invoke } = setUp();

      // Act
      await invoke(apiEvent());

      // Assess
      expectLoggedWithoutSecrets({ [AUDIT.marker]: AUDIT.kind, client: 'shop' });
    });

    it('finds the client in the path parameters of a templated resource', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      const result = await invoke(
        apiEvent({
          resource: '/clients/{client}/token',
          pathParameters: { client: 'shop' },
          queryStringParameters: null,
        }),
      );

      // Assess
      expect(parsedBody(result)).toMatchObject({ scope: 'read write' });
    });

    it('answers 404 unknown_client for a client that is not configured', async () => {
      // Prepare
      const { invoke, requests } = setUp();

      // Act
      const result = await invoke(apiEvent({ resource: '/clients/payroll/token', path: '/clients/payroll/token' }));

      // Assess
      expect(result).toMatchObject({ statusCode: 404, headers: { 'Cache-Control': 'no-store' } });
      expect(parsedBody(result)).toMatchObject({ error: 'unknown_client' });
      expect(requests).toHaveLength(0);
    });

    it('answers 400 invalid_scope for a scope the client may not ask for', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      const result = await invoke(apiEvent({ queryStringParameters: { scope: 'read admin' } }));

      // Assess
      expect(result).toMatchObject({ statusCode: 400 });
      expect(parsedBody(result)).toMatchObject({
        error: 'invalid_scope',
        error_description: expect.stringContaining('"admin"'),
      });
    });

    it.each([
      ['a scope with a double quote', { queryStringParameters: { scope: 'read"' } }],
      ['an empty scope', { queryStringParameters: { scope: ' ' } }],
      ['two scope parameters', { multiValueQueryStringParameters: { scope: ['read', 'write'] } }],
      ['POST', { httpMethod: 'POST' }],
      ['a path without a client', { resource: '/token', path: '/token' }],
    ])('answers 400 invalid_request for %s', async (_case, overrides) => {
      // Prepare
      const { invoke, requests } = setUp();

      // Act
      const result = await invoke(apiEvent(overrides));

      // Assess
      expect(result).toMatchObject({ statusCode: 400 });
      expect(parsedBody(result)).toMatchObject({ error: 'invalid_request' });
      expect(requests).toHaveLength(0);
    });

    it('answers 503 with Retry-After when the authorization server keeps failing', async () => {
      // Prepare
      const { invoke } = setUp(() => new Response('unavailable', { status: 503 }));

      // Act
      const result = (await invoke(apiEvent())) as { statusCode: number; headers: Record<string, string> };

      // Assess
      expect(result.statusCode).toBe(503);
      expect(result.headers['Retry-After']).toBe('5');
      expect(parsedBody(result)).toMatchObject({ error: 'upstream_unavailable' });
    });

    it('answers 502 without the secret when the credentials are rejected', async () => {
      // Prepare
      const { invoke } = setUp(() =>
        Response.json(
          { error: 'invalid_client', error_description: `unknown secret ${CLIENT_SECRET}` },
          { status: 401 },
        ),
      );

      // Act
      const result = (await invoke(apiEvent())) as { statusCode: number; body: string };

      // Assess
      expect(result.statusCode).toBe(502);
      expect(parsedBody(result)).toMatchObject({ error: 'upstream_rejected' });
      expect(result.body).not.toContain(CLIENT_SECRET);
      expectLoggedWithoutSecrets(
        { message: 'Token request failed', client: 'shop', code: 'upstream_rejected' },
        { message: 'Request refused', client: 'shop', code: 'upstream_rejected' },
      );
    });

    it('answers 502 without a token that came in a malformed response', async () => {
      // Prepare
      const { invoke } = setUp(() => Response.json({ access_token: ACCESS_TOKEN, expires_in: 60 }));

      // Act
      const result = (await invoke(apiEvent())) as { statusCode: number; body: string };

      // Assess
      expect(result.statusCode).toBe(502);
      expect(result.body).not.toContain(ACCESS_TOKEN);
      expectLoggedWithoutSecrets(
        { message: 'Token request failed', client: 'shop', code: 'upstream_rejected' },
        { message: 'Request refused', client: 'shop', code: 'upstream_rejected' },
      );
    });
  });

  describe('metrics', () => {
    /** The EMF lines printed: each line's dimension sets and its metric values. */
    function emfLines(): { dimensions: string[][]; line: Record<string, unknown> }[] {
      return logLines()
        .filter((l) => '_aws' in l)
        .map((line) => ({
          dimensions: (line._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]
            ?.Dimensions as string[][],
          line,
        }));
    }

    beforeEach(() => {
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    });

    it('counts served tokens by source and records their remaining lifetime, in one EMF line per request', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      await invoke(apiEvent());
      await invoke(apiEvent());

      // Assess
      const perRequest = emfLines().filter((e) => METRIC.tokenRemainingLifetime in e.line);
      expect(perRequest.map((e) => e.dimensions)).toEqual([[[METRIC_DIMENSION.service]], [[METRIC_DIMENSION.service]]]);
      expect(perRequest[0]?.line).toMatchObject({
        [TOKEN_SOURCE_METRIC.fetched]: 1,
        [METRIC.tokenRemainingLifetime]: 3600,
        service: SERVICE_NAME,
      });
      expect(perRequest[1]?.line).toMatchObject({ [TOKEN_SOURCE_METRIC.memory]: 1 });
    });

    it('measures the token endpoint call by authorization server and outcome', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      await invoke(apiEvent());

      // Assess
      const calls = emfLines().filter((e) => METRIC.tokenEndpointLatency in e.line);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.dimensions).toEqual([
        [METRIC_DIMENSION.service, METRIC_DIMENSION.authorizationServer, METRIC_DIMENSION.outcome],
      ]);
      expect(calls[0]?.line).toMatchObject({
        [METRIC_DIMENSION.authorizationServer]: new URL(TOKEN_ENDPOINT).host,
        [METRIC_DIMENSION.outcome]: 'ok',
      });
    });

    it('counts a refused request in total and by error code', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      await invoke(apiEvent({ queryStringParameters: { scope: 'read admin' } }));

      // Assess
      const failures = emfLines().filter((e) => METRIC.requestFailed in e.line);
      expect(failures.map((e) => e.dimensions)).toEqual(
        expect.arrayContaining([[[METRIC_DIMENSION.service]], [[METRIC_DIMENSION.service, METRIC_DIMENSION.error]]]),
      );
      expect(failures.find((e) => e.dimensions[0]?.includes(METRIC_DIMENSION.error))?.line).toMatchObject({
        [METRIC_DIMENSION.error]: 'invalid_scope',
        [METRIC.requestFailed]: 1,
      });
    });

    it('publishes a heartbeat and the outcomes of every warm-up', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      await invoke({ warmup: true });

      // Assess
      expect(emfLines().find((e) => METRIC.warmUpRun in e.line)?.line).toMatchObject({
        [METRIC.warmUpRun]: 1,
        [METRIC.warmUpRefreshed]: 1,
        [METRIC.warmUpFresh]: 0,
        [METRIC.warmUpFailure]: 0,
        [METRIC.warmUpDeferred]: 0,
      });
    });
  });

  describe('direct invocations', () => {
    it('answers with the token and a statusCode inside the body', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      const result = await invoke({ client: 'shop', scopes: ['read'] });

      // Assess
      expect(result).toEqual({
        statusCode: 200,
        access_token: ACCESS_TOKEN,
        token_type: 'Bearer',
        expires_in: 3600,
        expires_at: NOW.getTime() / 1000 + 3600,
        scope: 'read',
      });
      expectLoggedWithoutSecrets({
        [AUDIT.marker]: AUDIT.kind,
        channel: 'direct',
        client: 'shop',
        outcome: AUDIT.outcome.served,
      });
      expect(auditLines()[0]).not.toHaveProperty('principal');
    });

    it.each([
      ['an empty event', {}],
      ['an unknown field', { client: 'shop', scope: 'read' }],
      ['scopes that are not a list', { client: 'shop', scopes: 'read' }],
      ['an event that is not an object', 'shop'],
      ['a minTtlSeconds that is not a whole number', { client: 'shop', minTtlSeconds: '60' }],
    ])('answers statusCode 400 invalid_request for %s', async (_case, event) => {
      // Prepare
      const { invoke } = setUp();

      // Act
      const result = await invoke(event);

      // Assess
      expect(result).toMatchObject({ statusCode: 400, error: 'invalid_request' });
    });

    it('answers statusCode 404 for an unknown client', async () => {
      // Prepare
      const { invoke } = setUp();

      // Act
      const result = await invoke({ client: 'payroll' });

      // Assess
      expect(result).toMatchObject({ statusCode: 404, error: 'unknown_client' });
    });
  });

  describe('a freshness requirement (min_ttl, minTtlSeconds)', () => {
    it('obtains a new token when the cached one has less left than min_ttl asks', async () => {
      // Prepare: a one-hour token with ten minutes left.
      const { invoke, requests } = setUp();
      await invoke(apiEvent());
      vi.setSystemTime(NOW.getTime() + 50 * 60_000);

      // Act
      const longer = await invoke(apiEvent({ queryStringParameters: { scope: 'read', min_ttl: '900' } }));
      const direct = await invoke({ client: 'shop', scopes: ['read'], minTtlSeconds: 900 });

      // Assess
      expect(parsedBody(longer)).toMatchObject({ expires_in: 3600 });
      expect(direct).toMatchObject({ statusCode: 200, expires_in: 3600 });
      expect(requests).toHaveLength(2);
    });

    it.each(['abc', '-1', '1.5', '86401'])('refuses min_ttl=%s with 400 invalid_request naming it', async (value) => {
      // Prepare
      const { invoke, requests } = setUp();

      // Act
      const result = (await invoke(apiEvent({ queryStringParameters: { min_ttl: value } }))) as { statusCode: number };

      // Assess
      expect(result.statusCode).toBe(400);
      expect(parsedBody(result)).toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringContaining('min_ttl'),
      });
      expect(requests).toHaveLength(0);
    });
  });

  describe('warm-up', () => {
    it.each([
      ['a { warmup: true } event', { warmup: true }],
      [
        'an EventBridge scheduled event',
        {
          version: '0',
          id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          account: '123456789012',
          time: NOW.toISOString(),
          region: 'eu-west-1',
          resources: ['arn:aws:events:eu-west-1:123456789012:rule/token-broker-warm-up'],
          detail: {},
        },
      ],
    ])('refreshes the tokens and returns a summary for %s', async (_case, event) => {
      // Prepare
      const { invoke, requests } = setUp();

      // Act
      const result = await invoke(event);

      // Assess
      expect(result).toEqual({
        refreshed: 1,
        fresh: 0,
        failed: 0,
        deferred: 0,
        keys: [{ client: 'shop', scope: 'read write', status: 'refreshed', expiresAt: NOW.getTime() / 1000 + 3600 }],
      });
      expect(requests).toHaveLength(1);
      expectLoggedWithoutSecrets(
        { message: 'Obtained a new token', client: 'shop' },
        { message: 'Warm-up done', refreshed: 1 },
      );
    });

    it('serves the warmed token from the cache afterwards', async () => {
      // Prepare
      const { invoke, requests } = setUp();
      await invoke({ warmup: true });

      // Act
      const result = await invoke(apiEvent({ queryStringParameters: null }));

      // Assess
      expect(parsedBody(result)).toMatchObject({ access_token: ACCESS_TOKEN, scope: 'read write' });
      expect(requests).toHaveLength(1);
    });

    it('returns a summary with the failure instead of failing', async () => {
      // Prepare
      const { invoke } = setUp(() => new Response(null, { status: 500 }));

      // Act
      const result = await invoke({ warmup: true });

      // Assess
      expect(result).toEqual({
        refreshed: 0,
        fresh: 0,
        failed: 1,
        deferred: 0,
        keys: [{ client: 'shop', scope: 'read write', status: 'failed', error: 'upstream_unavailable' }],
      });
    });

    it.each([-1, 1.5, 3_601, '60'])('refuses lookAheadSeconds %j with invalid_request, naming the field', async (n) => {
      // Prepare
      const { invoke, requests } = setUp();

      // Act
      const result = await invoke({ warmup: true, lookAheadSeconds: n });

      // Assess
      expect(result).toMatchObject({ statusCode: 400, error: 'invalid_request' });
      expect((result as { error_description: string }).error_description).toContain('lookAheadSeconds');
      expect(requests).toHaveLength(0);
    });

    it('refreshes a token that reaches its refresh point within the requested look-ahead', async () => {
      // Prepare: a one-hour token refreshed after 45 minutes.
      const { invoke, requests } = setUp();
      await invoke({ warmup: true });
      vi.setSystemTime(NOW.getTime() + 40 * 60_000);

      // Act
      const notYet = await invoke({ warmup: true, lookAheadSeconds: 60 });
      const ahead = await invoke({ warmup: true, lookAheadSeconds: 600 });

      // Assess
      expect(notYet).toMatchObject({ refreshed: 0, fresh: 1 });
      expect(ahead).toMatchObject({ refreshed: 1, fresh: 0 });
      expect(requests).toHaveLength(2);
    });
  });
});
