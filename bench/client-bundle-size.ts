/**
 * Prints the size of a minimal consumer of the caller library, bundled as a Lambda function would
 * be, and fails if the CDK or the broker's server code got into it.
 *
 *     npx tsx bench/client-bundle-size.ts
 */
import { bundleConsumer, type ConsumerKind, forbiddenInputs } from './client-bundle.ts';

const LABELS: Record<ConsumerKind, string> = {
  http: 'minimal consumer, HTTP (SigV4) transport',
  invoke: 'minimal consumer, direct Lambda invocation',
  example: 'example consumer (lambda/consumer/handler.ts, with Powertools Logger)',
};

let failed = false;
for (const kind of ['http', 'invoke', 'example'] as const) {
  const bundle = await bundleConsumer(kind);
  const packages = new Set(bundle.inputs.map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(i)?.[1]).filter(Boolean));
  console.log(
    `${LABELS[kind].padEnd(72)} ${(bundle.bytes / 1024).toFixed(1).padStart(7)} KiB  (lambda/client: ${(bundle.libraryBytes / 1024).toFixed(1)} KiB; ${packages.size} packages)`,
  );
  const forbidden = forbiddenInputs(bundle);
  if (forbidden.length > 0) {
    failed = true;
    console.error(`  contains ${forbidden.join(', ')}`);
  }
}
if (failed) process.exitCode = 1;
