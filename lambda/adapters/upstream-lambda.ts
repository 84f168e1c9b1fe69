import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import { decodeStreamedResponse } from '../doors/apigateway/http-stream';
import {
  clientResponseHeaders,
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
  upstreamHeaders,
} from '../doors/apigateway/upstream';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The proxy event 1.0 the upstream function receives: the request as it reached API Gateway, with the headers
 * and body the guard allowed. The authorizer's cached context is left out (the identity the tool may trust is
 * the one the guard injected or asserted), and header names keep the client's casing.
 */
export function upstreamEvent(request: UpstreamRequest): Record<string, unknown> {
  const { event } = request;
  const casing = new Map<string, string>();
  for (const map of [event.headers, event.multiValueHeaders])
    if (isRecord(map)) for (const name of Object.keys(map)) casing.set(name.toLowerCase(), name);
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, values] of upstreamHeaders(request.clientHeaders, request.intent)) {
    const original = casing.get(name) ?? name;
    headers[original] = values.at(-1) as string;
    multiValueHeaders[original] = [...values];
  }
  if (request.body !== undefined) {
    const length = String(Buffer.byteLength(request.body, 'utf8'));
    const name = casing.get('content-length') ?? 'Content-Length';
    headers[name] = length;
    multiValueHeaders[name] = [length];
  }
  const { authorizer: _cached, ...requestContext } = isRecord(event.requestContext)
    ? event.requestContext
    : {};
  return {
    ...event,
    httpMethod: request.httpMethod,
    headers,
    multiValueHeaders,
    requestContext,
    body: request.body ?? null,
    isBase64Encoded: false,
  };
}

function bodyOnce(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      if (bytes.length > 0) yield bytes;
    },
  };
}

/**
 * The function's answer: a proxy integration response 1.0 (`statusCode`, `headers`, `multiValueHeaders` —
 * which wins on a duplicate —, `body`, `isBase64Encoded`), or the bytes of a streaming function (metadata
 * prelude, eight NULs, body), which a plain Invoke returns whole. Anything else is an {@link UpstreamError}.
 */
export function proxyResponse(payload: Uint8Array): UpstreamResponse {
  const text = Buffer.from(payload).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (isRecord(parsed) && Number.isInteger(parsed.statusCode)) {
    const headers = new Map<string, string[]>();
    if (isRecord(parsed.headers))
      for (const [name, value] of Object.entries(parsed.headers))
        if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
          headers.set(name.toLowerCase(), [String(value)]);
    if (isRecord(parsed.multiValueHeaders))
      for (const [name, values] of Object.entries(parsed.multiValueHeaders))
        if (Array.isArray(values)) headers.set(name.toLowerCase(), values.map(String));
    const body = typeof parsed.body === 'string' ? parsed.body : '';
    const bytes = parsed.isBase64Encoded === true ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
    return {
      status: parsed.statusCode as number,
      headers: clientResponseHeaders(headers),
      body: bodyOnce(bytes),
    };
  }
  const streamed = decodeStreamedResponse(payload);
  if (streamed !== undefined) {
    const headers = new Map<string, string[]>();
    for (const [name, value] of Object.entries(streamed.metadata.headers ?? {}))
      headers.set(name.toLowerCase(), [String(value)]);
    for (const [name, values] of Object.entries(streamed.metadata.multiValueHeaders ?? {}))
      headers.set(name.toLowerCase(), values.map(String));
    return {
      status: streamed.metadata.statusCode,
      headers: clientResponseHeaders(headers),
      body: bodyOnce(streamed.body),
    };
  }
  throw new UpstreamError('the upstream function did not answer with a Lambda proxy response');
}

/**
 * An MCP server that runs as a Lambda function written for API Gateway: invoked synchronously (Invoke,
 * RequestResponse) with the proxy event 1.0. Its answer is read whole (Lambda's 6 MB limit applies); an SSE
 * body is then passed on event by event. The proxy's role may invoke this one function only.
 */
export class LambdaUpstream implements Upstream {
  constructor(
    private readonly client: Pick<LambdaClient, 'send'>,
    private readonly functionArn: string,
  ) {}

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    let output: InvokeCommandOutput;
    try {
      output = await this.client.send(
        new InvokeCommand({
          FunctionName: this.functionArn,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(upstreamEvent(request)), 'utf8'),
        }),
        { abortSignal: request.signal },
      );
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      throw new UpstreamError(`invoking the upstream function failed (${name})`, { cause: error });
    }
    // The payload of a function error may hold a stack trace or data: never passed on, never logged.
    if (output.FunctionError !== undefined)
      throw new UpstreamError(`the upstream function failed (${output.FunctionError})`);
    return proxyResponse(output.Payload ?? new Uint8Array());
  }
}
