import { UNEXPECTED_FAILURE, unavailable } from '../../guard/answers';
import { idIn } from '../../guard/message';
import type { Guard, GuardResponse, GuardResult, JsonRpcAnswer } from '../../guard/types';
import type { DiagnosticLog } from '../../shared/logger';
import { type OpenHttpResponse, preludeStream, type ResponseStream } from './http-stream';
import {
  answerResponse,
  decodeProxyEvent,
  methodNotAllowed,
  type ProxyRequest,
  sseMessage,
  streamMetadata,
} from './proxy';
import { ResponseWriter } from './response-writer';
import { needsResponseStep, sseEvents } from './sse';
import { fromUpstream, toUpstream } from './tool-names';
import { firstValue, type Upstream, UpstreamError, type UpstreamResponse } from './upstream';

export interface ProxyDoorSettings {
  /** Deadline for the upstream's whole answer. */
  readonly timeoutMs: number;
  /** Largest upstream answer read whole (a JSON body, one SSE event). */
  readonly maxResponseBytes: number;
  /** SSE comment after this much silence (API Gateway closes a stream idle for 5 minutes). */
  readonly keepAliveSeconds: number;
  /** Tools are exposed as `${targetName}___${tool}`, as AgentCore Gateway names a target's. @default - as is */
  readonly targetName?: string;
}

export interface ProxyDoorDeps {
  readonly guard: Guard;
  readonly upstream: Upstream;
  readonly log: DiagnosticLog;
  readonly settings: ProxyDoorSettings;
  /** How the prelude is written: the runtime's `HttpResponseStream.from` in Lambda. @default preludeStream */
  readonly open?: OpenHttpResponse;
}

/** The handler `awslambda.streamifyResponse` wraps: the proxy event in, the response streamed out. */
export type ProxyHandler = (event: unknown, stream: ResponseStream) => Promise<void>;

/** JSON-RPC "internal error": the upstream gave no usable answer. */
export const UPSTREAM_FAILED_CODE = -32603;
const UPSTREAM_FAILED = 'The MCP server behind the gateway gave no usable answer.';
const UPSTREAM_TIMED_OUT = 'The MCP server behind the gateway did not answer in time.';
const UNKNOWN_TOOL = 'Unknown tool: this gateway offers no tool of that name.';

type Forward = Extract<GuardResult, { kind: 'forward' }>;

function isSse(response: UpstreamResponse): boolean {
  return /^\s*text\/event-stream\b/i.test(firstValue(response.headers, 'content-type') ?? '');
}

