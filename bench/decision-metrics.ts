/**
 * `npx tsx bench/decision-metrics.ts [--json]`: what one decision's EMF metrics cost (issue 14.5), side by side
 * with the hot path's floor (bench/scenarios/hot-path.ts: RS256 verify + JSON of the event) in the same run.
 * The metered lane is the guard's wrapper (lambda/guard/decision-metrics.ts: sample + labels) around a step
 * that returns at once, with the real Powertools EMF adapter writing its line synchronously to /dev/null (a
 * Lambda writes stdout synchronously too); the bare lane is the same step without metrics. Added cost per
 * decision = metered − bare. `BENCH_QUICK=1` for a smoke run.
 */

import { Console } from 'node:console';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { EmfDecisionMetrics } from '../lambda/adapters/emf-metrics';
import { meteredRequestStep } from '../lambda/guard/decision-metrics';
import type { GuardRequest, GuardResult } from '../lambda/guard/types';
import { profileFromEnv } from './budget';
import { BenchIdentity } from './harness';
import { measureSideBySide, probe } from './sampling';
import { floorProbe } from './scenarios/hot-path';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const profile = profileFromEnv();
  const devNull = openSync('/dev/null', 'w');
  const sink = new Writable({
    write(chunk, _encoding, done) {
      writeSync(devNull, chunk);
      done();
    },
  });
  const metrics = new Metrics({ namespace: 'McpIdentityBench', serviceName: 'bench' });
  // Powertools writes through its own Console on stdout; the bench points it at /dev/null.
  (metrics as unknown as { console: Console }).console = new Console({ stdout: sink, stderr: sink });
  const request: GuardRequest = {
    door: 'agentcore',
    credential: { authorization: [] },
    message: {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'orders___get_order', arguments: {} },
    },
    parsed: true,
    facts: { headers: new Map() },
  };
  const result: GuardResult = {
    kind: 'forward',
    message: request.message,
    headers: { set: {}, remove: ['authorization'] },
    decision: { kind: 'allow', policies: [] },
    decisionId: 'd',
  };
  const step = async (_request: GuardRequest): Promise<GuardResult> => result;
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const metered = meteredRequestStep(
    step,
    new EmfDecisionMetrics(metrics),
    log as never,
    new Set(['orders___get_order']),
  );
  const identity = await BenchIdentity.start();
  try {
    const floor = await floorProbe(identity);
    const same = (value: GuardResult) => (value === result ? true : 'a different result');
    const measured = await measureSideBySide(
      [
        floor.probe,
        probe({ id: 'bare', label: 'request step returning at once', run: () => step(request), check: same }),
        probe({
          id: 'metered',
          label: 'the same step, metered: sample + one EMF line (Powertools) to /dev/null',
          run: () => metered(request),
          check: same,
        }),
      ],
      profile.hot,
      (line) => process.stderr.write(`${line}\n`),
    );
    const [floorLane, bare, withMetrics] = measured;
    if (floorLane === undefined || bare === undefined || withMetrics === undefined)
      throw new Error('lanes missing');
    const added = {
      p50: withMetrics.latency.p50 - bare.latency.p50,
      p99: withMetrics.latency.p99 - bare.latency.p99,
    };
    const report = {
      node: process.version,
      floorMs: { p50: floorLane.latency.p50, p99: floorLane.latency.p99 },
      bareMs: { p50: bare.latency.p50, p99: bare.latency.p99 },
      meteredMs: { p50: withMetrics.latency.p50, p99: withMetrics.latency.p99 },
      addedPerDecisionMs: added,
      addedOverFloor: { p50: added.p50 / floorLane.latency.p50, p99: added.p99 / floorLane.latency.p99 },
      failures: measured.flatMap((lane) => lane.failures),
    };
    if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else
      process.stdout.write(
        `${[
          `node ${report.node}`,
          `floor (RS256 verify + event JSON)   p50 ${report.floorMs.p50.toFixed(4)} ms  p99 ${report.floorMs.p99.toFixed(4)} ms`,
          `metrics added per decision          p50 ${added.p50.toFixed(4)} ms  p99 ${added.p99.toFixed(4)} ms`,
          `added ÷ floor                       p50 ${report.addedOverFloor.p50.toFixed(3)}     p99 ${report.addedOverFloor.p99.toFixed(3)}`,
          ...(report.failures.length > 0 ? [`FAILURES: ${report.failures.join('; ')}`] : []),
        ].join('\n')}\n`,
      );
    process.exitCode = report.failures.length > 0 ? 1 : 0;
  } finally {
    await identity.stop();
    closeSync(devNull);
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
