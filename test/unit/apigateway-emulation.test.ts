import { request as httpRequest } from 'node:http';
import { decodeAuthorizerEvent } from '../../lambda/doors/apigateway/authorizer';
import type { ProxyHandler } from '../../lambda/doors/apigateway/door';
import { encodePrelude } from '../../lambda/doors/apigateway/http-stream';
import { decodeProxyEvent } from '../../lambda/doors/apigateway/proxy';
import type { AuthorizerHandler } from '../../lambda/handlers/apigateway-authorizer';
import { type ApiGatewayEmulation, startApiGatewayEmulation } from '../../local/apigateway-emulation';
import { fixture } from '../helpers/fixtures';

/**
 * The API Gateway emulation's own behaviour, with stand-in handlers: what it sends the authorizer and the
 * proxy (the documented event shapes), what it does with their answers (gateway responses, the result cache,
 * the streamed prelude), and what it serves itself.
 */

const ALLOW_ALL = {
  principalId: 'alice',
  policyDocument: {
    Version: '2012-10-17',
    Statement: [
      {
        Action: 'execute-api:Invoke',
        Effect: 'Allow',
        Resource: 'arn:aws:execute-api:us-east-1:000000000000:mcplocal/local/*/*',
      },
    ],
  },
  context: { sub: 'alice', roles: '["db-reader"]', tokenExp: 1798765200, mfa: true },
};

/** A proxy that answers 200 with its event, the way a streaming Lambda writes (prelude, then body). */
const echoProxy: ProxyHandler = async (event, stream) => {
  stream.setContentType?.('application/vnd.awslambda.http-integration-response');
  stream.write(encodePrelude({ statusCode: 200, headers: { 'Content-Type': 'application/json' } }));
  stream.end(JSON.stringify(event));
};

let clock = Date.parse('2027-01-01T00:00:00Z');
let authorizer: AuthorizerHandler = async () => structuredClone(ALLOW_ALL) as never;
let proxy: ProxyHandler = echoProxy;
let authorizerEvents: Record<string, unknown>[] = [];
let emulation: ApiGatewayEmulation;
const lines: string[] = [];

beforeAll(async () => {
  emulation = await startApiGatewayEmulation({
    port: 0,
    handlers: () => ({
      authorizer: async (event) => {
        authorizerEvents.push(event as Record<string, unknown>);
        return authorizer(event);
      },
      proxy: (event, stream) => proxy(event, stream),
    }),
    authorizerCacheTtlSeconds: 60,
    authorizationServer: () => 'http://127.0.0.1:1/issuer',
    onRequest: (line) => lines.push(line),
    now: () => clock,
  });
});
afterAll(() => emulation.stop());
beforeEach(() => {
  emulation.flushAuthorizerCache();
  authorizerEvents = [];
  authorizer = async () => structuredClone(ALLOW_ALL) as never;
  proxy = echoProxy;
});

function post(token: string | undefined, init: { method?: string; headers?: Record<string, string> } = {}) {
  return fetch(emulation.url, {
    method: init.method ?? 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
      ...init.headers,
    },
    ...((init.method ?? 'POST') === 'POST' ? { body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' } : {}),
  });
}

describe('the authorizer step', () => {
  it('answers 401 with the metadata challenge without calling the authorizer when there is no token', async () => {
    const response = await post(undefined);

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${emulation.resourceMetadataUrl}"`,
    );
    expect(await response.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32001, message: 'Authentication required: send a valid bearer access token.' },
    });
    expect(authorizerEvents).toHaveLength(0);
  });

  it('sends the documented REQUEST event: no body, the method ARN, the headers in the client’s casing', async () => {
    await post('token-1', { headers: { 'X-Custom': 'a' } });

    const [event] = authorizerEvents;
    const documented = fixture('apigateway/request-authorizer-input.post-mcp.json');
    expect(Object.keys(event ?? {}).sort()).toEqual(Object.keys(documented).sort());
    expect(Object.keys((event?.requestContext as object) ?? {}).sort()).toEqual(
      Object.keys(documented.requestContext as object).sort(),
    );
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:000000000000:mcplocal/local/POST/mcp',
      httpMethod: 'POST',
      headers: { Authorization: 'Bearer token-1', 'X-Custom': 'a', 'X-Forwarded-For': '127.0.0.1' },
      requestContext: { identity: { sourceIp: '127.0.0.1' }, stage: 'local', resourcePath: '/mcp' },
    });
    expect(event).not.toHaveProperty('body');
    // The door's own codec reads it.
    expect(decodeAuthorizerEvent(event)).toMatchObject({
      ok: true,
      request: { apiArn: 'arn:aws:execute-api:us-east-1:000000000000:mcplocal/local/*/*' },
    });
  });

  it('answers 401 when the authorizer fails with Unauthorized, 503 to retry for any other failure', async () => {
    authorizer = async () => {
      throw new Error('Unauthorized');
    };
    const refused = await post('bad');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('resource_metadata=');

    authorizer = async () => {
      throw new Error('the identity provider is down');
    };
    const failed = await post('other');
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('5');
    expect(failed.headers.get('www-authenticate')).toBeNull();
  });

  it('answers 500 for an answer API Gateway cannot use (a nested context value)', async () => {
    authorizer = async () => ({ ...structuredClone(ALLOW_ALL), context: { roles: ['a'] } }) as never;
    expect((await post('nested')).status).toBe(500);
  });

  it('answers 403 for a Deny, and for an Allow that does not cover the method', async () => {
    authorizer = async () =>
      ({
        ...ALLOW_ALL,
        policyDocument: {
          Version: '2012-10-17',
          Statement: [{ ...ALLOW_ALL.policyDocument.Statement[0], Effect: 'Deny' }],
        },
      }) as never;
    const denied = await post('deny');
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", resource_metadata="${emulation.resourceMetadataUrl}"`,
    );
    expect(await denied.json()).toMatchObject({ error: { code: -32000, message: 'Access denied.' } });

    // An Allow for POST alone is cached and applied to every method: the next GET is refused (CONTRACTS §7a).
    authorizer = async () =>
      ({
        ...ALLOW_ALL,
        policyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              ...ALLOW_ALL.policyDocument.Statement[0],
              Resource: 'arn:aws:execute-api:us-east-1:000000000000:mcplocal/local/POST/mcp',
            },
          ],
        },
      }) as never;
    expect((await post('post-only')).status).toBe(200);
    expect((await post('post-only', { method: 'GET' })).status).toBe(403);
    expect(authorizerEvents.filter((event) => JSON.stringify(event).includes('post-only'))).toHaveLength(1);
  });

  it('caches the policy by the Authorization value for the TTL, then asks again', async () => {
    await post('cached');
    await post('cached');
    await post('another');
    expect(authorizerEvents).toHaveLength(2);
    expect(lines.at(-2)).toMatch(/authorizer cache hit/);

    clock += 61_000;
    await post('cached');
    expect(authorizerEvents).toHaveLength(3);
  });

  it('does not cache a refusal', async () => {
    authorizer = async () => {
      throw new Error('Unauthorized');
    };
    await post('refused');
    await post('refused');
    expect(authorizerEvents).toHaveLength(2);
  });
});

