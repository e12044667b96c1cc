import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { bundleConsumer, type ConsumerBundle, forbiddenInputs } from '../../../bench/client-bundle.ts';
import { type FakeBroker, startFakeBroker } from './support/fake-broker-server.ts';

/** Bundling the AWS SDK takes a second or two per consumer. */
const BUNDLE_TIMEOUT_MS = 30_000;

describe('Bundle: a consumer of lambda/client', () => {
  const bundles = new Map<string, ConsumerBundle>();
  let dir: string;
  let broker: FakeBroker | undefined;

  beforeAll(async () => {
    for (const kind of ['http', 'invoke', 'example'] as const) bundles.set(kind, await bundleConsumer(kind));
    dir = await mkdtemp(join(tmpdir(), 'client-bundle-'));
  }, BUNDLE_TIMEOUT_MS);
  afterEach(async () => {
    vi.unstubAllEnvs();
    await broker?.stop();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['http', 'invoke', 'example'])(
    'contains neither the CDK nor the broker or local server code (%s)',
    (kind) => {
      // Act
      const bundle = bundles.get(kind) as ConsumerBundle;

      // Assess
      expect(bundle.inputs.some((i) => i.startsWith('lambda/client/'))).toBe(true);
      expect(forbiddenInputs(bundle)).toEqual([]);
    },
  );

  it('leaves the Lambda client out of a consumer that calls the HTTP API', () => {
    // Act
    const bundle = bundles.get('http') as ConsumerBundle;

    // Assess
    expect(bundle.inputs.filter((i) => i.includes('@aws-sdk/client-lambda'))).toEqual([]);
    expect(bundles.get('invoke')?.inputs.some((i) => i.includes('@aws-sdk/client-lambda'))).toBe(true);
  });

  it('runs as bundled, signing with the role credentials the default provider chain finds in the environment', async () => {
    // Prepare
    const credentials = { accessKeyId: 'ASIABUNDLE', secretAccessKey: 'bundle-secret', sessionToken: 'bundle-session' };
    broker = await startFakeBroker({
      verify: {
        region: 'eu-west-1',
        service: 'execute-api',
        credentials: new Map([[credentials.accessKeyId, credentials]]),
      },
    });
    vi.stubEnv('TOKEN_BROKER_URL', broker.url);
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', credentials.sessionToken);
    const file = join(dir, 'http-consumer.mjs');
    await writeFile(file, (bundles.get('http') as ConsumerBundle).code);

    // Act
    const { handler } = (await import(pathToFileURL(file).href)) as { handler: () => Promise<unknown> };
    const result = await handler();

    // Assess
    expect(result).toEqual({ expiresAt: expect.any(String), scope: 'read' });
    expect(broker.requests[0]?.verdict).toMatchObject({ ok: true, accessKeyId: 'ASIABUNDLE' });
  });
});
