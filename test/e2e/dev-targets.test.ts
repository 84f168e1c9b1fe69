import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { generateCedarSchema, type McpTool } from '../../cli/schema';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { STDIO_HEADER_META_KEY } from '../../local/target-bridge';
import { parseTargetSpecs } from '../../local/target-specs';
import { AssertionRejectedError, createAssertionVerifier } from '../../verifier';

/**
 * Issue 12 #5: the operator's own MCP servers behind `dev --target` — one over Streamable HTTP (a stateful SDK
 * server answering in SSE), one over stdio — with the same naming, policies, identity assertion and audit as
 * the demo. An allowed call reaches the server with an assertion it can verify against the served JWKS, for
 * its own target only; a denied call never reaches it.
 */

const ROOT = join(__dirname, '..', '..');
const STDIO_SERVER = join(ROOT, 'test', 'fixtures', 'servers', 'notes-stdio-server.mjs');

let stack: LocalStack;
let crm: Server;
let dir: string;
const crmCalls: { tool: string; headers: IncomingHttpHeaders }[] = [];
const tokens: Record<string, string> = {};

const text = (result: Record<string, unknown>) =>
  ((result.content as { type: string; text?: string }[] | undefined) ?? [])
    .map((part) => part.text ?? '')
    .join('');

async function startCrmServer(): Promise<string> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  crm = createServer(async (request, response) => {
    const sessionId = request.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
    if (transport === undefined) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          if (transport) transports.set(id, transport);
        },
      });
      const server = new McpServer({ name: 'crm', version: '1.0.0' });
      const headers = request.headers;
      for (const tool of ['lookup_customer', 'delete_customer'])
        server.registerTool(
          tool,
          { description: `${tool} by id`, inputSchema: { customer_id: z.string() } },
          async (args, extra) => {
            crmCalls.push({ tool, headers: extra.requestInfo?.headers ?? headers });
            return { content: [{ type: 'text', text: `${tool} ${args.customer_id}` }] };
          },
        );
      await server.connect(transport);
    }
    await transport.handleRequest(request, response);
  });
  await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(crm.address() as AddressInfo).port}/mcp`;
}

/** The policy folder an operator would write for these two servers (schema as `schema generate` makes it). */
function writePolicies(policyDir: string): void {
  mkdirSync(policyDir, { recursive: true });
  const input = {
    type: 'object',
    properties: { customer_id: { type: 'string' } },
    required: ['customer_id'],
  };
  const note = { type: 'object', properties: { note_id: { type: 'string' } }, required: ['note_id'] };
  const tools: McpTool[] = [
    { name: 'crm___lookup_customer', description: 'lookup', inputSchema: input },
    { name: 'crm___delete_customer', description: 'delete', inputSchema: input },
    { name: 'notes___read_note', description: 'read', inputSchema: note },
    { name: 'notes___delete_note', description: 'delete', inputSchema: note },
    { name: 'notes___whoami', description: 'whoami', inputSchema: { type: 'object', properties: {} } },
  ];
  const stub = readFileSync(join(ROOT, 'policies', 'schema-stub.cedarschema'), 'utf8');
  const schema = generateCedarSchema(stub, tools, ['_caller_user', '_caller_roles']);
  writeFileSync(join(policyDir, 'schema.cedarschema'), schema.text);
  writeFileSync(
    join(policyDir, 'readers.cedar'),
    `@id("readers")
permit (
  principal,
  action in [McpIdentity::Action::"crm___lookup_customer", McpIdentity::Action::"notes___read_note", McpIdentity::Action::"notes___whoami"],
  resource
) when { principal in McpIdentity::Role::"db-reader" || principal in McpIdentity::Role::"order-admin" };
`,
  );
  writeFileSync(
    join(policyDir, 'admins.cedar'),
    `@id("admins-delete")
permit (
  principal in McpIdentity::Role::"order-admin",
  action in [McpIdentity::Action::"crm___delete_customer", McpIdentity::Action::"notes___delete_note"],
  resource
);
`,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-identity-dev-targets-'));
  const crmUrl = await startCrmServer();
  writePolicies(join(dir, 'policies'));
  stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: join(dir, 'policies'),
    usersFile: join(ROOT, 'local', 'users.json'),
    dataDir: join(dir, 'data'),
    watchPolicies: false,
    targets: parseTargetSpecs([
      `crm=${crmUrl}`,
      `notes=stdio:"${process.execPath}" "${STDIO_SERVER}" "${join(dir, 'notes-calls.jsonl')}"`,
    ]),
  });
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = await stack.token(user);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  crm?.closeAllConnections();
  await new Promise<void>((resolve) => (crm ? crm.close(() => resolve()) : resolve()));
  rmSync(dir, { recursive: true, force: true });
});

async function as<T>(user: string, run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${tokens[user]}` } },
    }),
  );
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

const verifierFor = (audience: string) =>
  createAssertionVerifier({ issuer: stack.assertion.issuer, audience, jwksUri: stack.assertion.jwksUrl });

