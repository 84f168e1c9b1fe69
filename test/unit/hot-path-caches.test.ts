import { BatchIsAuthorizedCommand, VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import { mockClient } from 'aws-sdk-client-mock';
import { AvpDecisionPoint } from '../../lambda/adapters/avp-decision-point';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { cedar } from '../../lambda/adapters/cedar-engine';
import { CachingDecisionPoint, decisionCacheKey } from '../../lambda/adapters/decision-cache';
import { tokenReads } from '../../lambda/adapters/policy-token-reads';
import { CachingTokenVerifier } from '../../lambda/adapters/verified-caller-cache';
import { type Caller, callerFromClaims } from '../../lambda/core/caller';
import { discoveryRequest } from '../../lambda/core/cedar-request';
import type { PolicyDecisionPoint } from '../../lambda/core/decision';
import { InvalidTokenError } from '../../lambda/core/errors';
import { policyBundle } from '../helpers/harness';

const policy = (text: string) => {
  const json = cedar.policyToJson(text);
  if (json.type !== 'success') throw new Error(text);
  return json.json;
};

describe('tokenReads', () => {
  it('finds no token fact in the demo policies', () => {
    expect(new CedarDecisionPoint(policyBundle()).tokenReads).toStrictEqual(new Set());
  });

  it('names each token fact a condition reads, through has and attribute access', () => {
    const reads = tokenReads([
      policy(
        'permit (principal, action, resource) when { context.token.expiresAt - context.token.issuedAt < 3600 };',
      ),
      policy(
        'forbid (principal, action, resource) when { context.token has id && context.token.id == "x" };',
      ),
      policy('permit (principal, action, resource) when { context has token && context.agent == "a" };'),
    ]);
    expect(reads).toStrictEqual(new Set(['expiresAt', 'issuedAt', 'id']));
  });

  it.each([
    [
      'the whole token as a value',
      'permit (principal, action, resource) when { context.token == { "expiresAt": 1 } };',
    ],
    ['the whole context as a value', 'permit (principal, action, resource) when { context == { "a": 1 } };'],
    [
      'the token in a set',
      'permit (principal, action, resource) when { [context.token].contains(context.token) };',
    ],
  ])('counts every fact as read when a policy uses %s', (_, text) => {
    expect(tokenReads([policy('permit (principal, action, resource);'), policy(text)])).toBe('all');
  });
});

describe('decisionCacheKey', () => {
  const at = (exp: number, jti: string) =>
    discoveryRequest(
      callerFromClaims({ sub: 'bob', roles: ['r'], iss: 'https://i', exp, iat: exp - 900, jti }),
      't___a',
      { namespace: 'N', resourceId: 'g' },
    );

  it('is the same for a refreshed token with the same claims when no policy reads token facts', () => {
    expect(decisionCacheKey(at(4e9, 'a'), new Set())).toBe(decisionCacheKey(at(4e9 + 60, 'b'), new Set()));
  });

  it('differs when a policy reads the fact that changed, and when reads are unknown', () => {
    expect(decisionCacheKey(at(4e9, 'a'), new Set(['id']))).not.toBe(
      decisionCacheKey(at(4e9, 'b'), new Set(['id'])),
    );
    expect(decisionCacheKey(at(4e9, 'a'), new Set(['id']))).toBe(
      decisionCacheKey(at(4e9 + 5, 'a'), new Set(['id'])),
    );
    expect(decisionCacheKey(at(4e9, 'a'), 'all')).not.toBe(decisionCacheKey(at(4e9 + 5, 'a'), 'all'));
  });

  it('differs for another principal, role or agent', () => {
    const base = at(4e9, 'a');
    const other = discoveryRequest(
      callerFromClaims({ sub: 'bob', roles: ['r', 'admin'], iss: 'https://i', exp: 4e9, jti: 'a' }),
      't___a',
      { namespace: 'N', resourceId: 'g' },
    );
    expect(decisionCacheKey(base, new Set())).not.toBe(decisionCacheKey(other, new Set()));
  });
});

describe('CachingDecisionPoint with a refreshed token', () => {
  const caller = (exp: number, jti: string) =>
    callerFromClaims({ sub: 'bob', roles: ['order-admin'], iss: 'https://i', exp, iat: exp - 900, jti });
  const model = { namespace: 'McpIdentity', resourceId: 'g' };

  function counting(reads: 'all' | ReadonlySet<string>) {
    const calls = { decide: 0, list: 0 };
    const inner: PolicyDecisionPoint = {
      tokenReads: reads,
      isAuthorized: async () => {
        calls.decide += 1;
        return { decision: 'allow', determiningPolicies: [], errors: [] };
      },
      couldBeAllowed: async (requests) => {
        calls.list += requests.length;
        return requests.map(() => true);
      },
    };
    return { inner, calls };
  }

  it('asks the engine nothing for a new token with the same claims', async () => {
    const nowMs = 3_999_000_000_000;
    const { inner, calls } = counting(new Set());
    const pdp = new CachingDecisionPoint(inner, { ttlSeconds: 60, maxEntries: 100 }, () => nowMs);
    const tools = ['orders___a', 'orders___b', 'orders___c'];

    await pdp.couldBeAllowed(tools.map((tool) => discoveryRequest(caller(4e9, 'one'), tool, model)));
    await pdp.couldBeAllowed(tools.map((tool) => discoveryRequest(caller(4e9 + 300, 'two'), tool, model)));
    await pdp.isAuthorized(discoveryRequest(caller(4e9, 'one'), 'orders___a', model));
    await pdp.isAuthorized(discoveryRequest(caller(4e9 + 300, 'two'), 'orders___a', model));

    expect(calls).toStrictEqual({ decide: 1, list: 3 });
  });

  it('re-decides for a new token when policies read token facts', async () => {
    const { inner, calls } = counting('all');
    const pdp = new CachingDecisionPoint(inner, { ttlSeconds: 60, maxEntries: 100 }, () => 3_999_000_000_000);
    await pdp.isAuthorized(discoveryRequest(caller(4e9, 'one'), 'orders___a', model));
    await pdp.isAuthorized(discoveryRequest(caller(4e9 + 300, 'two'), 'orders___a', model));
    expect(calls.decide).toBe(2);
  });

  it('never serves an answer past the expiry of the token that caused it', async () => {
    let nowMs = 3_999_999_990_000; // 10 s before the first token expires
    const { inner, calls } = counting(new Set());
    const pdp = new CachingDecisionPoint(inner, { ttlSeconds: 60, maxEntries: 100 }, () => nowMs);
    await pdp.isAuthorized(discoveryRequest(caller(4e9, 'one'), 'orders___a', model));
    nowMs += 11_000;
    await pdp.isAuthorized(discoveryRequest(caller(4e9 + 900, 'two'), 'orders___a', model));
    expect(calls.decide).toBe(2);
  });
});

describe('CachingTokenVerifier', () => {
  const caller = (expiresAt: number): Caller => ({
    subject: 'bob',
    issuer: 'i',
    roles: [],
    actors: [],
    expiresAt,
  });

  function counting(result: () => Caller) {
    let calls = 0;
    return {
      inner: {
        verify: async () => {
          calls += 1;
          return result();
        },
      },
      calls: () => calls,
    };
  }

  it('verifies a token once and reuses the caller for the next phase', async () => {
    const { inner, calls } = counting(() => caller(2000));
    const verifier = new CachingTokenVerifier(inner, {}, () => 1_000_000);
    const first = await verifier.verify('token-a');
    const second = await verifier.verify('token-a');
    expect(second).toBe(first);
    expect(calls()).toBe(1);
    await verifier.verify('token-b');
    expect(calls()).toBe(2);
  });

  it('never reuses a caller past the token expiry, nor past its maximum age', async () => {
    let nowMs = 1_000_000;
    const { inner, calls } = counting(() => caller(1_005)); // expires 5 s from now
    const verifier = new CachingTokenVerifier(inner, { maxAgeSeconds: 2 }, () => nowMs);
    await verifier.verify('t');
    nowMs += 2_500; // past the maximum age, before expiry
    await verifier.verify('t');
    expect(calls()).toBe(2);
    nowMs += 1_000;
    await verifier.verify('t');
    expect(calls()).toBe(2);
    nowMs += 2_000; // past expiry
    await verifier.verify('t');
    expect(calls()).toBe(3);
  });

  it('never caches a refusal', async () => {
    let calls = 0;
    const verifier = new CachingTokenVerifier({
      verify: async () => {
        calls += 1;
        throw new InvalidTokenError('token rejected: expired');
      },
    });
    await expect(verifier.verify('t')).rejects.toBeInstanceOf(InvalidTokenError);
    await expect(verifier.verify('t')).rejects.toBeInstanceOf(InvalidTokenError);
    expect(calls).toBe(2);
  });
});

describe('AvpDecisionPoint tools/list batches', () => {
  const avp = mockClient(VerifiedPermissionsClient);
  afterEach(() => avp.reset());
  const bob = callerFromClaims({ sub: 'bob', roles: ['r'], iss: 'https://i', exp: 4e9 });
  const requests = Array.from({ length: 300 }, (_, index) =>
    discoveryRequest(bob, `t___tool${index}`, { namespace: 'N', resourceId: 'g' }),
  );

  it('sends ⌈N/30⌉ chunks with several in flight, and keeps answers in request order', async () => {
    let inFlight = 0;
    let most = 0;
    avp.on(BatchIsAuthorizedCommand).callsFake(async (input) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight -= 1;
      return {
        results: input.requests.map((request: { action: { actionId: string } }) => ({
          request,
          decision: Number(request.action.actionId.slice(8)) % 2 === 0 ? 'ALLOW' : 'DENY',
          determiningPolicies: [],
          errors: [],
        })),
      };
    });
    const pdp = new AvpDecisionPoint(new VerifiedPermissionsClient({ region: 'eu-west-1' }), {
      policyStoreId: 'PSEXAMPLEabcdefg111111',
      timeoutMs: 1000,
      batchConcurrency: 4,
    });

    const answers = await pdp.couldBeAllowed(requests);

    expect(avp.commandCalls(BatchIsAuthorizedCommand)).toHaveLength(10);
    expect(most).toBe(4);
    expect(answers).toStrictEqual(requests.map((_, index) => index % 2 === 0));
  });

  it('fails the whole list when one chunk fails', async () => {
    let call = 0;
    avp.on(BatchIsAuthorizedCommand).callsFake(async (input) => {
      call += 1;
      if (call === 3) throw new Error('ThrottlingException');
      return {
        results: input.requests.map((request: unknown) => ({
          request,
          decision: 'ALLOW',
          determiningPolicies: [],
          errors: [],
        })),
      };
    });
    const pdp = new AvpDecisionPoint(new VerifiedPermissionsClient({ region: 'eu-west-1' }), {
      policyStoreId: 'PSEXAMPLEabcdefg111111',
      timeoutMs: 1000,
    });
    await expect(pdp.couldBeAllowed(requests)).rejects.toThrow(/BatchIsAuthorized failed/);
  });
});
