import { JwtRsaVerifier } from 'aws-jwt-verify';
import type { Jwks } from 'aws-jwt-verify/jwk';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { loadPolicyBundle, type PolicyBundle } from '../../lambda/adapters/policy-files';
import { callerFromClaims } from '../../lambda/core/caller';
import { authorizationRequest } from '../../lambda/core/cedar-request';
import type { PolicyAnswer } from '../../lambda/core/decision';
import { parseToolName, type ToolName } from '../../lambda/core/mcp-operation';
import type { InterceptorOutput } from '../../lambda/doors/agentcore/contract';
import type { BenchProfile } from '../budget';
import {
  AUDIENCE,
  type BenchHandler,
  type BenchIdentity,
  benchHandler,
  CountingVerifier,
  expectAllowed,
  expectDenied,
  POLICY_DIR,
  toolCallEvent,
} from '../harness';
import type { BenchRow } from '../report';
import { measureSideBySide, type Probe, type Progress, probe } from '../sampling';

export const FLOOR_ID = 'floor';

/** Pre-signed tokens for the fresh-token row: three times the verified-caller cache's bound. */
const FRESH_POOL = 3000;

const BOB = { user: 'bob', roles: ['order-admin'] } as const;
const ALICE = { user: 'alice', roles: ['developer', 'db-reader'] } as const;

/** Refunds up to 500 are bob's to make (policies/large-refunds.cedar forbids more): every call is allowed. */
const allowedRefund = (iteration: number) => ({
  order_id: String(1000 + (iteration % 50)),
  status: 'refunded',
  amount: (iteration % 50) * 10,
});

/**
 * The floor every request pays whatever we do: aws-jwt-verify RS256 verification against a cached JWKS, and
 * JSON stringify + parse of the same AgentCore interceptor event (the Lambda runtime's codec).
 */
export async function floorProbe(identity: BenchIdentity): Promise<{ probe: Probe; eventBytes: number }> {
  const token = await identity.token(BOB.user, BOB.roles);
  const verifier = JwtRsaVerifier.create({
    issuer: identity.issuer.issuer,
    audience: AUDIENCE,
    jwksUri: identity.issuer.jwksUri,
  });
  // The JWKS document as the issuer serves it, cached up front (aws-jwt-verify fetches over https only).
  verifier.cacheJwks(JSON.parse(JSON.stringify(identity.issuer.jwks)) as Jwks);
  const event = toolCallEvent(token, 'orders___update_order', allowedRefund(0));
  return {
    eventBytes: Buffer.byteLength(JSON.stringify(event)),
    probe: probe({
      id: FLOOR_ID,
      label: 'floor: RS256 verify (cached JWKS) + JSON of the event',
      run: async () => {
        const parsed = JSON.parse(JSON.stringify(event)) as typeof event;
        const header = parsed.mcp.gatewayRequest.headers.Authorization as string;
        return verifier.verify(header.slice('Bearer '.length));
      },
      check: (payload) => (payload.sub === BOB.user ? true : `verified sub ${String(payload.sub)}`),
    }),
  };
}

/** Bob as a verified token names him (the caller the engine-only rows decide for). */
function benchCaller() {
  return callerFromClaims({
    sub: BOB.user,
    iss: 'https://issuer.example',
    aud: AUDIENCE,
    exp: 4_000_000_000,
    iat: 1_700_000_000,
    jti: 'bench-token',
    email: `${BOB.user}@example.com`,
    roles: [...BOB.roles],
    client_id: 'bench-agent',
  });
}

