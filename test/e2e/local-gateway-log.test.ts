import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEventData } from '../../lambda/core/audit-event';
import { logSafe } from '../../local/gateway';
import { decisionSummary } from '../../local/request-log';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { POLICY_DIR } from '../helpers/harness';

/**
 * The local gateway's request log (`npm start` prints it) shows client text — the method and the tool name —
 * scrubbed like the audit trail and bounded: a token sent as either never reaches it (issue 10 #10).
 */
let stack: LocalStack;
let token: string;
const lines: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: POLICY_DIR,
    usersFile: join(__dirname, '..', '..', 'local', 'users.json'),
    dataDir: mkdtempSync(join(tmpdir(), 'mcp-identity-e2e-log-')),
    watchPolicies: false,
    log: (line) => lines.push(line),
  });
  token = await stack.token('alice');
});
afterAll(() => stack.stop());

async function send(body: unknown, withToken: boolean): Promise<string[]> {
  const before = lines.length;
  const response = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...(withToken ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return lines.slice(before);
}

const secrets = () => {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  return [token, `${header}.${payload}`, payload, signature];
};

describe('the local gateway request log', () => {
  const cases: [string, () => unknown][] = [
    ['a JWT as the method', () => ({ jsonrpc: '2.0', id: 1, method: token })],
    ['a bearer credential as the method', () => ({ jsonrpc: '2.0', id: 1, method: `Bearer ${token}` })],
    [
      'a JWT as the tool name',
      () => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: token, arguments: {} } }),
    ],
    [
      'a bearer credential as the tool name',
      () => ({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: `Bearer ${token}`, arguments: {} },
      }),
    ],
    [
      'a JWT inside a long tool name',
      () => ({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: `orders___${'x'.repeat(40)}${token}`, arguments: {} },
      }),
    ],
  ];

  it.each(
    cases.flatMap(([label, body]) => [
      [label, 'with a valid token', body, true] as const,
      [label, 'without a token', body, false] as const,
    ]),
  )('%s never reaches the log (%s)', async (_label, _auth, body, withToken) => {
    const printed = await send(body(), withToken);
    expect(printed).toHaveLength(1);
    const line = printed[0] as string;
    for (const secret of secrets()) expect(line).not.toContain(secret);
    expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{5,}/);
    expect(line).toContain('[REDACTED]');
    expect(line.length).toBeLessThan(300);
  });

  it('a method that tries to start a new log line stays on one line', async () => {
    const printed = await send(
      { jsonrpc: '2.0', id: 1, method: 'tools/list\n12:00:00  tools/call x → 200' },
      true,
    );
    expect(printed).toHaveLength(1);
    expect(printed[0]).not.toMatch(/[\r\n]/);
  });

  it('an ordinary call is still logged with its method and tool name', async () => {
    const printed = await send(
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'orders___get_order', arguments: { order_id: '1001' } },
      },
      true,
    );
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/ tools\/call orders___get_order → 200 · alice allow$/);
  });

  it('a denied call names the user, the tool, the decision and the reason, on one line', async () => {
    const printed = await send(
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'orders___update_order', arguments: { order_id: '1001', status: 'cancelled' } },
      },
      true,
    );
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(
      / tools\/call orders___update_order → 200 · alice deny: Denied: no policy permits alice@example\.com to call the tool 'orders___update_order' \(denied by default\)\.$/,
    );
  });

  it('a request without a token is logged as anonymous with the refusal', async () => {
    const printed = await send({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, false);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/ tools\/list → 401 · anonymous deny: Authentication required/);
  });

  it('concurrent requests of different users each get their own decision', async () => {
    const carol = await stack.token('carol');
    const call = (bearer: string, id: number) =>
      fetch(stack.mcpUrl, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          Authorization: `Bearer ${bearer}`,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'orders___get_order', arguments: { order_id: '1001' } },
        }),
      }).then((response) => response.arrayBuffer());
    const before = lines.length;
    await Promise.all(Array.from({ length: 6 }, (_, i) => call(i % 2 === 0 ? token : carol, i)));
    const printed = lines.slice(before);
    expect(printed).toHaveLength(6);
    expect(printed.filter((line) => line.endsWith(' · alice allow'))).toHaveLength(3);
    expect(
      printed.filter((line) => / · carol deny: Denied: no policy permits carol@/.test(line)),
    ).toHaveLength(3);
    for (const line of printed) expect(line).not.toContain(carol);
  });
});

describe('decisionSummary', () => {
  const event = (overrides: Partial<AuditEventData>): AuditEventData => ({
    version: '1.0',
    UID: 'u',
    eventTime: '2026-01-01T00:00:00Z',
    eventSource: 'mcp-identity-local',
    eventName: 'orders___get_order',
    recipientAccountId: '000000000000',
    userIdentity: { type: 'McpUser', principalId: 'alice' },
    responseElements: { decision: 'allow', enforced: 'true' },
    additionalEventData: { phase: 'request' },
    ...overrides,
  });

  it('bounds and scrubs the reason and the subject', () => {
    const jwt = `eyJ${'a'.repeat(30)}.eyJ${'b'.repeat(30)}.${'c'.repeat(40)}`;
    const summary = decisionSummary([
      event({
        userIdentity: { type: 'McpUser', principalId: `x${jwt}\ny` },
        responseElements: { decision: 'deny', reason: `${jwt} ${'r'.repeat(500)}` },
      }),
    ]);
    expect(summary).not.toContain('eyJ');
    expect(summary).not.toMatch(/[\r\n]/);
    expect(summary).toContain('[REDACTED]');
    expect(summary.length).toBeLessThan(260);
  });

  it('reads the request step, adds a failed outcome, and says nothing when nothing was audited', () => {
    const response = event({
      additionalEventData: { phase: 'response' },
      responseElements: { decision: 'allow' },
      errorCode: 'ToolError',
    });
    expect(decisionSummary([response, event({})])).toBe(' · alice allow (outcome: ToolError)');
    expect(decisionSummary([])).toBe('');
  });
});

describe('logSafe', () => {
  it('redacts before it cuts, so a token is never cut into a shape the patterns miss', () => {
    const jwt = `eyJ${'a'.repeat(30)}.eyJ${'b'.repeat(30)}.${'c'.repeat(40)}`;
    const shown = logSafe(`${'m'.repeat(60)}${jwt}`, 64);
    expect(shown).not.toContain('eyJ');
    expect(shown.length).toBeLessThanOrEqual(65);
    // The marker is either whole or left out, never cut.
    expect(shown).toMatch(/^m{60}…$/);
  });

  it('bounds long text and prints non-strings as ?', () => {
    expect(logSafe('x'.repeat(500), 64)).toBe(`${'x'.repeat(64)}…`);
    expect(logSafe({ toString: () => 'eyJ' }, 64)).toBe('?');
    expect(logSafe(undefined, 64)).toBe('?');
    expect(logSafe('', 64)).toBe('?');
    expect(logSafe('tools/list', 64)).toBe('tools/list');
  });

  it('replaces control, format and line-separator characters', () => {
    expect(logSafe('a\nb\rc\u0000d\u200be\u2028f', 64)).toBe('a?b?c?d?e?f');
  });
});
