import fc from 'fast-check';
import {
  type AuditEventData,
  type AuditRecord,
  auditFlag,
  auditList,
  auditMapValue,
  buildAuditEvent,
  eventTime,
  fitMap,
  LIMITS,
  requestDigest,
  requestKey,
  TRUNCATION_MARKER,
  toAuditMap,
  truncateString,
} from '../../lambda/core/audit-event';
import { callerFromClaims } from '../../lambda/core/caller';
import { REDACTED } from '../../lambda/core/redaction';
import { fixture } from '../helpers/fixtures';

const caller = callerFromClaims({
  sub: 'alice',
  iss: 'https://idp',
  exp: 2000000000,
  jti: 'tok-1',
  email: 'a@x.io',
  roles: ['r'],
  client_id: 'agent',
});
const settings = {
  eventSource: 'mcp-identity',
  recipientAccountId: '123456789012',
  mode: 'enforce' as const,
};
const record = (overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  time: new Date('2026-11-21T10:11:12.345Z'),
  phase: 'request',
  caller,
  method: 'tools/call',
  toolName: 'orders___get_order',
  target: 'orders',
  arguments: { order_id: '1' },
  jsonRpcId: 7,
  decision: 'allow',
  enforced: true,
  policies: ['orders-readers'],
  requestDigest: requestDigest('tools/call', { name: 'orders___get_order' }),
  ...overrides,
});

