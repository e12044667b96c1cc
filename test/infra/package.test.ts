import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESBUILD_DEPLOYED_OPTIONS, PROJECT_ROOT } from '../../lib/bundling.ts';

const PACKAGE = 'm2m-token-broker';
/** Build tools a consumer must not need: left out of the new projects, so using them would fail. */
const WITHHELD = new Set(['esbuild', '@esbuild', 'tsx', 'typescript']);

/**
 * The published package as teams install it: `npm pack` (which builds dist/ through `prepack`),
 * the tarball unpacked into a new CDK app and a new consumer function, whose other dependencies
 * are this project's installed ones (linked, not downloaded). The app synthesizes with no esbuild
 * and no sources; the consumer bundles without the CDK or the broker.
 */
describe('Package: m2m-token-broker, packed and installed', () => {
  let work: string;
  let app: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'token-broker-package-'));
    execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: PROJECT_ROOT, stdio: 'pipe' });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack wrote no tarball');
    app = install(work, 'app', join(work, tarball));
  }, 300_000);

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('holds compiled JavaScript with declarations and the prebuilt broker, and no TypeScript sources', () => {
    const root = join(app, 'node_modules', PACKAGE);
    const files = listFiles(root);

    expect(files).toContain('dist/lib/index.js');
    expect(files).toContain('dist/lib/index.d.ts');
    expect(files).toContain('dist/lambda/client/index.js');
    expect(files).toContain('dist/broker-function/index.mjs');
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('lambda/'))).toBe(false);
  });

  it('synthesizes a TokenBroker in a new CDK app with the prebuilt bundle, without esbuild', () => {
    // Prepare: an app that knows the package only by its name and `exports`.
    writeFileSync(
      join(app, 'app.mjs'),
      `
      import { App, Stack } from 'aws-cdk-lib';
      import * as ec2 from 'aws-cdk-lib/aws-ec2';
      import { TokenBroker } from '${PACKAGE}/cdk';
      const app = new App({ outdir: 'cdk.out' });
      const stack = new Stack(app, 'Consumer', { env: { account: '123456789012', region: 'eu-west-1' } });
      const endpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(stack, 'Endpoint', {
        vpcEndpointId: 'vpce-0123456789abcdef0', port: 443 });
      new TokenBroker(stack, 'Tokens', { vpcEndpoints: [endpoint], config: { clients: [
        { name: 'shop', tokenEndpoint: 'https://auth.example.com/token', clientId: 'm2m', scopes: ['read'] } ] } });
      app.synth();
      `,
    );

    // Act: PATH without this project's node_modules/.bin, so no esbuild can be found.
    execFileSync(process.execPath, ['app.mjs'], { cwd: app, env: { PATH: '/usr/bin:/bin' }, stdio: 'pipe' });

    // Assess
    const template = JSON.parse(readFileSync(join(app, 'cdk.out', 'Consumer.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const broker = Object.values(template.Resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler',
    );
    expect(broker?.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
    const assets = readdirSync(join(app, 'cdk.out')).filter((d) => d.startsWith('asset.'));
    expect(assets.some((d) => existsSync(join(app, 'cdk.out', d, 'index.mjs')))).toBe(true);
  });

  it('bundles a consumer of the caller library with no CDK, construct or broker code', async () => {
    // Prepare
    writeFileSync(
      join(app, 'consumer.mjs'),
      `
      import { TokenBrokerClient } from '${PACKAGE}/client';
      const tokens = new TokenBrokerClient();
      export const handler = async () => (await tokens.getToken({ client: 'shop' })).scope;
      `,
    );

    // Act
    const result = await build({
      ...ESBUILD_DEPLOYED_OPTIONS,
      mainFields: [...ESBUILD_DEPLOYED_OPTIONS.mainFields],
      absWorkingDir: app,
      entryPoints: ['consumer.mjs'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });

    // Assess
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes(`${PACKAGE}/dist/lambda/client/`))).toBe(true);
    expect(inputs.filter((i) => /aws-cdk-lib|constructs|dist\/lib\/|broker-function|lambda\/broker\//.test(i))).toEqual(
      [],
    );
  });
});

/**
 * A new project in `work/name` with the tarball unpacked as `node_modules/m2m-token-broker` and
 * every other package linked to this project's installed copy, but for the build tools.
 */
function install(work: string, name: string, tarball: string): string {
  const project = join(work, name);
  const modules = join(project, 'node_modules');
  mkdirSync(modules, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  for (const entry of readdirSync(join(PROJECT_ROOT, 'node_modules'))) {
    if (entry === PACKAGE || entry.startsWith('.') || WITHHELD.has(entry)) continue;
    symlinkSync(join(PROJECT_ROOT, 'node_modules', entry), join(modules, entry));
  }
  const unpacked = join(modules, PACKAGE);
  mkdirSync(unpacked);
  execFileSync('tar', ['xzf', tarball, '-C', unpacked, '--strip-components=1']);
  return project;
}

function listFiles(root: string, prefix = ''): string[] {
  return readdirSync(join(root, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? listFiles(root, path) : [path];
  });
}
