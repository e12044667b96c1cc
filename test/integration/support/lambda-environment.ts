import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EnvironmentReport, InvokeMessage } from './lambda-environment-protocol.ts';

/**
 * A Lambda execution environment of the broker in a process of its own: its own memory, its own
 * cold start (the real Lambda entry, `lambda/broker/index.ts`, configured by `env` alone), and a
 * process the test can freeze (SIGSTOP), thaw (SIGCONT) or kill, as Lambda freezes an idle
 * environment or loses one.
 */
export interface LambdaEnvironment {
  readonly pid: number;
  /** Runs one invocation (thawing the environment first when it is frozen while idle). */
  invoke(event: unknown): Promise<Invocation>;
  /** SIGSTOP: the process stops where it is, timers and sockets included. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** SIGKILL, and waits for the process to be gone. */
  kill(): Promise<void>;
  /** Every JSON log line the environment wrote so far, on stdout or stderr. */
  logLines(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface Invocation {
  readonly result: unknown;
  /** The invocation's own JSON log lines. */
  readonly logLines: Record<string, unknown>[];
  /** The handler's time inside the environment. */
  readonly durationMs: number;
}

export interface LambdaEnvironmentOptions {
  /** The function's environment variables: `BROKER_CONFIG`, `TOKEN_CACHE_*`, `AWS_*`... */
  readonly env: Record<string, string>;
  /** Frozen whenever no invocation runs, as Lambda freezes an idle environment. @default false */
  readonly frozenWhenIdle?: boolean;
  /** The function's timeout, for `getRemainingTimeInMillis`. @default 25000 */
  readonly timeoutMs?: number;
}

const PROCESS_SCRIPT = fileURLToPath(new URL('./lambda-environment-process.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COLD_START_TIMEOUT_MS = 30_000;

/** Environments still running: killed when this process exits, so none is left frozen behind it. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts an environment and waits for its cold start; rejects with the cold start's error. */
export async function startLambdaEnvironment(options: LambdaEnvironmentOptions): Promise<LambdaEnvironment> {
  const child = spawn(process.execPath, ['--import', 'tsx', PROCESS_SCRIPT], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // Powertools writes INFO lines to stdout, WARN and ERROR lines to stderr: Lambda collects both.
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream as NonNullable<ChildProcess['stdout']> }).on('line', (line) => {
      if (stream === child.stderr) stderr = `${stderr}${line}\n`.slice(-4000);
      if (!line.startsWith('{')) return;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    });
  }

  const pending = new Map<string, (invocation: Invocation) => void>();
  const coldStart = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`No cold start within ${COLD_START_TIMEOUT_MS} ms`)),
      COLD_START_TIMEOUT_MS,
    );
    child.on('message', (report: EnvironmentReport) => {
      if (report.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (report.type === 'cold-start-failed') {
        clearTimeout(timer);
        reject(new Error(`Cold start failed: ${report.message}`));
      } else {
        pending.get(report.id)?.(report);
        pending.delete(report.id);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The environment exited (${code}) before its cold start completed: ${stderr}`));
    });
  });
  try {
    await coldStart;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let inFlight = 0;
  if (options.frozenWhenIdle) signal('SIGSTOP');

  return {
    pid: child.pid as number,
    invoke(event) {
      const id = randomUUID();
      const message: InvokeMessage = { id, event, timeoutMs: options.timeoutMs ?? 25_000 };
      const answered = new Promise<Invocation>((resolve, reject) => {
        pending.set(id, resolve);
        exited.then(() => reject(new Error(`The environment exited during invocation ${id}`)));
      });
      if (options.frozenWhenIdle && inFlight++ === 0) signal('SIGCONT');
      child.send(message);
      return answered.finally(() => {
        if (options.frozenWhenIdle && --inFlight === 0) signal('SIGSTOP');
      });
    },
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    kill: async () => {
      signal('SIGKILL');
      await exited;
    },
    logLines: () => [...lines],
    stop: async () => {
      signal('SIGCONT');
      signal('SIGTERM');
      await exited;
    },
  };
}
