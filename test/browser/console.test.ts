import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { POLICY_DIR } from '../helpers/harness';

/**
 * The local console in a real browser (Debian's chromium driven by playwright-core): live decisions from calls
 * made with the real MCP SDK client, filters and panels, the policy playground, and hostile text rendered as text.
 * The page must also run under its own CSP without a single console error.
 */
jest.setTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let stack: LocalStack;
let dataDir: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mcp-identity-console-'));
  stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: POLICY_DIR,
    usersFile: join(__dirname, '..', '..', 'local', 'users.json'),
    dataDir,
    watchPolicies: false,
  });
  // Root in a container has no user namespace for chromium's sandbox; the page is ours and loopback only.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  page = await browser.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
});
afterEach(async () => {
  await page.close();
  // CSP violations, script errors and failed requests all show up here.
  expect(pageErrors.splice(0)).toEqual([]);
});

async function callTool(
  user: string,
  name: string,
  args: Record<string, unknown>,
  token?: string,
): Promise<void> {
  const client = new Client({ name: 'console-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${token ?? (await stack.token(user))}` } },
    }),
  );
  try {
    await client.callTool({ name, arguments: args });
  } finally {
    await client.close();
  }
}

async function openConsole(): Promise<void> {
  await page.goto(stack.consoleUrl as string);
  await page.locator('#status[data-state="live"]').waitFor();
}

const rowsFor = (user: string, tool: string) =>
  page
    .locator('#decisions tbody tr')
    .filter({ has: page.locator('td.user', { hasText: user }) })
    .filter({
      has: page.locator('td.tool', { hasText: tool }),
    });