/** A row that asks the engine adapter alone about bob's refund, the request built in the timed step. */
function engineProbe(
  id: string,
  label: string,
  engine: CedarDecisionPoint,
  check: (answer: PolicyAnswer) => true | string,
): Probe {
  const { bundle } = engine;
  const caller = benchCaller();
  const model = { namespace: bundle.namespace, resourceId: 'gateway', inputTypes: bundle.inputTypes };
  const tool = parseToolName('orders___update_order') as ToolName;
  return probe<PolicyAnswer>({
    id,
    label,
    run: (iteration) =>
      engine.isAuthorized(
        authorizationRequest(
          caller,
          { kind: 'tool-call', id: iteration, tool, arguments: allowedRefund(iteration) },
          model,
        ),
      ),
    check,
  });
}

/**
 * The engine alone, for the bound on the cache-off rows: cedar-wasm's statefulIsAuthorized over the preparsed
 * slice and schema, request validated (what the handler adds is the rest).
 */
function cedarAloneProbe(engine: CedarDecisionPoint): Probe {
  return engineProbe('cedar-alone', 'Cedar evaluation alone (request built, cache off)', engine, (answer) =>
    answer.decision === 'allow' ? true : `expected allow, got ${answer.decision}`,
  );
}

/**
 * What cedar-wasm costs before it reads a policy: the same request, adapter and preparsed schema as
 * {@link cedarAloneProbe}, over a policy set with no policies (so a default deny). cedar-wasm takes the request
 * as one JSON text and turns its context and entities into Cedar values against the schema on every call; this
 * row shows that part of the cache-off rows in every run.
 */
function cedarFixedCostProbe(bundle: PolicyBundle): Probe {
  return engineProbe(
    'cedar-fixed-cost',
    'Cedar with no policies (request parsing and validation)',
    new CedarDecisionPoint({ ...bundle, policies: [] }),
    (answer) =>
      answer.decision === 'deny' && answer.determiningPolicies.length === 0 && answer.errors.length === 0
        ? true
        : `expected a default deny, got ${JSON.stringify(answer).slice(0, 160)}`,
  );
}

function hitRate(cache: BenchHandler['cache']): string {
  const total = cache.hits + cache.misses;
  return total === 0 ? 'no cache lookups' : `decision cache hits ${((100 * cache.hits) / total).toFixed(1)}%`;
}

/** A tools/call scenario: who calls what, and the outcome every call must get. */
export interface ToolCallScenario {
  readonly id: string;
  readonly label: string;
  readonly handler: BenchHandler;
  /** The token for an iteration (a fresh one per call, or one for all). */
  readonly token: (iteration: number) => Promise<string> | string;
  readonly call: (iteration: number) => { tool: string; args: Record<string, unknown> };
  readonly expect: { readonly outcome: 'allow'; readonly user: string } | { readonly outcome: 'deny' };
  /** When set, each call must have verified its token (a count that grows by one per call). */
  readonly verified?: () => number;
}

export function toolCallProbe(scenario: ToolCallScenario): Probe {
  let event: ReturnType<typeof toolCallEvent> | undefined;
  let verifiedBefore = 0;
  return probe<InterceptorOutput>({
    id: scenario.id,
    label: scenario.label,
    before: async (iteration) => {
      const { tool, args } = scenario.call(iteration);
      event = toolCallEvent(await scenario.token(iteration), tool, args, iteration);
      verifiedBefore = scenario.verified?.() ?? 0;
    },
    run: () => scenario.handler.handler(event),
    check: (output) => {
      if (scenario.verified !== undefined && scenario.verified() !== verifiedBefore + 1)
        return `expected the token to be verified once, verified ${scenario.verified() - verifiedBefore} times`;
      return scenario.expect.outcome === 'allow'
        ? expectAllowed(output, scenario.expect.user)
        : expectDenied(output);
    },
  });
}

/**
 * The REQUEST step of tools/call side by side with the floor: decision cache off, on, a cache hit with a
 * fresh token carrying the same claims, and a policy denial.
 */
