import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyAndCertificate } from '../../support/test-pki.ts';

export interface StrictTlsServer {
  /** e.g. `https://127.0.0.1:40123` */
  readonly origin: string;
  stop(): Promise<void>;
}

/**
 * `openssl s_server` requiring a client certificate from `clientCa` and refusing any other in the
 * handshake with a TLS alert (`-verify_return_error`), as nginx, Envoy or a load balancer in front
 * of an authorization server do. Node's own TLS server cannot stand in: it checks the client
 * certificate after the handshake and drops the connection without an alert.
 *
 * What it answers once the handshake succeeds (a status page, not a token response) does not
 * matter to the tests that use it.
 */
export async function startStrictTlsServer(
  server: KeyAndCertificate,
  clientCa: string,
  options: { tlsVersion?: 'tls1_2' | 'tls1_3' } = {},
): Promise<StrictTlsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'token-broker-s-server-'));
  writeFileSync(join(dir, 'server.pem'), server.certificate);
  writeFileSync(join(dir, 'server.key'), server.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.pem'), clientCa);
  const child = spawn(
    'openssl',
    [
      's_server',
      '-accept',
      '127.0.0.1:0',
      '-cert',
      join(dir, 'server.pem'),
      '-key',
      join(dir, 'server.key'),
      '-CAfile',
      join(dir, 'ca.pem'),
      '-Verify',
      '1',
      '-verify_return_error',
      '-www',
      ...(options.tlsVersion ? [`-${options.tlsVersion}`] : []),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  try {
    const port = await portOf(child);
    return { origin: `https://127.0.0.1:${port}`, stop: () => stop(child) };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    // s_server has read its files by the time it listens.
    rmSync(dir, { recursive: true, force: true });
  }
}

/** s_server prints `ACCEPT 127.0.0.1:PORT` once it listens. */
function portOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`openssl s_server did not start: ${output}`)), 10_000);
    const read = (chunk: unknown) => {
      output = (output + String(chunk)).slice(-2000);
      const port = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(Number(port));
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`openssl s_server exited (${code}): ${output}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
