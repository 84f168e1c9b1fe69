import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AuditEventData } from '../../lambda/core/audit-event';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { cliAsync } from '../cli/helpers';
import { POLICY_DIR } from '../helpers/harness';

/**
 * The local stack end to end, driven by the real MCP SDK client over Streamable HTTP, as each user.
 */
let stack: LocalStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: POLICY_DIR,
    usersFile: join(__dirname, '..', '..', 'local', 'users.json'),
    dataDir: mkdtempSync(join(tmpdir(), 'mcp-identity-e2e-')),
    watchPolicies: false,
  });
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = await stack.token(user);
});
afterAll(() => stack.stop());

async function connect(token: string | undefined): Promise<Client> {
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { requestInit: { headers } }),
  );
  return client;
}

async function as<T>(user: string, run: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(tokens[user]);
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;
const auditEvents = (): AuditEventData[] =>
  readFileSync(stack.auditFile, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditEventData);

describe('tools/list per user', () => {
  it('lists only what each user could call, without the injected parameters', async () => {
    const names = async (user: string) =>
      (await as(user, (client) => client.listTools())).tools.map((tool) => tool.name).sort();
    expect(await names('alice')).toEqual(['orders___get_order', 'orders___get_recent_activity']);
    expect(await names('bob')).toEqual([
      'orders___get_order',
      'orders___get_recent_activity',
      'orders___update_order',
    ]);
    expect(await names('carol')).toEqual([]);

    const { tools } = await as('bob', (client) => client.listTools());
    for (const tool of tools) {
      expect(Object.keys(tool.inputSchema.properties ?? {})).not.toContain('_caller_user');
      expect(Object.keys(tool.inputSchema.properties ?? {})).not.toContain('_caller_roles');
      expect(tool.inputSchema.required ?? []).not.toContain('_caller_user');
    }
  });
});

describe('tools/call per user', () => {
  it('alice reads her own order and is refused someone else’s', async () => {
    await as('alice', async (client) => {
      const own = await client.callTool({ name: 'orders___get_order', arguments: { order_id: '1001' } });
      expect(own.isError).toBeFalsy();
      expect(JSON.parse(text(own))).toMatchObject({ id: '1001', owner: 'alice' });
      const other = await client.callTool({ name: 'orders___get_order', arguments: { order_id: '2001' } });
      expect(other.isError).toBe(true);
      expect(text(other)).toBe('Order 2001 was not found.');
    });
  });

  it('alice is refused update_order with the reason in the tool result', async () => {
    const result = await as('alice', (client) =>
      client.callTool({
        name: 'orders___update_order',
        arguments: { order_id: '1001', status: 'cancelled' },
      }),
    );
    expect(result.isError).toBe(true);
    expect(text(result)).toBe(
      "Denied: no policy permits alice@example.com to call the tool 'orders___update_order' (denied by default).",
    );
  });

  it('bob updates an order; a large refund names the policy that stops it', async () => {
    await as('bob', async (client) => {
      const updated = await client.callTool({
        name: 'orders___update_order',
        arguments: { order_id: '2001', status: 'shipped' },
      });
      expect(updated.isError).toBeFalsy();
      expect(JSON.parse(text(updated))).toMatchObject({ id: '2001', status: 'shipped', updatedBy: 'bob' });
      const refund = await client.callTool({
        name: 'orders___update_order',
        arguments: { order_id: '2001', status: 'refunded', amount: 900 },
      });
      expect(refund.isError).toBe(true);
      expect(text(refund)).toMatch(/large-refunds-need-finance/);
    });
  });

  it('carol is refused every tool', async () => {
    await as('carol', async (client) => {
      for (const [name, args] of [
        ['orders___get_order', { order_id: '3001' }],
        ['orders___update_order', { order_id: '3001', status: 'shipped' }],
        ['orders___get_recent_activity', {}],
      ] as const) {
        const result = await client.callTool({ name, arguments: args });
        expect(result.isError).toBe(true);
        expect(text(result)).toMatch(/^Denied: no policy permits carol@example.com/);
      }
    });
  });

  it('a client that sends _caller_user itself is refused', async () => {
    const result = await as('alice', (client) =>
      client.callTool({
        name: 'orders___get_order',
        arguments: { order_id: '2001', _caller_user: 'bob', _caller_roles: ['order-admin'] },
      }),
    );
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/reserved identity argument/);
  });

  it('get_recent_activity answers for the caller only', async () => {
    await as('bob', (client) =>
      client.callTool({ name: 'orders___get_order', arguments: { order_id: '2001' } }),
    );
    await as('alice', (client) =>
      client.callTool({ name: 'orders___get_order', arguments: { order_id: '1002' } }),
    );
    const activity = JSON.parse(
      text(
        await as('alice', (client) =>
          client.callTool({ name: 'orders___get_recent_activity', arguments: {} }),
        ),
      ),
    ) as {
      user: string;
      activity: { user: string; detail: string }[];
    };
    expect(activity.user).toBe('alice');
    expect(activity.activity.length).toBeGreaterThan(0);
    expect(activity.activity.every((item) => item.user === 'alice')).toBe(true);
    expect(activity.activity.map((item) => item.detail)).toContain('order 1002');
  });
});