export async function hotPathRows(
  identity: BenchIdentity,
  profile: BenchProfile,
  progress: Progress,
): Promise<{ rows: BenchRow[]; floorP50: number; floorP99: number }> {
  const bundle = loadPolicyBundle(POLICY_DIR);
  const floor = await floorProbe(identity);
  const bobToken = await identity.token(BOB.user, BOB.roles);
  const aliceToken = await identity.token(ALICE.user, ALICE.roles);
  const engine = new CedarDecisionPoint(bundle);
  const uncached = benchHandler(bundle, identity.verifier, 0, engine);
  const cached = benchHandler(bundle, identity.verifier, 300);
  // Fresh tokens come from a pool signed up front, larger than the verified-caller cache (1,000 tokens), taken
  // in turn: by the time a token comes round again it has been evicted, so every call verifies its token (the
  // counting verifier proves it) and none signs one.
  const freshVerifier = new CountingVerifier(identity.verifier);
  const freshTokens = benchHandler(bundle, freshVerifier, 300);
  // A short run needs no more tokens than it makes calls (if it made more, the check below would say so).
  const freshPool = await identity.tokens(
    BOB.user,
    BOB.roles,
    Math.min(FRESH_POOL, profile.hot.warmup + profile.hot.maxIterations + profile.hot.rounds),
  );
  const refund = (iteration: number) => ({ tool: 'orders___update_order', args: allowedRefund(iteration) });
  const allowBob = { outcome: 'allow', user: BOB.user } as const;
  const probes: Probe[] = [
    floor.probe,
    cedarFixedCostProbe(bundle),
    cedarAloneProbe(engine),
    toolCallProbe({
      id: 'call-cache-off',
      label: 'tools/call allow, decision cache off',
      handler: uncached,
      token: () => bobToken,
      call: refund,
      expect: allowBob,
    }),
    toolCallProbe({
      id: 'call-cache-on',
      label: 'tools/call allow, cache on (hit, same token)',
      handler: cached,
      token: () => bobToken,
      call: refund,
      expect: allowBob,
    }),
    toolCallProbe({
      id: 'call-cache-fresh-token',
      label: 'tools/call allow, cache on, fresh token same claims',
      handler: freshTokens,
      token: (iteration) => freshPool[iteration % freshPool.length] as string,
      call: refund,
      expect: allowBob,
      verified: () => freshVerifier.verified,
    }),
    toolCallProbe({
      id: 'call-deny',
      label: 'tools/call deny (no permit / forbid), cache off',
      handler: uncached,
      token: (iteration) => (iteration % 2 === 0 ? aliceToken : bobToken),
      // alice has no permit for update_order; bob's refunds above 500 meet the forbid.
      call: (iteration) => ({
        tool: 'orders___update_order',
        args: { order_id: '1001', status: 'refunded', amount: 501 + (iteration % 400) },
      }),
      expect: { outcome: 'deny' },
    }),
  ];
  progress(`hot path: floor and ${probes.length - 1} tools/call scenarios, side by side`);
  const measured = await measureSideBySide(probes, profile.hot, progress);
  const floorRow = measured[0];
  const floorP50 = floorRow?.latency.p50 ?? Number.NaN;
  const floorP99 = floorRow?.latency.p99 ?? Number.NaN;
  const notes: Record<string, string> = {
    [FLOOR_ID]: `event ${floor.eventBytes} bytes`,
    'call-cache-on': hitRate(cached.cache),
    'call-cache-fresh-token': `${hitRate(freshTokens.cache)}; every token verified (${freshVerifier.verified} verifications); ${freshPool.length} tokens signed before measuring`,
  };
  const rows = measured.map(
    (row): BenchRow => ({
      group: 'hot path (REQUEST step, local Cedar, policies/)',
      id: row.id,
      label: row.label,
      latency: row.latency,
      ratio: { to: 'floor', p50: row.latency.p50 / floorP50, p99: row.latency.p99 / floorP99 },
      ...(notes[row.id] === undefined ? {} : { note: notes[row.id] }),
      failures: row.failures,
    }),
  );
  return { rows, floorP50, floorP99 };
}
