import { join } from 'node:path';
import type { BenchProfile } from '../budget';
import { exited, firstJsonLine, spawnTs } from '../child';
import { REPO } from '../harness';
import type { BenchRow } from '../report';
import type { Progress } from '../sampling';

interface SoakResult {
  readonly decisions: number;
  readonly seconds: number;
  readonly failures: readonly string[];
}

/**
 * Consecutive decisions on the local Cedar engine in a child process under `--expose-gc` with a gc() every
 * 1,000: the child must finish (a V8 abort ends it with SIGTRAP) and every outcome must be right.
 */
export async function soakRows(
  profile: BenchProfile,
  progress: Progress,
  decisions = profile.soakDecisions,
): Promise<BenchRow[]> {
  progress(`soak: ${decisions.toLocaleString('en-US')} decisions in a child under --expose-gc`);
  const child = spawnTs(join(REPO, 'bench', 'soak-child.ts'), ['--expose-gc'], {}, [String(decisions)]);
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.startsWith('  soak:')) progress(line.trim());
  });
  child.stdin?.end();
  const row = {
    group: 'soak (local Cedar, child process, --expose-gc, gc() every 1,000)',
    id: 'soak',
    label: `${decisions.toLocaleString('en-US')} consecutive decisions`,
  };
  try {
    const [result, exit] = await Promise.all([firstJsonLine<SoakResult>(child, 30 * 60_000), exited(child)]);
    const failures = [
      ...result.failures,
      ...(exit.code === 0 ? [] : [`child exited with ${exit.signal ?? exit.code}`]),
    ];
    return [
      {
        ...row,
        metric: { name: 'decisions/s', value: result.decisions / result.seconds, unit: 'decisions/s' },
        note: `${result.decisions} decisions in ${result.seconds.toFixed(1)} s, no abort`,
        failures,
      },
    ];
  } catch (error) {
    const exit = await exited(child);
    return [
      {
        ...row,
        failures: [
          `the soak did not finish (${exit.signal ?? `exit ${exit.code}`}): ${(error as Error).message.slice(-400)}`,
        ],
      },
    ];
  }
}
