import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  credentialHeaders,
  NO_CREDENTIALS,
  type OutboundCredentials,
  SecretsManagerCredentials,
} from '../../lambda/adapters/outbound-credentials';
import { HttpsUpstream } from '../../lambda/adapters/upstream-https';
import { LambdaUpstream, proxyResponse, upstreamEvent } from '../../lambda/adapters/upstream-lambda';
import { encodePrelude } from '../../lambda/doors/apigateway/http-stream';
import { decodeProxyEvent } from '../../lambda/doors/apigateway/proxy';
import { UpstreamError, type UpstreamRequest, upstreamHeaders } from '../../lambda/doors/apigateway/upstream';
import { fixture } from '../helpers/fixtures';

const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:orders-mcp';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-mcp-AbCdEf';
const CLIENT_TOKEN = 'eyJhbGciOi...REDACTED';

function request(overrides: Partial<UpstreamRequest> = {}): UpstreamRequest {
  const decoded = decodeProxyEvent(fixture('apigateway/proxy-integration-input.tools-call.json'));
  return {
    httpMethod: 'POST',
    clientHeaders: decoded.guard.facts.headers,
    intent: { set: {}, remove: ['authorization'] },
    body: '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_order","arguments":{"order_id":"42","_caller_user":"alice"}}}',
    event: decoded.event,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** A Lambda Invoke payload as the SDK returns it. */
const payload = (body: string) =>
  Buffer.from(body, 'utf8') as unknown as NonNullable<InvokeCommandOutput['Payload']>;

async function text(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

describe('headers that go upstream', () => {
  it('drops the client’s credentials and hop-by-hop headers; the guard’s removals, then the credential, then the guard’s own headers', () => {
    const client = new Map([
      ['authorization', ['Bearer client-token']],
      ['cookie', ['session=1']],
      ['connection', ['keep-alive']],
      ['content-length', ['299']],
      ['mcp-name', ['orders___get_order']],
      ['x-remove-me', ['1']],
      ['accept', ['application/json, text/event-stream']],
    ]);
    const headers = upstreamHeaders(
      client,
      {
        set: { 'X-Identity-Assertion': 'jwt', 'MCP-Name': 'get_order' },
        remove: ['Authorization', 'X-Remove-Me'],
      },
      { authorization: 'Bearer server-key', 'x-identity-assertion': 'overridden' },
    );
    expect(Object.fromEntries(headers)).toEqual({
      'mcp-name': ['get_order'],
      accept: ['application/json, text/event-stream'],
      authorization: ['Bearer server-key'],
      'x-identity-assertion': ['jwt'],
    });
  });
});

describe('Lambda upstream', () => {
  const lambda = mockClient(LambdaClient);
  beforeEach(() => lambda.reset());
  const client = new LambdaClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
  });

  it('sends the request on as a proxy event 1.0: the guard’s body, the client’s header casing, no Authorization, no cached authorizer context', () => {
    const event = upstreamEvent(
      request({ intent: { set: { 'x-mcp-identity-assertion': 'jwt' }, remove: ['authorization'] } }),
    );
    const body = request().body as string;
    expect(event).toMatchObject({
      resource: '/mcp',
      path: '/mcp',
      httpMethod: 'POST',
      body,
      isBase64Encoded: false,
      requestContext: {
        requestId: '00000000-1111-2222-3333-444444444444',
        identity: { sourceIp: '198.51.100.23' },
      },
    });
    const headers = event.headers as Record<string, string>;
    expect(headers['Mcp-Method']).toBe('tools/call');
    expect(headers['Content-Length']).toBe(String(Buffer.byteLength(body)));
    expect(headers['x-mcp-identity-assertion']).toBe('jwt');
    expect((event.multiValueHeaders as Record<string, string[]>)['Content-Length']).toEqual([
      String(Buffer.byteLength(body)),
    ]);
    expect(JSON.stringify(event)).not.toContain(CLIENT_TOKEN);
    expect(Object.keys(headers).map((name) => name.toLowerCase())).not.toContain('authorization');
    expect((event.requestContext as Record<string, unknown>).authorizer).toBeUndefined();
  });

  it('invokes the one configured function synchronously and reads its proxy response', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: payload(JSON.stringify(fixture('apigateway/proxy-integration-output.tools-call.json'))),
    });
    const response = await new LambdaUpstream(client, FUNCTION_ARN).send(request());
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: FUNCTION_ARN,
      InvocationType: 'RequestResponse',
    });
    const sent = JSON.parse(
      Buffer.from(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array).toString(
        'utf8',
      ),
    );
    expect(sent.body).toBe(request().body);
    expect(response.status).toBe(200);
    expect(Object.fromEntries(response.headers)).toEqual({
      'content-type': ['application/json'],
      'cache-control': ['no-store'],
      vary: ['Origin'],
    });
    expect(JSON.parse(await text(response.body))).toMatchObject({ id: 7, result: { isError: false } });
  });

  it.each([
    [
      'a function error (its payload, a stack trace, stays out)',
      {
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: payload('{"errorMessage":"secret stack"}'),
      },
      /failed \(Unhandled\)/,
    ],
    [
      'an answer that is not a proxy response',
      { StatusCode: 200, Payload: payload('"just a string"') },
      /did not answer with a Lambda proxy response/,
    ],
  ] as [string, InvokeCommandOutput, RegExp][])(
    'reports %s as an upstream error',
    async (_name, output, message) => {
      lambda.on(InvokeCommand).resolves(output);
      const error = await new LambdaUpstream(client, FUNCTION_ARN)
        .send(request())
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('secret stack');
    },
  );

  it('reports a failed invocation (throttled, not permitted) as an upstream error naming only its type', async () => {
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Rate exceeded for arn…'), { name: 'TooManyRequestsException' }));
    await expect(new LambdaUpstream(client, FUNCTION_ARN).send(request())).rejects.toThrow(
      'invoking the upstream function failed (TooManyRequestsException)',
    );
  });

  it('reads base64 bodies and merged header maps (multiValueHeaders wins), and the bytes of a streaming function', async () => {
    const buffered = proxyResponse(
      Buffer.from(
        JSON.stringify({
          statusCode: 200,
          headers: { 'Content-Type': 'text/plain', Vary: 'Accept' },
          multiValueHeaders: { Vary: ['Origin', 'Accept'] },
          body: Buffer.from('hello').toString('base64'),
          isBase64Encoded: true,
        }),
      ),
    );
    expect(Object.fromEntries(buffered.headers)).toEqual({
      'content-type': ['text/plain'],
      vary: ['Origin', 'Accept'],
    });
    expect(await text(buffered.body)).toBe('hello');
    const streamed = proxyResponse(
      Buffer.concat([
        encodePrelude({
          statusCode: 200,
          headers: { 'Content-Type': 'text/event-stream', 'Content-Length': '9' },
        }),
        Buffer.from('data: {}\n\n'),
      ]),
    );
    expect(streamed.status).toBe(200);
    expect(Object.fromEntries(streamed.headers)).toEqual({ 'content-type': ['text/event-stream'] });
    expect(await text(streamed.body)).toBe('data: {}\n\n');
  });
});

