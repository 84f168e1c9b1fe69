import fc from 'fast-check';
import {
  type AuditEventData,
  type AuditRecord,
  buildAuditEvent,
  requestDigest,
  TRUNCATION_MARKER,
} from '../../lambda/core/audit-event';
import { callerFromClaims } from '../../lambda/core/caller';
import { recordedEvent } from '../../lambda/core/recorded-call';
import { auditArguments, DEFAULT_REDACTION } from '../../lambda/core/redaction';

const caller = callerFromClaims({
  sub: 'alice',
  iss: 'https://idp.example.com',
  iat: 1_900_000_000,
  exp: 1_900_000_900,
  jti: 'tok-1',
  email: 'alice@example.com',
  username: 'alice.a',
  roles: ['db-reader', 'developer'],
  client_id: 'agent-1',
  act: { sub: 'sub-agent', act: { sub: 'planner' } },
});
const settings = {
  eventSource: 'mcp-identity',
  recipientAccountId: '123456789012',
  mode: 'enforce' as const,
};
const record = (overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  time: new Date('2026-11-21T10:11:12Z'),
  phase: 'request',
  caller,
  method: 'tools/call',
  toolName: 'orders___update_order',
  target: 'orders',
  arguments: { order_id: '1', status: 'refunded', amount: 900 },
  jsonRpcId: 7,
  decision: 'allow',
  enforced: true,
  policies: ['order-admins-update'],
  door: 'agentcore',
  requestDigest: requestDigest('tools/call', {}),
  ...overrides,
});
const event = (overrides: Partial<AuditRecord> = {}) => buildAuditEvent(record(overrides), settings);
const reason = (value: AuditEventData) => {
  const read = recordedEvent(value);
  return read.kind === 'not-replayable' ? read.reason : read.kind;
};

