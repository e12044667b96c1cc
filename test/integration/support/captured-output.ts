/**
 * Captures what the process writes to stdout and stderr (Powertools loggers write JSON lines to
 * stdout), so tests can assert that no secret or token reached a log line. A test asserting an
 * absence also asserts, with {@link CapturedOutput.logLines}, the lines it expects: a capture that
 * caught nothing must fail, not pass.
 */
export interface CapturedOutput {
  text(): string;
  /** The JSON log lines captured so far, parsed; other output is left out. */
  logLines(): Record<string, unknown>[];
  restore(): void;
}

export function captureOutput(): CapturedOutput {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((stream) => stream.write.bind(stream));
  streams.forEach((stream, index) => {
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (originals[index] as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  });
  return {
    text: () => chunks.join(''),
    logLines: () => chunks.join('').split('\n').flatMap(parsedJsonObject),
    restore() {
      streams.forEach((stream, index) => {
        stream.write = originals[index] as typeof stream.write;
      });
    },
  };
}

function parsedJsonObject(line: string): Record<string, unknown>[] {
  if (!line.startsWith('{')) return [];
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
  } catch {
    return [];
  }
}
