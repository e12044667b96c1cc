/**
 * The fleet cache, measured in one run: 20 broker instances sharing the table and key (moto)
 * against 20 with memory only, side by side on one timeline, with the same callers and the same
 * warm-up schedule.
 *
 * Each instance is a Lambda execution environment in a process of its own (the broker's Lambda
 * entry configured by its environment: test/integration/support/lambda-environment.ts), frozen
 * with SIGSTOP between invocations and thawed with SIGCONT for each, as Lambda does. Callers invoke
 * random idle instances; the warm-up event goes to one random instance at a time on its schedule.
 * Times are scaled down (30 s tokens) and printed. After a steady phase of more than three refresh
 * intervals the authorization server goes down. Everything listens on 127.0.0.1.
 *
 * Counted where it crosses the wire: token requests at a proxy in front of the authorization
 * server (one per fleet), DynamoDB and KMS calls at a proxy in front of moto (`X-Amz-Target`).
 * A caller waited when an authorization server call was on its path (its audit line
 * says `source: fetched`). Latencies are the caller's (thaw, invocation, answer); moto's latency
 * is not DynamoDB's, so they are reported as ratios to the memory-only fleet.
 *
 * Run: npm run bench:fleet
 */
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { startAuthorizationServer } from '../lambda/local/authorization-server.ts';
import { AUDIT, ENV, warmUpEvent } from '../lambda/shared/contract.ts';
import { type FaultProxy, startFaultProxy } from '../test/integration/support/fault-proxy.ts';
import { type LambdaEnvironment, startLambdaEnvironment } from '../test/integration/support/lambda-environment.ts';
import { motoUnavailableReason, startMotoServer } from '../test/integration/support/moto-server.ts';
import { createCacheKey, createTokenCacheTable } from '../test/integration/support/token-cache-resources.ts';

const INSTANCES = 20;
const CALLERS_PER_FLEET = 4;
const CALLER_PAUSE_MS = 40;
const TOKEN_LIFETIME_S = 30;
/** The broker's defaults: refresh at 75% of the lifetime; usable until min(30 s, 10%) before expiry. */
const REFRESH_WINDOW_S = TOKEN_LIFETIME_S * 0.75;
const USABLE_S = TOKEN_LIFETIME_S * 0.9;
const ATTEMPT_TIMEOUT_MS = 1_000;
const DEADLINE_MS = 3_000;
/** The broker's lease: one attempt plus 1 s; taken over 2 s (the store's clock skew) after that. */
const LEASE_MS = ATTEMPT_TIMEOUT_MS + 1_000;
const FUNCTION_TIMEOUT_MS = 10_000;
const WARM_UP_INTERVAL_S = 3;
/** As the construct sets it: the interval plus a margin (60 s there, scaled to 1 s). */
const LOOK_AHEAD_S = WARM_UP_INTERVAL_S + 1;
const STEADY_S = 72;
/** Every token is unusable 27 s after it was obtained: by then each fleet has nothing left to serve. */
const OUTAGE_S = 28;
const TIER_FAILED = 'Shared token cache failed; using memory and the authorization server directly';

interface Call {
  /** ms since the run started */
  readonly at: number;
  readonly latencyMs: number;
  readonly ok: boolean;
  /** Where the token came from, from the invocation's audit line. */
  readonly source: unknown;
  readonly accessToken?: string;
}

/** One fleet: its environments, its own proxy in front of the authorization server, what its callers saw. */
class Fleet {
  readonly calls: Call[] = [];
  readonly #busy = new Set<number>();
  warmUps = 1;

  constructor(
    readonly environments: LambdaEnvironment[],
    readonly tokenServer: FaultProxy,
  ) {}

  /** One invocation on a random idle environment (Lambda sends one request at a time to an environment). */
  async invoke(event: unknown) {
    const index = await this.#idle();
    try {
      return await (this.environments[index] as LambdaEnvironment).invoke(event);
    } finally {
      this.#busy.delete(index);
    }
  }

