import { performance } from 'node:perf_hooks';
import type { BenchProfile } from './budget';
import { BenchIdentity } from './harness';
import { type BenchReport, type BenchRow, machineDescription } from './report';
import type { Progress } from './sampling';
import { accessRows } from './scenarios/access';
import { assertionRows } from './scenarios/assertion';
import { coldStartRows } from './scenarios/cold-start-row';
import { doorRows } from './scenarios/doors';
import { gatewayRows } from './scenarios/gateway';
import { hotPathRows } from './scenarios/hot-path';
import { policyScaleRows } from './scenarios/policy-scale';
import { replayRows } from './scenarios/replay';
import { soakRows } from './scenarios/soak';
import { toolListRows } from './scenarios/tool-list';

/** Scenario groups, in the order they run (the floor first: every ratio refers to it). */
export const GROUPS = [
  'hot',
  'policies',
  'list',
  'assertion',
  'doors',
  'gateway',
  'cold-start',
  'soak',
  'replay',
  'access',
] as const;
export type Group = (typeof GROUPS)[number];

export interface BenchOptions {
  readonly profile: BenchProfile;
  readonly progress: Progress;
  /** Groups to run besides the hot path (which is always run: it measures the floor). @default all */
  readonly groups?: ReadonlySet<Group>;
}

async function guarded(group: string, run: () => Promise<BenchRow[]>): Promise<BenchRow[]> {
  try {
    return await run();
  } catch (error) {
    return [
      {
        group,
        id: group,
        label: `${group} (did not run)`,
        failures: [String((error as Error).stack ?? error).slice(0, 800)],
      },
    ];
  }
}

/** Every scenario in one process and one run; the report says whether every outcome was right. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const { profile, progress } = options;
  const wanted = (group: Group) => options.groups === undefined || options.groups.has(group);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const identity = await BenchIdentity.start();
  const rows: BenchRow[] = [];
  try {
    const hot = await hotPathRows(identity, profile, progress);
    rows.push(...hot.rows);
    const floor = { p50: hot.floorP50, p99: hot.floorP99 };
    if (wanted('policies'))
      rows.push(...(await guarded('policies', () => policyScaleRows(identity, profile, floor, progress))));
    if (wanted('list'))
      rows.push(...(await guarded('list', () => toolListRows(identity, profile, floor, progress))));
    if (wanted('assertion'))
      rows.push(...(await guarded('assertion', () => assertionRows(profile, progress))));
    if (wanted('doors')) rows.push(...(await guarded('doors', () => doorRows(identity, profile, progress))));
    if (wanted('gateway')) rows.push(...(await guarded('gateway', () => gatewayRows(profile, progress))));
    if (wanted('cold-start'))
      rows.push(...(await guarded('cold-start', () => coldStartRows(profile, progress))));
    if (wanted('soak')) rows.push(...(await guarded('soak', () => soakRows(profile, progress))));
    if (wanted('replay')) rows.push(...(await guarded('replay', () => replayRows(profile, floor, progress))));
    if (wanted('access'))
      rows.push(...(await guarded('access', () => accessRows(identity, profile, floor, progress))));
  } finally {
    await identity.stop();
  }
  return {
    node: process.version,
    machine: machineDescription(),
    quick: profile.quick,
    startedAt,
    seconds: (performance.now() - started) / 1000,
    ok: rows.every((row) => row.failures.length === 0),
    rows,
  };
}
