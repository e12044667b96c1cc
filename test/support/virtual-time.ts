import type { RetryClock } from '../../lambda/shared/retry.ts';

/** Retry dependencies on a virtual clock: `sleep` returns at once and moves the clock forward. */
export interface VirtualTime extends RetryClock {
  /** Every wait asked for, in milliseconds, in order. */
  readonly sleeps: number[];
  /** Moves the clock forward, as if an attempt took that long. */
  advance(ms: number): void;
}

export function virtualTime(options: { start?: number; random?: number } = {}): VirtualTime {
  let now = options.start ?? 1_700_000_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    random: () => options.random ?? 0.5,
    advance(ms) {
      now += ms;
    },
  };
}
