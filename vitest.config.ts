import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { LOG_CAPTURE_ENV } from './test/integration/support/log-scan.ts';

/** Where this run's integration tests record their output and credentials for the log scan. */
const logCapture = { [LOG_CAPTURE_ENV]: join(tmpdir(), `m2m-token-broker-logs-${process.pid}`) };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
          env: logCapture,
          globalSetup: ['test/integration/support/fresh-capture-directory.ts'],
          setupFiles: ['test/integration/support/record-output.ts'],
        },
      },
      {
        test: {
          // The scan of what the integration tests logged: after them, so it sees all of it.
          name: 'integration-logs',
          include: ['test/integration/**/*.scan.ts'],
          environment: 'node',
          env: logCapture,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          environment: 'node',
          // Synthesizing a stack bundles the Lambda code with esbuild: seconds, not milliseconds.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
