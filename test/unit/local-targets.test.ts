import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import {
  type BridgedTarget,
  STDIO_HEADER_META_KEY,
  startTargetBridge,
  TargetBridgeError,
} from '../../local/target-bridge';
import {
  parseTargetSpec,
  parseTargetSpecs,
  splitCommandLine,
  TargetSpecError,
} from '../../local/target-specs';

const STDIO_SERVER = join(__dirname, '..', 'fixtures', 'servers', 'notes-stdio-server.mjs');

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text.length > 0 ? JSON.parse(text) : undefined };
}

describe('dev --target values', () => {
  it('reads an HTTP target', () => {
    const spec = parseTargetSpec('crm=http://127.0.0.1:9000/mcp');
    expect(spec).toStrictEqual({ name: 'crm', kind: 'http', url: new URL('http://127.0.0.1:9000/mcp') });
  });

  it('reads a stdio target with quoted arguments', () => {
    expect(parseTargetSpec(`notes=stdio:node "my server.js" --flag 'a b' c\\ d`)).toStrictEqual({
      name: 'notes',
      kind: 'stdio',
      command: 'node',
      args: ['my server.js', '--flag', 'a b', 'c d'],
    });
  });

  it.each([
    ['no equals sign', 'crm', /has no '='/],
    ['an empty name', '=http://x', /target name is empty/],
    ['a name with ___', 'a___b=http://x', /letters or digits/],
    ['a name with double hyphens', 'a--b=http://x', /letters or digits/],
    ['a name with spaces', 'my crm=http://x', /letters or digits/],
    ['a name over 100 characters', `${'a'.repeat(101)}=http://x`, /letters or digits/],
    ['a bare word', 'crm=localhost:9000', /only http\(s\) URLs and stdio/],
    ['not a URL', 'crm=not a url', /neither a URL nor stdio/],
    ['a file URL', 'crm=file:///etc/passwd', /only http\(s\) URLs and stdio/],
    ['credentials in the URL', 'crm=http://user:secret@host/mcp', /no credentials in the URL/],
    ['stdio without a command', 'notes=stdio:   ', /needs a command/],
    ['an unclosed quote', 'notes=stdio:node "x', /unclosed " quote/],
  ])('refuses %s', (_what, value, message) => {
    expect(() => parseTargetSpec(value)).toThrow(TargetSpecError);
    expect(() => parseTargetSpec(value)).toThrow(message);
  });

  it('never echoes URL credentials in its error', () => {
    expect(() => parseTargetSpec('crm=http://user:hunter2@host/mcp')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });

  it('refuses two targets with the same name, whatever the case', () => {
    expect(() => parseTargetSpecs(['crm=http://a/mcp', 'CRM=http://b/mcp'])).toThrow(/given twice/);
    expect(parseTargetSpecs(['a=http://a/mcp', 'b=stdio:node x']).map((spec) => spec.name)).toStrictEqual([
      'a',
      'b',
    ]);
  });

  it('splits command lines as a POSIX shell would, without expanding anything', () => {
    expect(splitCommandLine('  a  b\tc ')).toStrictEqual(['a', 'b', 'c']);
    expect(splitCommandLine(`"" ''`)).toStrictEqual(['', '']);
    expect(splitCommandLine(`'$HOME' "*" a\\"b "x\\"y\\\\z" 'q\\'`)).toStrictEqual([
      '$HOME',
      '*',
      'a"b',
      'x"y\\z',
      'q\\',
    ]);
    expect(splitCommandLine('a"b c"d')).toStrictEqual(['ab cd']);
  });
});

describe('the bridge to a stdio MCP server', () => {
  let bridge: BridgedTarget;
  let dir: string;
  let callLog: string;
  const logged: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcp-identity-bridge-'));
    callLog = join(dir, 'calls.jsonl');
    bridge = await startTargetBridge(
      { name: 'notes', kind: 'stdio', command: process.execPath, args: [STDIO_SERVER, callLog] },
      { log: (line) => logged.push(line), forwardHeaders: ['X-Mcp-Identity-Assertion', 'Authorization'] },
    );
  }, 30_000);

  afterAll(async () => {
    await bridge.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the server tools unprefixed (the gateway adds the prefix)', async () => {
    const answer = await post(bridge.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(answer.status).toBe(200);
    expect(answer.body.result.tools.map((tool: { name: string }) => tool.name).sort()).toStrictEqual([
      'delete_note',
      'read_note',
      'whoami',
    ]);
  });

  it('calls a tool and hands the allow-listed headers to the server in _meta, never Authorization even if listed', async () => {
    const answer = await post(
      bridge.url,
      { jsonrpc: '2.0', id: 'w', method: 'tools/call', params: { name: 'whoami', arguments: {} } },
      { 'X-Mcp-Identity-Assertion': 'signed.jwt.here', Authorization: 'Bearer client-token' },
    );
    expect(answer.body.id).toBe('w');
    const meta = JSON.parse(answer.body.result.content[0].text);
    expect(meta[STDIO_HEADER_META_KEY]).toStrictEqual({ 'x-mcp-identity-assertion': 'signed.jwt.here' });
    expect(JSON.stringify(meta)).not.toContain('client-token');
  });

  it('passes a tool error back as JSON-RPC', async () => {
    const answer = await post(bridge.url, {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'no_such_tool', arguments: {} },
    });
    expect(answer.status).toBe(200);
    // The SDK server answers an unknown tool as a tool error result or a JSON-RPC error, depending on version.
    expect(answer.body.error !== undefined || answer.body.result?.isError === true).toBe(true);
  });

  it('refuses what is not a JSON-RPC request', async () => {
    expect((await post(bridge.url, 'not json')).status).toBe(400);
    expect((await post(bridge.url, [1, 2])).status).toBe(400);
    expect(
      (await post(bridge.url, { jsonrpc: '2.0', id: 3, method: 'resources/list' })).body.error.code,
    ).toBe(-32601);
    expect((await post(bridge.url, { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(
      202,
    );
  });

  it('shows the server stderr in the dev log, prefixed with the target name', () => {
    expect(logged).toContain('[notes] notes server ready');
  });

  it('reached the server only for the calls made', () => {
    const calls = readFileSync(callLog, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).tool);
    expect(calls).toStrictEqual(['whoami']);
  });
});

describe('the bridge to a Streamable HTTP MCP server', () => {
  let server: Server;
  let url: string;
  let bridge: BridgedTarget;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    // A stateful SDK server answering in SSE, with sessions and paginated lists: what a real server may do.
    const transports = new Map<string, StreamableHTTPServerTransport>();
    server = createServer(async (request, response) => {
      seen.push(request.headers);
      const sessionId = request.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
      if (transport === undefined) {
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            if (transport) transports.set(id, transport);
          },
        });
        const mcp = new McpServer({ name: 'crm', version: '1.0.0' });
        for (let i = 0; i < 3; i++)
          mcp.registerTool(
            `lookup_${i}`,
            { description: `Lookup ${i}`, inputSchema: { id: z.string() } },
            async (args) => ({
              content: [{ type: 'text', text: `found ${args.id}` }],
            }),
          );
        await mcp.connect(transport);
      }
      await transport.handleRequest(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    bridge = await startTargetBridge(
      { name: 'crm', kind: 'http', url: new URL(url) },
      { forwardHeaders: ['x-mcp-identity-assertion'] },
    );
  }, 30_000);

  afterAll(async () => {
    await bridge.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('lists and calls through the session, with the call headers on the server request', async () => {
    const list = await post(bridge.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(list.body.result.tools.map((tool: { name: string }) => tool.name)).toStrictEqual([
      'lookup_0',
      'lookup_1',
      'lookup_2',
    ]);
    seen.length = 0;
    const call = await post(
      bridge.url,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'lookup_1', arguments: { id: '7' } } },
      { 'X-Mcp-Identity-Assertion': 'assertion-for-crm', Authorization: 'Bearer client-token' },
    );
    expect(call.body.result.content).toStrictEqual([{ type: 'text', text: 'found 7' }]);
    const callRequest = seen.find((headers) => headers['x-mcp-identity-assertion'] !== undefined);
    expect(callRequest?.['x-mcp-identity-assertion']).toBe('assertion-for-crm');
    expect(callRequest?.authorization).toBeUndefined();
    expect(typeof callRequest?.['mcp-session-id']).toBe('string');
  });

  it('fails to start, clearly, when nothing listens at the URL', async () => {
    await expect(
      startTargetBridge({ name: 'gone', kind: 'http', url: new URL('http://127.0.0.1:1/mcp') }),
    ).rejects.toThrow(TargetBridgeError);
    await expect(
      startTargetBridge({ name: 'gone', kind: 'http', url: new URL('http://127.0.0.1:1/mcp') }),
    ).rejects.toThrow(/target gone \(http:\/\/127.0.0.1:1\/mcp\) did not complete the MCP handshake/);
  });

  it('fails to start, clearly, when a stdio command does not exist', async () => {
    await expect(
      startTargetBridge({ name: 'nope', kind: 'stdio', command: '/nonexistent/mcp-server', args: [] }),
    ).rejects.toThrow(/target nope \(stdio: \/nonexistent\/mcp-server\) did not complete the MCP handshake/);
  });
});
