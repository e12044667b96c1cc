import fc from 'fast-check';
import { expect } from 'vitest';
import { ECHO_LIMIT } from '../../lambda/broker/core/quote-input.ts';

/**
 * How many cases each property runs. `npm test` runs a fixed-seed sample, the same every time;
 * `npm run fuzz` (vitest.fuzz.config.ts) sets FUZZ_RUNS, and a random seed unless FUZZ_SEED
 * replays one (fast-check prints the seed and the shrunk counterexample of a failure).
 */
function fuzzRuns(): { readonly numRuns: number; readonly seed?: number } {
  const runs = process.env.FUZZ_RUNS;
  if (runs === undefined) return { numRuns: SAMPLE_RUNS, seed: SAMPLE_SEED };
  const seed = process.env.FUZZ_SEED;
  return seed === undefined ? { numRuns: Number(runs) } : { numRuns: Number(runs), seed: Number(seed) };
}

const SAMPLE_RUNS = 300;
/** Bound before any test swallows stderr to inspect log lines. */
const report = process.stderr.write.bind(process.stderr);
const SAMPLE_SEED = 20_261_128;

/**
 * Runs an async property and asserts it ran as many cases as asked: a property that stopped
 * running (a generator that throws, a filter that rejects everything) must fail, not pass.
 */
export async function assertProperty<Ts extends [unknown, ...unknown[]]>(
  name: string,
  ...args: [...arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, check: (...values: Ts) => Promise<void>]
): Promise<void> {
  const check = args.pop() as (...values: Ts) => Promise<void>;
  const arbitraries = args as unknown as { [K in keyof Ts]: fc.Arbitrary<Ts[K]> };
  const parameters = fuzzRuns();
  let cases = 0;
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(...arbitraries, async (...values: Ts) => {
      cases++;
      await check(...values);
    }),
    parameters,
  );
  expect(cases).toBeGreaterThanOrEqual(parameters.numRuns);
  if (process.env.FUZZ_RUNS !== undefined) {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    report(`[fuzz] ${name}: ${cases} cases in ${seconds} s\n`);
  }
}

/** Strings callers could send: short and long, printable and not, JSON-special and Object.prototype names. */
export function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf') },
    { weight: 1, arbitrary: fc.constantFrom('shop', 'billing', 'read', 'write', 'read write', '{client}', '%', '"') },
    { weight: 1, arbitrary: longString() },
  );
}

/** Longer than the echo limit, with a distinctive prefix, sometimes far longer. */
function longString(): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min: ECHO_LIMIT + 1, max: 20_000 }), fc.constantFrom('a', 'Z', '-', 'é', '"', '\u0000', ' '))
    .map(([length, fill]) => `L${'0123456789'.repeat(8)}${fill.repeat(length)}`.slice(0, length));
}

/**
 * The strings of `value` (keys included) longer than the echo limit: no answer or log line may
 * repeat more than ECHO_LIMIT characters of them.
 */
export function longStringsIn(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') {
    if (value.length > ECHO_LIMIT) found.push(value);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      longStringsIn(key, found);
      longStringsIn(inner, found);
    }
  }
  return found;
}

/** Asserts `text` repeats no more than ECHO_LIMIT consecutive characters of any of `inputs`. */
export function expectNoLongEcho(text: string, inputs: readonly string[]): void {
  for (const input of inputs) {
    // Any window of ECHO_LIMIT + 1 characters would do; the start is where an echo begins.
    const window = input.slice(0, ECHO_LIMIT + 1);
    if (text.includes(window)) expect.fail(`echoed more than ${ECHO_LIMIT} characters of ${JSON.stringify(window)}...`);
  }
}
