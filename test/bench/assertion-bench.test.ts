import { type BenchProfile, QUICK } from '../../bench/budget';
import { assertionRows, SPANS } from '../../bench/scenarios/assertion';

const TINY: BenchProfile = {
  ...QUICK,
  hot: { warmup: 2, minIterations: 6, minMs: 0, maxIterations: 6, maxMs: 1000, rounds: 2 },
};

describe('the identity assertion bench scenario', () => {
  it('measures floor, hit and miss side by side, and counts Sign calls per 1,000 calls', async () => {
    const rows = await assertionRows(TINY, () => undefined);

    expect(rows.map((row) => row.id)).toEqual([
      'assertion-floor',
      'assertion-hit',
      'assertion-miss-local',
      'assertion-signs-1min',
      'assertion-signs-10min',
      'assertion-signs-1h',
    ]);
    expect(rows.flatMap((row) => row.failures)).toEqual([]);
    expect(rows[0]?.ratio?.p50).toBeCloseTo(1);
    const signs = rows.slice(3).map((row) => row.metric?.value);
    // 60 (caller, target) pairs: one Sign each when every call falls within one assertion's reuse window.
    expect(signs[0]).toBe(60);
    // Spread thinner over time, more assertions expire between calls — but never one Sign per call.
    expect(signs[1]).toBeGreaterThan(60);
    expect(signs[2]).toBeGreaterThan(signs[1] as number);
    expect(signs[2]).toBeLessThan(1000);
    expect(SPANS.map((span) => span.seconds)).toEqual([60, 600, 3600]);
  });
});
