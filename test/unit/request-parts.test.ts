import fc from 'fast-check';
import { decisionCacheKey } from '../../lambda/adapters/decision-cache';
import { callerFromClaims } from '../../lambda/core/caller';
import { authorizationRequest, discoveryRequest } from '../../lambda/core/cedar-request';
import { parseToolName, type ToolName } from '../../lambda/core/mcp-operation';

const model = { namespace: 'Ns', resourceId: 'gw' };
const tool = parseToolName('orders___update_order') as ToolName;
const claims = (overrides: Record<string, unknown> = {}) => ({
  sub: 'bob',
  iss: 'https://issuer.example',
  exp: 2_000_000_000,
  iat: 1_900_000_000,
  jti: 'token-1',
  roles: ['order-admin'],
  email: 'bob@example.com',
  client_id: 'agent-1',
  ...overrides,
});
const call = (args: Record<string, unknown>) => ({
  kind: 'tool-call' as const,
  id: 1,
  tool,
  arguments: args,
});

describe("one caller's request parts are built once and shared, never changed", () => {
  it('shares the principal entities between the requests of one caller, frozen so no consumer can change them', () => {
    const caller = callerFromClaims(claims());
    const first = authorizationRequest(caller, call({ amount: 1 }), model);
    const second = discoveryRequest(caller, 'orders___get_order', model);
    expect(second.entities).toBe(first.entities);
    expect(Object.isFrozen(first.entities)).toBe(true);
    expect(Object.isFrozen(first.entities[0]?.parents)).toBe(true);
    expect(() => (first.entities as unknown[]).push({})).toThrow(TypeError);
    expect(() => {
      (first.entities[0]?.parents as unknown as { id: string }[])[0] = { id: 'finance-approver' };
    }).toThrow(TypeError);
    expect(authorizationRequest(caller, call({ amount: 2 }), model).entities[0]?.parents).toEqual([
      { type: 'Ns::Role', id: 'order-admin' },
    ]);
  });

  it('builds the parts again for another caller object and for another model', () => {
    const caller = callerFromClaims(claims());
    const other = callerFromClaims(claims({ roles: ['developer'] }));
    const mine = discoveryRequest(caller, 'orders___get_order', model);
    expect(discoveryRequest(other, 'orders___get_order', model).entities[0]?.parents).toEqual([
      { type: 'Ns::Role', id: 'developer' },
    ]);
    const elsewhere = discoveryRequest(caller, 'orders___get_order', {
      namespace: 'Other',
      resourceId: 'api',
    });
    expect(elsewhere.principal).toEqual({ type: 'Other::User', id: 'bob' });
    expect(elsewhere.resource).toEqual({ type: 'Other::Gateway', id: 'api' });
    expect(discoveryRequest(caller, 'orders___get_order', model)).toEqual(mine);
  });

  it('gives the cache key of a plain copy of the request (the shared JSON text never differs from a fresh one)', () => {
    const reads = [new Set<string>(), new Set(['id']), new Set(['expiresAt', 'issuedAt']), 'all' as const];
    fc.assert(
      fc.property(
        fc.record({
          sub: fc
            .string({ minLength: 1, maxLength: 8 })
            .filter((s) => s.trim() === s && !/[\p{Cc}\p{Cf}]/u.test(s)),
          roles: fc.uniqueArray(fc.constantFrom('a', 'b', 'order-admin', 'x y'), { maxLength: 3 }),
          jti: fc.constantFrom('t1', 't2'),
          exp: fc.constantFrom(2_000_000_000, 2_000_000_100),
        }),
        fc.dictionary(fc.constantFrom('amount', 'order_id', 'status'), fc.oneof(fc.integer(), fc.string())),
        fc.constantFrom(...reads),
        fc.boolean(),
        (who, args, read, list) => {
          const caller = callerFromClaims(claims(who));
          const request = list
            ? discoveryRequest(caller, 'orders___get_order', model)
            : authorizationRequest(caller, call(args), model);
          // Twice: the second time the shared parts' text comes from memory.
          decisionCacheKey(request, read);
          expect(decisionCacheKey(request, read)).toBe(decisionCacheKey(structuredClone(request), read));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keys a fresh token with the same claims as the first, unless a policy reads what changed', () => {
    const first = callerFromClaims(claims());
    const refreshed = callerFromClaims(claims({ jti: 'token-2', iat: 1_900_000_100, exp: 2_000_000_100 }));
    const noReads = new Set<string>();
    const readsId = new Set(['id']);
    const key = (caller: typeof first, reads: ReadonlySet<string>) =>
      decisionCacheKey(authorizationRequest(caller, call({ amount: 5 }), model), reads);
    expect(key(refreshed, noReads)).toBe(key(first, noReads));
    expect(key(refreshed, readsId)).not.toBe(key(first, readsId));
    const other = callerFromClaims(claims({ roles: ['order-admin', 'finance-approver'] }));
    expect(key(other, noReads)).not.toBe(key(first, noReads));
    expect(decisionCacheKey(discoveryRequest(first, 'orders___get_order', model), readsId)).not.toBe(
      decisionCacheKey(discoveryRequest(refreshed, 'orders___get_order', model), readsId),
    );
  });
});
