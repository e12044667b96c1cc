/**
 * `npm run stack -- <position>...`: where positions in the deployed broker's minified code come
 * from. The function is deployed without a source map (see "Stack traces" in the README); this
 * builds the same bundle with one, checks that its code is byte for byte the deployed build's, and
 * looks each position up.
 *
 * A position is `line:column` as a stack trace prints it (1-based), alone or at the end of a
 * frame: `file:///var/task/index.mjs:3:45012` or `at Ab (file:///var/task/index.mjs:3:45012)`.
 * Build from the commit that was deployed.
 */
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { BROKER_ENTRY, ESBUILD_DEPLOYED_OPTIONS } from '../lib/bundling.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface OriginalPosition {
  /** Repository-relative path, e.g. `lambda/broker/core/token-cache.ts`. */
  readonly source: string;
  /** 1-based, as editors count. */
  readonly line: number;
  readonly column: number;
  /** The original name at that position, when the map has one. */
  readonly name?: string;
}

/** The broker bundle as deployed, with its source map. */
export async function brokerSourceMap(): Promise<{ code: string; lookUp(position: string): OriginalPosition }> {
  const options: BuildOptions = {
    ...ESBUILD_DEPLOYED_OPTIONS,
    mainFields: [...ESBUILD_DEPLOYED_OPTIONS.mainFields],
    absWorkingDir: ROOT,
    entryPoints: [BROKER_ENTRY],
    outfile: 'index.mjs',
    write: false,
    logLevel: 'silent',
  };
  const [deployed, mapped] = await Promise.all([build(options), build({ ...options, sourcemap: 'external' })]);
  const code = mapped.outputFiles?.find((f) => f.path.endsWith('.mjs'))?.text;
  const map = mapped.outputFiles?.find((f) => f.path.endsWith('.map'))?.text;
  if (code === undefined || map === undefined) throw new Error('esbuild produced no bundle or no source map');
  if (code !== deployed.outputFiles?.[0]?.text) {
    throw new Error('The bundle built with a source map differs from the deployed build: positions would not match');
  }
  const sourceMap = new SourceMap(JSON.parse(map) as SourceMapPayload);
  return {
    code,
    lookUp(position) {
      const match = /(\d+):(\d+)\)?\s*$/.exec(position);
      if (!match)
        throw new Error(`"${position.slice(0, 80)}" is not a position: give line:column, as a stack trace prints it`);
      const [line, column] = [Number(match[1]), Number(match[2])];
      const entry = sourceMap.findEntry(line - 1, column - 1) as Partial<{
        originalSource: string;
        originalLine: number;
        originalColumn: number;
        name: string;
      }>;
      if (entry.originalSource === undefined || entry.originalLine === undefined) {
        throw new Error(`Nothing in the bundle maps to ${line}:${column}`);
      }
      return {
        source: entry.originalSource.replace(/^(\.\.\/)+/, ''),
        line: entry.originalLine + 1,
        column: (entry.originalColumn ?? 0) + 1,
        ...(entry.name ? { name: entry.name } : {}),
      };
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const positions = process.argv.slice(2);
  if (positions.length === 0) {
    console.error('Usage: npm run stack -- <line:column> ...   (positions from a stack trace of the deployed broker)');
    process.exit(2);
  }
  const { lookUp } = await brokerSourceMap();
  for (const position of positions) {
    try {
      const { source, line, column, name } = lookUp(position);
      console.log(`${position}  ->  ${source}:${line}:${column}${name ? ` (${name})` : ''}`);
    } catch (error) {
      console.log(`${position}  ->  ${(error as Error).message}`);
      process.exitCode = 1;
    }
  }
}
