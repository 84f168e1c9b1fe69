import { createHash } from 'node:crypto';
import { AssertionCache } from '../../lambda/adapters/assertion-cache';
import { LocalAssertionSigner } from '../../lambda/adapters/local-assertion-signer';
import type { Caller } from '../../lambda/core/caller';
import { assertionIdentity } from '../../lambda/core/identity-assertion';
import type { BenchProfile } from '../budget';
import type { Check } from '../outcome';
import type { BenchRow } from '../report';
import { measureSideBySide, type Progress, probe } from '../sampling';

const GROUP = 'identity assertion (signing cache, local ES256 signer in place of KMS)';
const ISSUER = 'https://gateway.example.com';
const TARGETS = ['crm', 'billing', 'search'] as const;
const USERS = 20;
const T0 = 1_800_000_000_000;

/** A small seeded generator (mulberry32), so the mix is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 20 users with realistic claims: a few roles, an agent, some with a delegation chain. */
function users(expiresAt: number, tokenGeneration = 0): Caller[] {
  return Array.from({ length: USERS }, (_, index) => ({
    subject: `user-${index}@example.com`,
    issuer: 'https://idp.example.com',
    roles: ['employee', index % 3 === 0 ? 'order-admin' : 'developer', `team-${index % 4}`],
    agent: index % 2 === 0 ? 'claude-desktop' : 'cursor',
    tokenId: `token-${index}-${tokenGeneration}`,
    actors: index % 5 === 0 ? ['orchestrator-agent'] : [],
    expiresAt,
  }));
}

/** What a returned assertion must say: this caller, this target. */
function checkAssertion(token: string, caller: Caller, target: string): Check {
  const payload = token.split('.')[1];
  if (payload === undefined) return 'not a compact JWS';
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (claims.sub !== caller.subject || claims.aud !== target)
    return `assertion for ${String(claims.sub)} → ${String(claims.aud)}, expected ${caller.subject} → ${target}`;
  return true;
}

/**
 * Sign calls per 1,000 assertions for 20 users × 3 targets in a seeded random order, on a simulated clock
 * spread over `spanSeconds`, tokens refreshed every 15 minutes with the same claims, calls arriving in
 * concurrent batches of 10 (singleflight). Every returned assertion is checked.
 */
async function signsPerThousand(
  spanSeconds: number,
  seed: number,
): Promise<{ signs: number; failures: string[] }> {
  let now = T0;
  // It counts its Sign calls: in AWS each would be a KMS Sign call.
  const signer = new LocalAssertionSigner();
  const cache = new AssertionCache(signer, { issuer: ISSUER, ttlSeconds: 300 }, () => now);
  const next = random(seed);
  const failures: string[] = [];
  const calls = 1000;
  const batch = 10;
  for (let start = 0; start < calls; start += batch) {
    now = T0 + Math.floor((start / calls) * spanSeconds * 1000);
    const generation = Math.floor((now - T0) / 900_000);
    const callers = users(Math.floor(now / 1000) + 900, generation);
    const pending = Array.from({ length: batch }, () => {
      const caller = callers[Math.floor(next() * USERS)] as Caller;
      const target = TARGETS[Math.floor(next() * TARGETS.length)] as string;
      return cache.assertion(caller, target).then((token) => checkAssertion(token, caller, target));
    });
    for (const check of await Promise.all(pending))
      if (check !== true && failures.length < 3) failures.push(check);
  }
  return { signs: signer.signs, failures };
}

export const SPANS: readonly { readonly id: string; readonly label: string; readonly seconds: number }[] = [
  { id: 'assertion-signs-1min', label: 'Sign calls per 1,000 calls within 1 min', seconds: 60 },
  { id: 'assertion-signs-10min', label: 'Sign calls per 1,000 calls over 10 min', seconds: 600 },
  { id: 'assertion-signs-1h', label: 'Sign calls per 1,000 calls over 1 h', seconds: 3600 },
];

