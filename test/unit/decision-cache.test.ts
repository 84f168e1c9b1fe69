import { CachingDecisionPoint } from '../../lambda/adapters/decision-cache';
import type { AuthorizationRequest } from '../../lambda/core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../../lambda/core/decision';

const request = (expiresAt: number, extra: Record<string, unknown> = {}): AuthorizationRequest => ({
  principal: { type: 'U', id: 'alice' },
  action: { type: 'A', id: 't' },
  resource: { type: 'G', id: 'g' },
  context: { token: { expiresAt }, ...(extra as object) },
  entities: [],
});

function counting(answer: PolicyAnswer = { decision: 'allow', determiningPolicies: ['p'], errors: [] }) {
  const calls: AuthorizationRequest[] = [];
  const pdp: PolicyDecisionPoint = {
    isAuthorized: async (r) => {
      calls.push(r);
      return answer;
    },
    couldBeAllowed: async (rs) => rs.map(() => true),
  };
  return { pdp, calls };
}

describe('CachingDecisionPoint', () => {
  let nowMs = 1_000_000_000_000;
  const clock = () => nowMs;

  it('reuses an answer for the identical request within the TTL, and asks again after it', async () => {
    const { pdp, calls } = counting();
    const cache = new CachingDecisionPoint(pdp, { ttlSeconds: 30, maxEntries: 10 }, clock);
    const exp = nowMs / 1000 + 3600;
    await cache.isAuthorized(request(exp));
    await cache.isAuthorized(request(exp));
    expect(calls).toHaveLength(1);
    nowMs += 31_000;
    await cache.isAuthorized(request(exp));
    expect(calls).toHaveLength(2);
    expect(cache.hits).toBe(1);
  });

  it('keys on the whole request: other arguments are another decision', async () => {
    const { pdp, calls } = counting();
    const cache = new CachingDecisionPoint(pdp, { ttlSeconds: 30, maxEntries: 10 }, clock);
    const exp = nowMs / 1000 + 3600;
    await cache.isAuthorized(request(exp, { input: { amount: 1 } }));
    await cache.isAuthorized(request(exp, { input: { amount: 9999 } }));
    expect(calls).toHaveLength(2);
  });

  it('never keeps an answer beyond the token expiry', async () => {
    const { pdp, calls } = counting();
    const cache = new CachingDecisionPoint(pdp, { ttlSeconds: 300, maxEntries: 10 }, clock);
    const exp = nowMs / 1000 + 5;
    await cache.isAuthorized(request(exp));
    nowMs += 6_000;
    await cache.isAuthorized(request(exp));
    expect(calls).toHaveLength(2);
  });

  it('does not cache failures', async () => {
    let fail = true;
    const pdp: PolicyDecisionPoint = {
      isAuthorized: async () => {
        if (fail) throw new Error('down');
        return { decision: 'deny', determiningPolicies: [], errors: [] };
      },
      couldBeAllowed: async () => [],
    };
    const cache = new CachingDecisionPoint(pdp, { ttlSeconds: 30, maxEntries: 10 }, clock);
    await expect(cache.isAuthorized(request(nowMs / 1000 + 100))).rejects.toThrow('down');
    fail = false;
    await expect(cache.isAuthorized(request(nowMs / 1000 + 100))).resolves.toMatchObject({
      decision: 'deny',
    });
  });

  it('is bounded, and can be turned off', async () => {
    const { pdp, calls } = counting();
    const bounded = new CachingDecisionPoint(pdp, { ttlSeconds: 30, maxEntries: 2 }, clock);
    const exp = nowMs / 1000 + 100;
    for (const id of [1, 2, 3, 1]) await bounded.isAuthorized(request(exp, { id }));
    expect(calls).toHaveLength(4);
    const off = new CachingDecisionPoint(pdp, { ttlSeconds: 0, maxEntries: 10 }, clock);
    await off.isAuthorized(request(exp));
    await off.isAuthorized(request(exp));
    expect(calls).toHaveLength(6);
    await expect(off.couldBeAllowed([request(exp)])).resolves.toEqual([true]);
  });
});
