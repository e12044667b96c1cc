import { defineConfig } from 'vitest/config';

/**
 * `npm run fuzz`: the property-based tests (`*.fuzz.test.ts`), 10,000 cases per property with a
 * random seed. `npm test` runs the same files with a fixed-seed sample (test/support/fuzz.ts).
 * FUZZ_RUNS and FUZZ_SEED, when set, win: FUZZ_SEED replays a failure fast-check reported.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.fuzz.test.ts'],
    environment: 'node',
    env: { FUZZ_RUNS: process.env.FUZZ_RUNS ?? '10000' },
    // Sequential files: the machines are shared, and each property takes a core for its run.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 60_000,
  },
});
