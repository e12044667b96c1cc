import type { IConstruct } from 'constructs';

/**
 * An invalid prop of a construct, named by the construct's path, so that in an app with several
 * brokers the message says which one: `Invalid props of Stack/Broker: warmUpInterval ...`.
 */
class PropsError extends Error {
  override readonly name = 'PropsError';
  constructor(
    /** The construct's `node.path`. */
    readonly path: string,
    /** The problem, naming the prop. */
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid props of ${path}: ${problem}`, options);
  }
}

/** Runs `check`, turning whatever it throws into a {@link PropsError} that names `scope`. */
export function checkProps<T>(scope: IConstruct, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof PropsError) throw error;
    const problem =
      error instanceof Error ? error.message.replace(/^Invalid broker configuration: /, '') : String(error);
    throw new PropsError(scope.node.path, problem, { cause: error });
  }
}
