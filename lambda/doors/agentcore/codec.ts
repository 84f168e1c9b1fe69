import { unavailable } from '../../guard/answers';
import { idIn } from '../../guard/message';
import type {
  Credential,
  GuardRequest,
  GuardResponse,
  GuardResult,
  HeaderMap,
  RequestFacts,
  ResponseResult,
} from '../../guard/types';
import {
  type GatewayResponse,
  type Headers,
  type InterceptorInput,
  type InterceptorOutput,
  interceptorInputSchema,
  jsonBody,
  respond,
} from './contract';

/**
 * The AgentCore Gateway interceptor as a door: its event decoded into a guard request (REQUEST invocation) or
 * guard response (RESPONSE invocation), and the guard's result encoded as the interceptor output. Pure, and
 * never throws: an event that is not an interceptor input decodes to a request the guard refuses as invalid.
 */

export type DecodedEvent =
  | { readonly phase: 'request'; readonly request: GuardRequest }
  | {
      readonly phase: 'response';
      readonly response: GuardResponse;
      /** The target's answer as the gateway gave it: passed through, or with its body replaced. */
      readonly original: GatewayResponse;
    };

const UNREADABLE_EVENT = 'The gateway event could not be read.';

/** Header names in lower case, values of every casing and list merged in order. */
export function headerMap(headers: Headers): HeaderMap {
  return readHeaders(headers).map;
}

/**
 * One pass over the headers: the merged map, and per lower-case name the value {@link headerValue} reads (the
 * first value of the first name of that casing, even when that list is empty).
 */
function readHeaders(headers: Headers): {
  readonly map: Map<string, string[]>;
  readonly first: Map<string, string | undefined>;
} {
  const map = new Map<string, string[]>();
  const first = new Map<string, string | undefined>();
  if (headers === null || headers === undefined) return { map, first };
  for (const name of Object.keys(headers)) {
    const value = headers[name] as string | string[];
    const key = name.toLowerCase();
    let values = map.get(key);
    if (values === undefined) {
      values = [];
      map.set(key, values);
      first.set(key, Array.isArray(value) ? value[0] : value);
    }
    if (Array.isArray(value)) values.push(...value);
    else values.push(value);
  }
  return { map, first };
}

/** The credential and the request facts, from one pass over the headers. */
function credentialAndFacts(headers: Headers): { credential: Credential; facts: RequestFacts } {
  const { map, first } = readHeaders(headers);
  const sessionId = first.get('mcp-session-id');
  const userAgent = first.get('user-agent');
  // The AgentCore event reports no address the gateway observed: no sourceIp. X-Forwarded-For stays a header.
  const facts: { -readonly [K in keyof RequestFacts]: RequestFacts[K] } = { headers: map };
  if (sessionId !== undefined) facts.sessionId = sessionId;
  if (userAgent !== undefined) facts.userAgent = userAgent;
  return { credential: { authorization: [...(map.get('authorization') ?? [])] }, facts };
}

/** The JSON-RPC request: the parsed body the gateway gives, else the raw text parsed here. */
function requestMessage(mcp: InterceptorInput['mcp']) {
  const raw = mcp.rawGatewayRequest?.body ?? undefined;
  const body = mcp.gatewayRequest.body;
  const parsed =
    body !== undefined && body !== null
      ? jsonBody(body)
      : raw === undefined
        ? { ok: true as const, value: undefined }
        : jsonBody(raw);
  return {
    message: parsed.ok ? parsed.value : undefined,
    parsed: parsed.ok,
    ...(raw === undefined ? {} : { rawBytes: Buffer.byteLength(raw, 'utf8') }),
  };
}

export function decodeInterceptorEvent(event: unknown): DecodedEvent {
  const input = interceptorInputSchema.safeParse(event);
  if (!input.success)
    return {
      phase: 'request',
      request: {
        door: 'agentcore',
        credential: { authorization: [] },
        message: undefined,
        parsed: false,
        facts: { headers: new Map() },
        undecodable: { reason: UNREADABLE_EVENT, issues: input.error.issues.slice(0, 5) },
      },
    };
  const { mcp } = input.data;
  const { credential, facts } = credentialAndFacts(mcp.gatewayRequest.headers);
  const request = requestMessage(mcp);
  const response = mcp.gatewayResponse;
  // `gatewayResponse` present (non-null) ⇒ RESPONSE invocation (CONTRACTS §1).
  if (response === null || response === undefined)
    return { phase: 'request', request: { door: 'agentcore', credential, facts, ...request } };
  return {
    phase: 'response',
    response: {
      door: 'agentcore',
      credential,
      facts,
      request: request.message,
      response: {
        ...(response.statusCode === null || response.statusCode === undefined
          ? {}
          : { status: response.statusCode }),
        body: response.body,
      },
    },
    original: response,
  };
}

/**
 * A forward becomes `transformedGatewayRequest` (with the headers the guard sets); an answer short-circuits as
 * `transformedGatewayResponse` (the target is not called). `headers.remove` holds by construction here: the
 * gateway passes a target only headers allow-listed on it, and `Authorization` cannot be allow-listed
 * (CONTRACTS §8). Any other removal cannot be honoured at this door, so the request is not carried out.
 */
export function encodeRequestResult(result: GuardResult): InterceptorOutput {
  if (result.kind === 'answer')
    return respond({ statusCode: result.status, headers: result.headers, body: result.body });
  if (result.headers.remove.some((name) => name.toLowerCase() !== 'authorization'))
    return encodeRequestResult({
      kind: 'answer',
      ...unavailable(
        idIn(result.message),
        'The gateway cannot remove a client header on this route, so the request was not carried out.',
      ),
      decisionId: result.decisionId,
    });
  const set = result.headers.set;
  return {
    interceptorOutputVersion: '1.0',
    mcp: {
      transformedGatewayRequest: {
        body: result.message,
        ...(Object.keys(set).length === 0 ? {} : { headers: set }),
      },
    },
  };
}

/** The RESPONSE output: the target's answer passed on (body replaced when filtered), or the guard's answer. */
export function encodeResponseResult(result: ResponseResult, original: GatewayResponse): InterceptorOutput {
  switch (result.kind) {
    case 'answer':
      return respond({ statusCode: result.status, headers: result.headers, body: result.body });
    case 'pass':
      return respond({
        statusCode: original.statusCode ?? 200,
        ...(original.headers ? { headers: flatHeaders(original.headers) } : {}),
        body: original.body,
      });
    case 'replace': {
      const headers = original.headers ? flatHeaders(original.headers) : undefined;
      // The body changed length; let the gateway compute it.
      if (headers !== undefined)
        for (const key of Object.keys(headers))
          if (key.toLowerCase() === 'content-length') delete headers[key];
      return respond({
        statusCode: original.statusCode ?? 200,
        ...(headers ? { headers } : {}),
        body: result.body,
      });
    }
  }
}

function flatHeaders(headers: Record<string, string | string[]>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([key, value]) => [key, Array.isArray(value) ? value.join(', ') : value]),
  );
}
