import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { CachingDecisionPoint } from '../../lambda/adapters/decision-cache';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import { NO_CREDENTIALS } from '../../lambda/adapters/outbound-credentials';
import { HttpsUpstream } from '../../lambda/adapters/upstream-https';
import { CachingTokenVerifier } from '../../lambda/adapters/verified-caller-cache';
import type { AuditEventData } from '../../lambda/core/audit-event';
import { createAuthorizerHandler } from '../../lambda/handlers/apigateway-authorizer';
import { createApiGatewayProxyHandler } from '../../lambda/handlers/apigateway-proxy';
import { type ApiGatewayEmulation, startApiGatewayEmulation } from '../../local/apigateway-emulation';
import { DevIssuer } from '../../local/dev-issuer';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { cli, cliAsync, ROOT } from '../cli/helpers';
import { MemoryAuditSink, POLICY_DIR, policyBundle, settings, silentLog } from '../helpers/harness';

/**
 * `dev --door apigateway` end to end: the local stack behind the API Gateway emulation (REQUEST authorizer,
 * then the streaming MCP proxy, both the door's real handlers), driven by the real MCP SDK client as alice,
 * bob and carol — the same lists, allows, denials, injected identity and audit events as the AgentCore door
 * (test/e2e/local-stack.test.ts), plus what only this door does: the authorizer and its cache, API Gateway's
 * own 401, the observed source address. Then an SSE upstream streamed through the emulation.
 */
let stack: LocalStack;
const tokens: Record<string, string> = {};
const logLines: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: POLICY_DIR,
    usersFile: join(__dirname, '..', '..', 'local', 'users.json'),
    dataDir: mkdtempSync(join(tmpdir(), 'mcp-identity-apigw-e2e-')),
    watchPolicies: false,
    door: 'apigateway',
    log: (line) => logLines.push(line),
  });
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = await stack.token(user);
});
afterAll(() => stack.stop());

async function connect(url: string, token: string | undefined): Promise<Client> {
  const client = new Client({ name: 'e2e-apigw', version: '1.0.0' });
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

async function as<T>(user: string, run: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(stack.mcpUrl, tokens[user]);
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

it('says which door it emulates', () => {
  expect(stack.door).toBe('apigateway');
  expect(stack.doorDescription).toMatch(/API Gateway/);
});

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

  it('bob updates an order as himself; a large refund names the policy that stops it', async () => {
    await as('bob', async (client) => {
      const updated = await client.callTool({
        name: 'orders___update_order',
        arguments: { order_id: '2001', status: 'shipped' },
      });
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

  it('get_recent_activity answers for the caller only (the identity the guard injected)', async () => {
    await as('alice', (client) =>
      client.callTool({ name: 'orders___get_order', arguments: { order_id: '1002' } }),
    );
    const activity = JSON.parse(
      text(
        await as('alice', (client) =>
          client.callTool({ name: 'orders___get_recent_activity', arguments: {} }),
        ),
      ),
    ) as { user: string; activity: { user: string; detail: string }[] };
    expect(activity.user).toBe('alice');
    expect(activity.activity.every((item) => item.user === 'alice')).toBe(true);
    expect(activity.activity.map((item) => item.detail)).toContain('order 1002');
  });
});

describe('authentication at API Gateway: the authorizer, its cache and the gateway responses', () => {
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
    ['a token expiring within the authorizer cache TTL', async () => stack.token('alice', 30)],
  ])(
    'answers %s with 401 and WWW-Authenticate pointing at the protected resource metadata',
    async (_label, token) => {
      const response = await post(await token());
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32001, message: 'Authentication required: send a valid bearer access token.' },
      });
      const metadataUrl = /resource_metadata="([^"]+)"/.exec(
        response.headers.get('www-authenticate') ?? '',
      )?.[1];
      const metadata = await (await fetch(metadataUrl as string)).json();
      expect(metadata).toEqual({
        resource: stack.mcpUrl,
        authorization_servers: [stack.issuer],
        bearer_methods_supported: ['header'],
        resource_name: 'mcp-identity MCP endpoint',
      });
    },
  );

  it('audits the authorizer’s refusals, naming a token that would outlive its cached Allow', () => {
    const refusals = auditEvents().filter((event) => event.errorCode === 'InvalidToken');
    // No token: API Gateway answers before any Lambda runs. The other four reach the authorizer.
    expect(refusals).toHaveLength(4);
    expect(refusals.every((event) => event.additionalEventData?.door === 'apigw')).toBe(true);
    expect(refusals.at(-1)?.additionalEventData?.cause).toMatch(
      /token expires in [1-3]?\d s, within the authorizer cache TTL of 60 s/,
    );
  });

  it('the MCP SDK client cannot even initialize without a token', async () => {
    await expect(connect(stack.mcpUrl, undefined)).rejects.toThrow(/Authentication required/);
  });

  it('runs the authorizer once per token while its answer is cached', async () => {
    const token = await stack.token('bob');
    const before = logLines.length;
    const client = await connect(stack.mcpUrl, token);
    await client.listTools();
    await client.callTool({ name: 'orders___get_order', arguments: { order_id: '2001' } });
    await client.close();
    const session = logLines.slice(before);
    expect(session.length).toBeGreaterThanOrEqual(4);
    expect(session[0]).toMatch(/initialize → 200( · bob allow)?$/);
    // The cache note, then who and the decision when the guard audited the request (a notification is not).
    expect(session.slice(1).every((line) => /\(authorizer cache hit\)( · bob allow)?$/.test(line))).toBe(
      true,
    );
    expect(
      session.some((line) => / orders___get_order → 200 \(authorizer cache hit\) · bob allow$/.test(line)),
    ).toBe(true);
  });

  it('answers a path the API does not have as API Gateway does', async () => {
    const response = await fetch(stack.mcpUrl.replace(/\/mcp$/, '/tools'), { method: 'POST' });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({
      error: { message: 'No such resource here; the MCP endpoint is /mcp.' },
    });
  });
});

