import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles a consumer of the caller library the way a Lambda function is deployed (esbuild, ESM,
 * minified, AWS SDK included) and reports its size and the modules it pulled in. Shared by
 * `bench/client-bundle-size.ts` and the unit test that keeps the library free of the CDK and the
 * broker's server code.
 */
export type ConsumerKind = 'http' | 'invoke' | 'example';

export interface ConsumerBundle {
  readonly kind: ConsumerKind;
  readonly code: string;
  readonly bytes: number;
  /** Bundled source files, relative to the repository root. */
  readonly inputs: readonly string[];
  /** Bytes of the output that come from `lambda/client/` itself, the rest being the AWS SDK and others. */
  readonly libraryBytes: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The smallest useful consumers: one token, logged by expiry and scope. */
const SOURCES: Record<Exclude<ConsumerKind, 'example'>, string> = {
  http: `
    import { TokenBrokerClient } from './lambda/client/index.ts';
    const tokens = new TokenBrokerClient();
    export const handler = async () => {
      const { expiresAt, scope } = await tokens.getToken({ client: process.env.TOKEN_BROKER_CLIENT ?? 'shop' });
      return { expiresAt: expiresAt.toISOString(), scope };
    };`,
  invoke: `
    import { TokenBrokerClient } from './lambda/client/index.ts';
    import { LambdaInvokeTransport } from './lambda/client/invoke-transport.ts';
    const tokens = new TokenBrokerClient({ transport: new LambdaInvokeTransport() });
    export const handler = async () => {
      const { expiresAt, scope } = await tokens.getToken({ client: process.env.TOKEN_BROKER_CLIENT ?? 'shop' });
      return { expiresAt: expiresAt.toISOString(), scope };
    };`,
};

/** What must never reach a consumer's bundle. */
const FORBIDDEN_INPUTS: Readonly<Record<string, RegExp>> = {
  'aws-cdk-lib': /node_modules\/aws-cdk-lib\//,
  constructs: /node_modules\/constructs\//,
  'the broker (lambda/broker)': /^lambda\/broker\//,
  'the local servers (lambda/local)': /^lambda\/local\//,
  'oidc-provider': /node_modules\/oidc-provider\//,
};

export async function bundleConsumer(kind: ConsumerKind): Promise<ConsumerBundle> {
  const entry =
    kind === 'example'
      ? { entryPoints: ['lambda/consumer/handler.ts'] }
      : {
          stdin: {
            contents: SOURCES[kind],
            resolveDir: ROOT,
            loader: 'ts' as const,
            sourcefile: `${kind}-consumer.ts`,
          },
        };
  const result = await build({
    ...entry,
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    // As lib/bundling.ts deploys functions: ES module builds of dependencies first.
    mainFields: ['module', 'main'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    // CommonJS dependencies of the AWS SDK call require() for Node built-ins, which ESM lacks.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error(`esbuild produced no output for the ${kind} consumer`);
  const contributions = Object.entries(Object.values(result.metafile.outputs)[0]?.inputs ?? {});
  const libraryBytes = contributions
    .filter(([input]) => input.startsWith('lambda/client/'))
    .reduce((sum, [, { bytesInOutput }]) => sum + bytesInOutput, 0);
  return {
    kind,
    code: output.text,
    bytes: output.contents.byteLength,
    inputs: Object.keys(result.metafile.inputs),
    libraryBytes,
  };
}

/** Names of the forbidden modules found in a bundle's inputs. */
export function forbiddenInputs(bundle: ConsumerBundle): string[] {
  return Object.entries(FORBIDDEN_INPUTS)
    .filter(([, pattern]) => bundle.inputs.some((input) => pattern.test(input)))
    .map(([name]) => name);
}
