import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root: the Lambda code and the lock file live beside `lib/`. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The broker function's entry, relative to the repository root. */
export const BROKER_ENTRY = 'lambda/broker/index.ts';

/** Where the published package keeps the broker's prebuilt bundle, relative to `dist/`. */
export const PREBUILT_BROKER_DIR = 'broker-function';

/** The Lambda runtime: the newest Node.js aws-cdk-lib offers, arm64. */
const FUNCTION_RUNTIME = { runtime: lambda.Runtime.NODEJS_24_X, architecture: lambda.Architecture.ARM_64 };

/** The Node.js major version the functions run on (24 for `nodejs24.x`). */
export const FUNCTION_NODE_MAJOR = Number(/^nodejs(\d+)/.exec(FUNCTION_RUNTIME.runtime.name)?.[1]);

/** CommonJS dependencies bundled into an ES module still call require() for Node built-ins. */
const REQUIRE_SHIM = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/**
 * How a function is bundled, as esbuild options: one minified ES module, ES module builds of
 * dependencies first, the AWS SDK inside (the version the tests ran against, not whatever the
 * runtime ships). `nodejsFunctionDefaults` and the package build (scripts/build-package.ts) both
 * use it, and bench/ measures it.
 */
export const ESBUILD_DEPLOYED_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: true,
  mainFields: ['module', 'main'],
  banner: { js: REQUIRE_SHIM },
} as const;

/**
 * Runtime, architecture and bundling shared by the functions of this repository, built by the
 * local esbuild (never Docker). No source maps: its errors are logged by code and cause name, not
 * by stack, and `npm run stack` reads a crash's positions (`--enable-source-maps` made the cold
 * import about 1.5 times as long on Node.js 20; on Node.js 24 the difference is within the noise).
 */
export function nodejsFunctionDefaults(entry: string): nodejs.NodejsFunctionProps {
  return {
    entry: `${PROJECT_ROOT}${entry}`,
    handler: 'handler',
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
    ...FUNCTION_RUNTIME,
    bundling: {
      minify: ESBUILD_DEPLOYED_OPTIONS.minify,
      sourceMap: false,
      format: nodejs.OutputFormat.ESM,
      target: ESBUILD_DEPLOYED_OPTIONS.target,
      mainFields: [...ESBUILD_DEPLOYED_OPTIONS.mainFields],
      externalModules: [],
      banner: REQUIRE_SHIM,
      forceDockerBundling: false,
    },
  };
}

/**
 * The broker's code in the published package: the bundle prebuilt into `dist/broker-function/`,
 * so a consumer's synth needs no esbuild and no sources. `undefined` in this repository, where
 * the function is bundled from {@link BROKER_ENTRY}.
 */
export function brokerFunctionCode():
  | Pick<lambda.FunctionProps, 'code' | 'handler' | 'runtime' | 'architecture'>
  | undefined {
  const dir = fileURLToPath(new URL(`../${PREBUILT_BROKER_DIR}/`, import.meta.url));
  if (!existsSync(`${dir}index.mjs`)) return undefined;
  return { code: lambda.Code.fromAsset(dir), handler: 'index.handler', ...FUNCTION_RUNTIME };
}
