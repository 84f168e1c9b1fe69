/**
 * The soak: `node --expose-gc --import tsx bench/soak-child.ts <decisions>` runs that many consecutive
 * tools/call decisions through the interceptor handler on the local Cedar engine (decision cache off), as the
 * local stack makes them, forcing a full gc() every 1,000. It guards against the V8 abort described in
 * scripts/cedar-wasm-deopt-repro.js. Progress goes to stderr; one JSON line with the result to stdout.
 */
import { performance } from 'node:perf_hooks';
import { loadPolicyBundle } from '../lambda/adapters/policy-files';
import {
  BenchIdentity,
  benchHandler,
  expectAllowed,
  expectDenied,
  POLICY_DIR,
  toolCallEvent,
} from './harness';
import { OutcomeTally } from './outcome';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 100_000);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const identity = await BenchIdentity.start();
  const bundle = loadPolicyBundle(POLICY_DIR);
  const { handler } = benchHandler(bundle, identity.verifier, 0);
  const bob = await identity.token('bob', ['order-admin']);
  const alice = await identity.token('alice', ['developer', 'db-reader']);
  const tally = new OutcomeTally();
  const started = performance.now();
  for (let index = 0; index < total; index += 1) {
    // Mostly allows, with a denial in every eight (a forbid for bob's large refunds, no permit for alice).
    const deny = index % 8 === 7;
    const event = deny
      ? toolCallEvent(index % 16 === 7 ? alice : bob, 'orders___update_order', {
          order_id: '1001',
          status: 'refunded',
          amount: 600 + (index % 300),
        })
      : index % 2 === 0
        ? toolCallEvent(bob, 'orders___get_order', { order_id: String(1000 + (index % 97)) })
        : toolCallEvent(bob, 'orders___update_order', {
            order_id: String(1000 + (index % 97)),
            status: 'shipped',
            amount: index % 500,
          });
    const output = await handler(event);
    tally.record(deny ? expectDenied(output) : expectAllowed(output, 'bob'));
    if (index % 1000 === 999) gc();
    if (index % 10_000 === 9_999)
      process.stderr.write(
        `  soak: ${index + 1}/${total} decisions, ${Math.round(((index + 1) * 1000) / (performance.now() - started))}/s\n`,
      );
  }
  const seconds = (performance.now() - started) / 1000;
  await identity.stop();
  process.stdout.write(`${JSON.stringify({ decisions: total, seconds, failures: tally.failures() })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