/**
 * The hot path of getting an assertion with a warm cache, side by side with its floor (one SHA-256 of the key
 * material, which every lookup computes), and a miss (signing with the local node:crypto ES256 key: in AWS a
 * KMS Sign round trip instead). Then the Sign calls a realistic mix makes per 1,000 calls.
 */
export async function assertionRows(
  profile: BenchProfile,
  progress: Progress,
  spans: typeof SPANS = SPANS,
): Promise<BenchRow[]> {
  const callers = users(Math.floor(Date.now() / 1000) + 3600);
  const pairs = callers.flatMap((caller) => TARGETS.map((target) => ({ caller, target })));
  const keyMaterial = pairs.map(({ caller, target }) =>
    JSON.stringify(assertionIdentity(caller, ISSUER, target)),
  );
  const warm = new AssertionCache(new LocalAssertionSigner(), { issuer: ISSUER, ttlSeconds: 300 });
  for (const { caller, target } of pairs) await warm.assertion(caller, target);
  let cold: AssertionCache | undefined;
  const pair = (iteration: number) => pairs[iteration % pairs.length] as (typeof pairs)[number];

  progress('identity assertion: floor, warm cache, miss (local signer), side by side');
  const measured = await measureSideBySide(
    [
      probe<string>({
        id: 'assertion-floor',
        label: 'floor: SHA-256 of the key material',
        run: async (iteration) =>
          createHash('sha256')
            .update(keyMaterial[iteration % keyMaterial.length] as string)
            .digest('base64url'),
        check: (digest) => (digest.length === 43 ? true : `digest of ${digest.length} characters`),
      }),
      probe<string>({
        id: 'assertion-hit',
        label: 'assertion, warm cache (hit)',
        run: (iteration) => warm.assertion(pair(iteration).caller, pair(iteration).target),
        check: (token, iteration) => checkAssertion(token, pair(iteration).caller, pair(iteration).target),
      }),
      probe<string>({
        id: 'assertion-miss-local',
        label: 'assertion, miss (local ES256 sign; KMS adds a network round trip)',
        before: () => {
          cold = new AssertionCache(new LocalAssertionSigner(), { issuer: ISSUER, ttlSeconds: 300 });
        },
        run: (iteration) =>
          (cold as AssertionCache).assertion(pair(iteration).caller, pair(iteration).target),
        check: (token, iteration) => checkAssertion(token, pair(iteration).caller, pair(iteration).target),
      }),
    ],
    profile.hot,
    progress,
  );
  const floor = measured[0];
  const rows: BenchRow[] = measured.map((row) => ({
    group: GROUP,
    id: row.id,
    label: row.label,
    latency: row.latency,
    ratio: {
      to: 'sha256 floor',
      p50: row.latency.p50 / (floor?.latency.p50 ?? Number.NaN),
      p99: row.latency.p99 / (floor?.latency.p99 ?? Number.NaN),
    },
    ...(row.id === 'assertion-hit'
      ? { note: `hits ${warm.hits}, signs ${warm.signs} (the ${pairs.length} warm-up signs only)` }
      : {}),
    failures: [
      ...row.failures,
      ...(row.id === 'assertion-hit' && warm.signs !== pairs.length
        ? [`the warm cache signed ${warm.signs - pairs.length} times after warm-up`]
        : []),
    ],
  }));

  progress('identity assertion: Sign calls per 1,000 calls, 20 users × 3 targets, random order');
  for (const span of spans) {
    const { signs, failures } = await signsPerThousand(span.seconds, 12);
    rows.push({
      group: GROUP,
      id: span.id,
      label: span.label,
      metric: { name: 'Sign calls', value: signs, unit: 'Sign / 1,000' },
      note: `${USERS} users × ${TARGETS.length} targets = ${pairs.length} (caller, target) pairs, seeded random order, batches of 10 concurrent calls, tokens refreshed every 15 min; without the cache: 1,000`,
      failures,
    });
  }
  return rows;
}
