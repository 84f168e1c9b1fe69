import { performance } from 'node:perf_hooks';
import type { Budget } from './budget';
import { type Check, OutcomeTally } from './outcome';
import { type LatencySummary, summarize } from './stats';

/** One measured step of a scenario: `run` is timed, `check` (untimed) judges its outcome. */
export interface Probe<T = unknown> {
  readonly id: string;
  readonly label: string;
  /** Untimed work before each step: a fresh engine for a cold scenario, a new token… */
  readonly before?: (iteration: number) => Promise<void> | void;
  readonly run: (iteration: number) => Promise<T>;
  readonly check: (result: T, iteration: number) => Check;
}

/** Widens a typed probe for a list of probes of different result types. */
export function probe<T>(definition: Probe<T>): Probe {
  return definition as unknown as Probe;
}

export interface LatencyMeasurement {
  readonly id: string;
  readonly label: string;
  readonly latency: LatencySummary;
  readonly failures: readonly string[];
}

export type Progress = (line: string) => void;

interface Lane {
  readonly probe: Probe;
  readonly samples: number[];
  readonly tally: OutcomeTally;
  iteration: number;
}

async function once(lane: Lane, timed: boolean): Promise<void> {
  const { probe: definition } = lane;
  const iteration = lane.iteration;
  lane.iteration += 1;
  await definition.before?.(iteration);
  let check: Check;
  const started = performance.now();
  try {
    const result = await definition.run(iteration);
    const elapsed = performance.now() - started;
    if (timed) lane.samples.push(elapsed);
    check = definition.check(result, iteration);
  } catch (error) {
    check = `threw: ${error instanceof Error ? error.message : String(error)}`.slice(0, 200);
  }
  lane.tally.record(check);
}

/**
 * Measures probes side by side: after each one's warm-up, the sampling is split into rounds and every round
 * gives each probe its slice in turn, so a slow minute on a shared machine weighs on all of them alike and
 * their ratios stay honest. Every outcome, warm-up included, is checked.
 */
export async function measureSideBySide(
  probes: readonly Probe[],
  budget: Budget,
  progress: Progress = () => undefined,
): Promise<LatencyMeasurement[]> {
  const lanes: Lane[] = probes.map((definition) => ({
    probe: definition,
    samples: [],
    tally: new OutcomeTally(),
    iteration: 0,
  }));
  for (const lane of lanes) for (let index = 0; index < budget.warmup; index += 1) await once(lane, false);
  const rounds = Math.max(1, budget.rounds);
  for (let round = 0; round < rounds; round += 1) {
    for (const lane of lanes) {
      const started = performance.now();
      let count = 0;
      for (;;) {
        const elapsed = performance.now() - started;
        const enough = count >= budget.minIterations / rounds && elapsed >= budget.minMs / rounds;
        if (
          enough ||
          count >= budget.maxIterations / rounds ||
          (count > 0 && elapsed >= budget.maxMs / rounds)
        )
          break;
        await once(lane, true);
        count += 1;
      }
    }
    if (rounds > 1)
      progress(`  round ${round + 1}/${rounds} of ${lanes.map((lane) => lane.probe.id).join(', ')}`);
  }
  return lanes.map((lane) => ({
    id: lane.probe.id,
    label: lane.probe.label,
    latency: summarize(lane.samples),
    failures: lane.tally.failures(),
  }));
}

/** Times a one-shot action `repetitions` times (each in full: no warm-up makes sense for a cold load). */
export async function timeRepeated<T>(
  repetitions: number,
  action: () => Promise<T> | T,
  check: (result: T) => Check,
): Promise<{ latency: LatencySummary; failures: string[] }> {
  const tally = new OutcomeTally();
  const samples: number[] = [];
  for (let index = 0; index < Math.max(1, repetitions); index += 1) {
    const started = performance.now();
    try {
      const result = await action();
      samples.push(performance.now() - started);
      tally.record(check(result));
    } catch (error) {
      tally.record(`threw: ${error instanceof Error ? error.message : String(error)}`.slice(0, 200));
    }
  }
  return { latency: summarize(samples), failures: tally.failures() };
}
