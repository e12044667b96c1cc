import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESBUILD_DEPLOYED_OPTIONS, PROJECT_ROOT } from '../../lib/bundling.ts';

const PACKAGE = 'm2m-token-broker';

/**
 * The published package as teams install it: `npm pack` (which builds dist/ through `prepack`),
 * the tarball installed into a new CDK app and a new consumer function with only the
 * dependencies it declares (and, for the app, the CDK peers), taken from this project's installed
 * copies, not downloaded. The app synthesizes with no esbuild and no sources; the consumer
 * bundles without the CDK or the broker.
 */
describe('Package: m2m-token-broker, packed and installed', () => {
  let work: string;
  let app: string;
  let consumer: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'token-broker-package-'));
    execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: PROJECT_ROOT, stdio: 'pipe' });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack wrote no tarball');
    app = install(work, 'app', join(work, tarball), ['aws-cdk-lib', 'constructs']);
    consumer = install(work, 'consumer', join(work, tarball));
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

  it('installs only what it declares: no build tools, and no CDK for a consumer', () => {
    const installed = (project: string) => readdirSync(join(project, 'node_modules'));

    expect(installed(app)).toEqual(expect.arrayContaining([PACKAGE, 'aws-cdk-lib', 'constructs', '@smithy']));
    for (const project of [app, consumer]) {
      expect(installed(project)).not.toEqual(expect.arrayContaining(['esbuild']));
      expect(
        installed(project).filter((p) => ['esbuild', '@esbuild', 'tsx', 'typescript', 'vitest'].includes(p)),
      ).toEqual([]);
    }
    expect(
      installed(consumer).filter((p) => ['aws-cdk-lib', 'constructs', '@aws-lambda-powertools'].includes(p)),
    ).toEqual([]);
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
      join(consumer, 'consumer.mjs'),
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
      absWorkingDir: consumer,
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
 * A new project in `work/name`, as `npm install <tarball>` would make it without a registry: the
 * tarball unpacked as `node_modules/m2m-token-broker`, and beside it only what the package's
 * `dependencies` and the given `peers` need, transitively (as this project's lockfile resolved
 * them), hard-linked from this project's installed copies. A package the published code uses
 * without declaring it is then missing, as it would be for a team that installs the package.
 */
function install(work: string, name: string, tarball: string, peers: readonly string[] = []): string {
  const project = join(work, name);
  const modules = join(project, 'node_modules');
  mkdirSync(modules, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  const unpacked = join(modules, PACKAGE);
  mkdirSync(unpacked);
  execFileSync('tar', ['xzf', tarball, '-C', unpacked, '--strip-components=1']);
  const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const dir of installedClosure([...Object.keys(manifest.dependencies ?? {}), ...peers])) {
    mkdirSync(dirname(join(project, dir)), { recursive: true });
    execFileSync('cp', ['-al', join(PROJECT_ROOT, dir), join(project, dir)]);
  }
  return project;
}

interface LockedPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/**
 * The top-level directories (`node_modules/x`, `node_modules/@s/x`) that hold `names` and all they
 * depend on, by npm's resolution over this project's lockfile: a dependency of the package at
 * `P` is the nearest `P/node_modules/d`, then up the tree. A nested copy travels with its
 * top-level directory.
 */
function installedClosure(names: readonly string[]): Set<string> {
  const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockedPackage>;
  };
  const resolve = (from: string, dependency: string): string | undefined => {
    for (let base = from; ; base = base.slice(0, Math.max(0, base.lastIndexOf('/node_modules/')))) {
      const candidate = `${base ? `${base}/` : ''}node_modules/${dependency}`;
      if (lock.packages[candidate]) return candidate;
      if (!base) return undefined;
    }
  };
  const seen = new Set<string>();
  const pending = names.map((n) => {
    const path = resolve('', n);
    if (!path) throw new Error(`${n} is not installed in this project`);
    return path;
  });
  while (pending.length > 0) {
    const path = pending.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    const entry = lock.packages[path] ?? {};
    for (const dependency of Object.keys({
      ...entry.dependencies,
      ...entry.optionalDependencies,
      ...entry.peerDependencies,
    })) {
      const resolved = resolve(path, dependency);
      if (resolved) pending.push(resolved);
    }
  }
  return new Set([...seen].map((path) => /^node_modules\/(?:@[^/]+\/)?[^/]+/.exec(path)?.[0] as string));
}

function listFiles(root: string, prefix = ''): string[] {
  return readdirSync(join(root, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? listFiles(root, path) : [path];
  });
}
