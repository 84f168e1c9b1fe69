import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchProfile } from '../budget';
import type { BenchRow } from '../report';
import type { Progress } from '../sampling';
import { summarize } from '../stats';

const GROUP = 'cold start (built interceptor bundle, fresh process)';

/** What bench/cold-start.ts may answer: timings in ms, or a summary with them. */
type ColdStartAnswer =
  | number
  | readonly number[]
  | { readonly samples?: readonly number[]; readonly [key: string]: unknown };

function samplesOf(answer: ColdStartAnswer): number[] {
  if (typeof answer === 'number') return [answer];
  if (Array.isArray(answer)) return [...(answer as readonly number[])];
  const record = answer as { samples?: readonly number[]; [key: string]: unknown };
  if (Array.isArray(record.samples)) return [...record.samples];
  const figures = Object.values(record).filter((value): value is number => typeof value === 'number');
  return figures.slice(0, 1);
}

/**
 * Require + first invocation of the built interceptor bundle in a fresh process, median of 5, from
 * bench/cold-start.ts.
 */
export async function coldStartRows(profile: BenchProfile, progress: Progress): Promise<BenchRow[]> {
  // TODO(cold-start): bench/cold-start.ts (measureColdStart) comes from a parallel change; once it is in the
  // repository, replace this lookup with a static import.
  const modulePath = join(__dirname, '..', 'cold-start.ts');
  if (!existsSync(modulePath))
    return [
      {
        group: GROUP,
        id: 'cold-start',
        label: 'require + first invocation',
        note: 'bench/cold-start.ts not present yet',
        failures: [],
      },
    ];
  progress(`cold start: ${profile.coldStartRuns} fresh processes`);
  const module = (await import(modulePath)) as {
    measureColdStart: (...args: unknown[]) => Promise<ColdStartAnswer>;
  };
  const samples = samplesOf(await module.measureColdStart());
  return [
    {
      group: GROUP,
      id: 'cold-start',
      label: 'require + first invocation',
      latency: summarize(samples),
      failures: samples.length === 0 ? ['no timing returned'] : [],
    },
  ];
}
