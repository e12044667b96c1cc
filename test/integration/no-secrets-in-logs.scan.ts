import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CREDENTIALS_FILE_PREFIX,
  type Credential,
  findLeaks,
  LEAK_REPORT_FILE,
  type Leak,
  LOG_CAPTURE_ENV,
  OUTPUT_FILE_PREFIX,
} from './support/log-scan.ts';

const directory = process.env[LOG_CAPTURE_ENV] ?? '';
const captured = directory !== '' && existsSync(directory) && readdirSync(directory).length > 0;
const title = `The integration suite's log lines${captured ? '' : ' [skipped: the integration project did not run]'}`;

/** Runs after the integration project (vitest.config.ts, `sequence.groupOrder`). */
describe.skipIf(!captured)(title, () => {
  const files = captured ? readdirSync(directory) : [];
  const credentials: Credential[] = files
    .filter((file) => file.startsWith(CREDENTIALS_FILE_PREFIX))
    .flatMap((file) => readFileSync(join(directory, file), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as Credential);
  const outputs = files.filter((file) => file.startsWith(OUTPUT_FILE_PREFIX));
  const leaks: Leak[] = outputs.flatMap((file) =>
    findLeaks(file, readFileSync(join(directory, file), 'utf8').split('\n'), credentials),
  );

  it('found the canary every test process wrote through its stdout: capture and scanner work', () => {
    // Assess
    expect(outputs.length).toBeGreaterThan(0);
    const canaries = credentials.filter((c) => c.kind === 'canary');
    expect(canaries).toHaveLength(outputs.length);
    expect(leaks.filter((leak) => leak.what === 'canary')).toHaveLength(outputs.length);
  });

  it('holds no client secret, private key, Authorization header or access token', () => {
    // Assess: where and what kind, never the value (this report is output too).
    const real = leaks.filter((leak) => leak.what !== 'canary');
    if (real.length > 0) writeFileSync(join(directory, LEAK_REPORT_FILE), JSON.stringify(real, null, 2));
    expect(real, `leaks in ${directory} (kept, with ${LEAK_REPORT_FILE})`).toEqual([]);
  });

  it('recorded the access tokens of a run in which the broker served tokens: the fetch recorder works', () => {
    // Prepare
    const served = outputs.some((file) => readFileSync(join(directory, file), 'utf8').includes('"Token served"'));

    // Assess
    if (served) expect(credentials.filter((c) => c.kind === 'access_token').length).toBeGreaterThan(0);
  });
});