describe('the local console in a browser', () => {
  it('shows earlier decisions, then a new one live with user, tool, decision, policy and reason', async () => {
    await callTool('bob', 'orders___get_order', { order_id: '2001' });
    await openConsole();
    await expect(
      rowsFor('bob', 'orders___get_order').first().locator('td.decision').textContent(),
    ).resolves.toBe('allow');

    await callTool('alice', 'orders___update_order', { order_id: '1001', status: 'cancelled' });
    const live = rowsFor('alice', 'orders___update_order').first();
    await live.waitFor();
    expect(await live.locator('td.decision').textContent()).toBe('deny');
    expect(await live.locator('td.policy').textContent()).toBe('no permit (default deny)');
    expect(await live.locator('td.reason').textContent()).toBe(
      "Denied: no policy permits alice@example.com to call the tool 'orders___update_order' (denied by default).",
    );
    expect(await live.locator('td.arguments').textContent()).toContain('"status":"cancelled"');
    // The RESPONSE step's record of the same call, joined to its row when it is written.
    await live.locator('td.outcome', { hasText: 'refused-by-gateway' }).waitFor();

    // The newest decision is the first row, and the panels count it.
    expect(await page.locator('#decisions tbody tr').first().locator('td.user').textContent()).toBe('alice');
    const alice = page.locator('#users tbody tr').filter({ hasText: 'alice' });
    await alice.waitFor();
    expect(await alice.locator('td').nth(3).textContent()).not.toBe('0');
    await page.locator('#denials-chart rect').first().waitFor();
    expect(await page.locator('#denials-legend').textContent()).toContain('no permit (default deny)');
  });

  it('a large refund names the forbid that stopped it, and filters apply to history and to the live stream', async () => {
    await callTool('bob', 'orders___update_order', { order_id: '2001', status: 'refunded', amount: 900 });
    await openConsole();
    const refund = rowsFor('bob', 'orders___update_order').filter({ hasText: 'refunded' }).first();
    await refund.waitFor();
    expect(await refund.locator('td.policy').textContent()).toBe('large-refunds-need-finance');

    await page.locator('#filters select[name="decision"]').selectOption('deny');
    await page.locator('#filters input[name="user"]').fill('bob');
    await page.locator('#filters button[type="submit"]').click();
    await page.locator('#status[data-state="live"]').waitFor();
    await refund.waitFor();
    const users = await page.locator('#decisions tbody td.user').allTextContents();
    const decisions = await page.locator('#decisions tbody td.decision').allTextContents();
    expect(new Set(users)).toEqual(new Set(['bob']));
    expect(new Set(decisions)).toEqual(new Set(['deny']));

    // Live: a matching call appears, a call by someone else does not.
    await callTool('carol', 'orders___get_order', { order_id: '3001' });
    await callTool('bob', 'orders___update_order', { order_id: '2002', status: 'refunded', amount: 901 });
    await rowsFor('bob', 'orders___update_order').filter({ hasText: '2002' }).first().waitFor();
    expect(await page.locator('#decisions tbody td.user').allTextContents()).not.toContain('carol');
  });

  it('renders hostile arguments, user and agent names as text, never as markup', async () => {
    const payload = '<img src=x onerror="window.__pwned=1">';
    await openConsole();
    await callTool('alice', 'orders___get_order', { order_id: payload });
    // A caller whose own names are markup (the subject and agent come from a verified token).
    const hostile = await stack.devIssuer.sign(
      {
        sub: '<img src=y onerror="window.__pwned=2">',
        roles: ['developer'],
        aud: stack.mcpUrl,
        client_id: '<script>window.__pwned=3</script>',
      },
      { ttlSeconds: 300 },
    );
    await callTool('', 'orders___get_order', { order_id: '<svg onload="window.__pwned=5">' }, hostile);
    const argumentsCell = page.locator('#decisions tbody td.arguments', { hasText: 'onerror' }).first();
    await argumentsCell.waitFor();
    expect(await argumentsCell.textContent()).toBe(JSON.stringify({ order_id: payload }));
    const hostileRow = page.locator('#decisions tbody tr', { hasText: '<svg onload' }).first();
    await hostileRow.waitFor();
    expect(await hostileRow.locator('td.user').textContent()).toBe('<img src=y onerror="window.__pwned=2">');
    expect(await hostileRow.locator('td.agent').textContent()).toBe('<script>window.__pwned=3</script>');
    await page.locator('#users tbody button', { hasText: '<img src=y' }).waitFor();
    expect(await page.locator('img, svg:not(#denials-chart), main script').count()).toBe(0);
    expect(
      await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    ).toBeUndefined();

    // And in the playground: a hostile user name comes back as text in the explanation.
    await page.locator('#playground input[name="user"]').fill('<img src=z onerror="window.__pwned=4">');
    await page.locator('#playground input[name="roles"]').fill('developer');
    await page.locator('#playground input[name="tool"]').fill('orders___get_order');
    await page.locator('#playground textarea[name="args"]').fill('{"order_id":"<b>bold</b>"}');
    await page.locator('#playground button[type="submit"]').click();
    await page.locator('#playground-result .verdict').waitFor();
    expect(await page.locator('#playground-result img, #playground-result b').count()).toBe(0);
    expect(await page.locator('#playground-result').textContent()).toContain('<img src=z');
    expect(
      await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    ).toBeUndefined();
  });

  it('holds no token anywhere: a token sent as an argument shows only as recorded, redacted', async () => {
    const token = await stack.token('alice');
    await openConsole();
    await callTool(
      'alice',
      'orders___get_order',
      { order_id: '1001', note: `Bearer ${token}`, token },
      token,
    );
    const cell = page.locator('#decisions tbody td.arguments', { hasText: 'note' }).first();
    await cell.waitFor();
    expect(await cell.textContent()).toContain('[REDACTED]');
    const everything = `${await page.content()}${JSON.stringify(await page.evaluate(() => (globalThis as unknown as { localStorage: unknown }).localStorage))}`;
    expect(everything).not.toContain(token);
    expect(everything).not.toMatch(/eyJ[\w-]{10,}\.eyJ/);
  });

  it('the playground decides like policies authorize: decision, policy file:line, the forbid over a permit, errors', async () => {
    await openConsole();
    const decide = async (fields: Record<string, string>) => {
      for (const name of ['user', 'roles', 'agent', 'tool'])
        await page.locator(`#playground input[name="${name}"]`).fill(fields[name] ?? '');
      await page.locator('#playground textarea[name="args"]').fill(fields.args ?? '{}');
      await page.locator('#playground-result').evaluate((node) => node.replaceChildren());
      await page.locator('#playground button[type="submit"]').click();
      await page.locator('#playground-result .verdict, #playground-result .error').waitFor();
      return (await page.locator('#playground-result').textContent()) as string;
    };

    const allowed = await decide({ user: 'alice', tool: 'orders___get_order', args: '{"order_id":"1001"}' });
    expect(allowed).toMatch(/^ALLOW/);
    expect(allowed).toMatch(/allowed by +permit \S+ \(\S+\.cedar:\d+\)/);

    const forbidden = await decide({
      user: 'bob',
      tool: 'orders___update_order',
      args: '{"order_id":"1","status":"refunded","amount":900}',
    });
    expect(forbidden).toMatch(/^DENY/);
    expect(forbidden).toMatch(/denied by +forbid large-refunds-need-finance \(large-refunds\.cedar:\d+\)/);
    expect(forbidden).toMatch(/overriding +permit \S+ \(\S+\.cedar:\d+\)/);

    const byDefault = await decide({
      user: 'carol',
      tool: 'orders___update_order',
      args: '{"order_id":"1","status":"x"}',
    });
    expect(byDefault).toMatch(/^DENY/);
    expect(byDefault).toContain('denied by   default: no permit applies');

    const broken = await decide({ user: 'alice', tool: 'orders___get_order', args: '{"order_id": ' });
    expect(await page.locator('#playground-result .error').count()).toBe(1);
    expect(broken).toMatch(/the arguments are not JSON/);
    // The browser notes the 400 it was answered; that one is expected.
    const noted = pageErrors.findIndex((text) => /status of 400/.test(text));
    expect(noted).not.toBe(-1);
    pageErrors.splice(noted, 1);
  });
});