describe('recordedEvent', () => {
  it('rebuilds the verified caller exactly as the verifier built it, from what the event records', () => {
    const read = recordedEvent(event());

    expect(read.kind).toBe('call');
    if (read.kind !== 'call') return;
    expect(read.call.caller).toStrictEqual({ ...caller });
    expect(read.call.operation).toStrictEqual({
      kind: 'tool-call',
      id: 0,
      tool: { full: 'orders___update_order', target: 'orders', tool: 'update_order' },
      arguments: { order_id: '1', status: 'refunded', amount: 900 },
    });
    expect(read.call).toMatchObject({
      arguments: 'exact',
      tokenFacts: true,
      recorded: { decision: 'allow', policies: ['order-admins-update'] },
    });
  });

  it('round-trips any caller and JSON arguments that the audit records in full', () => {
    const identifier = fc.stringMatching(/^[a-z][a-z0-9@.:_-]{0,20}$/);
    // Without the keys the request parser refuses anywhere in params (so no decision ever records them).
    const json = fc
      .jsonValue({ maxDepth: 3 })
      .filter((value) => !/REDACTED|"(__proto__|constructor|prototype)"/.test(JSON.stringify(value)));
    fc.assert(
      fc.property(
        identifier,
        fc.uniqueArray(identifier, { maxLength: 5 }),
        fc.option(identifier, { nil: undefined }),
        fc.array(identifier, { maxLength: 3 }),
        fc.integer({ min: 1, max: 2_000_000_000 }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), json, { maxKeys: 4 }),
        (sub, roles, agent, actors, exp, args) => {
          const claims: Record<string, unknown> = { sub, iss: 'https://idp', exp, roles };
          if (agent !== undefined) claims.client_id = agent;
          if (actors.length > 0)
            claims.act = actors.reduceRight<Record<string, unknown> | undefined>(
              (inner, actor) => (inner === undefined ? { sub: actor } : { sub: actor, act: inner }),
              undefined,
            );
          const someone = callerFromClaims(claims);
          const read = recordedEvent(
            event({ caller: someone, arguments: auditArguments(args, DEFAULT_REDACTION) }),
          );
          if (read.kind !== 'call') return false;
          expect(read.call.caller).toStrictEqual({ ...someone });
          expect(read.call.operation).toMatchObject({ arguments: JSON.parse(JSON.stringify(args)) });
          return read.call.arguments === 'exact';
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never throws, whatever the stored event holds', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const read = recordedEvent(value as AuditEventData);
        return ['call', 'not-replayable', 'outcome'].includes(read.kind);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['InvalidToken', 'refused-credential'],
    ['MalformedRequest', 'malformed-request'],
    ['SpoofingAttempt', 'spoofing-attempt'],
    ['UnsupportedMethod', 'unsupported-method'],
    ['AuthorizationServiceError', 'service-error'],
    ['Revoked', 'revoked'],
    ['SomeFutureRefusal', 'not-a-policy-decision'],
    ['ToolDefinitionDrift', 'not-a-policy-decision'],
  ] as const)('names a %s refusal as not replayable (%s): no policy decided it', (errorCode, expected) => {
    expect(reason(event({ decision: 'deny', errorCode: errorCode as AuditRecord['errorCode'] }))).toBe(
      expected,
    );
  });

  it.each(['AccessDenied', 'PolicyEvaluationError', 'InvalidArguments'] as const)(
    'replays a %s denial: policy (or the schema check) decided it',
    (errorCode) => {
      expect(reason(event({ decision: 'deny', errorCode, reason: 'Denied.' }))).toBe('call');
    },
  );

  it('treats an unauthenticated event as a refused credential, whatever its error code says', () => {
    expect(reason(event({ caller: undefined }))).toBe('refused-credential');
  });

  it('skips the outcomes of calls (the RESPONSE step): they are not decisions', () => {
    expect(reason(event({ phase: 'response' }))).toBe('outcome');
  });

  describe('tools/list answers', () => {
    const listing = (extra: Record<string, unknown>, overrides: Partial<AuditRecord> = {}) =>
      event({
        phase: 'response',
        method: 'tools/list',
        toolName: undefined,
        arguments: undefined,
        extra,
        ...overrides,
      });

    it('reads which tools policy showed, leaving out those a gate (tool pins) hid', () => {
      const read = recordedEvent(
        listing({
          listedTools: ['orders___get_order'],
          hiddenTools: ['orders___update_order', 'orders___drifted'],
          hiddenByGates: { orders___drifted: 'definition changed' },
        }),
      );

      expect(read.kind).toBe('listing');
      if (read.kind !== 'listing') return;
      expect(read.listing.tools).toEqual(['orders___get_order', 'orders___update_order']);
      expect([...read.listing.visible]).toEqual(['orders___get_order']);
      expect(read.listing.caller).toStrictEqual({ ...caller });
    });

    it('does not replay a schema reader’s unfiltered list, a failed filter, or a cut record', () => {
      expect(reason(listing({ listedTools: ['a'], hiddenTools: [], schemaRead: true }))).toBe(
        'not-a-policy-decision',
      );
      expect(
        reason(listing({ listedTools: [], hiddenTools: ['a'] }, { errorCode: 'AuthorizationServiceError' })),
      ).toBe('service-error');
      expect(reason(listing({ listedTools: ['x'.repeat(30_000)], hiddenTools: [] }))).toBe('truncated');
    });
  });

  it.each(['agentcore', 'apigw', undefined])('reads events of the %s door', (door) => {
    expect(reason(event({ door }))).toBe('call');
  });

  it('refuses an event version or front door it does not know', () => {
    expect(reason({ ...event(), version: '2.0' })).toBe('unknown-format');
    expect(reason(event({ door: 'carrier-pigeon' }))).toBe('unknown-format');
    expect(reason(event({ method: 'sampling/createMessage', toolName: undefined }))).toBe('unknown-format');
  });

  it('refuses events whose caller or request was cut to fit the audit limits', () => {
    // Over the 28,000-byte details bound: 100 roles of 250 characters and 10 actors of 1,000.
    const manyRoles = callerFromClaims({
      sub: 'alice',
      iss: 'https://idp',
      exp: 2_000_000_000,
      roles: Array.from({ length: 100 }, (_, index) => `${index}`.padEnd(250, 'x')),
      act: Array.from({ length: 10 }, (_, index) => `${index}`.padEnd(1000, 'a')).reduceRight<
        Record<string, unknown> | undefined
      >((inner, sub) => (inner === undefined ? { sub } : { sub, act: inner }), undefined),
    });
    expect(reason(event({ caller: manyRoles }))).toBe('truncated');
    expect(reason(event({ arguments: { note: 'x'.repeat(120_000) } }))).toBe('truncated');
    expect(reason(event({ toolName: `orders___${'t'.repeat(1100)}` }))).toBe('truncated');
    expect(`orders___${'t'.repeat(1100)}`.length).toBeGreaterThan(1024 - TRUNCATION_MARKER.length);
  });

  it('says how faithfully arguments were recorded: values, redacted values, names, nothing', () => {
    const fidelity = (args: unknown) => {
      const read = recordedEvent(event({ arguments: args }));
      return read.kind === 'call' ? read.call.arguments : read.kind;
    };
    const redaction = DEFAULT_REDACTION;
    expect(fidelity(auditArguments({ order_id: '1' }, redaction))).toBe('exact');
    expect(fidelity(auditArguments({ order_id: '1', password: 'hunter2' }, redaction))).toBe('redacted');
    expect(fidelity(auditArguments({ note: 'Bearer abcdefghijklmnopqrstuvwxyz' }, redaction))).toBe(
      'redacted',
    );
    expect(fidelity(auditArguments({ order_id: '1' }, { ...redaction, arguments: 'names' }))).toBe('names');
    expect(fidelity(auditArguments({ order_id: '1' }, { ...redaction, arguments: 'none' }))).toBe('none');
  });

  it('keeps the recorded argument names, unless a name itself was redacted or nothing was recorded', () => {
    const names = (args: unknown) => {
      const read = recordedEvent(event({ arguments: args }));
      return read.kind === 'call' ? read.call.argumentNames : read.kind;
    };
    const redaction = DEFAULT_REDACTION;
    const byName = { ...redaction, arguments: 'names' as const };
    expect(names(auditArguments({ order_id: '1', note: 'x' }, byName))).toEqual(['order_id', 'note']);
    expect(names(auditArguments({ order_id: '1', password: 'hunter2' }, redaction))).toEqual([
      'order_id',
      'password',
    ]);
    expect(names(auditArguments({ 'Bearer abcdefghijklmnopqrstuvwxyz': 1 }, byName))).toBeUndefined();
    expect(names(auditArguments({ order_id: '1' }, { ...redaction, arguments: 'none' }))).toBeUndefined();
  });

  it('marks events written before token times were recorded, with a stand-in expiry', () => {
    const old = structuredClone(event()) as { userIdentity: { details: Record<string, string> } };
    delete old.userIdentity.details.tokenIssuedAt;
    delete old.userIdentity.details.tokenExpiresAt;
    const read = recordedEvent(old as unknown as AuditEventData);

    expect(read.kind).toBe('call');
    if (read.kind !== 'call') return;
    expect(read.call.tokenFacts).toBe(false);
    expect(read.call.caller.expiresAt).toBe(Date.parse('2026-11-21T10:11:12Z') / 1000);
    expect(read.call.caller).not.toHaveProperty('issuedAt');
  });

  it('reads prompts by name and resources by uri', () => {
    const prompt = recordedEvent(
      event({ method: 'prompts/get', toolName: 'prompt:summary', arguments: undefined }),
    );
    const resource = recordedEvent(
      event({
        method: 'resources/read',
        toolName: undefined,
        arguments: undefined,
        extra: { uri: 'file:///a' },
      }),
    );
    expect(prompt.kind === 'call' && prompt.call.operation).toStrictEqual({
      kind: 'prompt-get',
      id: 0,
      name: 'summary',
      arguments: {},
    });
    expect(resource.kind === 'call' && resource.call.operation).toStrictEqual({
      kind: 'resource-read',
      id: 0,
      uri: 'file:///a',
    });
  });
});
