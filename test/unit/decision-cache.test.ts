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

  it('caches tools/list answers per tool, asking only for the tools it does not know yet', async () => {
    const asked: string[][] = [];
    const pdp: PolicyDecisionPoint = {
      isAuthorized: async () => ({ decision: 'deny', determiningPolicies: [], errors: [] }),
      couldBeAllowed: async (requests) => {
        asked.push(requests.map((r) => r.action.id));
        return requests.map((r) => r.action.id !== 'hidden');
      },
    };
    const cache = new CachingDecisionPoint(pdp, { ttlSeconds: 30, maxEntries: 100 }, clock);
    const exp = nowMs / 1000 + 3600;
    const ask = (...ids: string[]) =>
      cache.couldBeAllowed(ids.map((id) => ({ ...request(exp), action: { type: 'A', id } })));
    expect(await ask('a', 'hidden')).toEqual([true, false]);
    expect(await ask('hidden', 'a', 'b')).toEqual([false, true, true]);
    expect(asked).toEqual([['a', 'hidden'], ['b']]);
    nowMs += 31_000;
    await ask('a');
    expect(asked.at(-1)).toEqual(['a']);
  });

  it('does not cache a failed tools/list evaluation, and refuses a short answer', async () => {
    let fail = true;
    const pdp: PolicyDecisionPoint = {
      isAuthorized: async () => ({ decision: 'deny', determiningPolicies: [], errors: [] }),
      couldBeAllowed: async (requests) => {
        if (fail) throw new Error('throttled');
        return requests.slice(1).map(() => true);
      },
    };
    const cache = new CachingDecisionPoint(pdp, { ttlSeconds: 30, maxEntries: 100 }, clock);
    const exp = nowMs / 1000 + 3600;
    const requests = [request(exp), { ...request(exp), action: { type: 'A', id: 'other' } }];
    await expect(cache.couldBeAllowed(requests)).rejects.toThrow('throttled');
    fail = false;
    await expect(cache.couldBeAllowed(requests)).rejects.toThrow(/different number/);
  });
});
