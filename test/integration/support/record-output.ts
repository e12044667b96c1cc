/**
 * Setup file of the integration project (vitest.config.ts): records, for the log scan, every line
 * this process writes to stdout and stderr and every credential its `fetch` calls carry or
 * receive (see log-scan.ts). A canary credential, written once through the same stdout, must be
 * found by the scan: the positive control that capture and scanner work.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import {
  CREDENTIALS_FILE_PREFIX,
  type Credential,
  credentialsInRequest,
  credentialsInResponse,
  LOG_CAPTURE_ENV,
  OUTPUT_FILE_PREFIX,
} from './log-scan.ts';

/** Once per process: vitest may run several test files in one worker. */
const INSTALLED = Symbol.for('m2m-token-broker.log-capture');
/** JSON bodies declared larger than this are not read for a token (no token response is). */
const MAX_RECORDED_BODY = 64 * 1024;

interface Capture {
  readonly fetch: typeof fetch;
}

const directory = process.env[LOG_CAPTURE_ENV];
if (directory) {
  const holder = process as unknown as Record<symbol, Capture | undefined>;
  const capture = holder[INSTALLED] ?? install(directory);
  holder[INSTALLED] = capture;
  afterAll(() => {
    // A test that replaced fetch and kept it would hide what it sends from the scan.
    expect(globalThis.fetch, 'fetch must still be the recording wrapper after the tests').toBe(capture.fetch);
  });
}

function install(dir: string): Capture {
  mkdirSync(dir, { recursive: true });
  const outputFile = join(dir, `${OUTPUT_FILE_PREFIX}${process.pid}.log`);
  const credentialsFile = join(dir, `${CREDENTIALS_FILE_PREFIX}${process.pid}.jsonl`);
  const record = (credentials: readonly Credential[]) => {
    if (credentials.length === 0) return;
    appendFileSync(credentialsFile, credentials.map((c) => `${JSON.stringify(c)}\n`).join(''));
  };

  const canary = `log-scan-canary-${randomUUID()}`;
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      appendFileSync(outputFile, text);
      // The canary is for the scan only, not for the person reading the test output.
      if (text.includes(canary)) return true;
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  }

  const originalFetch = globalThis.fetch;
  const recordingFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    for (const [name, value] of new Headers(init?.headers)) headers.set(name, value);
    record(credentialsInRequest(headers, init?.body));
    const response = await originalFetch(input, init);
    recordTokenOf(response, record);
    return response;
  }) as typeof fetch;
  globalThis.fetch = recordingFetch;

  record([{ kind: 'canary', value: canary }]);
  process.stdout.write(`${JSON.stringify({ level: 'INFO', message: 'Log scan canary', canary })}\n`);
  return { fetch: recordingFetch };
}

/** In the background: a caller reading the body slowly, or never, must not wait for the recorder. */
function recordTokenOf(response: Response, record: (credentials: readonly Credential[]) => void): void {
  const length = Number(response.headers.get('content-length') ?? 0);
  const json = response.headers.get('content-type')?.includes('json') === true;
  if (!json || length > MAX_RECORDED_BODY || response.body === null) return;
  response
    .clone()
    .text()
    .then((text) => record(credentialsInResponse(text)))
    .catch(() => undefined);
}
