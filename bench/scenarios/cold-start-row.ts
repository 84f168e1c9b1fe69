import type { BenchProfile } from '../budget';
import { measureColdStart } from '../cold-start';
import type { BenchRow } from '../report';
import type { Progress } from '../sampling';
import { median, summarize } from '../stats';

/**
 * Require + first invocation of the built interceptor bundle in a fresh process (median of 5), from
 * bench/cold-start.ts, which also fails when that first call is not allowed.
 */
export async function coldStartRows(profile: BenchProfile, progress: Progress): Promise<BenchRow[]> {
  progress(`cold start: bundling, then ${profile.coldStartRuns} fresh processes`);
  const result = await measureColdStart({ runs: profile.coldStartRuns });
  const total = result.runs.map(([load, invoke]) => load + invoke);
  return [
    {
      group: 'cold start (built interceptor bundle, fresh process, fake Verified Permissions on loopback)',
      id: 'cold-start',
      label: `require + first invocation, median of ${result.runs.length}`,
      latency: summarize(total),
      note: `require ${median(result.runs.map(([load]) => load)).toFixed(0)} ms + first invocation ${median(result.runs.map(([, invoke]) => invoke)).toFixed(0)} ms (medians); interceptor bundle ${(result.bundleBytes / 1024).toFixed(0)} KiB minified`,
      failures: total.length === 0 ? ['no run measured'] : [],
    },
  ];
}