describe('buildAuditEvent', () => {
  it('has every field the CloudTrail Lake integration example has, with the documented names and casing', () => {
    const example = fixture('cloudtrail-lake/eventData.example.json');
    const event = buildAuditEvent(
      record({
        decision: 'deny',
        errorCode: 'AccessDenied',
        reason: 'no',
        userAgent: 'ua',
        sourceIp: '10.0.0.1',
      }),
      settings,
    );
    expect(Object.keys(event).sort()).toEqual([...Object.keys(example), 'errorCode', 'errorMessage'].sort());
    expect(Object.keys(event.userIdentity).sort()).toEqual(
      Object.keys(example.userIdentity as object).sort(),
    );
  });

  it('attributes the event to the verified person and the agent acting for them', () => {
    const event = buildAuditEvent(record(), settings, { newUid: () => 'uid-1' });
    const key = requestKey(record());
    expect(event).toStrictEqual({
      version: '1.0',
      UID: 'uid-1',
      eventTime: '2026-11-21T10:11:12Z',
      eventSource: 'mcp-identity',
      eventName: 'orders___get_order',
      recipientAccountId: '123456789012',
      userIdentity: {
        type: 'McpUser',
        principalId: 'alice',
        details: {
          agent: 'agent',
          roles: '["r"]',
          email: 'a@x.io',
          issuer: 'https://idp',
          tokenId: 'tok-1',
          tokenExpiresAt: '2000000000',
        },
      },
      responseElements: { decision: 'allow', enforced: 'true', determiningPolicies: '["orders-readers"]' },
      additionalEventData: { phase: 'request', requestKey: key, mode: 'enforce' },
      requestParameters: {
        method: 'tools/call',
        tool: 'orders___get_order',
        target: 'orders',
        jsonRpcId: '7',
        arguments: '{"order_id":"1"}',
      },
    });
  });

  it('issue 10 #3: gives every execution its own UID, even the same call with the same id within a minute', () => {
    const a = buildAuditEvent(record(), settings).UID;
    const b = buildAuditEvent(record(), settings).UID;
    const later = buildAuditEvent(record({ time: new Date('2026-11-21T10:11:40Z') }), settings).UID;
    expect(new Set([a, b, later]).size).toBe(3);
    for (const uid of [a, b, later])
      expect(uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const many = Array.from({ length: 1000 }, () => buildAuditEvent(record(), settings).UID);
    expect(new Set(many).size).toBe(1000);
  });

  it('issue 10 #3: takes the UID from the injected generator, once per event', () => {
    const newUid = jest.fn().mockReturnValueOnce('first').mockReturnValueOnce('second');
    expect(buildAuditEvent(record(), settings, { newUid }).UID).toBe('first');
    expect(buildAuditEvent(record(), settings, { newUid }).UID).toBe('second');
    expect(newUid).toHaveBeenCalledTimes(2);
  });

  it('issue 10 #3: keeps the request key that joins a decision to its outcome, and separates different requests', () => {
    const key = (overrides: Partial<AuditRecord>) =>
      buildAuditEvent(record(overrides), settings).additionalEventData?.requestKey;
    const a = key({});
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(key({ phase: 'response', decision: 'deny' })).toBe(a);
    expect(key({ time: new Date('2026-11-21T12:00:00Z') })).toBe(a);
    expect(key({ jsonRpcId: 8 })).not.toBe(a);
    expect(key({ requestDigest: 'other' })).not.toBe(a);
    expect(key({ sessionId: 's-2' })).not.toBe(a);
  });

  it('issue 10 #3: an extra field cannot replace the phase, the request key or the mode', () => {
    const event = buildAuditEvent(
      record({ extra: { phase: 'response', requestKey: 'forged', mode: 'log-only', outcome: 'x' } }),
      settings,
    );
    expect(event.additionalEventData).toStrictEqual({
      phase: 'request',
      requestKey: requestKey(record()),
      mode: 'enforce',
      outcome: 'x',
    });
  });

  it('records the door a request came through, which an extra field cannot replace', () => {
    const event = buildAuditEvent(record({ door: 'apigw', extra: { door: 'agentcore' } }), settings);
    expect(event.additionalEventData).toStrictEqual({
      phase: 'request',
      requestKey: requestKey(record()),
      mode: 'enforce',
      door: 'apigw',
    });
    expect(buildAuditEvent(record(), settings).additionalEventData).not.toHaveProperty('door');
  });

  it('issue 10 #16: uses the decimal CloudTrail Lake sizes (100,000 and 28,000 bytes)', () => {
    expect(LIMITS.requestParameters).toBe(100_000);
    expect(LIMITS.responseElements).toBe(100_000);
    expect(LIMITS.additionalEventData).toBe(28_000);
    expect(LIMITS.details).toBe(28_000);
    // Just over the decimal limit but under the binary one: binary arithmetic would let it through.
    const args = { blob: 'a'.repeat(100_100) };
    const event = buildAuditEvent(record({ arguments: args }), settings);
    const size = Buffer.byteLength(JSON.stringify(event.requestParameters), 'utf8');
    expect(size).toBeLessThanOrEqual(100_000);
    expect(size).toBeGreaterThan(99_000);
    expect(event.requestParameters).toMatchObject({ truncated: 'true', method: 'tools/call' });
    const extra = buildAuditEvent(record({ extra: { big: 'y'.repeat(28_100) } }), settings);
    expect(Buffer.byteLength(JSON.stringify(extra.additionalEventData), 'utf8')).toBeLessThanOrEqual(28_000);
    expect(extra.additionalEventData).toMatchObject({ phase: 'request', truncated: 'true' });
  });

  // The most a verified caller can carry: 100 roles of 256 characters and 10 actors of 1,024.
  const chain = (depth: number): Record<string, unknown> | undefined =>
    depth === 0 ? undefined : { sub: `${depth}`.padEnd(1024, '文'), act: chain(depth - 1) };
  const bigCaller = callerFromClaims({
    sub: 'alice',
    iss: 'i',
    exp: 2000000000,
    roles: Array.from({ length: 100 }, (_, index) => `${index}`.padEnd(256, 'ü')),
    act: chain(10),
  });

  it.each([
    ['requestParameters', 'arguments'],
    ['responseElements', 'policies'],
    ['additionalEventData', 'extra'],
    ['details', 'actors'],
  ] as const)(
    'issue 10 #16: keeps %s within its limit in multi-byte text, the filter fields intact',
    (field, via) => {
      const big = 'é😀'.repeat(60_000);
      const event = buildAuditEvent(
        record({
          ...(via === 'arguments' ? { arguments: { big } } : {}),
          ...(via === 'policies' ? { policies: [big] } : {}),
          ...(via === 'extra' ? { extra: { big } } : {}),
          ...(via === 'actors' ? { caller: bigCaller } : {}),
        }),
        settings,
      );
      const map = (field === 'details' ? event.userIdentity.details : event[field]) as Record<string, string>;
      expect(Buffer.byteLength(JSON.stringify(map), 'utf8')).toBeLessThanOrEqual(LIMITS[field]);
      expect(map.truncated).toBe('true');
      for (const value of Object.values(map)) expect(value).not.toMatch(/[\uD800-\uDBFF]$/);
      expect(event.responseElements?.decision).toBe('allow');
      expect(event.additionalEventData?.phase).toBe('request');
      expect(event.requestParameters?.method).toBe('tools/call');
    },
  );

  it('truncates oversized fields with a marker instead of rejecting the event', () => {
    const event = buildAuditEvent(
      record({
        caller: callerFromClaims({ sub: 'x'.repeat(1000), iss: 'i', exp: 2000000000 }),
        arguments: { blob: 'é'.repeat(120 * 1024) },
        decision: 'deny',
        reason: 'r'.repeat(1000),
        errorCode: 'AccessDenied',
        extra: { big: 'y'.repeat(40 * 1024) },
      }),
      settings,
    );
    expect(Buffer.byteLength(JSON.stringify(event.requestParameters))).toBeLessThanOrEqual(
      LIMITS.requestParameters,
    );
    expect(event.requestParameters).toMatchObject({ truncated: 'true' });
    expect(event.requestParameters?.arguments?.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(event.additionalEventData))).toBeLessThanOrEqual(
      LIMITS.additionalEventData,
    );
    expect(event.errorMessage).toHaveLength(LIMITS.errorMessage);
    expect(event.errorMessage?.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it('records anonymous callers as such', () => {
    expect(buildAuditEvent(record({ caller: undefined }), settings).userIdentity).toStrictEqual({
      type: 'Anonymous',
      principalId: 'anonymous',
    });
  });
});

describe('helpers', () => {
  it('formats UTC whole seconds', () => {
    expect(eventTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 999)))).toBe('2026-01-02T03:04:05Z');
  });
  it('leaves small values alone', () => {
    expect(truncateString('abc', 10)).toBe('abc');
    expect(fitMap({ a: '1' }, 100)).toStrictEqual({ a: '1' });
  });
});