const notesCalls = () => {
  try {
    return readFileSync(join(dir, 'notes-calls.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { tool: string; meta: Record<string, unknown> | null });
  } catch {
    return [];
  }
};

describe('dev --target: your own MCP servers behind the local gateway', () => {
  it('names every target in the stack description', () => {
    expect(stack.targets.map((target) => target.name)).toStrictEqual(['crm', 'notes']);
    expect(stack.target).toBeUndefined();
  });

  it('lists per-user tools across both targets', async () => {
    const names = async (user: string) =>
      (await as(user, (client) => client.listTools())).tools.map((tool) => tool.name).sort();
    expect(await names('alice')).toStrictEqual([
      'crm___lookup_customer',
      'notes___read_note',
      'notes___whoami',
    ]);
    expect(await names('bob')).toStrictEqual([
      'crm___delete_customer',
      'crm___lookup_customer',
      'notes___delete_note',
      'notes___read_note',
      'notes___whoami',
    ]);
    expect(await names('carol')).toStrictEqual([]);
  });

  it('an allowed call reaches the HTTP server with an assertion for that target only, never the client token', async () => {
    const result = await as('alice', (client) =>
      client.callTool({ name: 'crm___lookup_customer', arguments: { customer_id: 'c-1' } }),
    );
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe('lookup_customer c-1');
    const call = crmCalls.at(-1);
    expect(call?.tool).toBe('lookup_customer');
    expect(call?.headers.authorization).toBeUndefined();
    const assertion = call?.headers['x-mcp-identity-assertion'];
    expect(typeof assertion).toBe('string');
    const claims = await verifierFor('crm').verify(assertion);
    expect(claims).toMatchObject({
      iss: stack.assertion.issuer,
      aud: 'crm',
      sub: 'alice',
      roles: ['developer', 'db-reader'],
      client_id: 'mcp-identity-local-agent',
    });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(300);
    // The same assertion presented to another target is refused there.
    await expect(verifierFor('notes').verify(assertion)).rejects.toThrow(AssertionRejectedError);
    expect(JSON.stringify(call?.headers)).not.toContain(tokens.alice as string);
  });

  it('an allowed call reaches the stdio server with the assertion in _meta', async () => {
    const result = await as('bob', (client) => client.callTool({ name: 'notes___whoami', arguments: {} }));
    expect(result.isError).toBeFalsy();
    const meta = JSON.parse(text(result)) as Record<string, Record<string, string>>;
    const assertion = meta[STDIO_HEADER_META_KEY]?.['x-mcp-identity-assertion'];
    const claims = await verifierFor('notes').verify(assertion);
    expect(claims).toMatchObject({ aud: 'notes', sub: 'bob', roles: ['order-admin'] });
    await expect(verifierFor('crm').verify(assertion)).rejects.toThrow(AssertionRejectedError);
    expect(JSON.stringify(meta)).not.toContain(tokens.bob as string);
  });

  it('a denied call never reaches either server, and the denial is explained', async () => {
    const before = { crm: crmCalls.length, notes: notesCalls().length };
    await as('alice', async (client) => {
      const crmDenied = await client.callTool({
        name: 'crm___delete_customer',
        arguments: { customer_id: 'c-1' },
      });
      expect(crmDenied.isError).toBe(true);
      expect(text(crmDenied)).toMatch(/denied|not allowed|not permitted/i);
      const notesDenied = await client.callTool({
        name: 'notes___delete_note',
        arguments: { note_id: 'n-1' },
      });
      expect(notesDenied.isError).toBe(true);
    });
    expect(crmCalls.length).toBe(before.crm);
    expect(notesCalls().length).toBe(before.notes);
    expect(notesCalls().some((call) => call.tool === 'delete_note')).toBe(false);
  });

  it('bob may delete on both servers', async () => {
    await as('bob', async (client) => {
      expect(
        (await client.callTool({ name: 'crm___delete_customer', arguments: { customer_id: 'c-2' } })).isError,
      ).toBeFalsy();
      expect(
        (await client.callTool({ name: 'notes___delete_note', arguments: { note_id: 'n-2' } })).isError,
      ).toBeFalsy();
    });
    expect(crmCalls.at(-1)?.tool).toBe('delete_customer');
    expect(notesCalls().at(-1)?.tool).toBe('delete_note');
  });

  it('audits every decision with the target, the user and the delivered header (never its value)', () => {
    const events = readFileSync(stack.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, any>);
    const requests = events.filter((event) => event.additionalEventData?.phase === 'request');
    const denied = requests.find(
      (event) => event.eventName === 'crm___delete_customer' && event.userIdentity.principalId === 'alice',
    );
    expect(denied?.responseElements.decision).toBe('deny');
    const allowed = requests.find(
      (event) => event.eventName === 'crm___lookup_customer' && event.userIdentity.principalId === 'alice',
    );
    expect(allowed?.responseElements.decision).toBe('allow');
    expect(allowed?.requestParameters.target).toBe('crm');
    expect(allowed?.additionalEventData.deliveredHeaders).toBe('["X-Mcp-Identity-Assertion"]');
    expect(allowed?.additionalEventData.door).toBe('agentcore');
    const trail = readFileSync(stack.auditFile, 'utf8');
    for (const token of Object.values(tokens)) expect(trail).not.toContain(token.split('.')[2]);
    const claims = crmCalls.map((call) => String(call.headers['x-mcp-identity-assertion'] ?? ''));
    for (const assertion of claims.filter((value) => value.length > 0))
      expect(trail).not.toContain(assertion.split('.')[2]);
  });
});
