import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenBroker } from '../../lib/token-broker.ts';
import { brokerSourceMap } from '../../scripts/broker-source-map.ts';
import { CDK_JSON_CONTEXT, importEndpoint, TWO_CLIENTS } from './synth.ts';

describe('Bundling: broker function', () => {
  let assetDir: string;

  beforeAll(() => {
    // Prepare: bundling on (no skip context), as `cdk synth` and `cdk deploy` run it.
    const outdir = mkdtempSync(join(tmpdir(), 'token-broker-bundle-'));
    const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT } });
    const stack = new Stack(app, 'Bundled');
    new TokenBroker(stack, 'Broker', { config: TWO_CLIENTS, vpcEndpoints: [importEndpoint(stack)] });
    app.synth();
    const bundles = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    expect(bundles).toHaveLength(1);
    assetDir = join(outdir, bundles[0] as string);
  });

  it('builds one minified ES module with the AWS SDK inside and a require shim, without a source map', () => {
    const code = readFileSync(join(assetDir, 'index.mjs'), 'utf8');

    expect(code.startsWith("import { createRequire } from 'node:module';")).toBe(true);
    expect(code).toContain('SecretsManager');
    expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
    expect(code.length / code.split('\n').length).toBeGreaterThan(1000);
    expect(existsSync(join(assetDir, 'index.mjs.map'))).toBe(false);
  });

  it('is the bundle `npm run stack` maps: a position in it leads back to its TypeScript source', async () => {
    // Prepare
    const deployed = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    const { code, lookUp } = await brokerSourceMap();
    const lines = code.split('\n');
    const line = lines.findIndex((l) => l.includes('"Token request"'));

    // Act
    const position = lookUp(
      `at x (file:///var/task/index.mjs:${line + 1}:${(lines[line] as string).indexOf('"Token request"') + 1})`,
    );

    // Assess
    expect(code).toBe(deployed);
    expect(position).toMatchObject({ source: 'lambda/shared/contract.ts' });
    expect(readFileSync('lambda/shared/contract.ts', 'utf8').split('\n')[position.line - 1]).toContain(
      "'Token request'",
    );
    expect(() => lookUp('index.mjs')).toThrow('is not a position');
  });
});