  async #idle(): Promise<number> {
    for (;;) {
      const idle = this.environments.map((_, i) => i).filter((i) => !this.#busy.has(i));
      if (idle.length > 0) {
        const index = idle[Math.floor(Math.random() * idle.length)] as number;
        this.#busy.add(index);
        return index;
      }
      await sleep(2);
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function caller(fleet: Fleet, startedAt: number, until: number): Promise<void> {
  while (performance.now() < until) {
    const started = performance.now();
    const { result, logLines } = await fleet.invoke({ client: 'shop', scopes: ['read'] });
    const answer = result as { statusCode?: number; access_token?: string };
    fleet.calls.push({
      at: started - startedAt,
      latencyMs: performance.now() - started,
      ok: answer.statusCode === 200,
      source: logLines.find((line) => line.message === AUDIT.message && line.outcome === AUDIT.outcome.served)?.source,
      ...(answer.access_token ? { accessToken: answer.access_token } : {}),
    });
    await sleep(Math.random() * CALLER_PAUSE_MS);
  }
}

/** The scheduled warm-up, one instance at a time; the first one ran before the callers came. */
async function warmUpSchedule(fleet: Fleet, startedAt: number, until: number): Promise<void> {
  for (let next = startedAt + WARM_UP_INTERVAL_S * 1000; next < until; next += WARM_UP_INTERVAL_S * 1000) {
    await sleep(next - performance.now());
    await fleet.invoke(warmUpEvent(LOOK_AHEAD_S));
    fleet.warmUps++;
  }
}

async function startFleet(count: number, env: Record<string, string>): Promise<LambdaEnvironment[]> {
  const environments: LambdaEnvironment[] = [];
  // A few cold starts at a time: they compete for the same two cores as everything else.
  for (let i = 0; i < count; i += 5) {
    const batch = Array.from({ length: Math.min(5, count - i) }, () =>
      startLambdaEnvironment({ env, frozenWhenIdle: true, timeoutMs: FUNCTION_TIMEOUT_MS }),
    );
    environments.push(...(await Promise.all(batch)));
  }
  return environments;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const fixed = (value: number, digits = 2) => value.toFixed(digits);
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
const row = (label: string, shared: string, memory: string, ratio = '') =>
  `${label.padEnd(42)}${shared.padStart(14)}${memory.padStart(14)}${ratio.padStart(9)}`;

interface FleetFigures {
  readonly tokenRequests: number;
  readonly perInterval: number;
  readonly waited: number;
  readonly waitedShare: number;
  /** Mean seconds between two token requests (`undefined` with fewer than two). */
  readonly requestSpacingS: number | undefined;
  readonly fromTableShare: number;
  readonly served: number;
  readonly distinctTokens: number;
  readonly p50: number;
  readonly p99: number;
  readonly firstFailureS: number | undefined;
  readonly lastServedS: number | undefined;
  readonly outageServedShare: number;
}

function figures(fleet: Fleet, startedAt: number, downAt: number): FleetFigures {
  const steadyEnd = downAt - startedAt;
  const steady = fleet.calls.filter((c) => c.at < steadyEnd);
  const outage = fleet.calls.filter((c) => c.at >= steadyEnd);
  const latencies = steady
    .filter((c) => c.ok)
    .map((c) => c.latencyMs)
    .sort((a, b) => a - b);
  const tokenRequestTimes = fleet.tokenServer.requests
    .filter((r) => r.receivedAt >= startedAt && r.receivedAt < downAt)
    .map((r) => r.receivedAt);
  const tokenRequests = tokenRequestTimes.length;
  // An authorization server call was on the caller's path.
  const waited = steady.filter((c) => c.source === 'fetched');
  const firstFailure = outage.find((c) => !c.ok);
  const lastServed = outage.findLast((c) => c.ok);
  return {
    tokenRequests,
    perInterval: tokenRequests / (steadyEnd / 1000 / REFRESH_WINDOW_S),
    waited: waited.length,
    waitedShare: waited.length / steady.length,
    requestSpacingS: spacingS(tokenRequestTimes),
    fromTableShare: steady.filter((c) => c.source === 'shared').length / steady.length,
    served: steady.filter((c) => c.ok).length,
    distinctTokens: new Set(steady.map((c) => c.accessToken)).size,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    firstFailureS: firstFailure && (firstFailure.at - steadyEnd) / 1000,
    lastServedS: lastServed && (lastServed.at - steadyEnd) / 1000,
    outageServedShare: outage.filter((c) => c.ok).length / outage.length,
  };
}

function spacingS(times: readonly number[]): number | undefined {
  const first = times[0];
  const last = times.at(-1);
  return first === undefined || last === undefined || times.length < 2
    ? undefined
    : (last - first) / (times.length - 1) / 1000;
}

function servedFor(seconds: number | undefined): string {
  return seconds === undefined ? 'never' : `${fixed(seconds, 1)} s ${percent(seconds / TOKEN_LIFETIME_S)}`;
}

async function main(): Promise<void> {
  const motoMissing = motoUnavailableReason();
  if (motoMissing) {
    console.error(`bench:fleet needs moto: ${motoMissing}`);
    process.exitCode = 1;
    return;
  }
  const moto = await startMotoServer();
  const server = await startAuthorizationServer({ accessTokenTtlSeconds: TOKEN_LIFETIME_S });
  const aws = await startFaultProxy(moto.endpoint);
  const tokenServers = [await startFaultProxy(server.issuer), await startFaultProxy(server.issuer)] as const;
  const fleets: Fleet[] = [];
  try {
    const tableName = await createTokenCacheTable(moto.dynamodb());
    const keyId = (await createCacheKey(moto.kms())).arn;
    const secret = await moto
      .secretsManager()
      .send(new CreateSecretCommand({ Name: 'shop', SecretString: 'password' }));
    const environment = (tokenServer: FaultProxy): Record<string, string> => ({
      ...moto.environment(),
      AWS_ENDPOINT_URL_DYNAMODB: aws.url,
      AWS_ENDPOINT_URL_KMS: aws.url,
      POWERTOOLS_METRICS_DISABLED: 'true',
      [ENV.brokerConfig]: JSON.stringify({
        clients: [
          {
            name: 'shop',
            tokenEndpoint: `${tokenServer.url}${new URL(server.tokenEndpoint).pathname}`,
            clientId: 'm2m',
            clientSecret: { secretId: secret.ARN },
            scopes: ['read'],
            attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
            deadlineMs: DEADLINE_MS,
          },
        ],
      }),
    });
    const [sharedServer, memoryServer] = tokenServers;
    const cache = {
      [ENV.tokenCacheTable]: tableName,
      [ENV.tokenCacheKeyId]: keyId,
      [ENV.tokenCacheNamespace]: 'bench',
    };
    const shared = new Fleet(await startFleet(INSTANCES, { ...environment(sharedServer), ...cache }), sharedServer);
    const memory = new Fleet(await startFleet(INSTANCES, environment(memoryServer)), memoryServer);
    fleets.push(shared, memory);

    printSetup();
    await Promise.all(fleets.map((fleet) => fleet.invoke(warmUpEvent(LOOK_AHEAD_S))));
    const startedAt = performance.now();
    const downAt = startedAt + STEADY_S * 1000;
    const end = downAt + OUTAGE_S * 1000;
    const down = sleep(STEADY_S * 1000).then(() => {
      for (const proxy of tokenServers) proxy.setMode({ kind: 'down' });
    });
    await Promise.all([
      down,
      ...fleets.flatMap((fleet) => [
        warmUpSchedule(fleet, startedAt, end),
        ...Array.from({ length: CALLERS_PER_FLEET }, () => caller(fleet, startedAt, end)),
      ]),
    ]);

    const awsCalls = aws.requests.filter((r) => r.receivedAt >= startedAt && r.receivedAt < downAt);
    printResults(figures(shared, startedAt, downAt), figures(memory, startedAt, downAt), awsCalls);
    const tierFailures = shared.environments.flatMap((e) => e.logLines()).filter((l) => l.message === TIER_FAILED);
    console.log(
      `warm-ups: ${shared.warmUps} per fleet; fleet cache failures logged (SharedCacheFailure): ${tierFailures.length}`,
    );
  } finally {
    await Promise.all(fleets.flatMap((fleet) => fleet.environments.map((e) => e.stop())));
    await Promise.all([aws.stop(), ...tokenServers.map((p) => p.stop())]);
    await server.stop();
    await moto.stop();
  }
}

function printSetup(): void {
  console.log(
    [
      `${INSTANCES} instances per fleet, one process each, frozen (SIGSTOP) between invocations; ${CALLERS_PER_FLEET} callers per fleet on random idle instances`,
      `tokens ${TOKEN_LIFETIME_S} s: refresh at ${REFRESH_WINDOW_S} s, usable until ${USABLE_S} s; attempt ${ATTEMPT_TIMEOUT_MS / 1000} s, deadline ${DEADLINE_MS / 1000} s, lease ${LEASE_MS / 1000} s (+2 s clock skew)`,
      `warm-up every ${WARM_UP_INTERVAL_S} s on one instance, lookAheadSeconds ${LOOK_AHEAD_S}; steady ${STEADY_S} s (${fixed(STEADY_S / REFRESH_WINDOW_S, 1)} refresh intervals), then the authorization server is down for ${OUTAGE_S} s`,
      '',
    ].join('\n'),
  );
}

function printResults(s: FleetFigures, m: FleetFigures, awsCalls: readonly { operation?: string }[]): void {
  const byOperation = new Map<string, number>();
  for (const { operation } of awsCalls) {
    const name = operation?.split('.').at(-1) ?? 'other';
    byOperation.set(name, (byOperation.get(name) ?? 0) + 1);
  }
  const perServed = (n: number) => fixed(n / s.served, 3);
  const ratio = (a: number, b: number) => fixed(a / b);
  console.log(row('', 'shared tier', 'memory only', 'ratio'));
  console.log(row('token requests (steady phase)', String(s.tokenRequests), String(m.tokenRequests)));
  console.log(
    row(
      `  per (key, ${REFRESH_WINDOW_S} s refresh interval)`,
      fixed(s.perInterval),
      fixed(m.perInterval),
      ratio(s.perInterval, m.perInterval),
    ),
  );
  // The first token predates the steady phase: every other one served is a renewal.
  const renewals = s.distinctTokens - 1;
  const spacing = s.requestSpacingS === undefined ? '' : `, one every ${fixed(s.requestSpacingS, 1)} s`;
  console.log(
    `  shared tier: ${fixed(s.tokenRequests / renewals)} token request(s) per renewal of the fleet's token (${renewals} renewals${spacing}: the warm-up renews up to ${LOOK_AHEAD_S + WARM_UP_INTERVAL_S} s ahead of the refresh point)`,
  );
  console.log(row('caller requests served (steady phase)', String(s.served), String(m.served)));
  console.log(
    row(
      '  that waited on the authorization server',
      `${s.waited} ${percent(s.waitedShare)}`,
      `${m.waited} ${percent(m.waitedShare)}`,
    ),
  );
  console.log(row('  that read the table (GetItem + Decrypt)', percent(s.fromTableShare), percent(m.fromTableShare)));
  console.log(row('DynamoDB + KMS calls per served token', perServed(awsCalls.length), '0'));
  for (const [operation, count] of [...byOperation].sort()) {
    console.log(row(`  ${operation} (calls)`, `${perServed(count)} (${count})`, '0'));
  }
  console.log(row('caller latency p50 (ms)', fixed(s.p50), fixed(m.p50), ratio(s.p50, m.p50)));
  console.log(row('caller latency p99 (ms)', fixed(s.p99), fixed(m.p99), ratio(s.p99, m.p99)));
  console.log('after the authorization server went down (share of the token lifetime):');
  console.log(row('  first caller refused after', servedFor(s.firstFailureS), servedFor(m.firstFailureS)));
  console.log(row('  last caller served after', servedFor(s.lastServedS), servedFor(m.lastServedS)));
  console.log(
    row(
      '  callers served during the outage',
      percent(s.outageServedShare),
      percent(m.outageServedShare),
      ratio(s.outageServedShare, m.outageServedShare),
    ),
  );
}

await main();
