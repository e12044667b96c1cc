import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { LEAK_REPORT_FILE, LOG_CAPTURE_ENV } from './log-scan.ts';

/**
 * Global setup of the integration project: this run's capture directory (named in
 * vitest.config.ts, one per vitest process) starts empty, so the scan reads this run's lines
 * only; at the end of the run it is removed, unless the scan found leaks and left its report.
 */
export default function freshCaptureDirectory(project: TestProject): (() => void) | undefined {
  const directory = project.config.env[LOG_CAPTURE_ENV];
  if (!directory) return undefined;
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  return () => {
    if (!existsSync(join(directory, LEAK_REPORT_FILE))) rmSync(directory, { recursive: true, force: true });
  };
}
