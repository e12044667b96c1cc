import type { Context } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it, vi } from 'vitest';
import { createBrokerHandler } from '../../../../lambda/broker/handler/create-broker-handler.ts';
import { localContext } from '../../../../lambda/local/api-gateway-event.ts';
import { assertProperty, hostileString, longStringsIn } from '../../../support/fuzz.ts';
import {
  captureLogs,
  expectBrokerAnswer,
  expectSafeLogs,
  FUZZ_AUTHORIZATION,
  fuzzConfig,
  grantingEndpoint,
  type LogCapture,
} from '../../../support/fuzz-broker.ts';

/** Lambda delivers events as JSON: keys such as `__proto__` arrive as own properties. */
const asDelivered = (event: unknown): unknown => JSON.parse(JSON.stringify(event) ?? 'null');

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString() },
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(hostileString(), { maxLength: 3 }),
  fc.dictionary(hostileString(), hostileString(), { maxKeys: 3 }),
);
const clientName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('shop', 'billing', 'payroll') },
  { weight: 2, arbitrary: hostileString() },
);
const scope = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('read', 'write', 'read write', 'write  read', 'admin', ' ', '') },
  { weight: 2, arbitrary: hostileString() },
  {
    weight: 1,
    arbitrary: fc.array(fc.constantFrom('read', 'write', 'x'.repeat(200)), { maxLength: 40 }).map((s) => s.join(' ')),
  },
  { weight: 1, arbitrary: anyValue },
);
const path = fc.oneof(
  { weight: 4, arbitrary: clientName.map((name) => `/clients/${name}/token`) },
  fc.tuple(hostileString(), clientName).map(([prefix, name]) => `${prefix}/clients/${name}/token`),
  clientName.map((name) => `http://x/clients/${name}/token`),
  hostileString().map((segment) => `/clients/${encodeURIComponent(segment)}/token`),
  fc.constantFrom('/clients/{client}/token', '/clients/%E0%A4%A/token', '//[', '/clients/shop/token/'),
  anyValue,
);
const queryKey = fc.oneof(fc.constantFrom('scope', '__proto__', 'constructor', 'toString'), hostileString());
const queryMap = fc.oneof(
  fc.constant(null),
  fc.record({ scope }, { requiredKeys: [] }),
  fc.dictionary(queryKey, scope, { maxKeys: 4 }),
  anyValue,
);
const multiValueQueryMap = fc.oneof(
  fc.constant(null),
  fc.record({ scope: fc.oneof(fc.array(scope, { maxLength: 3 }), anyValue) }, { requiredKeys: [] }),
  fc.dictionary(queryKey, fc.oneof(fc.array(scope, { maxLength: 3 }), anyValue), { maxKeys: 4 }),
  anyValue,
);

/** REST API proxy events: mostly well-formed in shape, any field possibly of the wrong type or value. */
const apiEvent = fc
  .record(
    {
      httpMethod: fc.oneof({ weight: 5, arbitrary: fc.constant('GET') }, hostileString(), anyValue),
      resource: path,
      path,
      pathParameters: fc.oneof(fc.constant(null), fc.record({ client: fc.oneof(clientName, anyValue) }), anyValue),
      queryStringParameters: queryMap,
      multiValueQueryStringParameters: multiValueQueryMap,
      headers: fc.constant({ Authorization: FUZZ_AUTHORIZATION }),
      requestContext: fc.oneof(fc.constant({ stage: 'v1' }), fc.dictionary(hostileString(), anyValue, { maxKeys: 2 })),
    },
    { requiredKeys: ['httpMethod', 'headers', 'requestContext'] },
  )
  .map(asDelivered);

/** Direct invocations: the documented shape with any values, any JSON, warm-up look-alikes and API look-alikes. */
const directEvent = fc
  .oneof(
    fc.record(
      { client: fc.oneof(clientName, anyValue), scopes: fc.oneof(fc.array(scope, { maxLength: 3 }), anyValue) },
      { requiredKeys: [] },
    ),
    fc.dictionary(
      fc.oneof(
        fc.constantFrom('client', 'scopes', '__proto__', 'constructor', 'httpMethod', 'requestContext'),
        hostileString(),
      ),
      anyValue,
      { maxKeys: 4 },
    ),
    fc.record(
      {
        warmup: fc.oneof(fc.constant(true), anyValue),
        lookAheadSeconds: fc.oneof(fc.integer({ min: -5, max: 4000 }), anyValue),
      },
      { requiredKeys: [] },
    ),
    fc.jsonValue({ maxDepth: 3 }),
    apiEvent,
  )
  .map(asDelivered);

describe('Property: the handler answers every event without a 5xx, a crash or a leak', () => {
  let logs: LogCapture;
  let invoke: (event: unknown) => Promise<unknown>;

  beforeAll(() => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    vi.stubEnv('POWERTOOLS_DEV', undefined);
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
    const { handler } = createBrokerHandler(fuzzConfig, { tokenEndpoint: grantingEndpoint });
    invoke = (event) => handler(event, localContext('token-broker', 25_000) as Context) as Promise<unknown>;
    logs = captureLogs();
  });
  afterAll(() => {
    logs?.restore();
    vi.unstubAllEnvs();
  });

  it('API Gateway events: a token, or a JSON error naming the problem', async () => {
    await assertProperty('API Gateway event parser', apiEvent, async (event) => {
      // Act
      logs.clear();
      const result = (await invoke(event)) as { statusCode: number; headers?: unknown; body: unknown };

      // Assess
      const inputs = longStringsIn(event);
      const isApi = typeof (event as { httpMethod?: unknown }).httpMethod === 'string';
      const body = isApi ? JSON.parse(result.body as string) : (({ statusCode: _, ...rest }) => rest)(result);
      expectBrokerAnswer(result.statusCode, body, inputs);
      expectSafeLogs(logs.lines(), (body as { error?: unknown }).error, inputs);
    });
  });

  it('direct invocations: a token, a warm-up summary, or a JSON error naming the problem', async () => {
    await assertProperty('direct-invoke parser', directEvent, async (event) => {
      // Act
      logs.clear();
      const result = (await invoke(event)) as Record<string, unknown>;

      // Assess
      const inputs = longStringsIn(event);
      if ('refreshed' in result) {
        expectWarmUpSummary(result);
        return;
      }
      const { statusCode, body: apiBody, headers: _headers, ...rest } = result;
      const body = typeof apiBody === 'string' ? JSON.parse(apiBody) : rest;
      expectBrokerAnswer(statusCode as number, body, inputs);
      expectSafeLogs(logs.lines(), (body as { error?: unknown }).error, inputs);
    });
  });
});

function expectWarmUpSummary(result: Record<string, unknown>): void {
  if (result.failed !== 0 || !Array.isArray(result.keys)) throw new Error(`warm-up failed: ${JSON.stringify(result)}`);
}
