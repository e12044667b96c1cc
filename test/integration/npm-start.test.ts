import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURE_SECRET, startFixtureServer } from './support/fixtures.ts';

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
    const server = await startFixtureServer();
    const file = join(await mkdtemp(join(tmpdir(), 'broker-')), 'clients.json');
    await writeFile(
      file,
      JSON.stringify({
        clients: [
          {
            name: 'billing',
            tokenEndpoint: server.tokenEndpoint,
            clientId: 'm2m-basic',
            clientSecret: { value: FIXTURE_SECRET },
            authMethod: 'client_secret_basic',
            scopes: ['write'],
          },
        ],
      }),
    );
    try {
      // Act
      const run = start(['--config', file]);
      const [, curlUrl] = await run.waitFor(/curl -s '([^']+)'/);

      // Assess: the broker serves its cached token, the one obtained at start; it was summarized, not printed.
      expect(server.tokenRequestCount()).toBe(1);
      const { access_token: token } = (await (await fetch(curlUrl as string)).json()) as { access_token: string };
      expect(server.tokenRequestCount()).toBe(1);
      const fingerprint = createHash('sha256').update(token).digest('hex').slice(0, 8);
      expect(run.output()).toMatch(/GET \/clients\/billing\/token -> 200/);
      expect(run.output()).toMatch(
        new RegExp(
          [
            'Obtained a Bearer token \\(not printed: it is a real credential\\)',
            '  scope: {7}"write"',
            '  expires in: {2}(3599|3600) s',
            `  fingerprint: sha256:${fingerprint}`,
          ].join('\n'),
        ),
      );
      expect(run.output()).not.toContain(token);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('refuses a literal private_key_jwt key that is not a private key, naming its field, before serving', async () => {
    // Prepare
    const file = join(await mkdtemp(join(tmpdir(), 'broker-')), 'clients.json');
    await writeFile(
      file,
      JSON.stringify({
        clients: [
          {
            name: 'shop',
            tokenEndpoint: 'http://127.0.0.1:9/token',
            clientId: 'm2m-jwt',
            authMethod: 'private_key_jwt',
            clientSecret: { value: '-----BEGIN PRIVATE KEY-----\nnot-a-key-4d1f\n-----END PRIVATE KEY-----' },
          },
        ],
      }),
    );

    // Act
    const run = start(['--config', file]);

    // Assess
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(
      /Invalid broker configuration: clients\[0\]\.clientSecret\.value is not a usable private key for private_key_jwt: its PEM could not be read as a private key/,
    );
    expect(run.output()).not.toContain('not-a-key-4d1f');
    expect(run.output()).not.toMatch(/Broker listening/);
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
