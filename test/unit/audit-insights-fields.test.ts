import { buildInsightsQuery } from '../../cli/activity';
import { AUDIT_LOG_KEY, LogAuditSink } from '../../lambda/adapters/log-audit-sink';
import { type AuditRecord, buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import { callerFromClaims } from '../../lambda/core/caller';
import { createAuditLogger } from '../../lambda/shared/logger';

/**
 * CloudWatch Logs Insights discovers at most 200 fields of a JSON log event, in document order, flattening
 * objects (`a.b`) and arrays (`a.0`). Fields past the 200th cannot be filtered or shown.
 */
function flattenedFields(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [prefix];
  return Object.entries(value).flatMap(([key, item]) =>
    flattenedFields(item, prefix === '' ? key : `${prefix}.${key}`),
  );
}

/** Every event field the `activity` Insights query reads or filters on, with every filter set. */
const queryFields = [
  ...new Set(
    buildInsightsQuery({
      since: new Date(0),
      until: new Date(1),
      limit: 1,
      user: 'u',
      tool: 't',
      decision: 'deny',
      agent: 'a',
      uid: 'x',
      phase: 'request',
    }).match(/auditEvent\.[A-Za-z0-9_.]+/g) ?? [],
  ),
];

async function loggedLine(record: AuditRecord): Promise<Record<string, unknown>> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    const event = buildAuditEvent(record, {
      eventSource: 'mcp-identity',
      recipientAccountId: '123456789012',
      mode: 'enforce',
    });
    await new LogAuditSink(createAuditLogger()).write(event);
  } finally {
    spy.mockRestore();
  }
  const line = lines.map((text) => JSON.parse(text)).find((entry) => entry[AUDIT_LOG_KEY] !== undefined);
  return line as Record<string, unknown>;
}

const filterFields = [
  'auditEvent.UID',
  'auditEvent.userIdentity.principalId',
  'auditEvent.eventName',
  'auditEvent.userIdentity.details.agent',
  'auditEvent.responseElements.decision',
  'auditEvent.additionalEventData.phase',
];

const manyArguments = Object.fromEntries(
  Array.from({ length: 300 }, (_, index) => [`arg_${index}`, { nested: index, list: [index, index] }]),
);
const caller = callerFromClaims({
  sub: 'alice',
  iss: 'https://idp',
  exp: 2000000000,
  roles: Array.from({ length: 100 }, (_, index) => `role-${index}`),
  client_id: 'agent-1',
  act: { sub: 'a1', act: { sub: 'a2' } },
});

describe('issue 10 #18: Logs Insights reads at most 200 JSON fields per event', () => {
  it('reads every field the activity query uses (sanity: the list is not empty)', () => {
    expect(queryFields).toEqual(expect.arrayContaining(filterFields));
  });

  it.each([
    ['request', 'deny'],
    ['response', 'allow'],
  ] as const)(
    'keeps the filter fields among the first 200 for a 300-argument call (%s phase, %s)',
    async (phase, decision) => {
      const line = await loggedLine({
        time: new Date('2026-11-21T10:00:00Z'),
        phase,
        caller,
        method: 'tools/call',
        toolName: 'orders___bulk',
        target: 'orders',
        arguments: manyArguments,
        jsonRpcId: 1,
        decision,
        enforced: true,
        errorCode: decision === 'deny' ? 'AccessDenied' : undefined,
        reason: 'r',
        policies: Array.from({ length: 50 }, (_, index) => `policy-${index}`),
        injected: ['_caller_user', '_caller_roles'],
        extra: { listedTools: Array.from({ length: 300 }, (_, index) => `tool-${index}`) },
        requestDigest: requestDigest('tools/call', manyArguments),
      });
      const fields = flattenedFields(line);
      const first200 = new Set(fields.slice(0, 200));
      // Every field the query reads that this event has (an allow has no errorCode) is within reach…
      for (const field of queryFields.filter((name) => fields.includes(name)))
        expect([field, first200.has(field)]).toStrictEqual([field, true]);
      // …and the fields it filters on are always there.
      for (const field of filterFields) expect([field, first200.has(field)]).toStrictEqual([field, true]);
      // The arguments are one field: a JSON string, whatever their number.
      const args = fields.filter((field) => field.startsWith(`${AUDIT_LOG_KEY}.requestParameters.arguments`));
      expect(args).toStrictEqual([`${AUDIT_LOG_KEY}.requestParameters.arguments`]);
      expect(fields.length).toBeLessThan(200);
    },
  );
});
