import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAuthorizationServer } from '../../lambda/local/authorization-server.ts';

const children: ChildProcess[] = [];

/** Runs `npm start` as a user would (tsx lambda/local/start.ts) and collects its output. */
function start(args: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lambda/local/start.ts', ...args], {
    env: { ...process.env, PORT: '0', POWERTOOLS_LOG_LEVEL: 'WARN' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    output += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const match = output.match(pattern);
      if (match) return match;
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`npm start never printed ${pattern}; it printed:\n${output}`);
  };
  return { child, exited, waitFor, output: () => output };
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('npm start', () => {
  it('prints a token from the embedded authorization server, keeps serving, and stops on SIGINT', async () => {
    // Act
    const run = start();
    const [, curlUrl] = await run.waitFor(/curl -s '([^']+)'/);

    // Assess
    expect(run.output()).toMatch(/GET \/clients\/shop\/token -> 200/);
    expect(run.output()).toMatch(/"token_type": "Bearer"/);
    const served = await fetch(curlUrl as string);
    expect(served.status).toBe(200);
    expect(await served.json()).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  });

  it('runs against the authorization server described by --config FILE', async () => {
    // Prepare
    const server = await startAuthorizationServer();
    const file = join(await mkdtemp(join(tmpdir(), 'broker-')), 'clients.json');
    await writeFile(
      file,
      JSON.stringify({
        clients: [
          {
            name: 'billing',
            tokenEndpoint: server.tokenEndpoint,
            clientId: 'm2m-basic',
            clientSecret: { value: 'password' },
            authMethod: 'client_secret_basic',
            scopes: ['write'],
          },
        ],
      }),
    );
    try {
      // Act
      const run = start(['--config', file]);
      await run.waitFor(/curl -s/);

      // Assess
      expect(run.output()).toMatch(/GET \/clients\/billing\/token -> 200/);
      expect(run.output()).toMatch(/"scope": "write"/);
      expect(server.tokenRequestCount()).toBe(1);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('refuses an invalid --config FILE with a message naming the field', async () => {
    // Prepare
    const file = join(await mkdtemp(join(tmpdir(), 'broker-')), 'clients.json');
    await writeFile(
      file,
      JSON.stringify({
        clients: [
          {
            name: 'shop',
            tokenEndpoint: 'http://idp.example.com/token',
            clientId: 'm2m',
            clientSecret: { value: 'x' },
          },
        ],
      }),
    );

    // Act
    const run = start(['--config', file]);

    // Assess
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/clients\[0\]\.tokenEndpoint must use https:/);
  });
});
