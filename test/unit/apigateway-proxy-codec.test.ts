import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  decodeStreamedResponse,
  encodePrelude,
  HTTP_INTEGRATION_CONTENT_TYPE,
  PRELUDE_DELIMITER,
  preludeStream,
} from '../../lambda/doors/apigateway/http-stream';
import {
  answerResponse,
  decodeProxyEvent,
  methodNotAllowed,
  sseMessage,
  streamMetadata,
} from '../../lambda/doors/apigateway/proxy';
import { ResponseWriter } from '../../lambda/doors/apigateway/response-writer';
import { eventData, needsResponseStep, SseEventTooLarge, sseEvents } from '../../lambda/doors/apigateway/sse';
import { fromUpstream, toUpstream } from '../../lambda/doors/apigateway/tool-names';
import { fixture } from '../helpers/fixtures';
import { recordingStream, streamedResponse } from '../helpers/response-stream';

const INPUT = 'apigateway/proxy-integration-input.tools-call.json';
type ProxyEvent = Record<string, unknown> & {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  body: string | null;
  isBase64Encoded: boolean;
};

async function* chunked(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('proxy event 1.0 decoding (CONTRACTS §7b)', () => {
  it('turns the documented event into a guard request: every Authorization value, the parsed body, the observed address', () => {
    const request = decodeProxyEvent(fixture(INPUT));
    expect(request.httpMethod).toBe('POST');
    expect(request.acceptsSse).toBe(true);
    expect(request.guard).toMatchObject({
      door: 'apigw',
      credential: { authorization: ['Bearer eyJhbGciOi...REDACTED'] },
      parsed: true,
      rawBytes: 299,
      message: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'get_order' } },
      facts: { sourceIp: '198.51.100.23', userAgent: 'ExampleClient/1.0.0' },
    });
    expect(request.guard.undecodable).toBeUndefined();
    expect(request.guard.facts.headers.get('mcp-name')).toEqual(['get_order']);
  });

  it('never takes identity from the authorizer’s cached context: only the header reaches the guard', () => {
    const event = fixture<ProxyEvent>(INPUT);
    delete event.headers.Authorization;
    delete event.multiValueHeaders.Authorization;
    const request = decodeProxyEvent(event);
    expect(request.guard.credential).toEqual({ authorization: [] });
    expect(JSON.stringify(request.guard)).not.toContain('user-7f3a');
  });

  it('honours isBase64Encoded', () => {
    const event = fixture<ProxyEvent>(INPUT);
    event.body = Buffer.from(event.body as string, 'utf8').toString('base64');
    event.isBase64Encoded = true;
    expect(decodeProxyEvent(event).guard).toMatchObject({ parsed: true, message: { id: 7 } });
  });

  it.each([
    ['text that is not JSON', { body: '{"jsonrpc":' }],
    [
      'base64 that is not UTF-8',
      { body: Buffer.from([0xff, 0xfe, 0xfd]).toString('base64'), isBase64Encoded: true },
    ],
    ['a body that is not a string', { body: { jsonrpc: '2.0' } }],
  ])('hands the guard an unparsed body for %s (it answers -32700)', (_name, change) => {
    const request = decodeProxyEvent({ ...fixture<ProxyEvent>(INPUT), ...change });
    expect(request.guard).toMatchObject({ parsed: false, message: undefined });
  });

  it.each([
    ['not an object', 'hello'],
    ['no httpMethod', { headers: {} }],
  ])('decodes an event that is %s into one the guard refuses as undecodable', (_name, event) => {
    const request = decodeProxyEvent(event);
    expect(request.httpMethod).toBe('POST');
    expect(request.guard.undecodable?.reason).toBe('The API Gateway event could not be read.');
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(decodeProxyEvent(value).guard.door).toBe('apigw');
      }),
    );
  });

  it.each([
    ['application/json, text/event-stream', true],
    ['application/json', false],
    ['*/*', true],
    ['text/event-stream;q=0.5', true],
  ])('reads Accept %s as accepting SSE: %s', (accept, expected) => {
    const event = fixture<ProxyEvent>(INPUT);
    event.headers.Accept = accept;
    event.multiValueHeaders.Accept = [accept];
    expect(decodeProxyEvent(event).acceptsSse).toBe(expected);
  });
});