describe('issue 10 #2: the JSON-RPC id in audit events', () => {
  const jwt =
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MjAwMDAwMDAwMH0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU';

  it('is bounded to 256 characters, with a marker', () => {
    const event = buildAuditEvent(record({ jsonRpcId: 'x'.repeat(100_000) }), settings);
    const id = event.requestParameters?.jsonRpcId ?? '';
    expect(id).toHaveLength(256);
    expect(id.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(JSON.stringify(event).length).toBeLessThan(2_000);
  });

  it('is scrubbed of tokens, bearer credentials and access key ids, wherever they sit in it', () => {
    for (const secret of [jwt, `Bearer ${'A'.repeat(40)}`, 'AKIAABCDEFGHIJKLMNOP']) {
      const event = buildAuditEvent(record({ jsonRpcId: `id-${secret}-${'z'.repeat(300)}` }), settings);
      expect(JSON.stringify(event)).not.toContain(secret);
      expect(event.requestParameters?.jsonRpcId).toMatch(
        new RegExp(`^id-${REDACTED.replace(/[[\]]/g, '\\$&')}`),
      );
    }
  });

  it('is scrubbed before it is cut, so no part of a token at the bound survives', () => {
    const event = buildAuditEvent(record({ jsonRpcId: `${'p'.repeat(200)}${jwt}` }), settings);
    expect(event.requestParameters?.jsonRpcId).toBe(`${'p'.repeat(200)}${REDACTED}`);
    expect(JSON.stringify(event)).not.toContain(jwt.slice(0, 40));
  });

  it('applies the configured patterns as well as the defaults', () => {
    const event = buildAuditEvent(record({ jsonRpcId: 'id-ssn-123-45-6789' }), {
      ...settings,
      valuePatterns: [/\d{3}-\d{2}-\d{4}/g],
    });
    expect(event.requestParameters?.jsonRpcId).toBe(`id-ssn-${REDACTED}`);
  });

  it('keeps a numeric id as its text, and leaves out a null one', () => {
    expect(buildAuditEvent(record({ jsonRpcId: 42 }), settings).requestParameters?.jsonRpcId).toBe('42');
    expect(buildAuditEvent(record({ jsonRpcId: null }), settings).requestParameters).not.toHaveProperty(
      'jsonRpcId',
    );
  });

  it('scrubs and bounds every other piece of client text the same way', () => {
    const event = buildAuditEvent(
      record({
        method: `tools/call${jwt}${'m'.repeat(400)}`,
        toolName: `orders___${jwt}`,
        target: `t-${jwt}${'t'.repeat(400)}`,
        sessionId: `s-${jwt}${'s'.repeat(400)}`,
        userAgent: `ua ${jwt}`,
        sourceIp: jwt,
        decision: 'deny',
        reason: `because ${jwt}`,
      }),
      settings,
    );
    expect(JSON.stringify(event)).not.toContain(jwt.slice(0, 30));
    expect(event.requestParameters?.method?.length).toBeLessThanOrEqual(256);
    expect(event.requestParameters?.target?.length).toBeLessThanOrEqual(256);
    expect(event.requestParameters?.mcpSessionId?.length).toBeLessThanOrEqual(256);
    expect(event.eventName).toBe(`orders___${REDACTED}`);
  });

  it('for any id, stores at most 256 characters and never a JWT placed in it', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), fc.string({ maxLength: 600 }), (before, after) => {
        const event = buildAuditEvent(record({ jsonRpcId: `${before}${jwt}${after}` }), settings);
        const id = event.requestParameters?.jsonRpcId ?? '';
        return id.length <= 256 && !JSON.stringify(event).includes(jwt);
      }),
      { numRuns: 200 },
    );
  });
});

