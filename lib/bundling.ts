import { fileURLToPath } from 'node:url';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root: the Lambda code and the lock file live beside `lib/`. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Runtime, architecture and bundling shared by the functions of this repository: the newest
 * Node.js runtime aws-cdk-lib offers, arm64, one minified ES module built by the local esbuild
 * with the AWS SDK inside (the SDK version the tests ran against, not whatever the runtime ships).
 */
export function nodejsFunctionDefaults(entry: string): nodejs.NodejsFunctionProps {
  return {
    entry: `${PROJECT_ROOT}${entry}`,
    handler: 'handler',
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    bundling: {
      minify: true,
      sourceMap: true,
      format: nodejs.OutputFormat.ESM,
      mainFields: ['module', 'main'],
      externalModules: [],
      // CommonJS dependencies bundled into an ES module still call require() for Node built-ins.
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      forceDockerBundling: false,
    },
  };
}

/** Source maps are only useful if Node applies them to stack traces. */
export const SOURCE_MAPS_ENV = { NODE_OPTIONS: '--enable-source-maps' } as const;
