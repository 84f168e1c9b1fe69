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
 * Issue 15, end to end on the local stack with the real MCP SDK client and the real CLI: carol (no roles) is
 * granted order-admin for 2 minutes, her update succeeds, and she is refused again after `grant revoke`; then
 * separately after the kill switch (`revoke --user carol`), until `revoke lift`. The lookup bound is 1 s here.
 */

const BOUND_SECONDS = 1;
// Each CLI run starts a Node process (a few seconds on a busy machine).
jest.setTimeout(180_000);
let stack: LocalStack;
let data: string;
let carolToken: string;

beforeAll(async () => {
  data = mkdtempSync(join(tmpdir(), 'mcp-identity-access-'));
  stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: POLICY_DIR,
    usersFile: join(__dirname, '..', '..', 'local', 'users.json'),
    dataDir: data,
    watchPolicies: false,
    accessTtlSeconds: BOUND_SECONDS,
  });
  carolToken = await stack.token('carol');
}, 60_000);
afterAll(() => stack.stop());

async function asCarol<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ name: 'e2e-access', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${carolToken}` } },
    }),
  );
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

/** carol's update of order 3001: allowed, refused as a tool result, or refused at `initialize` (kill switch). */
async function update(): Promise<{
  readonly ok: boolean;
  readonly text: string;
  readonly result?: CallToolResult;
}> {
  try {
    const result = (await asCarol((client) =>
      client.callTool({ name: 'orders___update_order', arguments: { order_id: '3001', status: 'shipped' } }),
    )) as CallToolResult;
    return { ok: result.isError !== true, text: (result.content[0] as { text: string }).text, result };
  } catch (error) {
    return { ok: false, text: (error as Error).message };
  }
}

type Attempt = Awaited<ReturnType<typeof update>>;

/** Calls until `done` holds or the deadline (a few bounds) passes; returns the last attempt and the wait. */
async function until(done: (attempt: Attempt) => boolean): Promise<Attempt & { ms: number }> {
  const start = Date.now();
  for (;;) {
    const attempt = await update();
    if (done(attempt) || Date.now() - start > BOUND_SECONDS * 1000 * 4)
      return { ...attempt, ms: Date.now() - start };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const cli = (...args: string[]) => cliAsync([...args, '--data', data]);

describe('just-in-time grant and kill switch on the local stack', () => {
  it('carol is granted order-admin for 2 minutes, updates an order, and is refused after grant revoke', async () => {
    const before = await update();
    expect(before.ok).toBe(false);

    const granted = await cli(
      'grant',
      '--user',
      'carol',
      '--role',
      'order-admin',
      '--for',
      '2m',
      '--reason',
      'INC-1234',
      '--as',
      'ops',
    );
    expect(granted.stderr).toBe('');
    expect(granted.status).toBe(0);
    const id = /\((g-[a-z0-9]+)\)/.exec(granted.stdout)?.[1] as string;
    expect(id).toBeDefined();

    const allowed = await until((attempt) => attempt.ok);
    expect(allowed.ok).toBe(true);
    expect(JSON.parse(allowed.text)).toMatchObject({
      id: '3001',
      status: 'shipped',
      updatedBy: 'carol',
    });
    expect(allowed.ms).toBeLessThanOrEqual(BOUND_SECONDS * 1000 + 1500);
    // The decision names the grant that supplied the role, beside the effective roles.
    const decided = readFileSync(stack.auditFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"orders___update_order"') && line.includes('"principalId":"carol"'))
      .map((line) => JSON.parse(line) as AuditEventData)
      .filter((event) => event.responseElements?.decision === 'allow');
    expect(decided.length).toBeGreaterThan(0);
    const details = decided[0]?.userIdentity.details ?? {};
    expect(JSON.parse(details.roles ?? '[]')).toEqual(['order-admin']);
    expect(JSON.parse(details.grants ?? '[]')).toEqual([
      expect.objectContaining({ id, role: 'order-admin' }),
    ]);
    const tools = await asCarol((client) => client.listTools());
    expect(tools.tools.map((tool) => tool.name)).toContain('orders___update_order');

    const listed = await cli('grant', 'list', '--json');
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        id,
        user: 'carol',
        role: 'order-admin',
        state: 'active',
        issuedBy: 'local:ops',
      }),
    ]);

    // The local console's active grants panel reads the same store.
    const panel = (await (await fetch(new URL('/console/api/access', stack.mcpUrl))).json()) as {
      grants: { id: string; user: string; role: string }[];
    };
    expect(panel.grants).toEqual([expect.objectContaining({ id, user: 'carol', role: 'order-admin' })]);

    const revoked = await cli('grant', 'revoke', id, '--reason', 'incident closed', '--as', 'ops');
    expect(revoked.status).toBe(0);
    const refused = await until((attempt) => !attempt.ok);
    expect(refused.ok).toBe(false);
    expect(refused.text).toMatch(/no policy permits/);
  });

  it('the kill switch refuses carol whatever her roles, until lifted', async () => {
    await cli(
      'grant',
      '--user',
      'carol',
      '--role',
      'order-admin',
      '--for',
      '2m',
      '--reason',
      'INC-1235',
      '--as',
      'ops',
    );
    expect((await until((attempt) => attempt.ok)).ok).toBe(true);

    const killed = await cli('revoke', '--user', 'carol', '--reason', 'laptop stolen', '--as', 'sec');
    expect(killed.status).toBe(0);
    const revocation = /\((r-[a-z0-9]+)\)/.exec(killed.stdout)?.[1] as string;
    const refused = await until((attempt) => !attempt.ok);
    // Refused from the first message on: the session's initialize already gets the revocation's reason.
    expect(refused.text).toContain(`Access for this user is revoked (${revocation}): laptop stolen`);
    expect(refused.ms).toBeLessThanOrEqual(BOUND_SECONDS * 1000 + 1500);
    // The listing is refused too.
    await expect(asCarol((client) => client.listTools())).rejects.toThrow(/revoked/);

    expect((await cli('revoke', 'lift', revocation, '--reason', 'laptop found', '--as', 'sec')).status).toBe(
      0,
    );
    expect((await until((attempt) => attempt.ok)).ok).toBe(true);
  });

  it('shows every grant and revocation in activity, and each decision names the grant that supplied the role', async () => {
    const activity = await cli('activity', '--json', '--limit', '1000');
    expect(activity.status).toBe(0);
    const rows = JSON.parse(activity.stdout) as { tool: string; user: string; decision: string }[];
    const changes = rows
      .filter((row) => /Grant|Revoke|Lift/.test(row.tool))
      .map((row) => [row.tool, row.user]);
    expect(changes).toEqual(
      expect.arrayContaining([
        ['GrantRole', 'local:ops'],
        ['RevokeGrant', 'local:ops'],
        ['RevokeAccess', 'local:sec'],
        ['LiftRevocation', 'local:sec'],
      ]),
    );
    const denied = await cli(
      'activity',
      '--json',
      '--user',
      'carol',
      '--decision',
      'deny',
      '--limit',
      '1000',
    );
    expect(JSON.parse(denied.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ errorCode: 'Revoked' })]),
    );
  });
});