describe('issue 10 #17: Lake maps hold strings only', () => {
  const maps = (event: AuditEventData) => [
    event.userIdentity.details ?? {},
    event.requestParameters ?? {},
    event.responseElements ?? {},
    event.additionalEventData ?? {},
  ];

  it('encodes every list, flag, number and object in details, requestParameters, responseElements and additionalEventData', () => {
    const event = buildAuditEvent(
      record({
        caller: callerFromClaims({
          sub: 'bob',
          iss: 'https://idp',
          exp: 2000000000,
          roles: ['a', 'b'],
          act: { sub: 'agent-1' },
        }),
        arguments: { n: 1, nested: { ok: true }, list: [1, 'x'] },
        injected: ['_caller_user'],
        enforced: false,
        extra: { listedTools: ['t1'], count: 3, flag: false, nothing: null, obj: { a: 1 } },
      }),
      settings,
    );
    for (const map of maps(event))
      for (const [key, value] of Object.entries(map))
        expect([key, typeof value]).toStrictEqual([key, 'string']);
    expect(event.userIdentity.details?.roles).toBe('["a","b"]');
    expect(event.responseElements).toMatchObject({
      enforced: 'false',
      injectedParameters: '["_caller_user"]',
    });
    expect(event.additionalEventData).toMatchObject({
      listedTools: '["t1"]',
      count: '3',
      flag: 'false',
      nothing: 'null',
      obj: '{"a":1}',
    });
    expect(JSON.parse(event.requestParameters?.arguments ?? '')).toStrictEqual({
      n: 1,
      nested: { ok: true },
      list: [1, 'x'],
    });
  });

  it('holds for any arguments and extra data (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (args, extra) => {
          const event = buildAuditEvent(record({ arguments: args, extra }), settings);
          return maps(event).every((map) => Object.values(map).every((value) => typeof value === 'string'));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reads back a list holding objects that cannot be converted to text (a hand-written line) without throwing', () => {
    const hostile: unknown[] = [{ toString: 1 }, { valueOf: 1, toString: 1 }, 'p1', 7, null];
    const expected = ['{"toString":1}', '{"valueOf":1,"toString":1}', 'p1', '7', 'null'];
    expect(auditList(hostile)).toStrictEqual(expected);
    expect(auditList(JSON.stringify(hostile))).toStrictEqual(expected);
  });

  it('reads lists and flags back from the encoded form and from older events', () => {
    expect(auditList('["a","b,c"]')).toStrictEqual(['a', 'b,c']);
    expect(auditList(['a', 'b'])).toStrictEqual(['a', 'b']);
    expect(auditList('a,b')).toStrictEqual(['a', 'b']);
    expect(auditList('[not json')).toStrictEqual(['[not json']);
    expect(auditList('')).toStrictEqual([]);
    expect(auditList(undefined)).toStrictEqual([]);
    expect(auditFlag('true')).toBe(true);
    expect(auditFlag(false)).toBe(false);
    expect(auditFlag('false')).toBe(false);
    expect(auditFlag(undefined)).toBeUndefined();
    expect(auditMapValue('s')).toBe('s');
    expect(auditMapValue(1n)).toBe('[unserializable]');
    expect(toAuditMap({ a: undefined, b: 1 })).toStrictEqual({ b: '1' });
  });
});
