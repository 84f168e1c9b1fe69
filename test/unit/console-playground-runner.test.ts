import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlaygroundRunner } from '../../local/console/playground-runner';
import { POLICY_DIR } from '../helpers/harness';

/** The playground decides on its own thread; every failure of that thread is an answer, never an exception. */
const where = { policyDir: POLICY_DIR, usersFile: join(__dirname, '..', '..', 'local', 'users.json') };
const body = JSON.stringify({ user: 'alice', tool: 'orders___get_order', args: '{"order_id":"1001"}' });

jest.setTimeout(60_000);

it('decides on its worker, and keeps the worker for the next request', async () => {
  const runner = new PlaygroundRunner(where);
  try {
    const first = await runner.decide(body);
    expect(first).toMatchObject({ status: 200, body: { report: { decision: 'allow' } } });
    const second = await runner.decide(
      JSON.stringify({ user: 'carol', tool: 'orders___get_order', args: '{}' }),
    );
    expect(second).toMatchObject({ status: 200, body: { report: { decision: 'deny' } } });
    expect(await runner.decide('{"user":')).toMatchObject({ status: 400 });
  } finally {
    await runner.close();
  }
});

it('refuses more waiting requests than it takes, as busy (503)', async () => {
  const runner = new PlaygroundRunner({ ...where, maxPending: 1 });
  try {
    const [first, second] = await Promise.all([runner.decide(body), runner.decide(body)]);
    expect(first.status).toBe(200);
    expect(second).toMatchObject({ status: 503, body: { error: expect.stringMatching(/busy/) } });
  } finally {
    await runner.close();
  }
});

it('stops a decision that takes too long and says so', async () => {
  const runner = new PlaygroundRunner({ ...where, timeoutMs: 1 });
  try {
    expect(await runner.decide(body)).toMatchObject({
      status: 500,
      body: { error: expect.stringMatching(/longer than/) },
    });
  } finally {
    await runner.close();
  }
});

it('answers what is still waiting when the stack stops', async () => {
  const runner = new PlaygroundRunner(where);
  const waiting = runner.decide(body);
  await runner.close();
  expect(await waiting).toMatchObject({ status: 500, body: { error: expect.stringMatching(/stopping/) } });
});

it('decides when the process runs from a directory where tsx does not resolve', async () => {
  const elsewhere = mkdtempSync(join(tmpdir(), 'playground-cwd-'));
  const before = process.cwd();
  process.chdir(elsewhere);
  const runner = new PlaygroundRunner(where);
  try {
    expect(await runner.decide(body)).toMatchObject({ status: 200, body: { report: { decision: 'allow' } } });
  } finally {
    process.chdir(before);
    await runner.close();
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
