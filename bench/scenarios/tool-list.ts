import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import type { InterceptorOutput } from '../../lambda/doors/agentcore/contract';
import type { BenchProfile } from '../budget';
import { LIST_READER, toolListFolder } from '../generate';
import { type BenchHandler, type BenchIdentity, benchHandler, expectListed, toolListEvent } from '../harness';
import type { BenchRow } from '../report';
import { measureSideBySide, type Progress, probe } from '../sampling';

export const LIST_SIZES = [3, 30, 300] as const;

/**
 * tools/list filtering (the RESPONSE step) for N generated tools. Cold: a fresh engine and decision cache for
 * every sample (the first list after a start or a policy reload). Warm: the same handler again, answers cached.
 * Every answer must list exactly the tools the generator says the reader may call.
 */
export async function toolListRows(
  identity: BenchIdentity,
  profile: BenchProfile,
  floor: { p50: number; p99: number },
  progress: Progress,
  sizes: readonly number[] = LIST_SIZES,
): Promise<BenchRow[]> {
  const token = await identity.token(LIST_READER.user, LIST_READER.roles);
  const rows: BenchRow[] = [];
  for (const size of sizes) {
    const folder = toolListFolder(size);
    try {
      const bundle = loadPolicyBundle(folder.dir);
      const event = toolListEvent(token, folder.tools);
      let cold: BenchHandler | undefined;
      const warm = benchHandler(bundle, identity.verifier, 300);
      const check = (output: InterceptorOutput) => expectListed(output, folder.visible);
      progress(`tools/list: ${size} tools (${folder.visible.size} visible to the reader), cold`);
      const [coldRow] = await measureSideBySide(
        [
          probe<InterceptorOutput>({
            id: `list-${size}-cold`,
            label: `tools/list ${size} tools, cold (fresh engine + cache)`,
            before: () => {
              cold = benchHandler(bundle, identity.verifier, 300, new CedarDecisionPoint(bundle));
            },
            run: () => (cold as BenchHandler).handler(event),
            check,
          }),
        ],
        profile.cold,
        progress,
      );
      progress(`tools/list: ${size} tools, warm`);
      const [warmRow] = await measureSideBySide(
        [
          probe<InterceptorOutput>({
            id: `list-${size}-warm`,
            label: `tools/list ${size} tools, warm (cached answers)`,
            run: () => warm.handler(event),
            check,
          }),
        ],
        { ...profile.slow, warmup: Math.max(1, profile.slow.warmup) },
        progress,
      );
      for (const row of [coldRow, warmRow]) {
        if (row === undefined) continue;
        rows.push({
          group: 'tools/list (RESPONSE step, local Cedar, generated tools)',
          id: row.id,
          label: row.label,
          latency: row.latency,
          ratio: { to: 'floor', p50: row.latency.p50 / floor.p50, p99: row.latency.p99 / floor.p99 },
          failures: row.failures,
        });
      }
    } finally {
      folder.remove();
    }
  }
  return rows;
}