describe('streamed response (CONTRACTS §7c)', () => {
  const documented = readFileSync(
    join(__dirname, '..', 'fixtures', 'apigateway', 'streaming-response.tools-call.txt'),
    'utf8',
  );
  // The fixture shows the delimiter as a placeholder line; the wire has 8 NUL bytes and no line breaks around it.
  const [metadataLine, placeholder, ...bodyLines] = documented.split('\n');
  const documentedBody = bodyLines.join('\n');

  it('writes the documented bytes: JSON metadata, eight NULs, then the body', async () => {
    expect(placeholder).toMatch(/^<8 NUL bytes/);
    const metadata = JSON.parse(metadataLine as string);
    const stream = recordingStream();
    const out = preludeStream(stream, metadata);
    out.write(documentedBody);
    await new Promise<void>((resolve) => out.end(resolve));
    expect(stream.contentType).toBe(HTTP_INTEGRATION_CONTENT_TYPE);
    expect(stream.bytes()).toEqual(
      Buffer.concat([Buffer.from(metadataLine as string), Buffer.alloc(8), Buffer.from(documentedBody)]),
    );
    expect(decodeStreamedResponse(stream.bytes())).toEqual({ metadata, body: Buffer.from(documentedBody) });
  });

  it('starts the response on an empty first write, so the status and headers are never lost', async () => {
    const stream = recordingStream();
    const out = preludeStream(stream, { statusCode: 202, headers: {} });
    out.write('');
    await new Promise<void>((resolve) => out.end(resolve));
    expect(decodeStreamedResponse(stream.bytes())).toEqual({
      metadata: { statusCode: 202, headers: {} },
      body: Buffer.alloc(0),
    });
  });

  it('reads back only a JSON object with a status followed by the delimiter', () => {
    expect(decodeStreamedResponse(Buffer.from('{"statusCode":200}'))).toBeUndefined();
    expect(
      decodeStreamedResponse(Buffer.concat([Buffer.from('{"status":200}'), Buffer.from(PRELUDE_DELIMITER)])),
    ).toBeUndefined();
    expect(
      decodeStreamedResponse(Buffer.concat([Buffer.from('not json'), Buffer.from(PRELUDE_DELIMITER)])),
    ).toBeUndefined();
    expect(encodePrelude({ statusCode: 200 }).subarray(-8)).toEqual(Buffer.alloc(8));
  });

  it('puts single values in headers and repeated ones in multiValueHeaders', () => {
    expect(
      streamMetadata(
        200,
        new Map([
          ['content-type', ['text/event-stream']],
          ['vary', ['Origin', 'Accept']],
        ]),
      ),
    ).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'text/event-stream' },
      multiValueHeaders: { vary: ['Origin', 'Accept'] },
    });
  });

  it('answers with the guard’s status, headers and JSON-RPC body, never cached', () => {
    const { metadata, body } = answerResponse({
      status: 401,
      headers: {
        'WWW-Authenticate': 'Bearer resource_metadata="https://x/.well-known/oauth-protected-resource/mcp"',
      },
      body: { jsonrpc: '2.0', id: 7, error: { code: -32001, message: 'Authentication required.' } },
    });
    expect(metadata).toEqual({
      statusCode: 401,
      headers: {
        'Cache-Control': 'no-store',
        'WWW-Authenticate': 'Bearer resource_metadata="https://x/.well-known/oauth-protected-resource/mcp"',
      },
    });
    expect(JSON.parse(body)).toMatchObject({ id: 7, error: { code: -32001 } });
  });

  it('answers GET with 405 (no standalone SSE stream is offered)', () => {
    expect(methodNotAllowed('GET')).toMatchObject({ status: 405, headers: { Allow: 'POST, DELETE' } });
  });

  it('writes one message as one single-line SSE event', () => {
    expect(sseMessage({ jsonrpc: '2.0', id: 1, result: { text: 'a\nb' } })).toBe(
      'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"text":"a\\nb"}}\n\n',
    );
  });
});

describe('SSE events as they stream', () => {
  it('yields whole events whatever the chunking, line endings normalised', async () => {
    const events = await collect(
      sseEvents(
        chunked(': keep-alive\r', '\n\r\nevent: message\r\nda', 'ta: {"id":1}\r\n', '\r\n', 'data: {"id":2}'),
        1000,
      ),
    );
    expect(events).toEqual([': keep-alive\n\n', 'event: message\ndata: {"id":1}\n\n', 'data: {"id":2}\n\n']);
  });

  it('keeps a multi-byte character split across chunks intact', async () => {
    const bytes = Buffer.from('data: {"text":"żółw"}\n\n', 'utf8');
    const events = await collect(sseEvents(chunked(bytes.subarray(0, 16), bytes.subarray(16)), 1000));
    expect(events).toEqual(['data: {"text":"żółw"}\n\n']);
  });

  it('stops at an event larger than the limit', async () => {
    await expect(collect(sseEvents(chunked(`data: ${'x'.repeat(200)}`), 100))).rejects.toThrow(
      SseEventTooLarge,
    );
  });

  it.each([
    [': keep-alive\n\n', false],
    ['event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n', false],
    ['data: {"jsonrpc":"2.0","id":"s1","method":"elicitation/create","params":{}}\n\n', false],
    ['data: {"jsonrpc":"2.0","id":1,"result":{"tools":[]}}\n\n', true],
    ['data: {"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}\n\n', true],
    ['data: not json\n\n', true],
    ['data: [1,2]\n\n', true],
  ])('sends %j through the response step: %s', (event, expected) => {
    expect(needsResponseStep(event)).toBe(expected);
  });

  it('joins multi-line data', () => {
    expect(eventData('event: message\ndata: a\ndata:b\n\n')).toBe('a\nb');
    expect(eventData(': comment\n\n')).toBeUndefined();
  });
});

