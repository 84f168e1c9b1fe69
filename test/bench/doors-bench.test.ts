import { type BenchProfile, QUICK } from '../../bench/budget';
import { BenchIdentity } from '../../bench/harness';
import { doorRows } from '../../bench/scenarios/doors';

const TINY: BenchProfile = {
  ...QUICK,
  hot: { warmup: 2, minIterations: 6, minMs: 0, maxIterations: 6, maxMs: 1000, rounds: 2 },
};

let identity: BenchIdentity;
beforeAll(async () => {
  identity = await BenchIdentity.start();
});
afterAll(() => identity.stop());

describe('the doors bench scenario', () => {
  it('measures both doors side by side with the floor, every outcome as expected', async () => {
    const rows = await doorRows(identity, TINY, () => undefined);

    expect(rows.map((row) => row.id)).toEqual([
      'doors-floor',
      'door-agentcore-allow',
      'door-apigw-allow',
      'door-agentcore-deny',
      'door-apigw-deny',
      'door-apigw-authorizer',
    ]);
    expect(rows.flatMap((row) => row.failures)).toEqual([]);
    expect(rows[0]?.ratio?.p50).toBeCloseTo(1);
    expect(rows.every((row) => (row.latency?.n ?? 0) >= 6)).toBe(true);
    expect(rows.find((row) => row.id === 'door-apigw-allow')?.note).toMatch(/× the AgentCore door's p50/);
  });
});