describe('MCP 2026-07-28 clients (SDK v2) on this door', () => {
  const v2 = async (user: string, mode: 'auto' | { pin: string }) => {
    const client = new ClientV2({ name: 'e2e-apigw-v2', version: '1.0.0' }, { versionNegotiation: { mode } });
    await client.connect(
      new TransportV2(new URL(stack.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${tokens[user]}` } },
      }),
    );
    return client;
  };

  it.each([
    ['pinned to 2026-07-28', { pin: '2026-07-28' }],
    ['in auto mode', 'auto'],
  ] as const)('a client %s gets the same per-user lists and decisions', async (_label, mode) => {
    const alice = await v2('alice', mode);
    try {
      expect((await alice.listTools()).tools.map((tool) => tool.name).sort()).toEqual([
        'orders___get_order',
        'orders___get_recent_activity',
      ]);
      const own = await alice.callTool({ name: 'orders___get_order', arguments: { order_id: '1001' } });
      expect(JSON.parse(text(own))).toMatchObject({ id: '1001', owner: 'alice' });
      const denied = await alice.callTool({
        name: 'orders___update_order',
        arguments: { order_id: '1001', status: 'shipped' },
      });
      expect(denied.isError).toBe(true);
      expect(text(denied)).toMatch(/^Denied: no policy permits alice@example.com/);
    } finally {
      await alice.close();
    }
  });

  it('marks a 2026-07-28 list private, and refuses a mirrored header that does not match the body', async () => {
    const post = (headers: Record<string, string>, body: Record<string, unknown>) =>
      fetch(stack.mcpUrl, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${tokens.bob}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2026-07-28',
          ...headers,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...body }),
      });
    const meta = { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } };
    const listed = await post({ 'Mcp-Method': 'tools/list' }, { method: 'tools/list', params: meta });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { result: Record<string, unknown> }).result).toMatchObject({
      resultType: 'complete',
      cacheScope: 'private',
    });
    const forged = await post(
      { 'Mcp-Method': 'tools/call', 'Mcp-Name': 'orders___get_recent_activity' },
      {
        method: 'tools/call',
        params: { ...meta, name: 'orders___update_order', arguments: { order_id: '1' } },
      },
    );
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { error: { code: number } }).error.code).toBe(-32020);
  });
});

describe('the audit store and the target', () => {
  it('holds one event per decision and outcome, labelled apigw, with the address API Gateway saw, and no token', async () => {
    const before = auditEvents().length;
    await as('bob', (client) =>
      client.callTool({ name: 'orders___get_order', arguments: { order_id: '1001' } }),
    );
    await as('alice', (client) =>
      client.callTool({ name: 'orders___update_order', arguments: { order_id: '1001', status: 'shipped' } }),
    );
    const calls = auditEvents()
      .slice(before)
      .filter((event) => event.requestParameters?.method === 'tools/call');
    expect(
      calls.map((event) => [event.additionalEventData?.phase, event.responseElements?.decision]),
    ).toEqual([
      ['request', 'allow'],
      ['response', 'allow'],
      ['request', 'deny'],
      ['response', 'deny'],
    ]);
    expect(calls[0]).toMatchObject({
      userIdentity: {
        principalId: 'bob',
        details: { roles: '["order-admin"]', agent: 'mcp-identity-local-agent' },
      },
      eventName: 'orders___get_order',
      responseElements: { decision: 'allow', determiningPolicies: '["orders-readers"]' },
      additionalEventData: { door: 'apigw' },
      sourceIPAddress: '127.0.0.1',
    });
    expect(calls[2]).toMatchObject({
      userIdentity: { principalId: 'alice' },
      eventName: 'orders___update_order',
      errorCode: 'AccessDenied',
      responseElements: { decision: 'deny', determiningPolicies: '[]' },
    });
    expect(calls[3]?.additionalEventData).toMatchObject({ outcome: 'refused-by-gateway' });
    const everything = readFileSync(stack.auditFile, 'utf8');
    for (const token of Object.values(tokens)) expect(everything).not.toContain(token.split('.')[2]);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });

  it('the target never saw an Authorization header', () => {
    expect(stack.target?.authorizationHeadersSeen()).toBe(0);
  });

  it('activity tells a denied call’s story as on the AgentCore door: the decision, then the refused outcome', async () => {
    const denial = auditEvents()
      .filter((event) => event.additionalEventData?.phase === 'request' && event.errorCode === 'AccessDenied')
      .at(-1);
    const result = await cliAsync([
      'activity',
      '--file',
      stack.auditFile,
      '--request',
      denial?.UID ?? '',
      '--json',
    ]);
    const rows = JSON.parse(result.stdout) as { phase: string; decision: string }[];
    expect(rows.map((row) => [row.phase, row.decision])).toEqual([
      ['request', 'deny'],
      ['response', 'deny'],
    ]);
  });
});

describe('mcp-identity dev --door apigateway (as a user runs it)', () => {
  it('says which door it emulates, prints working tokens and stops cleanly on SIGTERM', async () => {
    const dev = spawn(process.execPath, [
      join(ROOT, 'bin', 'mcp-identity.js'),
      'dev',
      '--door',
      'apigateway',
      '--port',
      '0',
      '--issuer-port',
      '0',
      '--data',
      mkdtempSync(join(tmpdir(), 'mcp-identity-apigw-cli-')),
      '--no-watch',
    ]);
    let output = '';
    dev.stdout.on('data', (chunk) => {
      output += String(chunk);
    });
    dev.stderr.on('data', (chunk) => {
      output += String(chunk);
    });
    try {
      const started = Date.now();
      while (!output.includes('Requests:')) {
        if (Date.now() - started > 20_000 || dev.exitCode !== null)
          throw new Error(`dev did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(output).toMatch(
        /MCP endpoint\s+http:\/\/127\.0\.0\.1:\d+\/mcp\s+\(Streamable HTTP, API Gateway REST API emulation/,
      );
      expect(output).toMatch(/authorizer cache\s+60 s/);
      const url = /MCP endpoint\s+(\S+)/.exec(output)?.[1] as string;
      const token = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.exec(output)?.[0] as string;
      const client = await connect(url, token);
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
      await client.close();
    } finally {
      const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
      dev.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 30_000);

  it.each([
    [
      ['--door', 'lambda-url'],
      /argument 'lambda-url' is invalid\. Allowed choices are agentcore, apigateway/,
    ],
    [['--authorizer-cache-ttl', '2h'], /must be 0 \(off\) to 3600 seconds/],
  ])('refuses %j with a clear message and exit code 2', (args, message) => {
    const result = cli(['dev', ...args]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

/**
 * An upstream that answers in SSE — as a Lambda or HTTPS MCP server behind the deployed door may — with a
 * progress notification before a slow result: the door's real handlers behind the emulation, the door's HTTPS
 * upstream adapter, and tool names prefixed by the door (`targetName: 'orders'`).
 */
describe('an SSE upstream streamed through the emulation', () => {
  let upstream: Server;
  let issuer: DevIssuer;
  let emulation: ApiGatewayEmulation;
  const audit = new MemoryAuditSink();
  const AUDIENCE = 'mcp-identity-apigw-sse';
  const seen: { caller?: string }[] = [];

  async function readJson(request: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8'));
  }

  beforeAll(async () => {
    upstream = createServer(async (request, response) => {
      const server = new McpServer({ name: 'slow-orders', version: '1.0.0' });
      server.registerTool(
        'get_order',
        { inputSchema: { order_id: z.string(), _caller_user: z.string().optional() } },
        async (args, extra) => {
          seen.push({ caller: args._caller_user });
          const progressToken = extra._meta?.progressToken;
          if (progressToken !== undefined)
            await extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress: 1, total: 2, message: 'looking it up' },
            });
          await new Promise((resolve) => setTimeout(resolve, 300));
          return { content: [{ type: 'text', text: `order ${args.order_id} for ${args._caller_user}` }] };
        },
      );
      server.registerTool('update_order', { inputSchema: { order_id: z.string() } }, async () => ({
        content: [{ type: 'text', text: 'updated' }],
      }));
      // Stateless, answering every POST as an SSE stream (the SDK's default without enableJsonResponse).
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      response.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(request, response, await readJson(request));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;

    issuer = await DevIssuer.start({ port: 0 });
    const jwt = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
    await jwt.hydrate();
    const verifier = new CachingTokenVerifier(jwt);
    const log = silentLog();
    const authorizer = createAuthorizerHandler({
      verifier,
      audit,
      log,
      settings: { cacheTtlSeconds: 300, audit: settings().audit, redaction: settings().redaction },
    });
    const proxy = createApiGatewayProxyHandler({
      verifier,
      pdp: new CachingDecisionPoint(new CedarDecisionPoint(policyBundle()), {
        ttlSeconds: 5,
        maxEntries: 100,
      }),
      audit,
      log,
      settings: settings(),
      upstream: new HttpsUpstream(upstreamUrl, NO_CREDENTIALS),
      door: { timeoutMs: 10_000, maxResponseBytes: 1024 * 1024, keepAliveSeconds: 30, targetName: 'orders' },
    });
    emulation = await startApiGatewayEmulation({
      port: 0,
      handlers: () => ({ authorizer, proxy }),
      authorizationServer: () => issuer.issuer,
    });
  });
  afterAll(async () => {
    await emulation.stop();
    await issuer.stop();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  const aliceToken = () =>
    issuer.sign({ sub: 'alice', email: 'alice@example.com', roles: ['db-reader'], aud: AUDIENCE });

  it('passes the SSE answer on event by event: the progress notification arrives before the slow result', async () => {
    const client = await connect(emulation.url, await aliceToken());
    try {
      const tools = (await client.listTools()).tools.map((tool) => tool.name);
      expect(tools).toEqual(['orders___get_order']);
      const events: string[] = [];
      const result = client
        .callTool({ name: 'orders___get_order', arguments: { order_id: '1001' } }, undefined, {
          onprogress: (progress) => events.push(`progress ${progress.progress}/${progress.total}`),
        })
        .then((answer) => {
          events.push('result');
          return answer;
        });
      expect(text(await result)).toBe('order 1001 for alice');
      expect(events).toEqual(['progress 1/2', 'result']);
      expect(seen.at(-1)).toEqual({ caller: 'alice' });
    } finally {
      await client.close();
    }
  });

  it('answers with text/event-stream as the upstream did, and audits the outcome', async () => {
    const response = await fetch(emulation.url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${await aliceToken()}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: 'orders___get_order', arguments: { order_id: '1002' } },
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await response.text()).toMatch(/^event: message\ndata: .*order 1002 for alice/m);
    expect(audit.events.at(-1)).toMatchObject({
      eventName: 'orders___get_order',
      additionalEventData: { phase: 'response', outcome: 'success', door: 'apigw' },
    });
  });
});
