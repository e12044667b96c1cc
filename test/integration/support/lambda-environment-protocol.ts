/** What `lambda-environment.ts` and the process it spawns (`lambda-environment-process.ts`) say over IPC. */

/** Parent to environment: run one invocation. */
export interface InvokeMessage {
  /** Also the invocation's `awsRequestId`. */
  readonly id: string;
  readonly event: unknown;
  /** The function's timeout: `getRemainingTimeInMillis` counts down from it. */
  readonly timeoutMs: number;
}

/** Environment to parent. */
export type EnvironmentReport =
  | { readonly type: 'ready' }
  | { readonly type: 'cold-start-failed'; readonly message: string }
  | {
      readonly type: 'result';
      readonly id: string;
      readonly result: unknown;
      /** The JSON log lines the invocation wrote. */
      readonly logLines: Record<string, unknown>[];
      /** The handler's own time, inside the environment. */
      readonly durationMs: number;
    };
