import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { BROKER_ENTRY, ESBUILD_DEPLOYED_OPTIONS } from '../lib/bundling.ts';

/**
 * Bundles the broker function exactly as lib/bundling.ts deploys it (esbuild, ESM, minified,
 * `module` before `main`, the AWS SDK inside), and, with the same flags, a bare bundle of what it
 * cannot do without: the same AWS SDK clients and commands, and @middy/core. The ratio of the two
 * is the broker's footprint beyond its dependencies.
 */
export interface BrokerBundle {
  readonly code: string;
  readonly bytes: number;
  /** Bytes in the output, by package (or `lambda/` for this repository's code). */
  readonly byPackage: ReadonlyMap<string, number>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every SDK client and command the broker sends, and middy: the floor any broker bundle stands on. */
const BARE_SOURCE = `
  import middy from '@middy/core';
  import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
  import { DynamoDBClient, GetItemCommand, UpdateItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
  import { KMSClient, GenerateDataKeyCommand, DecryptCommand } from '@aws-sdk/client-kms';
  import { STSClient, GetWebIdentityTokenCommand } from '@aws-sdk/client-sts';
  import { NodeHttpHandler } from '@smithy/node-http-handler';
  const clients = () => [new SecretsManagerClient({ requestHandler: new NodeHttpHandler() }), new DynamoDBClient({}), new KMSClient({}), new STSClient({})];
  const commands = [GetSecretValueCommand, GetItemCommand, UpdateItemCommand, ScanCommand, GenerateDataKeyCommand, DecryptCommand, GetWebIdentityTokenCommand];
  export const handler = middy(async (event) => ({ clients: clients().length, commands: commands.length, event }));
`;

/** The bare bundle, with the DynamoDB and KMS clients built at module scope as the fleet cache builds them. */
const BARE_WITH_CACHE_CLIENTS = BARE_SOURCE.replace(
  'export const handler',
  'const cacheClients = [new DynamoDBClient({ requestHandler: new NodeHttpHandler() }), new KMSClient({ requestHandler: new NodeHttpHandler() })];\n  export const handler',
).replace('clients().length,', 'clients().length + cacheClients.length,');

/** The bare bundle plus Powertools Logger and Metrics, built and used as the broker uses them. */
const BARE_WITH_POWERTOOLS = `
  import { Logger } from '@aws-lambda-powertools/logger';
  import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
  import { Metrics } from '@aws-lambda-powertools/metrics';
  import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
  ${BARE_SOURCE.replace('export const handler = middy(async (event) => ({ clients: clients().length, commands: commands.length, event }));', '')}
  const logger = new Logger({ serviceName: 'bare' });
  const metrics = new Metrics({ namespace: 'Bare', serviceName: 'bare' });
  export const handler = middy(async (event) => ({ clients: clients().length, commands: commands.length, event }))
    .use(injectLambdaContext(logger, { logEvent: false }))
    .use(logMetrics(metrics));
`;

/** The flags of lib/bundling.ts, for metadata and in memory. */
const DEPLOYED: BuildOptions = {
  ...ESBUILD_DEPLOYED_OPTIONS,
  mainFields: [...ESBUILD_DEPLOYED_OPTIONS.mainFields],
  absWorkingDir: ROOT,
  write: false,
  metafile: true,
  logLevel: 'silent',
};

export function bundleBroker(): Promise<BrokerBundle> {
  return bundle({ entryPoints: [BROKER_ENTRY] });
}

export function bundleBare(): Promise<BrokerBundle> {
  return bundleSource(BARE_SOURCE);
}

export function bundleBareWithCacheClients(): Promise<BrokerBundle> {
  return bundleSource(BARE_WITH_CACHE_CLIENTS);
}

export function bundleBareWithPowertools(): Promise<BrokerBundle> {
  return bundleSource(BARE_WITH_POWERTOOLS);
}

function bundleSource(contents: string): Promise<BrokerBundle> {
  return bundle({ stdin: { contents, resolveDir: ROOT, loader: 'js', sourcefile: 'bare.js' } });
}

async function bundle(entry: BuildOptions): Promise<BrokerBundle> {
  const result = await build({ ...DEPLOYED, ...entry });
  const output = result.outputFiles?.[0];
  if (output === undefined || !result.metafile) throw new Error('esbuild produced no output');
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(Object.values(result.metafile.outputs)[0]?.inputs ?? {})) {
    const name =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? (input.startsWith('lambda/') ? 'lambda/' : input);
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return { code: output.text, bytes: output.contents.byteLength, byPackage };
}
