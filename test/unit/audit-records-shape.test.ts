import fc from 'fast-check';
import type { Verdict } from '../../lambda/core/authorize';
import { callerFromClaims } from '../../lambda/core/caller';
import type { Decision } from '../../lambda/core/decision';
import { parseMcpRequest } from '../../lambda/core/mcp-operation';
import { DEFAULT_REDACTION } from '../../lambda/core/redaction';
import {
  type AuditedFacts,
  auditCode,
  baseRecord,
  operationRecord,
  verdictRecord,
} from '../../lambda/guard/audit-records';

const caller = callerFromClaims({
  sub: 'bob',
  iss: 'https://issuer.example',
  exp: 2_000_000_000,
  roles: ['r'],
});

/** The record as the spreads wrote it before it was filled in place: the fields must stay the same. */
function spreadRecord(facts: AuditedFacts, message: unknown, verdict: Verdict) {
  const parsed = parseMcpRequest(message);
  if (!parsed.ok) throw new Error('test message must parse');
  const { decision } = verdict;
  const errorCode = auditCode(decision);
  return {
    ...baseRecord(facts, 'request', caller, message),
    ...operationRecord(parsed.operation, DEFAULT_REDACTION),
    decision: decision.kind === 'allow' ? 'allow' : 'deny',
    enforced: verdict.enforced,
    ...(errorCode === undefined ? {} : { errorCode }),
    ...(decision.kind === 'allow' ? {} : { reason: decision.reason }),
    ...(decision.kind === 'error' ? {} : { policies: decision.policies }),
    ...(verdict.injected === undefined ? {} : { injected: verdict.injected }),
  };
}

const facts: fc.Arbitrary<AuditedFacts> = fc.record(
  {
    door: fc.constantFrom('agentcore' as const, 'apigw' as const),
    sessionId: fc.string({ minLength: 1, maxLength: 5 }),
    userAgent: fc.string({ minLength: 1, maxLength: 5 }),
    sourceIp: fc.constantFrom('10.0.0.1', '::1'),
    forwardedFor: fc.array(fc.constantFrom('1.2.3.4', '5.6.7.8'), { minLength: 1, maxLength: 2 }),
  },
  { requiredKeys: ['door'] },
);

const message = fc.oneof(
  fc
    .record({
      name: fc.constantFrom('orders___get_order', 'plain_tool', 'a___b'),
      arguments: fc.dictionary(
        fc.constantFrom('order_id', 'password', 'n'),
        fc.oneof(fc.string(), fc.integer()),
      ),
    })
    .map((params) => ({ jsonrpc: '2.0', id: 3, method: 'tools/call', params })),
  fc.constant({
    jsonrpc: '2.0',
    id: 'p',
    method: 'prompts/get',
    params: { name: 'summary', arguments: { x: '1' } },
  }),
  fc.constant({ jsonrpc: '2.0', id: 9, method: 'resources/read', params: { uri: 'file:///a' } }),
);

const decision: fc.Arbitrary<Decision> = fc.constantFrom<Decision>(
  { kind: 'allow', policies: ['p1'] },
  { kind: 'deny', code: 'policy', reason: 'Denied: no.', policies: ['f1'] },
  { kind: 'deny', code: 'spoofing', reason: 'Spoofed.', policies: [] },
);

describe('verdictRecord', () => {
  it('holds exactly the fields of the base record, the operation record and the verdict', () => {
    fc.assert(
      fc.property(
        facts,
        message,
        decision,
        fc.boolean(),
        fc.option(fc.constant(['_caller_user']), { nil: undefined }),
        (f, m, d, enforced, injected) => {
          const verdict: Verdict = {
            decision: d,
            forward: d.kind === 'allow',
            enforced,
            ...(injected === undefined ? {} : { injected }),
          };
          const parsed = parseMcpRequest(m);
          if (!parsed.ok) throw new Error('test message must parse');
          expect(verdictRecord(f, caller, m, parsed.operation, verdict, DEFAULT_REDACTION)).toStrictEqual(
            spreadRecord(f, m, verdict),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('records an engine error with its code and no determining policies', () => {
    const m = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'orders___get_order', arguments: {} },
    };
    const parsed = parseMcpRequest(m);
    if (!parsed.ok) throw new Error('test message must parse');
    const error = new Error('engine down');
    const verdict = {
      decision: { kind: 'error', reason: 'unavailable', error } as unknown as Decision,
      forward: false,
      enforced: true,
    };
    const record = verdictRecord(
      { door: 'agentcore' },
      caller,
      m,
      parsed.operation,
      verdict,
      DEFAULT_REDACTION,
    );
    expect(record).toStrictEqual(spreadRecord({ door: 'agentcore' }, m, verdict));
    expect(record.errorCode).toBe('AuthorizationServiceError');
    expect('policies' in record).toBe(false);
  });
});
