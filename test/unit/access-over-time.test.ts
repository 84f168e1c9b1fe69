import { CachingAccessStore } from '../../lambda/adapters/access-cache';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { CachingDecisionPoint } from '../../lambda/adapters/decision-cache';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import type {
  AccessStore,
  AccessSubject,
  Revocation,
  RoleGrant,
  SubjectAccess,
} from '../../lambda/core/access';
import type { AuditEventData } from '../../lambda/core/audit-event';
import { GrantingVerifier, revocationGate } from '../../lambda/guard/access-gates';
import { createGuard } from '../../lambda/guard/guard';
import type { GuardRequest, GuardResult } from '../../lambda/guard/types';
import { DevIssuer } from '../../local/dev-issuer';
import { AUDIENCE, MemoryAuditSink, policyBundle, settings, silentLog, USERS } from '../helpers/harness';

/**
 * Grants and the kill switch through the whole guard (real tokens, real Cedar, the real decision cache), with a
 * fake clock for everything time-bound: the grant's expiry, the lookup cache and the decision cache.
 */

let issuer: DevIssuer;
let jwt: JwtTokenVerifier;
beforeAll(async () => {
  issuer = await DevIssuer.start();
  jwt = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
  await jwt.hydrate();
});
afterAll(() => issuer.stop());

/** An in-memory store that counts its reads and can be made to fail. */
class MemoryStore implements AccessStore {
  grants: RoleGrant[] = [];
  revocations: Revocation[] = [];
  reads = 0;
  failing = false;
  async read(subject: AccessSubject): Promise<SubjectAccess> {
    this.reads += 1;
    if (this.failing) throw new Error('ProvisionedThroughputExceededException');
    return {
      grants: subject.kind === 'user' ? this.grants.filter((grant) => grant.user === subject.id) : [],
      revocations: this.revocations.filter(
        (revocation) => revocation.subject.kind === subject.kind && revocation.subject.id === subject.id,
      ),
    };
  }
}

const START = Date.now();

function build(options: { lookupTtlSeconds?: number; decisionTtlSeconds?: number } = {}) {
  let now = START;
  const clock = () => now;
  const store = new MemoryStore();
  const cached = new CachingAccessStore(store, { ttlSeconds: options.lookupTtlSeconds ?? 5 }, clock);
  const audit = new MemoryAuditSink();
  const log = silentLog();
  const pdp = new CachingDecisionPoint(
    new CedarDecisionPoint(policyBundle()),
    { ttlSeconds: options.decisionTtlSeconds ?? 30, maxEntries: 100 },
    clock,
  );
  const guard = createGuard({
    verifier: new GrantingVerifier(jwt, cached, log, clock),
    pdp,
    audit,
    log,
    settings: settings(),
    gates: [revocationGate(cached, clock)],
    now: () => new Date(clock()),
  });
  const last = (): AuditEventData => {
    const event = audit.events.at(-1);
    if (event === undefined) throw new Error('no audit event');
    return event;
  };
  return {
    guard,
    store,
    pdp,
    log,
    last,
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
    seconds: () => Math.floor(clock() / 1000),
  };
}

async function request(user: keyof typeof USERS, message: unknown): Promise<GuardRequest> {
  const token = await issuer.sign({ ...USERS[user], aud: AUDIENCE }, { ttlSeconds: 3600 });
  return {
    door: 'apigw',
    credential: { authorization: [`Bearer ${token}`] },
    message,
    parsed: true,
    facts: { headers: new Map(), sessionId: 's-1' },
  };
}

const update = {
  jsonrpc: '2.0',
  id: 3,
  method: 'tools/call',
  params: { name: 'orders___update_order', arguments: { order_id: 'o-1', status: 'shipped' } },
};
const list = { jsonrpc: '2.0', id: 4, method: 'tools/list', params: {} };

const forwarded = (result: GuardResult) => result.kind === 'forward';
const grant = (overrides: Partial<RoleGrant> = {}): RoleGrant => ({
  id: 'g-1',
  user: 'carol',
  role: 'order-admin',
  reason: 'INC-1234',
  issuedBy: 'local:ops',
  issuedAt: Math.floor(START / 1000),
  expiresAt: Math.floor(START / 1000) + 120,
  ...overrides,
});
const revocation = (overrides: Partial<Revocation> = {}): Revocation => ({
  id: 'r-1',
  subject: { kind: 'user', id: 'carol' },
  reason: 'laptop stolen',
  issuedBy: 'local:sec',
  issuedAt: Math.floor(START / 1000),
  ...overrides,
});

