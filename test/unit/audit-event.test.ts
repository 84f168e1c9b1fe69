import {
  type AuditRecord,
  buildAuditEvent,
  eventTime,
  fitObject,
  LIMITS,
  requestDigest,
  TRUNCATION_MARKER,
  truncateString,
} from '../../lambda/core/audit-event';
import { callerFromClaims } from '../../lambda/core/caller';
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
    const event = buildAuditEvent(record(), settings);
    expect(event).toMatchObject({
      version: '1.0',
      userIdentity: {
        type: 'McpUser',
        principalId: 'alice',
        details: { email: 'a@x.io', roles: ['r'], agent: 'agent', tokenId: 'tok-1', issuer: 'https://idp' },
      },
      eventSource: 'mcp-identity',
      eventName: 'orders___get_order',
      eventTime: '2026-11-21T10:11:12Z',
      recipientAccountId: '123456789012',
      requestParameters: {
        method: 'tools/call',
        tool: 'orders___get_order',
        target: 'orders',
        arguments: { order_id: '1' },
        jsonRpcId: 7,
      },
      responseElements: { decision: 'allow', enforced: true, determiningPolicies: ['orders-readers'] },
      additionalEventData: { phase: 'request', mode: 'enforce' },
    });
    expect(event.errorCode).toBeUndefined();
    expect(event.errorMessage).toBeUndefined();
  });

  it('gives the same UID to a retry and different UIDs to different requests', () => {
    const a = buildAuditEvent(record(), settings).UID;
    expect(buildAuditEvent(record({ time: new Date('2026-11-21T10:11:40Z') }), settings).UID).toBe(a);
    expect(buildAuditEvent(record({ jsonRpcId: 8 }), settings).UID).not.toBe(a);
    expect(buildAuditEvent(record({ phase: 'response' }), settings).UID).not.toBe(a);
    expect(buildAuditEvent(record({ requestDigest: 'other' }), settings).UID).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

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
    expect(event.requestParameters).toMatchObject({ truncated: true });
    expect(Buffer.byteLength(JSON.stringify(event.additionalEventData))).toBeLessThanOrEqual(
      LIMITS.additionalEventData,
    );
    expect(event.errorMessage).toHaveLength(LIMITS.errorMessage);
    expect(event.errorMessage?.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it('records anonymous callers as such', () => {
    expect(buildAuditEvent(record({ caller: undefined }), settings).userIdentity).toEqual({
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
    expect(fitObject({ a: 1 }, 100)).toEqual({ a: 1 });
  });
});