describe('the proxy step', () => {
  it('sends the documented proxy event 1.0 with the authorizer context as strings', async () => {
    const response = await post('token-2', { headers: { 'Mcp-Session-Id': 's-1' } });
    const event = (await response.json()) as Record<string, unknown>;

    const documented = fixture('apigateway/proxy-integration-input.tools-call.json');
    expect(Object.keys(event).sort()).toEqual(Object.keys(documented).sort());
    expect(Object.keys(event.requestContext as object).sort()).toEqual(
      Object.keys(documented.requestContext as object).sort(),
    );
    expect(event).toMatchObject({
      httpMethod: 'POST',
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
      isBase64Encoded: false,
      requestContext: {
        authorizer: {
          principalId: 'alice',
          sub: 'alice',
          roles: '["db-reader"]',
          tokenExp: '1798765200',
          mfa: 'true',
          integrationLatency: expect.any(Number),
        },
      },
    });
    const decoded = decodeProxyEvent(event);
    expect(decoded.guard).toMatchObject({
      credential: { authorization: ['Bearer token-2'] },
      message: { method: 'tools/list' },
      facts: { sourceIp: '127.0.0.1', sessionId: 's-1' },
    });
  });

  it('keeps every value of a repeated header in multiValueHeaders and the last in headers', async () => {
    const event = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const outgoing = httpRequest(
        emulation.url,
        {
          method: 'POST',
          // Node sends a flat array of names and values as it is: the same header twice, in two casings.
          headers: [
            'Host',
            new URL(emulation.url).host,
            'Authorization',
            'Bearer repeated',
            'X-Trace',
            'one',
            'x-trace',
            'two',
            'Content-Type',
            'application/json',
          ] as unknown as Record<string, string>,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end('{}');
    });
    expect(event.multiValueHeaders).toMatchObject({ 'X-Trace': ['one', 'two'] });
    expect(event.headers).toMatchObject({ 'X-Trace': 'two' });
  });

  it('streams the body as it is written: the first event arrives before the handler has finished', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    proxy = async (_event, stream) => {
      stream.write(
        encodePrelude({
          statusCode: 200,
          headers: { 'Content-Type': 'text/event-stream' },
          multiValueHeaders: { 'X-Note': ['a', 'b'] },
        }),
      );
      stream.write('event: message\ndata: {"first":true}\n\n');
      await held;
      stream.end('event: message\ndata: {"last":true}\n\n');
    };
    const response = await post('stream');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('x-note')).toBe('a, b');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value as Uint8Array).toString('utf8')).toContain('"first":true');
    release();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += Buffer.from(chunk.value).toString('utf8');
    expect(rest).toContain('"last":true');
  });

  it('answers 502 when the handler writes no prelude, or fails before writing', async () => {
    proxy = async (_event, stream) => {
      stream.end('{"statusCode":200}');
    };
    const noPrelude = await post('broken');
    expect(noPrelude.status).toBe(502);
    expect(await noPrelude.json()).toMatchObject({
      error: { code: -32603, message: 'The gateway could not handle the request.' },
    });

    proxy = async () => {
      throw new Error('boom');
    };
    expect((await post('broken')).status).toBe(502);
  });
});

describe('what the API serves itself', () => {
  it('serves the protected resource metadata for /mcp without a token, at both well-known paths', async () => {
    const document = {
      resource: emulation.url,
      authorization_servers: ['http://127.0.0.1:1/issuer'],
      bearer_methods_supported: ['header'],
      resource_name: 'mcp-identity MCP endpoint',
    };
    expect(await (await fetch(emulation.resourceMetadataUrl)).json()).toEqual(document);
    const root = emulation.resourceMetadataUrl.replace(/\/mcp$/, '');
    expect(await (await fetch(root)).json()).toEqual(document);
  });

  it('answers a path or method the API does not have as API Gateway does', async () => {
    const other = await fetch(emulation.url.replace('/mcp', '/admin'), { method: 'POST' });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({
      error: { code: -32000, message: 'No such resource here; the MCP endpoint is /mcp.' },
    });
    expect((await post('token', { method: 'PUT' })).status).toBe(403);
    expect(authorizerEvents).toHaveLength(0);
  });
});
