import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ActivityFilter } from '../../cli/activity';
import { ReplayEngine, type ReplayResult, replayEvents } from '../../cli/policies-replay-engine';
import { localEvents } from '../../cli/policies-replay-sources';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { type AuditEventData, buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import { type Caller, callerFromClaims } from '../../lambda/core/caller';
import type { BenchProfile } from '../budget';
import type { BenchRow } from '../report';
import type { Progress } from '../sampling';

/**
 * `policies replay` throughput (issue 15.1 target: 100,000 events in under 30 s): a generated week of audit
 * events — 200 people with the repository's roles, tokens renewed every 15 minutes, the three demo tools with
 * order ids from a pool of 2,000 and refunds of varying size — written as the local JSONL store and replayed
 * end to end as the command does (read and parse the file, rebuild each request, decide on the candidate).
 * Each recorded decision is what the repository's policies decide by construction, so replaying them must
 * change nothing; a candidate without bob's-style update permit must newly deny exactly the allowed updates.
 */

const POLICY_DIR = join(__dirname, '..', '..', 'policies');
const WEEK_MS = 7 * 86_400_000;

interface Generated {
  readonly file: string;
  readonly events: number;
  readonly allowedUpdates: number;
}

/** A small deterministic PRNG (mulberry32): the same events in every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const ROLE_SETS: readonly (readonly string[])[] = [
  ['developer', 'db-reader'],
  ['order-admin'],
  ['order-admin', 'finance-approver'],
  [],
  ['db-reader'],
];

/** What the repository's policies decide, written out by hand (orders-readers, order-admins-update, large-refunds). */
function expected(
  roles: readonly string[],
  tool: string,
  args: Record<string, unknown>,
): { readonly allow: boolean; readonly policies: string[] } {
  const reader = roles.includes('db-reader') || roles.includes('order-admin');
  if (tool !== 'orders___update_order') return { allow: reader, policies: reader ? ['orders-readers'] : [] };
  const largeRefund =
    args.status === 'refunded' &&
    typeof args.amount === 'number' &&
    args.amount > 500 &&
    !roles.includes('finance-approver');
  // A forbid that applied is recorded even when the denial is the default one (no permit).
  if (largeRefund) return { allow: false, policies: ['large-refunds-need-finance'] };
  const admin = roles.includes('order-admin');
  return { allow: admin, policies: admin ? ['order-admins-update'] : [] };
}

export function generate(count: number, dir: string): Generated {
  const next = random(15);
  const start = Date.parse('2026-11-01T00:00:00Z');
  const settings = {
    eventSource: 'mcp-identity',
    recipientAccountId: '123456789012',
    mode: 'enforce' as const,
  };
  const tokens = new Map<string, Caller>();
  const lines: string[] = [];
  let allowedUpdates = 0;
  for (let index = 0; index < count; index += 1) {
    const time = start + Math.floor((index / count) * WEEK_MS);
    const person = Math.floor(next() * 200);
    const roles = ROLE_SETS[person % ROLE_SETS.length] as readonly string[];
    // One token per person per 15 minutes: what a refreshing client presents.
    const window = Math.floor(time / 900_000);
    const key = `${person}:${window}`;
    let caller = tokens.get(key);
    if (caller === undefined) {
      caller = callerFromClaims({
        sub: `user-${person}`,
        iss: 'https://idp.example.com',
        iat: window * 900,
        exp: window * 900 + 900,
        jti: `jti-${key}`,
        email: `user-${person}@example.com`,
        roles: [...roles],
        client_id: person % 7 === 0 ? 'batch-agent' : 'chat-agent',
      });
      tokens.set(key, caller);
    }
    const pick = next();
    const orderId = String(1000 + Math.floor(next() * 2000));
    const tool =
      pick < 0.6
        ? 'orders___get_order'
        : pick < 0.85
          ? 'orders___get_recent_activity'
          : 'orders___update_order';
    const args: Record<string, unknown> =
      tool === 'orders___get_order'
        ? { order_id: orderId }
        : tool === 'orders___get_recent_activity'
          ? {}
          : next() < 0.5
            ? { order_id: orderId, status: 'shipped' }
            : { order_id: orderId, status: 'refunded', amount: Math.floor(next() * 1000) };
    const decided = expected(roles, tool, args);
    if (tool === 'orders___update_order' && decided.allow) allowedUpdates += 1;
    const event: AuditEventData = buildAuditEvent(
      {
        time: new Date(time),
        phase: 'request',
        caller,
        method: 'tools/call',
        toolName: tool,
        target: 'orders',
        arguments: args,
        jsonRpcId: index,
        decision: decided.allow ? 'allow' : 'deny',
        enforced: true,
        ...(decided.allow ? {} : { errorCode: 'AccessDenied' as const, reason: 'Denied.' }),
        policies: decided.policies,
        door: 'agentcore',
        requestDigest: requestDigest('tools/call', { name: tool, arguments: args }),
      },
      settings,
    );
    lines.push(JSON.stringify(event));
  }
  const file = join(dir, 'audit.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { file, events: count, allowedUpdates };
}

async function timedReplay(
  file: string,
  policies: string,
): Promise<{ result: ReplayResult; seconds: number; cpuSeconds: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const filter: ActivityFilter = {
    since: new Date('2026-10-01T00:00:00Z'),
    until: new Date('2026-12-31T00:00:00Z'),
    limit: 10_000_000,
    phase: 'request',
  };
  const { events } = localEvents(file, filter);
  const result = await replayEvents(events, new ReplayEngine(loadPolicyBundle(policies)));
  const used = process.cpuUsage(cpu);
  return {
    result,
    seconds: (performance.now() - started) / 1000,
    // On a shared machine wall time includes waiting for a core; CPU time is this process's own work.
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}

export async function replayRows(
  profile: BenchProfile,
  floor: { p50: number; p99: number },
  progress: Progress,
): Promise<BenchRow[]> {
  const count = profile.quick ? 10_000 : 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'bench-replay-'));
  const candidate = join(dir, 'candidate');
  cpSync(POLICY_DIR, candidate, { recursive: true });
  rmSync(join(candidate, 'order-admins-update.cedar'));
  try {
    progress(`replay: generating ${count.toLocaleString('en-US')} audit events`);
    const generated = generate(count, dir);
    const rows: BenchRow[] = [];
    const runs = [
      {
        id: 'replay-unchanged',
        label: `policies replay, ${count.toLocaleString('en-US')} events, unchanged policies`,
        policies: POLICY_DIR,
        check: (result: ReplayResult) =>
          result.newlyDenied.length + result.newlyAllowed.length === 0 &&
          result.replayed === count &&
          result.unchangedOtherPolicies === 0
            ? []
            : [
                `expected no change over ${count} events, got ${result.newlyDenied.length} newly denied, ${result.newlyAllowed.length} newly allowed, ${result.unchangedOtherPolicies} decided by other policies, ${result.replayed} replayed`,
              ],
      },
      {
        id: 'replay-without-update-permit',
        label: `policies replay, ${count.toLocaleString('en-US')} events, candidate without the update permit`,
        policies: candidate,
        check: (result: ReplayResult) =>
          result.newlyDenied.length === generated.allowedUpdates && result.newlyAllowed.length === 0
            ? []
            : [
                `expected ${generated.allowedUpdates} newly denied, got ${result.newlyDenied.length} (and ${result.newlyAllowed.length} newly allowed)`,
              ],
      },
    ];
    for (const run of runs) {
      progress(`replay: ${run.label}`);
      const { result, seconds, cpuSeconds } = await timedReplay(generated.file, run.policies);
      const perEventMs = (seconds * 1000) / count;
      rows.push({
        group: 'policies replay (read the JSONL store, rebuild, decide on local Cedar)',
        id: run.id,
        label: run.label,
        metric: { name: 'throughput', value: count / seconds, unit: 'events/s' },
        ratio: { to: 'floor', value: perEventMs / floor.p50 },
        note: `${run.id}: ${seconds.toFixed(1)} s in total (${cpuSeconds.toFixed(1)} s of CPU, load average ${loadavg()[0]?.toFixed(1)}) for ${count.toLocaleString('en-US')} events (${result.distinctRequests.toLocaleString('en-US')} distinct requests decided); ratio = time per event / hot-path floor p50`,
        // The target (100,000 events in < 30 s) is checked on CPU time: on this shared 2-core machine wall
        // time includes waiting for a core, which the note reports with the load average.
        failures: [
          ...run.check(result),
          ...(count === 100_000 && cpuSeconds >= 30
            ? [`took ${cpuSeconds.toFixed(1)} s of CPU (target < 30 s)`]
            : []),
        ],
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