describe('just-in-time grants', () => {
  it("adds a grant's role to the decision and names the grant in the audit event, then drops it at expiry", async () => {
    const { guard, store, last, advance } = build();
    store.grants.push(grant());

    const granted = await guard.onRequest(await request('carol', update));
    expect(forwarded(granted)).toBe(true);
    const details = last().userIdentity.details ?? {};
    expect(JSON.parse(details.roles ?? '[]')).toEqual(['order-admin']);
    expect(JSON.parse(details.grants ?? '[]')).toEqual([
      { id: 'g-1', role: 'order-admin', expiresAt: grant().expiresAt },
    ]);

    advance(121); // past the grant's expiry; the decision cache (30 s) would still hold the allow if keyed on the token
    const expired = await guard.onRequest(await request('carol', update));
    expect(forwarded(expired)).toBe(false);
    expect(last().errorCode).toBe('AccessDenied');
    expect(last().userIdentity.details?.grants).toBeUndefined();
    expect(JSON.parse(last().userIdentity.details?.roles ?? '["x"]')).toEqual([]);
  });

  it('stops applying at expiry even while the lookup cache still holds the grant', async () => {
    const { guard, store, advance } = build({ lookupTtlSeconds: 300 });
    store.grants.push(grant({ expiresAt: Math.floor(START / 1000) + 10 }));
    expect(forwarded(await guard.onRequest(await request('carol', update)))).toBe(true);
    const reads = store.reads; // carol (grants, revocations) and her agent (revocations)
    advance(11);
    expect(forwarded(await guard.onRequest(await request('carol', update)))).toBe(false);
    expect(store.reads).toBe(reads);
  });

  it('takes effect once the lookup refreshes, not before', async () => {
    const { guard, store, advance } = build({ lookupTtlSeconds: 5 });
    expect(forwarded(await guard.onRequest(await request('carol', update)))).toBe(false);
    store.grants.push(grant({ expiresAt: Math.floor(START / 1000) + 600 }));
    advance(4);
    expect(forwarded(await guard.onRequest(await request('carol', update)))).toBe(false);
    advance(1.001);
    expect(forwarded(await guard.onRequest(await request('carol', update)))).toBe(true);
  });

  it('ignores revoked grants, grants for other users and unusable role names', async () => {
    const { guard, store } = build();
    store.grants.push(
      grant({ revokedAt: Math.floor(START / 1000) - 1 }),
      grant({ id: 'g-2', user: 'alice' }),
      grant({ id: 'g-3', role: 'order-admin ' }),
    );
    // The store is not trusted to filter by user: a grant for alice stored under carol's key is not carol's.
    store.read = async () => ({ grants: store.grants, revocations: [] });
    expect(forwarded(await guard.onRequest(await request('carol', update)))).toBe(false);
  });

  it('decides on the token roles when the grant store cannot be read, and notes it in the audit event', async () => {
    const { guard, store, last, log } = build();
    store.grants.push(grant());
    store.failing = true;
    // bob's own token role still works; carol's grant is ignored (fails closed for the grant only) — but the
    // revocation check cannot be read either, and that one refuses.
    const result = await guard.onRequest(await request('bob', update));
    expect(forwarded(result)).toBe(false);
    expect(last().errorCode).toBe('AuthorizationServiceError');
    expect(last().userIdentity.details?.grantLookup).toBe('unavailable');
    expect(log.lines.map((line) => line[0])).toContain(
      'the grant store could not be read; deciding on the token roles alone',
    );
  });
});

describe('grant lookup failure without the kill switch', () => {
  it('ignores grants and decides on the token roles', async () => {
    const store = new MemoryStore();
    store.failing = true;
    const audit = new MemoryAuditSink();
    const log = silentLog();
    const guard = createGuard({
      verifier: new GrantingVerifier(jwt, store, log),
      pdp: new CedarDecisionPoint(policyBundle()),
      audit,
      log,
      settings: settings(),
    });
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(true);
    expect(audit.events.at(-1)?.userIdentity.details?.grantLookup).toBe('unavailable');
    expect(forwarded(await guard.onRequest(await request('carol', update)))).toBe(false);
  });
});