describe('outbound credentials from Secrets Manager', () => {
  const secrets = mockClient(SecretsManagerClient);
  beforeEach(() => secrets.reset());
  const client = new SecretsManagerClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
  });

  it('reads two forms: a bearer token, or named headers', () => {
    expect(credentialHeaders('server-token-123\n')).toEqual({ authorization: 'Bearer server-token-123' });
    expect(credentialHeaders('{"headers":{"X-Api-Key":"k-1","X-Tenant":"acme"}}')).toEqual({
      'X-Api-Key': 'k-1',
      'X-Tenant': 'acme',
    });
  });

  it.each([
    ['JSON that does not parse', '{"headers":'],
    ['JSON without headers', '{"apiKey":"k-1"}'],
    ['a header the proxy controls', '{"headers":{"Host":"evil.example.com"}}'],
    ['a header value with a line break', '{"headers":{"X-Api-Key":"a\\r\\nX-Evil: 1"}}'],
    ['a token with spaces', 'two words'],
  ])('refuses %s, without quoting the secret', (_name, secret) => {
    const error = (() => {
      try {
        credentialHeaders(secret);
      } catch (caught) {
        return caught as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error?.message).not.toContain('k-1');
    expect(error?.message).not.toContain('two words');
  });

  it('reads the secret once per TTL, one read for concurrent requests, and again after the server refused it', async () => {
    let now = 0;
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'server-token-123' });
    const credentials = new SecretsManagerCredentials(client, SECRET_ARN, 300, () => now);
    await Promise.all([credentials.headers(), credentials.headers(), credentials.headers()]);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET_ARN });
    now = 299_000;
    await credentials.headers();
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    now = 300_000;
    await credentials.headers();
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    credentials.invalidate();
    await credentials.headers();
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 3);
  });

  it('does not cache a failed read, and forwards nothing meanwhile', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }))
      .resolves({ SecretString: 'server-token-123' });
    const credentials = new SecretsManagerCredentials(client, SECRET_ARN, 300);
    await expect(credentials.headers()).rejects.toThrow(
      'the upstream secret could not be read (AccessDeniedException)',
    );
    await expect(credentials.headers()).resolves.toEqual({ authorization: 'Bearer server-token-123' });
  });

  it('refuses a binary secret', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: Buffer.from('x') });
    await expect(new SecretsManagerCredentials(client, SECRET_ARN, 300).headers()).rejects.toThrow(
      'no string value',
    );
  });
});

