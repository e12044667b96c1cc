/**
 * `npm run build` (and `npm pack`, through `prepack`): the publishable package in dist/.
 *
 * - dist/lib, dist/lambda/client, dist/lambda/shared: the construct and the caller library,
 *   compiled with declarations (tsconfig.build.json);
 * - dist/broker-function/index.mjs: the broker Lambda, bundled as lib/bundling.ts deploys it, so
 *   that a consumer's `cdk synth` needs neither esbuild nor this repository's sources.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BROKER_ENTRY, ESBUILD_DEPLOYED_OPTIONS, PREBUILT_BROKER_DIR } from '../lib/bundling.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

rmSync(`${ROOT}dist`, { recursive: true, force: true });
execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}tsconfig.build.json`], {
  stdio: 'inherit',
});
await build({
  ...ESBUILD_DEPLOYED_OPTIONS,
  mainFields: [...ESBUILD_DEPLOYED_OPTIONS.mainFields],
  absWorkingDir: ROOT,
  entryPoints: [BROKER_ENTRY],
  outfile: `${ROOT}dist/${PREBUILT_BROKER_DIR}/index.mjs`,
  logLevel: 'warning',
});
console.log(`Built dist/ (construct, caller library, dist/${PREBUILT_BROKER_DIR}/index.mjs)`);
