import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DoorKind } from '../../local/doors';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { POLICY_DIR } from '../helpers/harness';

/**
 * DNS rebinding and cross-site requests against every local endpoint: a page on a hostile name re-resolved to
 * 127.0.0.1 must not mint a token at the dev issuer nor call a tool at `/mcp`, and a page on another origin
 * must not either. Clients that send no Origin (the CLI, the MCP SDK in Node, Inspector's CLI mode,
 * aws-jwt-verify) keep working.
 */
const USERS = join(__dirname, '..', '..', 'local', 'users.json');
jest.setTimeout(60_000);

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function send(
  url: string,
  options: { method?: string; host?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        headers: { Host: options.host ?? target.host, ...options.headers },
        setHost: false,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

let stacks: Record<DoorKind, LocalStack>;
const dirs: string[] = [];
beforeAll(async () => {
  const start = async (door: DoorKind) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mcp-identity-loopback-'));
    dirs.push(dataDir);
    return startLocalStack({
      port: 0,
      issuerPort: 0,
      policyDir: POLICY_DIR,
      usersFile: USERS,
      dataDir,
      watchPolicies: false,
      door,
    });
  };
  stacks = { agentcore: await start('agentcore'), apigateway: await start('apigateway') };
});
afterAll(async () => {
  await Promise.all(Object.values(stacks ?? {}).map((stack) => stack.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const port = (url: string) => new URL(url).port;
const JSON_TYPE = { 'Content-Type': 'application/json' };
const TOKEN_BODY = JSON.stringify({ user: 'bob' });

/** Each endpoint as a request a browser page could make to it. */
type Endpoint = {
  readonly name: string;
  readonly url: () => string;
  readonly method: 'GET' | 'POST';
  readonly headers?: () => Promise<Record<string, string>>;
  readonly body?: string;
};

function issuerEndpoints(): Endpoint[] {
  const issuer = () => stacks.agentcore.issuer;
  return [
    {
      name: 'the discovery document',
      url: () => `${issuer()}/.well-known/openid-configuration`,
      method: 'GET',
    },
    { name: 'the JWKS', url: () => `${issuer()}/.well-known/jwks.json`, method: 'GET' },
    {
      name: 'POST /token',
      url: () => `${issuer()}/token`,
      method: 'POST',
      headers: async () => JSON_TYPE,
      body: TOKEN_BODY,
    },
  ];
}

function gatewayEndpoints(door: DoorKind): Endpoint[] {
  const stack = () => stacks[door];
  return [
    {
      name: 'POST /mcp',
      url: () => stack().mcpUrl,
      method: 'POST',
      headers: async () => ({
        ...JSON_TYPE,
        Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2025-06-18',
        Authorization: `Bearer ${await stack().token('bob')}`,
      }),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'orders___get_order', arguments: { order_id: '1001' } },
      }),
    },
    {
      name: 'the protected resource metadata',
      url: () => new URL('/.well-known/oauth-protected-resource/mcp', stack().mcpUrl).href,
      method: 'GET',
    },
    { name: 'the assertion JWKS', url: () => stack().assertion.jwksUrl, method: 'GET' },
    { name: 'the console page', url: () => stack().consoleUrl as string, method: 'GET' },
  ];
}

const cases: [string, Endpoint][] = [
  ...issuerEndpoints().map((endpoint): [string, Endpoint] => [`the dev issuer's ${endpoint.name}`, endpoint]),
  ...(['agentcore', 'apigateway'] as const).flatMap((door) =>
    gatewayEndpoints(door).map((endpoint): [string, Endpoint] => [
      `the ${door} door's ${endpoint.name}`,
      endpoint,
    ]),
  ),
];

async function call(endpoint: Endpoint, extra: { host?: string; headers?: Record<string, string> } = {}) {
  return send(endpoint.url(), {
    method: endpoint.method,
    ...(extra.host === undefined ? {} : { host: extra.host }),
    headers: { ...(await endpoint.headers?.()), ...extra.headers },
    ...(endpoint.body === undefined ? {} : { body: endpoint.body }),
  });
}

describe.each(cases)('%s', (_name, endpoint) => {
  it('refuses a rebinding Host with 403 and a one-line JSON reason', async () => {
    for (const host of [
      `evil.example:${port(endpoint.url())}`,
      'evil.example',
      `127.0.0.1:${Number(port(endpoint.url())) + 1}`,
    ]) {
      const answer = await call(endpoint, { host });
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body).error).toMatch(/answers only to 127\.0\.0\.1:\d+ or localhost:\d+/);
      expect(answer.body).not.toMatch(/access_token|"result"|keys/);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('refuses a foreign Origin with 403, even with a loopback Host', async () => {
    const own = port(endpoint.url());
    for (const origin of [
      `http://evil.example:${own}`,
      'null',
      `https://127.0.0.1:${own}`,
      `http://127.0.0.1:${Number(own) + 1}`,
    ]) {
      const answer = await call(endpoint, { headers: { Origin: origin } });
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body).error).toBe('cross-origin requests are refused');
    }
  });

  it('serves a loopback Host, with no Origin and with its own', async () => {
    const own = port(endpoint.url());
    for (const host of [`127.0.0.1:${own}`, `localhost:${own}`, `LOCALHOST:${own}`])
      expect((await call(endpoint, { host })).status).toBe(200);
    for (const origin of [`http://127.0.0.1:${own}`, `http://localhost:${own}`])
      expect((await call(endpoint, { host: `localhost:${own}`, headers: { Origin: origin } })).status).toBe(
        200,
      );
  });
});

describe("the dev issuer's POST /token", () => {
  it.each([
    ['text/plain (what a form or a no-cors fetch can send)', { 'Content-Type': 'text/plain' }],
    ['a form encoding', { 'Content-Type': 'application/x-www-form-urlencoded' }],
    ['no Content-Type', {}],
  ])('refuses %s with 415, minting nothing', async (_name, headers: Record<string, string>) => {
    const answer = await send(`${stacks.agentcore.issuer}/token`, {
      method: 'POST',
      headers,
      body: TOKEN_BODY,
    });
    expect(answer.status).toBe(415);
    expect(answer.body).not.toMatch(/access_token/);
    expect(JSON.parse(answer.body).error_description).toMatch(/application\/json/);
  });

  it('mints for application/json with a charset', async () => {
    const answer = await send(`${stacks.agentcore.issuer}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: TOKEN_BODY,
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).access_token).toEqual(expect.any(String));
  });
});