describe('tool names as AgentCore Gateway shows them', () => {
  const call = (name: unknown) => ({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name, arguments: {} },
  });

  it('takes the target prefix off a call before it goes upstream, with the mirrored Mcp-Name to match', () => {
    expect(toUpstream(call('orders___get_order'), 'orders')).toEqual({
      ok: true,
      message: call('get_order'),
      mcpName: 'get_order',
    });
  });

  it.each([['get_order'], ['crm___get_order'], ['orders___'], [42]])('finds no tool for %j', (name) => {
    expect(toUpstream(call(name), 'orders')).toEqual({ ok: false });
  });

  it('leaves everything as it is without a target name, and other methods always', () => {
    expect(toUpstream(call('get_order'), undefined)).toEqual({ ok: true, message: call('get_order') });
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    expect(toUpstream(list, 'orders')).toEqual({ ok: true, message: list });
  });

  it('prefixes listed tools in JSON and SSE bodies, and leaves other bodies untouched', () => {
    const listed = { jsonrpc: '2.0', id: 2, result: { tools: [{ name: 'get_order', inputSchema: {} }] } };
    expect(JSON.parse(fromUpstream(JSON.stringify(listed), 'orders')).result.tools[0].name).toBe(
      'orders___get_order',
    );
    const sse = `event: message\ndata: ${JSON.stringify(listed)}\n\n`;
    expect(fromUpstream(sse, 'orders')).toBe(
      `event: message\ndata: ${JSON.stringify({ ...listed, result: { tools: [{ name: 'orders___get_order', inputSchema: {} }] } })}\n\n`,
    );
    const result = JSON.stringify({ jsonrpc: '2.0', id: 3, result: { content: [] } });
    expect(fromUpstream(result, 'orders')).toBe(result);
    expect(fromUpstream('not json', 'orders')).toBe('not json');
    expect(fromUpstream(JSON.stringify(listed), undefined)).toBe(JSON.stringify(listed));
  });
});

describe('response writer', () => {
  afterEach(() => jest.useRealTimers());
  const message = { jsonrpc: '2.0', id: 7, result: {} };

  it('sends a final answer as its own JSON response when nothing was committed', async () => {
    const stream = recordingStream();
    const writer = new ResponseWriter(stream, preludeStream);
    await writer.answer(streamMetadata(403, { 'Content-Type': 'application/json' }), message);
    await writer.end();
    expect(streamedResponse(stream)).toEqual({
      metadata: { statusCode: 403, headers: { 'Content-Type': 'application/json' } },
      body: JSON.stringify(message),
    });
  });

  it('never writes a final JSON answer into an SSE stream a keep-alive was about to start: the keep-alive is dropped', async () => {
    jest.useFakeTimers();
    const stream = recordingStream();
    const writer = new ResponseWriter(stream, preludeStream);
    writer.keepAlive(1000);
    // The keep-alive fires and is on its way when the answer arrives in the same turn.
    jest.advanceTimersByTime(1000);
    const answered = writer.answer(streamMetadata(200, { 'Content-Type': 'application/json' }), message);
    jest.useRealTimers();
    await answered;
    await writer.end();
    expect(streamedResponse(stream)).toEqual({
      metadata: { statusCode: 200, headers: { 'Content-Type': 'application/json' } },
      body: JSON.stringify(message),
    });
  });

  it('sends a final answer as an SSE event once a keep-alive has started the stream', async () => {
    jest.useFakeTimers();
    const stream = recordingStream();
    const writer = new ResponseWriter(stream, preludeStream);
    writer.keepAlive(1000);
    jest.advanceTimersByTime(1000);
    jest.useRealTimers();
    await new Promise((resolve) => setImmediate(resolve));
    await writer.answer(streamMetadata(200, { 'Content-Type': 'application/json' }), message);
    await writer.end();
    expect(streamedResponse(stream)).toEqual({
      metadata: {
        statusCode: 200,
        headers: {
          'Content-Type': 'text/event-stream',
          'Cache-Control': 'no-store',
          'X-Accel-Buffering': 'no',
        },
      },
      body: `: keep-alive\n\n${sseMessage(message)}`,
    });
  });

  it('ends a response with no body with its status and headers (an empty write starts it)', async () => {
    const stream = recordingStream();
    await new ResponseWriter(stream, preludeStream).end(streamMetadata(202, {}));
    expect(streamedResponse(stream)).toEqual({ metadata: { statusCode: 202, headers: {} }, body: '' });
  });
});
