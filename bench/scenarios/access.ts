import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CachingAccessStore } from '../../lambda/adapters/access-cache';
import { grantItem } from '../../lambda/adapters/access-items';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { CachingDecisionPoint } from '../../lambda/adapters/decision-cache';
import { DynamoDbAccessStore } from '../../lambda/adapters/dynamodb-access-store';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { CachingTokenVerifier } from '../../lambda/adapters/verified-caller-cache';
import type {
  AccessStore,
  AccessSubject,
  Revocation,
  RoleGrant,
  SubjectAccess,
} from '../../lambda/core/access';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { DEFAULT_REDACTION } from '../../lambda/core/redaction';
import type { InterceptorOutput } from '../../lambda/doors/agentcore/contract';
import { GrantingVerifier, revocationGate } from '../../lambda/guard/access-gates';
import { createInterceptorHandler, type InterceptorHandler } from '../../lambda/handlers/interceptor';
import type { DiagnosticLog } from '../../lambda/shared/logger';
import { FileAccessLedger } from '../../local/access-file';
import type { BenchProfile } from '../budget';
import { type BenchIdentity, expectAllowed, expectDenied, POLICY_DIR, toolCallEvent } from '../harness';
import type { BenchRow } from '../report';
import { measureSideBySide, type Probe, type Progress, probe } from '../sampling';

/**
 * Issue 15's figures: the hot-path cost of the grant and revocation lookup, warm (the per-subject cache hits)
 * and cold (every request reads the store: the local file, or DynamoDB's Query through the real request and
 * item codec against a stand-in client that answers after an injected latency), as ratios to the floor; and
 * the revocation propagation time across N interceptors running in this process on the real clock.
 */

const quiet: DiagnosticLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
/** A same-Region strongly consistent Query of one small partition, as a latency to inject (p50 order). */
const DYNAMODB_LATENCY_MS = 4;

/**
 * "Cold" as a running instance sees it: the first request of a subject in a bound, when the per-subject cache
 * has nothing (a fresh cache before each timed request, untimed): one read of the user shared by the grant
 * lookup and the kill switch, and one of the agent beside it.
 */
class FreshCacheEachTime implements AccessStore {
  private current: CachingAccessStore;
  constructor(private readonly inner: AccessStore) {
    this.current = new CachingAccessStore(inner, { ttlSeconds: 5 });
  }
  renew(): void {
    this.current = new CachingAccessStore(this.inner, { ttlSeconds: 5 });
  }
  read(subject: AccessSubject): Promise<SubjectAccess> {
    return this.current.read(subject);
  }
}

class MemoryStore implements AccessStore {
  grants: RoleGrant[] = [];
  revocations: Revocation[] = [];
  async read(subject: AccessSubject): Promise<SubjectAccess> {
    return {
      grants: subject.kind === 'user' ? this.grants.filter((grant) => grant.user === subject.id) : [],
      revocations: this.revocations.filter(
        (revocation) => revocation.subject.kind === subject.kind && revocation.subject.id === subject.id,
      ),
    };
  }
}

function handlerWith(identity: BenchIdentity, access: AccessStore | undefined): InterceptorHandler {
  const bundle = loadPolicyBundle(POLICY_DIR);
  const verified = new CachingTokenVerifier(identity.verifier);
  return createInterceptorHandler({
    verifier: access === undefined ? verified : new GrantingVerifier(verified, access, quiet),
    pdp: new CachingDecisionPoint(new CedarDecisionPoint(bundle), { ttlSeconds: 30, maxEntries: 10_000 }),
    audit: { write: async () => undefined },
    log: quiet,
    settings: {
      model: { namespace: bundle.namespace, resourceId: 'gateway', inputTypes: bundle.inputTypes },
      injection: DEFAULT_INJECTION,
      mode: 'enforce',
      catalog: bundle.catalog,
      redaction: DEFAULT_REDACTION,
      audit: { eventSource: 'mcp-identity-bench', recipientAccountId: '123456789012' },
      maxBodyBytes: 1024 * 1024,
    },
    ...(access === undefined ? {} : { gates: [revocationGate(access)] }),
  });
}

const UPDATE = { order_id: '3001', status: 'shipped' };
const grantFor = (user: string): RoleGrant => {
  const now = Math.floor(Date.now() / 1000);
  return {
    id: 'g-bench',
    user,
    role: 'order-admin',
    reason: 'bench',
    issuedBy: 'local:bench',
    issuedAt: now,
    expiresAt: now + 86_400,
  };
};

/** A DynamoDBClient stand-in: the real QueryCommand goes in, a documented Query answer comes out, later. */
function slowDynamo(items: ReturnType<typeof grantItem>[]): DynamoDBClient {
  return {
    send: async () => {
      await new Promise((resolve) => setTimeout(resolve, DYNAMODB_LATENCY_MS));
      return { Items: items, Count: items.length };
    },
  } as unknown as DynamoDBClient;
}

