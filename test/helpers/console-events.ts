/** One line of the local audit store, shaped as the guard writes it (CloudTrail Lake `eventData`). */
export function auditLine(options: {
  uid: string;
  user?: string;
  tool?: string;
  decision?: 'allow' | 'deny';
  policies?: string[];
  phase?: 'request' | 'response';
  requestKey?: string;
  args?: unknown;
  outcome?: string;
  time?: string;
}): string {
  const decision = options.decision ?? 'allow';
  const policies = options.policies ?? [];
  return JSON.stringify({
    version: '1.0',
    UID: options.uid,
    eventTime: options.time ?? '2026-12-02T08:00:00Z',
    eventSource: 'mcp-identity-local',
    eventName: options.tool ?? 'orders___get_order',
    recipientAccountId: '000000000000',
    userIdentity: {
      type: 'McpUser',
      principalId: options.user ?? 'alice',
      details: { agent: 'agent-1', roles: '["developer"]' },
    },
    ...(decision === 'deny'
      ? { errorCode: 'AccessDenied', errorMessage: `Denied by policy ${policies.join(',')}` }
      : {}),
    responseElements: {
      decision,
      enforced: 'true',
      determiningPolicies: JSON.stringify(policies),
      ...(decision === 'deny' ? { reason: `Denied by policy ${policies.join(',')}` } : {}),
    },
    additionalEventData: {
      phase: options.phase ?? 'request',
      requestKey: options.requestKey ?? `key-${options.uid}`,
      mode: 'enforce',
      ...(options.outcome === undefined ? {} : { outcome: options.outcome }),
    },
    requestParameters: {
      method: 'tools/call',
      tool: options.tool ?? 'orders___get_order',
      arguments: JSON.stringify(options.args ?? { order_id: '1001' }),
    },
  });
}
