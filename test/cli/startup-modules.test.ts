import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from './helpers';

/**
 * The CLI declares its commands from light modules and loads what a command does only when it runs, so that
 * `--help`, `--version` and usage errors answer at once. Each case runs the CLI as users do, with a preload
 * that records every module Node loaded (require.cache at exit), and fails if a heavy one is among them.
 */

const CLI = join(ROOT, 'bin', 'mcp-identity.js');

/** Dependencies that cost the most at start: none of them may load before a command's action runs. */
const HEAVY = [
  'node_modules/@aws-sdk/',
  'node_modules/@smithy/',
  'node_modules/@cedar-policy/',
  'node_modules/@modelcontextprotocol/',
  'node_modules/ajv/',
  'node_modules/zod/',
  'node_modules/aws-cdk-lib/',
  'node_modules/jose/',
];
/** Our own modules that bring the local stack or the Lambda code with them. */
const HEAVY_OWN = [
  'local/stack.ts',
  'local/doors.ts',
  'local/dev-issuer.ts',
  'lambda/adapters/',
  'lib/config.ts',
];

const dir = mkdtempSync(join(tmpdir(), 'startup-modules-'));
const PRELOAD = join(dir, 'record-modules.js');
writeFileSync(
  PRELOAD,
  `process.on('exit', () => {
  require('node:fs').writeFileSync(process.env.RECORD_MODULES_TO, Object.keys(require.cache).join('\\n'));
});
`,
);

/** Runs the CLI with the preload; its exit status and the modules it loaded (paths from the repository root). */
function loadedBy(args: string[]): { status: number | null; modules: string[] } {
  const out = join(dir, `modules-${args.join('_').replace(/[^\w-]/g, '')}.txt`);
  const result = spawnSync(process.execPath, ['--require', PRELOAD, CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: ROOT,
    env: { ...process.env, RECORD_MODULES_TO: out },
  });
  const modules = readFileSync(out, 'utf8')
    .split('\n')
    .filter((path) => path !== '')
    .map((path) => relative(ROOT, path).split('\\').join('/'));
  return { status: result.status, modules };
}

function heavyIn(modules: readonly string[]): string[] {
  return modules.filter(
    (path) =>
      HEAVY.some((prefix) => path.includes(prefix)) || HEAVY_OWN.some((prefix) => path.startsWith(prefix)),
  );
}

describe('the CLI loads no heavy module before a command runs', () => {
  it.each([
    [['--help'], 0],
    [['--version'], 0],
    [['activity', '--help'], 0],
    [['dev', '--help'], 0],
    [['policies', 'validate', '--help'], 0],
    [['schema', 'generate', '--help'], 0],
    [['grant', 'list', '--help'], 0],
    [['init', '--help'], 0],
    [['doctor', '--help'], 0],
    [['no-such-command'], 2],
    [['token', 'alice', '--ttl', '99h'], 2],
    [['activity', '--since', 'not-a-time'], 2],
  ])('%j', (args, status) => {
    const run = loadedBy(args);
    expect(run.status).toBe(status);
    // The recording works: the CLI itself is in it.
    expect(run.modules).toContain('bin/cli.ts');
    expect(heavyIn(run.modules)).toEqual([]);
  });

  it('loads them once a command runs (the check can see them)', () => {
    const run = loadedBy(['policies', 'validate', '--dir', join(ROOT, 'policies'), '--json']);
    expect(run.status).toBe(0);
    expect(heavyIn(run.modules)).toEqual(
      expect.arrayContaining([expect.stringContaining('node_modules/@cedar-policy/cedar-wasm/')]),
    );
  });
});
