/**
 * One Lambda execution environment in a process of its own, spawned by `lambda-environment.ts`:
 * it imports the broker's Lambda entry as a cold start does (configured by the environment it was
 * given), then runs one invocation per IPC message with a Lambda-shaped context. Log lines go to
 * stdout and stderr as in Lambda; each invocation's own lines also go back with its result.
 */
import type { Context } from 'aws-lambda';
import { localContext } from '../../../lambda/local/api-gateway-event.ts';
import type { EnvironmentReport, InvokeMessage } from './lambda-environment-protocol.ts';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const send = (report: EnvironmentReport) => process.send?.(report);

/**
 * Log lines of the invocations running, by request id (Powertools stamps `function_request_id`).
 * Powertools writes INFO lines to stdout and WARN and ERROR lines to stderr, as Lambda collects both.
 */
const linesOf = new Map<string, Record<string, unknown>[]>();
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        linesOf.get(String(parsed.function_request_id))?.push(parsed);
      } catch {
        // not a log line
      }
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stream.write;
}

let handler: Handler;
try {
  ({ handler } = (await import('../../../lambda/broker/index.ts')) as { handler: Handler });
} catch (error) {
  send({ type: 'cold-start-failed', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}

process.on('message', (message: InvokeMessage) => {
  const started = performance.now();
  const context = { ...localContext('token-broker', message.timeoutMs), awsRequestId: message.id };
  linesOf.set(message.id, []);
  handler(message.event, context)
    .then(
      (result) => ({ result }),
      (error: unknown) => ({ result: { errorType: error instanceof Error ? error.name : 'Error' } }),
    )
    .then(({ result }) => {
      send({
        type: 'result',
        id: message.id,
        result,
        logLines: linesOf.get(message.id) ?? [],
        durationMs: performance.now() - started,
      });
      linesOf.delete(message.id);
    });
});
// The parent is gone: so is this environment.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
