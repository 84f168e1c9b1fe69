import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * Regression test for the V8 abort of Node 20/22 under a long run of synchronous cedar-wasm calls (see
 * lambda/adapters/cedar-engine.ts). It runs in its own process because the abort kills the process; gc() is
 * forced every 1,000 decisions because garbage collection is what triggers the deoptimisation that aborted.
 */
describe('the local Cedar engine under a long run of decisions', () => {
  it('makes 20,000 consecutive decisions with periodic gc() in one process without aborting', () => {
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join('scripts', 'cedar-soak.ts'), '20000', '--json'],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );

    expect({ signal: run.signal, status: run.status, stderr: run.stderr.slice(-2000) }).toStrictEqual({
      signal: null,
      status: 0,
      stderr: '',
    });
    const result = JSON.parse(run.stdout.trim()) as { decisions: number; lists: number };
    expect(result.decisions).toBe(20_000);
    expect(result.lists).toBe(200);
  }, 150_000);
});