describe('authentication at the front door', () => {
  const post = (token: string | undefined) =>
    fetch(stack.mcpUrl, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });

  const past = () => Math.floor(Date.now() / 1000) - 60;
  it.each([
    ['no token', async () => undefined],
    [
      'an expired token',
      async () =>
        stack.devIssuer.sign({
          sub: 'alice',
          roles: ['db-reader'],
          aud: stack.mcpUrl,
          iat: past() - 900,
          exp: past(),
        }),
    ],
    [
      'a token for another audience',
      async () =>
        stack.devIssuer.sign({ sub: 'alice', roles: ['db-reader'], aud: 'https://other.example.com/mcp' }),
    ],
    ['a token with a tampered signature', async () => tokens.alice?.replace(/\.[^.]+$/, '.AAAA')],
  ])(
    'answers %s with 401 and WWW-Authenticate pointing at the protected resource metadata',
    async (_label, token) => {
      const response = await post(await token());
      expect(response.status).toBe(401);
      const challenge = response.headers.get('www-authenticate') ?? '';
      const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
      expect(metadataUrl).toBeDefined();
      const metadata = (await (await fetch(metadataUrl as string)).json()) as {
        resource: string;
        authorization_servers: string[];
      };
      expect(metadata).toEqual({
        resource: stack.mcpUrl,
        authorization_servers: [stack.issuer],
        bearer_methods_supported: ['header'],
      });
    },
  );

  it('the MCP SDK client cannot even initialize without a token', async () => {
    await expect(connect(undefined)).rejects.toThrow(/Authentication required/);
  });
});

describe('the audit store and the target', () => {
  it('holds one event per decision with who, what, the decision and the determining policy, and no token', async () => {
    const before = auditEvents().length;
    await as('bob', (client) =>
      client.callTool({ name: 'orders___get_order', arguments: { order_id: '1001' } }),
    );
    await as('alice', (client) =>
      client.callTool({ name: 'orders___update_order', arguments: { order_id: '1001', status: 'shipped' } }),
    );
    const events = auditEvents().slice(before);
    const decisions = events.filter(
      (event) =>
        event.additionalEventData?.phase === 'request' && event.requestParameters?.method === 'tools/call',
    );
    expect(decisions).toHaveLength(2);
    expect(decisions[0]).toMatchObject({
      userIdentity: {
        principalId: 'bob',
        details: { roles: '["order-admin"]', agent: 'mcp-identity-local-agent' },
      },
      eventName: 'orders___get_order',
      responseElements: { decision: 'allow', determiningPolicies: '["orders-readers"]' },
    });
    expect(decisions[1]).toMatchObject({
      userIdentity: { principalId: 'alice' },
      eventName: 'orders___update_order',
      errorCode: 'AccessDenied',
      responseElements: { decision: 'deny', determiningPolicies: '[]' },
    });
    const everything = readFileSync(stack.auditFile, 'utf8');
    for (const token of Object.values(tokens)) {
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.split('.')[2]);
    }
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });

  it('the target never saw an Authorization header', () => {
    expect(stack.target?.authorizationHeadersSeen()).toBe(0);
  });
});

