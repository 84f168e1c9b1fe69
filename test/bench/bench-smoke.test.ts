import { type BenchProfile, QUICK } from '../../bench/budget';
import { BenchIdentity, benchHandler, CountingVerifier, POLICY_DIR } from '../../bench/harness';
import { renderTable } from '../../bench/report';
import { measureSideBySide, probe } from '../../bench/sampling';
import { hotPathRows, toolCallProbe } from '../../bench/scenarios/hot-path';
import { policyScaleRows } from '../../bench/scenarios/policy-scale';
import { toolListRows } from '../../bench/scenarios/tool-list';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';

/** The bench's own scenario functions with tiny budgets: they run, and a wrong outcome fails them. */
const TINY: BenchProfile = {
  ...QUICK,
  hot: { warmup: 2, minIterations: 6, minMs: 0, maxIterations: 6, maxMs: 1000, rounds: 2 },
  slow: { warmup: 1, minIterations: 3, minMs: 0, maxIterations: 3, maxMs: 1000, rounds: 1 },
  cold: { warmup: 0, minIterations: 1, minMs: 0, maxIterations: 1, maxMs: 1000, rounds: 1 },
  oneShot: 1,
};
const quiet = () => undefined;

let identity: BenchIdentity;
beforeAll(async () => {
  identity = await BenchIdentity.start();
});
afterAll(() => identity.stop());

describe('bench scenarios', () => {
  it('measure the floor and the tools/call scenarios with every outcome as expected', async () => {
    const { rows, floorP50 } = await hotPathRows(identity, TINY, quiet);

    expect(rows.map((row) => row.id)).toEqual([
      'floor',
      'cedar-fixed-cost',
      'cedar-alone',
      'call-cache-off',
      'call-cache-on',
      'call-cache-fresh-token',
      'call-deny',
    ]);
    expect(rows.flatMap((row) => row.failures)).toEqual([]);
    expect(floorP50).toBeGreaterThan(0);
    expect(rows[0]?.ratio?.p50).toBeCloseTo(1);
    expect(rows.every((row) => (row.latency?.n ?? 0) >= 6)).toBe(true);
  });

  it('report a scenario whose calls get another outcome than expected as failing', async () => {
    const bundle = loadPolicyBundle(POLICY_DIR);
    const handler = benchHandler(bundle, identity.verifier, 0);
    const alice = await identity.token('alice', ['developer', 'db-reader']);
    const bob = await identity.token('bob', ['order-admin']);
    const update = () => ({ tool: 'orders___update_order', args: { order_id: '1001', status: 'shipped' } });

    const [aliceExpectedAllowed, bobExpectedDenied, bobAllowed] = await measureSideBySide(
      [
        toolCallProbe({
          id: 'wrong-allow',
          label: 'alice may not update orders',
          handler,
          token: () => alice,
          call: update,
          expect: { outcome: 'allow', user: 'alice' },
        }),
        toolCallProbe({
          id: 'wrong-deny',
          label: 'bob may update orders',
          handler,
          token: () => bob,
          call: update,
          expect: { outcome: 'deny' },
        }),
        toolCallProbe({
          id: 'right',
          label: 'bob updates',
          handler,
          token: () => bob,
          call: update,
          expect: { outcome: 'allow', user: 'bob' },
        }),
      ],
      TINY.hot,
    );

    expect(aliceExpectedAllowed?.failures).toEqual([
      expect.stringMatching(/^8\/8 wrong outcomes: expected allow/),
    ]);
    expect(bobExpectedDenied?.failures).toEqual([
      expect.stringMatching(/^8\/8 wrong outcomes: expected deny/),
    ]);
    expect(bobAllowed?.failures).toEqual([]);
  });

  it('report a fresh-token scenario whose calls did not verify their token (a cache hit) as failing', async () => {
    const bundle = loadPolicyBundle(POLICY_DIR);
    const verifier = new CountingVerifier(identity.verifier);
    const handler = benchHandler(bundle, verifier, 300);
    const [fresh, reused] = await identity.tokens('bob', ['order-admin'], 2);
    const call = () => ({ tool: 'orders___get_order', args: { order_id: '1001' } });

    const [row] = await measureSideBySide(
      [
        toolCallProbe({
          id: 'not-fresh',
          label: 'the same token again and again',
          handler,
          token: (iteration) => (iteration === 0 ? (fresh as string) : (reused as string)),
          call,
          expect: { outcome: 'allow', user: 'bob' },
          verified: () => verifier.verified,
        }),
      ],
      TINY.hot,
    );

    // The first two calls verify their token; every later one is served by the verified-caller cache.
    expect(row?.failures).toEqual([
      expect.stringMatching(/^6\/8 wrong outcomes: expected the token to be verified once, verified 0 times/),
    ]);
  });

  it('count a step that throws as a wrong outcome', async () => {
    const [row] = await measureSideBySide(
      [
        probe({
          id: 'throws',
          label: 'throws',
          run: async () => {
            throw new Error('engine down');
          },
          check: () => true,
        }),
      ],
      TINY.hot,
    );
    expect(row?.failures).toEqual([expect.stringContaining('threw: engine down')]);
  });

  it('list generated tools cold and warm, and decide over a generated policy set', async () => {
    const floor = { p50: 0.05, p99: 0.1 };
    const lists = await toolListRows(identity, TINY, floor, quiet, [3]);
    const policies = await policyScaleRows(identity, TINY, floor, quiet, [10]);

    expect(lists.map((row) => row.id)).toEqual(['list-3-cold', 'list-3-warm']);
    expect(policies.map((row) => row.id)).toEqual(['policies-10-load', 'policies-10-decide']);
    expect([...lists, ...policies].flatMap((row) => row.failures)).toEqual([]);
  });

  it('print a failing scenario in the table and fail the run', () => {
    const table = renderTable({
      node: process.version,
      machine: 'test',
      quick: true,
      startedAt: '2026-01-01T00:00:00.000Z',
      seconds: 1,
      ok: false,
      rows: [
        {
          group: 'g',
          id: 'broken',
          label: 'broken scenario',
          failures: ['1/1 wrong outcomes: expected deny'],
        },
      ],
    });
    expect(table).toContain('WRONG');
    expect(table).toContain('FAILED broken: 1/1 wrong outcomes');
    expect(table).toContain('BENCH FAILED');
  });
});
