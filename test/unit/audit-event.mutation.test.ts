import {
  type AuditRecord,
  auditFlag,
  auditMapValue,
  buildAuditEvent,
  fitMap,
  requestDigest,
  requestKey,
  truncateString,
} from '../../lambda/core/audit-event';
import { callerFromClaims } from '../../lambda/core/caller';

/** Exact values and boundaries of the audit event builder (written to kill mutants; see CONTRIBUTING.md "Mutation testing"). */
const MARKER = '…[truncated]';
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

const alice = callerFromClaims({
  sub: 'alice',
  iss: 'https://idp',
  exp: 2000000000,
  jti: 'tok-1',
  roles: ['r'],
});
const settings = {
  eventSource: 'mcp-identity',
  recipientAccountId: '123456789012',
  mode: 'enforce' as const,
};
const record = (overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  time: new Date('2026-11-21T10:11:12.345Z'),
  phase: 'request',
  caller: alice,
  method: 'tools/call',
  toolName: 'orders___get_order',
  decision: 'allow',
  enforced: true,
  requestDigest: 'd',
  ...overrides,
});

describe('truncateString', () => {
  it('keeps a value of exactly the maximum length, and cuts one character longer with the marker', () => {
    expect(truncateString('x'.repeat(20), 20)).toBe('x'.repeat(20));
    expect(truncateString('x'.repeat(21), 20)).toBe(`${'x'.repeat(8)}…[truncated]`);
  });
});

describe('fitMap', () => {
  it('returns a map of exactly the byte bound as it is, unmarked', () => {
    const map = { a: 'x'.repeat(100) };

    expect(fitMap(map, bytes(map))).toBe(map);
  });

  it('cuts the value to the longest prefix whose JSON text fits the bound exactly', () => {
    // {"a":"x…100"} is 108 bytes; with the two markers 149; the value keeps 17 characters + the marker.
    const fitted = fitMap({ a: 'x'.repeat(100) }, 80);

    expect(fitted).toStrictEqual({
      a: `${'x'.repeat(17)}${MARKER}`,
      truncated: 'true',
      originalBytes: '108',
    });
    expect(bytes(fitted)).toBe(80);
  });

  it('empties a value that cannot hold even the marker, and drops keys from the end until the map fits', () => {
    const fitted = fitMap({ a: 'x'.repeat(40), b: 'y'.repeat(40) }, 48);

    expect(fitted).toStrictEqual({ a: '', truncated: 'true', originalBytes: '95' });
  });

  it('keeps only its markers when the bound is smaller than they are (and terminates)', () => {
    expect(fitMap({ a: 'x'.repeat(100) }, 20)).toStrictEqual({ truncated: 'true', originalBytes: '108' });
  });

  it.each([
    ['the first high surrogate', '\ud800', `${'x'.repeat(10)}${MARKER}`],
    ['the last high surrogate', '\udbff', `${'x'.repeat(10)}${MARKER}`],
    ['a low surrogate', '\udc00', `${'x'.repeat(10)}\udc00${MARKER}`],
  ])('never ends a cut value on a high surrogate: %s at the cut', (_label, char, expected) => {
    // The bound lets the cut end right after `char` (its JSON escape is 6 bytes).
    const fitted = fitMap({ a: `${'x'.repeat(10)}${char}${'y'.repeat(200)}` }, 79);

    expect(fitted.a).toBe(expected);
  });

  it('keeps the last character before the surrogate range at the cut', () => {
    const fitted = fitMap({ a: `${'x'.repeat(10)}\ud7ff${'y'.repeat(200)}` }, 76);

    expect(fitted.a).toBe(`${'x'.repeat(10)}\ud7ff${MARKER}`);
  });
});

describe('auditMapValue and auditFlag', () => {
  it('stores a value JSON has no text for as null', () => {
    expect(auditMapValue(undefined)).toBe('null');
    expect(auditMapValue(() => 1)).toBe('null');
  });

  it('reads the boolean true of an older event as true', () => {
    expect(auditFlag(true)).toBe(true);
    expect(auditFlag('TRUE')).toBeUndefined();
  });
});

