import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
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
  /** SIGSTOP: connections are still accepted by the kernel, nothing answers (a hung service). */
  freeze(): void;
  /** SIGCONT after {@link freeze}. */
  thaw(): void;
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

/**
 * moto's server (`python3 -m moto.server`), but answering one request at a time. moto's own server
 * is threaded and its DynamoDB model takes no lock, so two concurrent conditional writes to one
 * item can both pass their condition (measured: 11 rounds in 20 of four concurrent lease takers
 * had more than one winner). DynamoDB evaluates a condition and writes atomically, and the fleet
 * cache's lease relies on it: a lock around each request gives moto that guarantee. Connections
 * are still served by threads, so keep-alive and concurrent clients work as before.
 */
const SERIALIZED_MOTO_SERVER = `
import os, sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
os.environ.setdefault("MOTO_PORT", sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
app.debug = True
lock = threading.Lock()
def one_at_a_time(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple(sys.argv[1], int(sys.argv[2]), one_at_a_time, threaded=True)
`;

/**
 * Starts moto on a port it picks itself (port 0) and reads the port from its startup line, so no
 * other process can take the port between choosing and binding it.
 */
export async function startMotoServer(): Promise<MotoServer> {
  const child = spawn('python3', ['-c', SERIALIZED_MOTO_SERVER, '127.0.0.1', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const port = new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (chunk) => {
      stderr = (stderr + String(chunk)).slice(-4000);
      const listening = LISTENING_LINE.exec(stderr);
      if (listening) resolve(Number(listening[1]));
    });
    child.once('exit', (code) => reject(new Error(`moto server exited (${code}) before listening: ${stderr}`)));
    child.once('error', reject);
  });
  const endpoint = `http://127.0.0.1:${await withDeadline(port, child, () => stderr)}`;
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
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
    stop: () => stopChild(child),
  };
}

/** werkzeug's startup line, e.g. ` * Running on http://127.0.0.1:43601`. */
const LISTENING_LINE = /Running on http:\/\/127\.0\.0\.1:(\d+)/;
const START_TIMEOUT_MS = 20_000;

async function withDeadline(port: Promise<number>, child: ChildProcess, stderr: () => string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`moto server did not report its port within ${START_TIMEOUT_MS / 1000} s: ${stderr()}`));
    }, START_TIMEOUT_MS);
  });
  try {
    return await Promise.race([port, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntilReady(endpoint: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto server exited (${child.exitCode}): ${stderr()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return;
    } catch {
      // not answering yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`moto server did not start within ${START_TIMEOUT_MS / 1000} s: ${stderr()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    // A frozen server must run again to act on SIGTERM.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
  });
}
