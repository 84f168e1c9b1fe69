/**
 * `npm run bench [-- --json] [-- --only=hot,list,…]`: the decision path measured side by side in one process
 * and one run (see bench/bench.ts for the scenarios). The table (or its JSON) goes to stdout, progress to
 * stderr; the exit code is 1 when any scenario got a wrong outcome. `BENCH_QUICK=1` shrinks every budget
 * for a smoke run.
 */
import { GROUPS, type Group, runBench } from './bench';
import { profileFromEnv } from './budget';
import { renderTable } from './report';

function parseGroups(argv: readonly string[]): ReadonlySet<Group> | undefined {
  const only = argv.find((arg) => arg.startsWith('--only='));
  if (only === undefined) return undefined;
  const names = only.slice('--only='.length).split(',');
  const unknown = names.filter((name) => !(GROUPS as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`unknown group(s) ${unknown.join(', ')}; known: ${GROUPS.join(', ')}`);
  return new Set(names as Group[]);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const groups = parseGroups(argv);
  const started = Date.now();
  const progress = (line: string) =>
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const report = await runBench({ profile: profileFromEnv(), progress, ...(groups ? { groups } : {}) });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${renderTable(report)}\n`);
  process.exitCode = report.ok ? 0 : 1;
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
