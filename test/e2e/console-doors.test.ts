import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DoorKind } from '../../local/doors';
import { startLocalStack } from '../../local/stack';
import { POLICY_DIR } from '../helpers/harness';

/** The console is served by whichever door `npm start` runs, on its port, and can be turned off. */
const USERS = join(__dirname, '..', '..', 'local', 'users.json');

async function withStack(
  options: { door: DoorKind; console?: boolean },
  run: (stack: Awaited<ReturnType<typeof startLocalStack>>) => Promise<void>,
): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mcp-identity-console-door-'));
  const stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: POLICY_DIR,
    usersFile: USERS,
    dataDir,
    watchPolicies: false,
    ...options,
  });
  try {
    await run(stack);
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe.each(['agentcore', 'apigateway'] as const)('the %s door', (door) => {
  it('serves the console on the MCP port, with its decisions, beside a working MCP endpoint', async () => {
    await withStack({ door }, async (stack) => {
      expect(stack.consoleUrl).toBe(new URL('/console', stack.mcpUrl).href);
      const page = await fetch(stack.consoleUrl as string);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");

      const token = await stack.token('carol', 600);
      const mcp = await fetch(stack.mcpUrl, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2025-06-18',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'orders___get_order', arguments: { order_id: '1' } },
        }),
      });
      expect(mcp.status).toBe(200);
      await mcp.text();
      const { decisions } = (await (await fetch(`${stack.consoleUrl}/api/decisions?user=carol`)).json()) as {
        decisions: { user: string; tool: string; decision: string }[];
      };
      expect(decisions).toEqual([
        expect.objectContaining({ user: 'carol', tool: 'orders___get_order', decision: 'deny' }),
      ]);
    });
  });
});

it('serves no console when it is turned off', async () => {
  await withStack({ door: 'agentcore', console: false }, async (stack) => {
    expect(stack.consoleUrl).toBeUndefined();
    expect((await fetch(new URL('/console', stack.mcpUrl))).status).toBe(404);
  });
});
