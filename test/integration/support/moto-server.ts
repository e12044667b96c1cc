import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Real Secrets Manager, DynamoDB and KMS APIs: moto's server (one process serves every service),
 * started by the tests on loopback.
 *
 * Where python's moto is not installed, tests that need it skip and say why; under CI (`CI=true`)
 * a missing moto is a failure, never a skip.
 */
export interface MotoServer {
  readonly endpoint: string;
  /** An SDK client pointed at this server. */
  secretsManager(): SecretsManagerClient;
  dynamodb(): DynamoDBClient;
  kms(): KMSClient;
  /** The environment a Lambda process needs to reach this server with the SDK's defaults. */
  environment(): Record<string, string>;
  stop(): Promise<void>;
}

export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;
export const MOTO_REGION = 'us-east-1';

/** Why moto cannot run here, or `undefined` when it can. */
export function motoUnavailableReason(): string | undefined {
  try {
    execFileSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore', timeout: 20_000 });
    return undefined;
  } catch {
    const reason = 'python3 -m moto.server is not available (pip install "moto[server]")';
    if (process.env.CI === 'true') throw new Error(`${reason}: required under CI`);
    return reason;
  }
}

export async function startMotoServer(): Promise<MotoServer> {
  const port = await freePort();
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + String(chunk)).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilReady(endpoint, child, () => stderr);
  const clientConfig = { endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS };
  return {
    endpoint,
    secretsManager: () => new SecretsManagerClient(clientConfig),
    dynamodb: () => new DynamoDBClient(clientConfig),
    kms: () => new KMSClient(clientConfig),
    environment: () => ({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_ENDPOINT_URL_KMS: endpoint,
      AWS_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    }),
    stop: () => stopChild(child),
  };
}

async function waitUntilReady(endpoint: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto server exited (${child.exitCode}): ${stderr()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`moto server did not start within 20 s: ${stderr()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
