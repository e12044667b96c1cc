import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalBroker, type LocalBrokerOptions, startLocalBroker } from '../../lambda/local/local-broker.ts';
import { type CapturedOutput, captureOutput } from './support/captured-output.ts';
import { type FaultServer, startFaultServer } from './support/fault-server.ts';
import { configFor, getToken } from './support/fixtures.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from './support/moto-server.ts';

const skipReason = motoUnavailableReason();
const title = `Broker when Secrets Manager is out of reach (moto server, frozen or stopped)${skipReason ? ` [skipped: ${skipReason}]` : ''}`;

/**
 * The broker's own Secrets Manager client (the composition root's default, with its timeouts),
 * pointed at moto through the SDK's environment variables, as in Lambda. The tests run in order:
 * the last one stops moto for good.
 */
describe.skipIf(skipReason !== undefined)(title, () => {
  let moto: MotoServer;
  let secretsManager: SecretsManagerClient;
  let server: FaultServer;
  let output: CapturedOutput;
  const brokers: LocalBroker[] = [];

  const broker = async (client: Record<string, unknown>, overrides: Omit<LocalBrokerOptions, 'config'> = {}) => {
    const { ARN } = await secretsManager.send(
      new CreateSecretCommand({ Name: `shop/${randomUUID()}`, SecretString: 'password' }),
    );
    const config = configFor(server, { clientSecret: { secretId: ARN }, ...client }, { secretTtlMs: 0 });
    const started = await startLocalBroker({ config, ...overrides });
    brokers.push(started);
    return started;
  };

  beforeAll(async () => {
    moto = await startMotoServer();
    secretsManager = moto.secretsManager();
    for (const [name, value] of Object.entries(moto.environment())) vi.stubEnv(name, value);
    server = await startFaultServer();
    output = captureOutput();
  });
  afterEach(async () => {
    moto.thaw();
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
  });
  afterAll(async () => {
    output?.restore();
    vi.unstubAllEnvs();
    await server?.stop();
    await moto?.stop();
  });

  it('serves a cached token at once while a refresh waits on a frozen Secrets Manager', async () => {
    // Prepare: a one-hour token; the clock past its refresh point; every refresh re-reads the secret.
    let clockMs = Date.now();
    const { url } = await broker({}, { now: () => clockMs });
    const cached = await getToken(url, 'shop', 'read');
    clockMs += 3_000_000;
    moto.freeze();
    const started = Date.now();

    // Act
    const first = await getToken(url, 'shop', 'read');
    const second = await getToken(url, 'shop', 'read');

    // Assess: the refresh-ahead wait (250 ms) at most, not the secret read.
    expect(Date.now() - started).toBeLessThan(1_500);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.body.access_token).toBe(cached.body.access_token);
    expect(second.body.access_token).toBe(cached.body.access_token);
    expect(server.requests).toHaveLength(1);
  });

  it('answers 503 secret_store_unavailable at the deadline when Secrets Manager is frozen', async () => {
    // Prepare
    const { url } = await broker({ deadlineMs: 2_000 });
    moto.freeze();
    const started = Date.now();

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    const elapsed = Date.now() - started;
    expect(reply.status).toBe(503);
    expect(reply.body).toMatchObject({ error: 'secret_store_unavailable' });
    expect(reply.body.error_description).toContain('within the deadline of client shop');
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(3_500);
  });

  it('gives up on a frozen Secrets Manager within its client timeouts, well inside the default deadline', async () => {
    // Prepare
    const { url } = await broker({});
    moto.freeze();
    const started = Date.now();

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess: 2 attempts of 2 s, and the SDK's back-off; the deadline is 15 s.
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(reply.status).toBe(503);
    expect(reply.body).toMatchObject({ error: 'secret_store_unavailable' });
    expect(output.logLines()).toContainEqual(
      expect.objectContaining({
        message: 'Request refused',
        client: 'shop',
        code: 'secret_store_unavailable',
        causes: [expect.stringContaining('TimeoutError')],
      }),
    );
  });

  it('answers 503 secret_store_unavailable with Retry-After, at once, when Secrets Manager is stopped', async () => {
    // Prepare
    const { url } = await broker({});
    await moto.stop();
    const started = Date.now();

    // Act
    const reply = await getToken(url, 'shop', 'read');

    // Assess
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(reply.status).toBe(503);
    expect(reply.body).toMatchObject({ error: 'secret_store_unavailable' });
    expect(reply.body.error_description).toContain('ECONNREFUSED');
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(output.logLines()).toContainEqual(
      expect.objectContaining({
        message: 'Request refused',
        client: 'shop',
        code: 'secret_store_unavailable',
        causes: ['Error ECONNREFUSED'],
      }),
    );
  });
});
