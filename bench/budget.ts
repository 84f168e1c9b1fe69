/** How long a scenario samples. `BENCH_QUICK=1` shrinks everything for a smoke run. */
export interface Budget {
  /** Untimed iterations before sampling (JIT, caches, connections). */
  readonly warmup: number;
  /** Sampling stops once both minimums are met… */
  readonly minIterations: number;
  readonly minMs: number;
  /** …or either maximum is reached. */
  readonly maxIterations: number;
  readonly maxMs: number;
  /** Interleaved rounds for side-by-side scenarios (each gets a slice of every round). */
  readonly rounds: number;
}

export interface BenchProfile {
  readonly quick: boolean;
  /** Hot-path scenarios (sub-millisecond steps). */
  readonly hot: Budget;
  /** Steps of a few milliseconds or more (warm lists, policy scale). */
  readonly slow: Budget;
  /** Cold steps that rebuild an engine each time. */
  readonly cold: Budget;
  /** Repetitions of one-shot measurements (load + preparse). */
  readonly oneShot: number;
  /** Seconds per throughput run, and its warm-up. */
  readonly throughputSeconds: number;
  readonly throughputWarmupSeconds: number;
  /** Throughput runs per (target, concurrency), alternated. */
  readonly throughputRounds: number;
  readonly soakDecisions: number;
  readonly coldStartRuns: number;
}

export const FULL: BenchProfile = {
  quick: false,
  hot: { warmup: 500, minIterations: 3000, minMs: 2500, maxIterations: 20000, maxMs: 6000, rounds: 5 },
  slow: { warmup: 20, minIterations: 200, minMs: 1500, maxIterations: 5000, maxMs: 4000, rounds: 1 },
  cold: { warmup: 1, minIterations: 5, minMs: 1000, maxIterations: 30, maxMs: 20000, rounds: 1 },
  oneShot: 3,
  throughputSeconds: 4,
  throughputWarmupSeconds: 1,
  throughputRounds: 3,
  soakDecisions: 100_000,
  coldStartRuns: 5,
};

export const QUICK: BenchProfile = {
  quick: true,
  hot: { warmup: 20, minIterations: 60, minMs: 0, maxIterations: 200, maxMs: 500, rounds: 2 },
  slow: { warmup: 2, minIterations: 10, minMs: 0, maxIterations: 50, maxMs: 300, rounds: 1 },
  cold: { warmup: 0, minIterations: 1, minMs: 0, maxIterations: 2, maxMs: 2000, rounds: 1 },
  oneShot: 1,
  throughputSeconds: 0.5,
  throughputWarmupSeconds: 0.2,
  throughputRounds: 1,
  soakDecisions: 2_000,
  coldStartRuns: 1,
};

export function profileFromEnv(env: NodeJS.ProcessEnv = process.env): BenchProfile {
  return env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true' ? QUICK : FULL;
}