async function lookupRows(
  identity: BenchIdentity,
  profile: BenchProfile,
  floor: { p50: number; p99: number },
  progress: Progress,
): Promise<BenchRow[]> {
  // carol has no roles of her own: every allowed call below is allowed by her grant.
  const carol = await identity.token('carol', []);
  const bob = await identity.token('bob', ['order-admin']);
  const dir = mkdtempSync(join(tmpdir(), 'mcp-identity-bench-access-'));
  try {
    const file = new FileAccessLedger(dir);
    await file.addGrant(grantFor('carol'));
    const memory = new MemoryStore();
    memory.grants.push(grantFor('carol'));
    const coldFile = new FreshCacheEachTime(file);
    const coldDynamo = new FreshCacheEachTime(
      new DynamoDbAccessStore(slowDynamo([grantItem(grantFor('carol'))]), 'bench'),
    );
    const variants: {
      id: string;
      label: string;
      token: string;
      handler: InterceptorHandler;
      before?: () => void;
    }[] = [
      {
        id: 'access-off',
        label: 'no grants or kill switch (bob, token role, decision cached)',
        token: bob,
        handler: handlerWith(identity, undefined),
      },
      {
        id: 'access-warm',
        label: 'grant + revocation lookup warm (per-subject cache hit; carol via her grant)',
        token: carol,
        handler: handlerWith(identity, new CachingAccessStore(memory, { ttlSeconds: 3600 })),
      },
      {
        id: 'access-cold-file',
        label: 'lookup cold: first request in a bound, local access.json read',
        token: carol,
        handler: handlerWith(identity, coldFile),
        before: () => coldFile.renew(),
      },
      {
        id: 'access-cold-dynamodb',
        label: `lookup cold: first request in a bound, DynamoDB Query codec + ${DYNAMODB_LATENCY_MS} ms injected`,
        token: carol,
        handler: handlerWith(identity, coldDynamo),
        before: () => coldDynamo.renew(),
      },
    ];
    const probes: Probe[] = variants.map((variant) =>
      probe<InterceptorOutput>({
        id: variant.id,
        label: variant.label,
        ...(variant.before === undefined ? {} : { before: variant.before }),
        run: () =>
          variant.handler(
            JSON.parse(
              JSON.stringify(toolCallEvent(variant.token, 'orders___update_order', UPDATE)),
            ) as never,
          ),
        check: (output) => expectAllowed(output, variant.token === bob ? 'bob' : 'carol'),
      }),
    );
    progress('access: grant and revocation lookup, warm and cold');
    const measured = await measureSideBySide(probes, profile.hot, progress);
    const off = measured.find((row) => row.id === 'access-off')?.latency.p50 ?? 0;
    return measured.map((row) => ({
      group: 'access',
      id: row.id,
      label: row.label,
      latency: row.latency,
      ratio: { to: 'floor', p50: row.latency.p50 / floor.p50, p99: row.latency.p99 / floor.p99 },
      ...(row.id === 'access-off'
        ? {}
        : { note: `adds ${((row.latency.p50 - off) / floor.p50).toFixed(2)}× floor at p50 over access-off` }),
      failures: row.failures,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * N interceptors (each its own per-subject cache with TTL = the bound, as N Lambda instances) serve one user
 * back to back on the real clock, their caches out of phase; the revocation is written to the shared store and
 * each interceptor's time to its first deny is taken. Every one must deny within the bound.
 */
async function propagationRow(
  identity: BenchIdentity,
  profile: BenchProfile,
  progress: Progress,
): Promise<BenchRow> {
  const bound = profile.quick ? 1 : 5;
  const instances = profile.quick ? 4 : 20;
  const store = new MemoryStore();
  const bob = await identity.token('bob', ['order-admin']);
  const handlers = Array.from({ length: instances }, () =>
    handlerWith(identity, new CachingAccessStore(store, { ttlSeconds: bound })),
  );
  const call = (handler: InterceptorHandler) =>
    handler(JSON.parse(JSON.stringify(toolCallEvent(bob, 'orders___update_order', UPDATE))) as never);
  progress(`access: revocation propagation across ${instances} interceptors, bound ${bound} s`);
  const failures: string[] = [];
  // Warm each at a different moment over one bound, so their cache entries expire out of phase.
  for (const [index, handler] of handlers.entries()) {
    const allowed = expectAllowed(await call(handler), 'bob');
    if (allowed !== true) failures.push(`before the revocation: ${allowed}`);
    await new Promise((resolve) => setTimeout(resolve, (bound * 1000) / instances));
    void index;
  }
  const written = performance.now();
  store.revocations.push({
    id: 'r-bench',
    subject: { kind: 'user', id: 'bob' },
    reason: 'bench',
    issuedBy: 'local:bench',
    issuedAt: Math.floor(Date.now() / 1000),
  });
  const delays = await Promise.all(
    handlers.map(async (handler) => {
      for (;;) {
        const output = await call(handler);
        if (expectDenied(output) === true) return performance.now() - written;
        if (performance.now() - written > bound * 1000 * 3) return Number.POSITIVE_INFINITY;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  );
  const sorted = [...delays].sort((a, b) => a - b);
  const worst = sorted.at(-1) ?? 0;
  // One request interval (20 ms) plus scheduling on a shared machine over the bound.
  if (worst > bound * 1000 + 250)
    failures.push(`an interceptor took ${worst.toFixed(0)} ms (bound ${bound} s)`);
  return {
    group: 'access',
    id: 'revocation-propagation',
    label: `revocation → first deny, ${instances} interceptors, bound ${bound} s (real clock)`,
    metric: { name: 'worst', value: worst, unit: 'ms' },
    note: `median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, worst ${worst.toFixed(0)} ms; requests every 20 ms`,
    failures,
  };
}

export async function accessRows(
  identity: BenchIdentity,
  profile: BenchProfile,
  floor: { p50: number; p99: number },
  progress: Progress,
): Promise<BenchRow[]> {
  return [
    ...(await lookupRows(identity, profile, floor, progress)),
    await propagationRow(identity, profile, progress),
  ];
}
