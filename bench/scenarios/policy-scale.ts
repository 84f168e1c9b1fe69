import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import type { InterceptorOutput } from '../../lambda/doors/agentcore/contract';
import type { BenchProfile } from '../budget';
import { policyScaleFolder } from '../generate';
import { type BenchIdentity, benchHandler, expectAllowed, toolCallEvent } from '../harness';
import type { BenchRow } from '../report';
import { measureSideBySide, type Progress, probe, timeRepeated } from '../sampling';

export const POLICY_COUNTS = [10, 100, 1000] as const;

const GROUP = 'policy sets (generated policies over 50 tools)';

/**
 * A tools/call decision (cache off, the whole REQUEST step) with 10, 100 and 1,000 policies, and the time to
 * load, STRICT-validate and preparse each set. Every call is allowed by one generated permit.
 */
export async function policyScaleRows(
  identity: BenchIdentity,
  profile: BenchProfile,
  floor: { p50: number; p99: number },
  progress: Progress,
  counts: readonly number[] = POLICY_COUNTS,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const count of counts) {
    const folder = policyScaleFolder(count);
    try {
      progress(`policies: ${count}, load + preparse`);
      const load = await timeRepeated(
        profile.oneShot,
        () => {
          const bundle = loadPolicyBundle(folder.dir);
          new CedarDecisionPoint(bundle);
          return bundle;
        },
        (bundle) => (bundle.policies.length === count ? true : `loaded ${bundle.policies.length} policies`),
      );
      rows.push({
        group: GROUP,
        id: `policies-${count}-load`,
        label: `load + validate + preparse ${count} policies`,
        latency: load.latency,
        failures: load.failures,
      });

      const bundle = loadPolicyBundle(folder.dir);
      const { handler } = benchHandler(bundle, identity.verifier, 0);
      const tokens = await Promise.all(folder.allowed.map((call) => identity.token(call.user, call.roles)));
      const events = folder.allowed.map((call, index) =>
        toolCallEvent(tokens[index] as string, call.tool, { ...call.args }),
      );
      progress(`policies: ${count}, decisions`);
      const [decision] = await measureSideBySide(
        [
          probe<InterceptorOutput>({
            id: `policies-${count}-decide`,
            label: `tools/call allow with ${count} policies, cache off`,
            run: (iteration) => handler(events[iteration % events.length]),
            check: (output, iteration) =>
              expectAllowed(
                output,
                (folder.allowed[iteration % folder.allowed.length] ?? { user: '?' }).user,
              ),
          }),
        ],
        profile.slow,
        progress,
      );
      if (decision !== undefined)
        rows.push({
          group: GROUP,
          id: decision.id,
          label: decision.label,
          latency: decision.latency,
          ratio: {
            to: 'floor',
            p50: decision.latency.p50 / floor.p50,
            p99: decision.latency.p99 / floor.p99,
          },
          failures: decision.failures,
        });
    } finally {
      folder.remove();
    }
  }
  return rows;
}