describe('HTTPS upstream (a loopback server stands in)', () => {
  let server: Server;
  let url: string;
  let seen: { method?: string; headers: IncomingHttpHeaders; body: string }[];
  let handle: (response: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({
          ...(req.method === undefined ? {} : { method: req.method }),
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        handle(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    seen = [];
    handle = (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Mcp-Session-Id': 's-1' });
      res.end('{"jsonrpc":"2.0","id":7,"result":{"content":[]}}');
    };
  });

  it('posts the guard’s body with the outbound credential, never the client’s token', async () => {
    const credentials: OutboundCredentials = {
      headers: async () => ({ authorization: 'Bearer server-key' }),
      invalidate: () => {},
    };
    const response = await new HttpsUpstream(url, credentials).send(request());
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe('POST');
    expect(seen[0]?.body).toBe(request().body);
    expect(seen[0]?.headers.authorization).toBe('Bearer server-key');
    expect(JSON.stringify(seen[0]?.headers)).not.toContain(CLIENT_TOKEN);
    expect(seen[0]?.headers['mcp-method']).toBe('tools/call');
    expect(response.status).toBe(200);
    expect(response.headers.get('mcp-session-id')).toEqual(['s-1']);
    expect(response.headers.has('content-length')).toBe(false);
    expect(await text(response.body)).toContain('"id":7');
  });

  it('sends no Authorization at all without a secret', async () => {
    await new HttpsUpstream(url, NO_CREDENTIALS).send(request());
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('streams an SSE answer as it comes: the first event is readable before the server has finished', async () => {
    let finish: () => void = () => {};
    handle = (res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n');
      finish = () => res.end('event: message\ndata: {"jsonrpc":"2.0","id":7,"result":{}}\n\n');
    };
    const response = await new HttpsUpstream(url, NO_CREDENTIALS).send(request());
    const iterator = response.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(Buffer.from(first.value as Uint8Array).toString('utf8')).toContain('notifications/progress');
    finish();
    let rest = '';
    for (let next = await iterator.next(); !next.done; next = await iterator.next())
      rest += Buffer.from(next.value).toString('utf8');
    expect(rest).toContain('"id":7');
  });

  it('treats a 401 as the server refusing our credentials: the cached secret is dropped, the client is not asked to sign in', async () => {
    handle = (res) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer' });
      res.end();
    };
    const invalidate = jest.fn();
    const credentials: OutboundCredentials = {
      headers: async () => ({ authorization: 'Bearer old' }),
      invalidate,
    };
    await expect(new HttpsUpstream(url, credentials).send(request())).rejects.toThrow(
      "refused the proxy's credentials (401)",
    );
    expect(invalidate).toHaveBeenCalledTimes(1);
  });

  it('does not follow a redirect (credentials must not follow it elsewhere)', async () => {
    handle = (res) => {
      res.writeHead(307, { Location: 'https://elsewhere.example.com/mcp' });
      res.end();
    };
    await expect(new HttpsUpstream(url, NO_CREDENTIALS).send(request())).rejects.toThrow(
      'answered a redirect (307)',
    );
    expect(seen).toHaveLength(1);
  });

  it('passes other statuses on (a 404 for an unknown session, a 400 with a JSON-RPC error)', async () => {
    handle = (res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}');
    };
    const response = await new HttpsUpstream(url, NO_CREDENTIALS).send(request());
    expect(response.status).toBe(404);
  });

  it('reports a server that cannot be reached, and a secret that cannot be read, as upstream errors', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(
      new HttpsUpstream(`http://127.0.0.1:${port}/mcp`, NO_CREDENTIALS).send(request()),
    ).rejects.toThrow(UpstreamError);
    const failing: OutboundCredentials = {
      headers: async () => {
        throw new UpstreamError('the upstream secret could not be read (AccessDeniedException)');
      },
      invalidate: () => {},
    };
    await expect(new HttpsUpstream(url, failing).send(request())).rejects.toThrow('could not be read');
    expect(seen).toHaveLength(0);
  });

  it('refuses a plain-http URL beyond loopback, or one with credentials in it', () => {
    expect(() => new HttpsUpstream('http://mcp.example.com/mcp', NO_CREDENTIALS)).toThrow(/https/);
    expect(() => new HttpsUpstream('https://u:p@mcp.example.com/mcp', NO_CREDENTIALS)).toThrow(/credentials/);
  });

  it('sends DELETE without a body', async () => {
    await new HttpsUpstream(url, NO_CREDENTIALS).send(request({ httpMethod: 'DELETE', body: undefined }));
    expect(seen[0]).toMatchObject({ method: 'DELETE', body: '' });
  });
});