describe('the request key and the request digest', () => {
  // The key joins a REQUEST decision to its RESPONSE outcome, which another deployment of the interceptor may
  // write: its derivation must not change silently. These are the values it has always had.
  const digest = requestDigest('tools/call', { name: 'orders___get_order', arguments: { order_id: '1' } });
  const base = { sub: 'alice', iss: 'https://idp', exp: 2000000000 };

  it('digests the method and params as they have always been digested', () => {
    expect(digest).toBe('N5BnaOf2_zZItM1D2tl83QmzmWQxzsjSYFS-qwxutcA');
    expect(requestDigest('ping', undefined)).toBe('8goQar1QSQxUKz2EWh94aahl-M46XlaaPiyc2bijOtk');
    expect(requestDigest('ping', null)).toBe(requestDigest('ping', undefined));
  });

  it('keys an anonymous request, with and without session and id', () => {
    expect(requestKey({ caller: undefined, requestDigest: digest })).toBe('i5P9oo8RDO7nRX-Nep-tKh');
    expect(requestKey({ caller: undefined, sessionId: 's-1', jsonRpcId: 7, requestDigest: digest })).toBe(
      'zG6YuLCDV2xLEXj_Oh5c8G',
    );
  });

  it('keys a caller by token id, else by subject and issue time, else by subject alone', () => {
    const key = (claims: Record<string, unknown>) =>
      requestKey({
        caller: callerFromClaims({ ...base, ...claims }),
        sessionId: 's-1',
        jsonRpcId: 'a',
        requestDigest: digest,
      });

    expect(key({ jti: 'tok-1', iat: 1700000000 })).toBe('3b72rIZRw9oJblfo0TPF3F');
    expect(key({ iat: 1700000000 })).toBe('pPz9vsIg7fRtSUvg9I62Hq');
    expect(key({})).toBe('1KZbKAikziIGAJ88TWpmLB');
  });
});

describe('buildAuditEvent', () => {
  it('leaves the JSON-RPC id out when the request had none', () => {
    const event = buildAuditEvent(record({ jsonRpcId: undefined }), settings);

    expect(event.requestParameters).toStrictEqual({ method: 'tools/call', tool: 'orders___get_order' });
  });

  it('records the delegation chain of the caller', () => {
    const delegated = callerFromClaims({
      ...{ sub: 'alice', iss: 'https://idp', exp: 2000000000 },
      act: { sub: 'agent-1', act: { sub: 'agent-0' } },
    });

    const event = buildAuditEvent(record({ caller: delegated }), settings);

    expect(event.userIdentity.details).toStrictEqual({
      roles: '[]',
      issuer: 'https://idp',
      actors: '["agent-1","agent-0"]',
      tokenExpiresAt: '2000000000',
    });
  });

  it('has no error message for an allowed call, even one with a reason, which stays in the response elements', () => {
    const event = buildAuditEvent(record({ reason: 'Allowed by policy.' }), settings);

    expect(event).not.toHaveProperty('errorMessage');
    expect(event.responseElements?.reason).toBe('Allowed by policy.');
  });

  it('has no error message for a denial without a reason', () => {
    const event = buildAuditEvent(record({ decision: 'deny', errorCode: 'AccessDenied' }), settings);

    expect(event).not.toHaveProperty('errorMessage');
    expect(event.errorCode).toBe('AccessDenied');
  });

  it('records a client-supplied forwarding chain as a list, and none when it is empty', () => {
    const chained = buildAuditEvent(record({ forwardedFor: ['198.51.100.7', 'unknown'] }), settings);
    const empty = buildAuditEvent(record({ forwardedFor: [] }), settings);

    expect(chained.additionalEventData?.forwardedFor).toBe('["198.51.100.7","unknown"]');
    expect(empty.additionalEventData).not.toHaveProperty('forwardedFor');
  });
});
