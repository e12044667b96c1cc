/**
 * `npm run bench:handler`: in-process invocations per second of the real broker handler on a
 * cache hit, as ratios measured in one run:
 *
 *   floor    an empty middy handler with the same Powertools middlewares that logs one line and
 *            adds one metric: what any logged, metered request costs (goal: broker / floor >= 0.9)
 *   bare     an empty middy handler with no middleware
 *
 * Log and metric output go to /dev/null (the bench re-runs itself with stdout ignored) so the
 * terminal is not what is measured; the three handlers write the same kind of lines.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { parseBrokerConfig } from '../lambda/broker/core/config.ts';
import { createBrokerHandler } from '../lambda/broker/handler/create-broker-handler.ts';
import { API_ALIAS, METRICS_NAMESPACE, SERVICE_NAME } from '../lambda/shared/contract.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const GOAL = 0.9;

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const context = {
  functionName: 'token-broker',
  functionVersion: '$LATEST',
  // Through the alias API Gateway invokes, so the audit reads the caller's identity as in production.
  invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:token-broker:${API_ALIAS}`,
  memoryLimitInMB: '256',
  awsRequestId: 'bench',
  logGroupName: '/aws/lambda/token-broker',
  logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 25_000,
  done() {},
  fail() {},
  succeed() {},
} as Context;

const event = {
  httpMethod: 'GET',
  path: '/clients/shop/token',
  resource: '/clients/shop/token',
  pathParameters: null,
  queryStringParameters: { scope: 'read' },
  multiValueQueryStringParameters: { scope: ['read'] },
  headers: {},
  multiValueHeaders: {},
  body: null,
  isBase64Encoded: false,
  stageVariables: null,
  requestContext: { identity: { userArn: 'arn:aws:sts::123456789012:assumed-role/caller/fn' } },
};

async function brokerHandler(): Promise<Handler> {
  const config = parseBrokerConfig(
    {
      clients: [
        {
          name: 'shop',
          tokenEndpoint: 'https://idp.example.test/token',
          clientId: 'm2m',
          clientSecret: { value: 'bench-secret' },
          scopes: ['read', 'write'],
        },
      ],
    },
    { allowLiteralSecrets: true },
  );
  const fetch = (async () =>
    Response.json({ access_token: 'bench-token', token_type: 'Bearer', expires_in: 3600 })) as typeof globalThis.fetch;
  const { handler } = createBrokerHandler(config, {
    tokenEndpoint: { fetch, now: Date.now, sleep: async () => {}, random: Math.random },
  });
  await handler(event, context); // the first call fetches; every measured one is a hit
  return handler as Handler;
}

function floorHandler(): Handler {
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  return middy(async () => {
    logger.info('Token served', { client: 'shop', scope: 'read', source: 'memory', expiresIn: 3599 });
    metrics.addMetric('TokenServed', MetricUnit.Count, 1);
    return { statusCode: 200, headers: {}, body: '{}' };
  })
    .use(injectLambdaContext(logger, { logEvent: false }))
    .use(logMetrics(metrics)) as unknown as Handler;
}

function bareHandler(): Handler {
  return middy(async () => ({ statusCode: 200, headers: {}, body: '{}' })) as unknown as Handler;
}

async function perSecond(handler: Handler): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) await handler(event, context);
  return CALLS / ((performance.now() - start) / 1000);
}

async function measure(): Promise<void> {
  const handlers = { broker: await brokerHandler(), floor: floorHandler(), bare: bareHandler() };
  for (const handler of Object.values(handlers)) await perSecond(handler); // warm-up round
  const rates = { broker: [] as number[], floor: [] as number[], bare: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    rates.broker.push(await perSecond(handlers.broker));
    rates.floor.push(await perSecond(handlers.floor));
    rates.bare.push(await perSecond(handlers.bare));
  }
  process.stderr.write(`${JSON.stringify(rates)}\n`);
}

function report(rates: { broker: number[]; floor: number[]; bare: number[] }): void {
  const ratio = (of: number[], to: number[]) => of.map((x, i) => x / (to[i] as number));
  const summary = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    return { median, text: `${median.toFixed(3)} [${sorted[0]?.toFixed(3)}-${sorted.at(-1)?.toFixed(3)}]` };
  };
  const toFloor = summary(ratio(rates.broker, rates.floor));
  console.log(`Cache hits through the real handler, ${ROUNDS} interleaved rounds of ${CALLS} invocations`);
  console.log(`  broker / floor (middy + Powertools, one log line, one metric)  ${toFloor.text}  (goal >= ${GOAL})`);
  console.log(
    `  broker / bare middy                                              ${summary(ratio(rates.broker, rates.bare)).text}`,
  );
  console.log(
    `  floor / bare middy                                               ${summary(ratio(rates.floor, rates.bare)).text}`,
  );
  if (toFloor.median < GOAL) console.log(`  goal missed: ${toFloor.median.toFixed(3)} < ${GOAL}`);
}

if (process.env.BENCH_CHILD === '1') {
  await measure();
} else {
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string], {
    env: { ...process.env, BENCH_CHILD: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const line = child.stderr.trim().split('\n').at(-1) ?? '';
  if (child.status !== 0 || !line.startsWith('{')) throw new Error(`bench child failed: ${child.stderr}`);
  report(JSON.parse(line));
}