/** Reads a body whole, up to `max` bytes; undefined when it is larger (the rest is not read). */
async function readAll(body: AsyncIterable<Uint8Array>, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max) return undefined;
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function failure(id: ReturnType<typeof idIn>, code: number, message: string): JsonRpcAnswer {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

const JSON_HEADERS = Object.freeze({ 'Content-Type': 'application/json' });

/**
 * The API Gateway door's MCP proxy (the door's "REQUEST interceptor"): decode → guard → upstream → guard's
 * response step → streamed answer. Each JSON-RPC request is decided by the guard, which verifies the token
 * itself (the authorizer's cached context is never trusted); denials are answered here and the upstream is not
 * called; allowed requests go upstream with the guard's body and headers, never the client's token; answers
 * come back through the response step (lists filtered, outcomes audited) — a JSON body whole, an SSE stream
 * event by event. Never throws, and never passes on what it could not check.
 */
export function createApiGatewayDoor(deps: ProxyDoorDeps): ProxyHandler {
  const { guard, upstream, log, settings } = deps;
  const open = deps.open ?? preludeStream;
  const target = settings.targetName;

  async function answer(
    writer: ResponseWriter,
    given: {
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: unknown;
    },
  ): Promise<void> {
    await writer.answer(answerResponse(given as Parameters<typeof answerResponse>[0]).metadata, given.body);
    await writer.end();
  }

  function responseFor(request: ProxyRequest, status: number, body: unknown): GuardResponse {
    return {
      door: 'apigw',
      credential: request.guard.credential,
      facts: request.guard.facts,
      // The request as the client sent it (not the forwarded one, which carries the injected identity).
      request: request.guard.message,
      response: { status, body },
    };
  }

  /**
   * An answer the door gives in the upstream's place (it failed, timed out, or has no such tool): through the
   * response step, so the outcome of the call is audited like any other, then written.
   */
  async function settle(writer: ResponseWriter, request: ProxyRequest, status: number, body: JsonRpcAnswer) {
    const result = await guard.onResponse(responseFor(request, status, body));
    await answer(writer, result.kind === 'answer' ? result : { status, headers: JSON_HEADERS, body });
  }

  /** A whole (non-SSE) answer: renamed, through the response step, then written as it is or as filtered. */
  async function relayBody(
    writer: ResponseWriter,
    request: ProxyRequest,
    response: UpstreamResponse,
    bytes: Buffer,
  ) {
    const received = bytes.toString('utf8');
    const shown = fromUpstream(received, target);
    const result = await guard.onResponse(responseFor(request, response.status, shown));
    if (result.kind === 'answer') return answer(writer, result);
    const out =
      result.kind === 'replace'
        ? Buffer.from(typeof result.body === 'string' ? result.body : JSON.stringify(result.body), 'utf8')
        : shown === received
          ? bytes
          : Buffer.from(shown, 'utf8');
    await writer.quiet();
    if (writer.committed) {
      // Keep-alives already made this an SSE stream (status sent): the answer goes as one event.
      const message = parseJson(out.toString('utf8'));
      await writer.write(
        sseMessage(message ?? failure(idIn(request.guard.message), UPSTREAM_FAILED_CODE, UPSTREAM_FAILED)),
      );
      return writer.end();
    }
    if (out.length === 0) return writer.end(streamMetadata(response.status, response.headers));
    await writer.begin(streamMetadata(response.status, response.headers), out, false);
    return writer.end();
  }

  /** An SSE answer, event by event: responses through the guard's response step, the rest as they are. */
  async function relayEvents(writer: ResponseWriter, request: ProxyRequest, response: UpstreamResponse) {
    const headers = new Map(response.headers);
    if (!headers.has('x-accel-buffering')) headers.set('x-accel-buffering', ['no']);
    const metadata = streamMetadata(response.status, headers);
    let answered = false;
    try {
      for await (const received of sseEvents(response.body, settings.maxResponseBytes)) {
        let event = fromUpstream(received, target);
        if (needsResponseStep(event)) {
          const result = await guard.onResponse(responseFor(request, response.status, event));
          if (result.kind === 'answer') {
            // Only the first write can still set the status; later, the answer goes as an event and ends it.
            if (!writer.committed) return answer(writer, result);
            await writer.write(sseMessage(result.body));
            return writer.end();
          }
          if (result.kind === 'replace') event = String(result.body);
          answered = true;
        }
        if (writer.committed) await writer.write(event);
        else await writer.begin(metadata, event, true);
      }
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'AbortError';
      log.warn('upstream SSE stream failed', {
        error: error instanceof Error ? error.message.slice(0, 200) : 'Error',
      });
      if (!answered) {
        const reason = timedOut ? UPSTREAM_TIMED_OUT : UPSTREAM_FAILED;
        if (!writer.committed)
          return settle(
            writer,
            request,
            502,
            failure(idIn(request.guard.message), UPSTREAM_FAILED_CODE, reason),
          );
        await writer.write(sseMessage(failure(idIn(request.guard.message), UPSTREAM_FAILED_CODE, reason)));
      }
    }
    return writer.end(metadata);
  }

  async function forward(writer: ResponseWriter, request: ProxyRequest, result: Forward): Promise<void> {
    const id = idIn(request.guard.message);
    const upstreamed = toUpstream(result.message, target);
    if (!upstreamed.ok) return settle(writer, request, 200, failure(id, -32602, UNKNOWN_TOOL));
    // The mirrored Mcp-Name must match the body the upstream receives (MCP 2026-07-28 servers compare them).
    const renamed: Record<string, string> =
      upstreamed.mcpName !== undefined && request.guard.facts.headers.has('mcp-name')
        ? { 'mcp-name': upstreamed.mcpName }
        : {};
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), settings.timeoutMs);
    deadline.unref();
    // Only a request (it has an id) waits for an answer worth keeping the connection open for.
    if (request.acceptsSse && id !== null) writer.keepAlive(settings.keepAliveSeconds * 1000);
    try {
      let response: UpstreamResponse;
      let bytes: Buffer | undefined;
      try {
        response = await upstream.send({
          httpMethod: 'POST',
          clientHeaders: request.guard.facts.headers,
          intent: {
            set: { ...result.headers.set, ...renamed },
            // The client's Authorization never goes upstream, whatever else the guard asks for.
            remove: [...new Set([...result.headers.remove, 'authorization'])],
          },
          body: JSON.stringify(upstreamed.message),
          event: request.event,
          signal: controller.signal,
        });
        if (isSse(response)) return await relayEvents(writer, request, response);
        bytes = await readAll(response.body, settings.maxResponseBytes);
      } catch (error) {
        log.warn('upstream failed', {
          error:
            error instanceof UpstreamError ? error.message : error instanceof Error ? error.name : 'Error',
        });
        const reason = controller.signal.aborted ? UPSTREAM_TIMED_OUT : UPSTREAM_FAILED;
        return settle(writer, request, 502, failure(id, UPSTREAM_FAILED_CODE, reason));
      }
      if (bytes === undefined) {
        log.warn('upstream answer too large', { limit: settings.maxResponseBytes });
        return settle(writer, request, 502, failure(id, UPSTREAM_FAILED_CODE, UPSTREAM_FAILED));
      }
      return await relayBody(writer, request, response, bytes);
    } finally {
      clearTimeout(deadline);
      writer.stop();
    }
  }

  /**
   * Session termination (2025-03-26 … 2025-11-25): the guard verifies the caller, runs the kill switch and
   * audits it (allowed or refused); only then is it passed to the upstream as it is.
   */
  async function terminate(writer: ResponseWriter, request: ProxyRequest): Promise<void> {
    const decided = await guard.onTerminate({
      door: 'apigw',
      credential: request.guard.credential,
      facts: request.guard.facts,
    });
    if (decided.kind === 'answer') return answer(writer, decided);
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), settings.timeoutMs);
    deadline.unref();
    try {
      const response = await upstream.send({
        httpMethod: 'DELETE',
        clientHeaders: request.guard.facts.headers,
        intent: { set: {}, remove: ['authorization'] },
        body: undefined,
        event: request.event,
        signal: controller.signal,
      });
      const bytes = (await readAll(response.body, settings.maxResponseBytes)) ?? Buffer.alloc(0);
      const metadata = streamMetadata(response.status, response.headers);
      if (bytes.length === 0) return writer.end(metadata);
      await writer.begin(metadata, bytes, false);
      return writer.end();
    } catch (error) {
      log.warn('upstream failed on DELETE', { error: error instanceof Error ? error.name : 'Error' });
      return answer(writer, {
        status: 502,
        headers: JSON_HEADERS,
        body: failure(null, UPSTREAM_FAILED_CODE, UPSTREAM_FAILED),
      });
    } finally {
      clearTimeout(deadline);
    }
  }

  async function post(writer: ResponseWriter, request: ProxyRequest): Promise<void> {
    const result = await guard.onRequest(request.guard);
    if (result.kind === 'forward') return forward(writer, request, result);
    // The guard's own answer goes through the response step too, as AgentCore Gateway runs the RESPONSE
    // interceptor on the REQUEST interceptor's answers: a refused call's outcome is audited alike at both doors.
    const after = await guard.onResponse(responseFor(request, result.status, result.body));
    if (after.kind === 'answer') return answer(writer, after);
    return answer(writer, after.kind === 'replace' ? { ...result, body: after.body } : result);
  }

  return async (event, stream) => {
    const writer = new ResponseWriter(stream, open);
    try {
      const request = decodeProxyEvent(event);
      switch (request.httpMethod) {
        case 'POST':
          return await post(writer, request);
        case 'DELETE':
          return await terminate(writer, request);
        default:
          return await answer(writer, methodNotAllowed(request.httpMethod));
      }
    } catch (error) {
      // Fail closed: nothing more goes out unchecked. Before the first write the client gets a 503; after it,
      // the stream ends where it is.
      log.error('API Gateway proxy failed', { error: error instanceof Error ? error.name : 'Error' });
      writer.stop();
      try {
        if (!writer.committed) await answer(writer, unavailable(null, UNEXPECTED_FAILURE));
        else await writer.end();
      } catch {
        // The client is gone.
      }
    }
  };
}