describe('the kill switch', () => {
  it('turns a cached allow into a deny within the configured bound', async () => {
    const bound = 5;
    const { guard, store, pdp, last, advance } = build({ lookupTtlSeconds: bound, decisionTtlSeconds: 30 });
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(true);
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(true);
    expect(pdp.hits).toBeGreaterThan(0); // the allow is served from the decision cache

    store.revocations.push(revocation({ subject: { kind: 'user', id: 'bob' } }));
    let deniedAfter: number | undefined;
    for (let tenths = 0; tenths <= bound * 10 + 1; tenths += 1) {
      const result = await guard.onRequest(await request('bob', update));
      if (!forwarded(result)) {
        deniedAfter = tenths / 10;
        break;
      }
      advance(0.1);
    }
    expect(deniedAfter).toBeDefined();
    expect(deniedAfter as number).toBeLessThanOrEqual(bound);
    expect(last().errorCode).toBe('Revoked');
    expect(last().errorMessage).toBe('Access for this user is revoked (r-1): laptop stolen');
  });

  it('refuses with the revocation reason even where policy would deny anyway, and for listings', async () => {
    const { guard, store, last } = build();
    store.revocations.push(revocation());
    expect(forwarded(await guard.onRequest(await request('carol', update)))).toBe(false);
    expect(last().errorCode).toBe('Revoked');
    const listing = await guard.onRequest(await request('carol', list));
    expect(listing.kind).toBe('answer');
    expect(listing.kind === 'answer' && listing.status).toBe(403);
    expect(last().errorCode).toBe('Revoked');
  });

  it('revokes an agent for every user it acts for, and no one else', async () => {
    const { guard, store } = build();
    store.revocations.push(revocation({ subject: { kind: 'agent', id: 'agent-cli' } }));
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(false);
    store.revocations = [revocation({ subject: { kind: 'agent', id: 'other-agent' } })];
    const fresh = build();
    fresh.store.revocations = store.revocations;
    expect(forwarded(await fresh.guard.onRequest(await request('bob', update)))).toBe(true);
  });

  it('refuses a revoked agent named by any agent claim or anywhere in the delegation chain', async () => {
    const { guard, store } = build();
    store.revocations.push(revocation({ subject: { kind: 'agent', id: 'travel-bot' } }));
    const signed = async (claims: Record<string, unknown>): Promise<GuardRequest> => ({
      ...(await request('bob', update)),
      credential: {
        authorization: [
          `Bearer ${await issuer.sign({ ...USERS.bob, aud: AUDIENCE, ...claims }, { ttlSeconds: 3600 })}`,
        ],
      },
    });
    // Behind a broker (RFC 8693 act chain, nested), and as azp beside another client_id.
    for (const claims of [
      { client_id: 'broker', act: { sub: 'travel-bot' } },
      { client_id: 'broker', act: { sub: 'relay', act: { sub: 'travel-bot' } } },
      { client_id: 'web-app', azp: 'travel-bot' },
    ]) {
      expect(forwarded(await guard.onRequest(await signed(claims)))).toBe(false);
    }
    expect(forwarded(await guard.onRequest(await signed({ client_id: 'web-app', azp: 'web-app' })))).toBe(
      true,
    );
  });

  it('ends when lifted or expired', async () => {
    const { guard, store, advance } = build({ lookupTtlSeconds: 1 });
    store.revocations.push(
      revocation({ subject: { kind: 'user', id: 'bob' }, expiresAt: Math.floor(START / 1000) + 60 }),
    );
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(false);
    advance(61);
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(true);
    store.revocations.push(revocation({ id: 'r-2', subject: { kind: 'user', id: 'bob' } }));
    advance(2);
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(false);
    store.revocations = store.revocations.map((entry) => ({ ...entry, liftedAt: Math.floor(START / 1000) }));
    advance(2);
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(true);
  });

  it('refuses when the revocation list cannot be read (a kill switch that fails open is not one)', async () => {
    const { guard, store, last } = build();
    store.failing = true;
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(false);
    expect(last().errorCode).toBe('AuthorizationServiceError');
  });

  it('remembers a failed read for at most a second, then reads the store again', async () => {
    const { guard, store, advance } = build({ lookupTtlSeconds: 5 });
    store.failing = true;
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(false);
    const reads = store.reads;
    store.failing = false;
    advance(0.5);
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(false);
    expect(store.reads).toBe(reads);
    advance(0.6);
    expect(forwarded(await guard.onRequest(await request('bob', update)))).toBe(true);
    expect(store.reads).toBeGreaterThan(reads);
  });

  it('hides every listed tool from a revoked caller in the response step', async () => {
    const { guard, store } = build();
    store.revocations.push(revocation({ subject: { kind: 'user', id: 'bob' } }));
    const token = await issuer.sign({ ...USERS.bob, aud: AUDIENCE }, { ttlSeconds: 3600 });
    const result = await guard.onResponse({
      door: 'apigw',
      credential: { authorization: [`Bearer ${token}`] },
      request: list,
      facts: { headers: new Map() },
      response: {
        status: 200,
        body: {
          jsonrpc: '2.0',
          id: 4,
          result: { tools: [{ name: 'orders___get_order', inputSchema: { type: 'object' } }] },
        },
      },
    });
    expect(result.kind).toBe('replace');
    expect(
      result.kind === 'replace' && (result.body as { result: { tools: unknown[] } }).result.tools,
    ).toEqual([]);
  });

  it('reads each subject once per bound however many requests arrive', async () => {
    const { guard, store, advance } = build({ lookupTtlSeconds: 5 });
    await Promise.all(Array.from({ length: 20 }, async () => guard.onRequest(await request('bob', update))));
    // bob (user by subject), bob@example.com (user by email) and agent-cli (agent): one read each.
    expect(store.reads).toBe(3);
    advance(5);
    await guard.onRequest(await request('bob', update));
    expect(store.reads).toBe(6);
  });
});