describe('mcp-identity activity over the audit store this run produced', () => {
  const activity = (...args: string[]) =>
    cliAsync(['activity', '--file', stack.auditFile, '--since', '1h', ...args]);

  it('lists one user’s decisions, newest first', async () => {
    const result = await activity('--user', 'alice', '--json');
    expect(result.status).toBe(0);
    const rows = JSON.parse(result.stdout) as {
      user: string;
      tool: string;
      decision: string;
      time: string;
    }[];
    expect(rows.length).toBeGreaterThan(3);
    expect(rows.every((row) => row.user === 'alice')).toBe(true);
    expect([...rows].sort((a, b) => b.time.localeCompare(a.time))).toEqual(rows);
  });

  it('answers “who was denied update_order” as a table', async () => {
    const result = await activity('--tool', 'orders___update_order', '--decision', 'deny');
    expect(result.stdout.split('\n')[0]).toMatch(
      /^TIME\s+USER\s+TOOL\s+DECISION\s+POLICIES\s+REASON\s+AGENT$/,
    );
    expect(result.stdout).toMatch(/alice\s+orders___update_order\s+deny/);
    expect(result.stdout).toMatch(/bob\s+orders___update_order\s+deny\s+large-refunds-need-finance/);
  });

  it('--wide adds the UID and shows reasons in full; --show-arguments adds the recorded arguments', async () => {
    const narrow = await activity('--tool', 'orders___update_order', '--decision', 'deny');
    expect(narrow.stdout).not.toContain('"order_id"');
    expect(narrow.stdout).not.toContain('(refunds above 500 need the finance-approver role).');
    const json = JSON.parse((await activity('--user', 'bob', '--json')).stdout) as Record<string, unknown>[];
    expect(json.length).toBeGreaterThan(0);
    expect(json.every((row) => !('arguments' in row))).toBe(true);

    const wide = await activity(
      '--tool',
      'orders___update_order',
      '--decision',
      'deny',
      '--wide',
      '--show-arguments',
    );
    expect(wide.status).toBe(0);
    expect(wide.stdout.split('\n')[0]).toMatch(
      /^TIME\s+USER\s+TOOL\s+DECISION\s+POLICIES\s+REASON\s+AGENT\s+UID\s+ARGUMENTS$/,
    );
    const bob = wide.stdout.split('\n').find((line) => line.includes('large-refunds-need-finance')) ?? '';
    expect(bob).toContain(
      "Denied by policy 'large-refunds-need-finance' (refunds above 500 need the finance-approver role).",
    );
    expect(bob).toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
    expect(bob).toContain('"order_id":"2001"');
  });

  it('summarises per user and denials by policy', async () => {
    const summary = await activity('--report', 'summary', '--json');
    const users = JSON.parse(summary.stdout) as { user: string; calls: number; denials: number }[];
    expect(users.map((user) => user.user).sort()).toEqual(['alice', 'anonymous', 'bob', 'carol']);
    expect(users.find((user) => user.user === 'carol')).toMatchObject({ denials: 3 });
    const denials = await activity('--report', 'denials', '--csv');
    expect(denials.stdout.split('\n')[0]).toBe('policy,denials,users,tools');
    expect(denials.stdout).toContain('large-refunds-need-finance,');
    expect(denials.stdout).toContain('(SpoofingAttempt),');
  });

  it('tells one request’s story by its UID: the decision and the outcome', async () => {
    await as('alice', (client) =>
      client.callTool({ name: 'orders___get_order', arguments: { order_id: '3001' } }),
    );
    const decision = auditEvents()
      .filter((event) => event.additionalEventData?.phase === 'request')
      .at(-1);
    const result = await activity('--request', decision?.UID ?? '', '--json');
    const rows = JSON.parse(result.stdout) as {
      uid: string;
      phase: string;
      decision: string;
      errorCode: string;
    }[];
    expect(rows.map((row) => [row.phase, row.decision, row.errorCode])).toEqual([
      ['request', 'allow', ''],
      ['response', 'allow', 'ToolError'],
    ]);
    expect(rows[0]?.uid).toBe(decision?.UID);
    const missing = await activity('--request', 'no-such-uid');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no audit event with UID no-such-uid');
  });

  it('filters by agent, and refuses a bad time with a clear message', async () => {
    expect(JSON.parse((await activity('--agent', 'someone-else', '--json')).stdout)).toEqual([]);
    const bad = await activity('--until', 'tomorrow');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("'tomorrow' is not a time");
  });
});
