import { MalformedRequestError } from './errors';

export type JsonRpcId = string | number;

/** A tool name as the gateway exposes it: `target___tool`, or a system tool without prefix. */
export interface ToolName {
  readonly full: string;
  readonly target?: string;
  readonly tool: string;
}

export type ListMethod = 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';

/**
 * A JSON-RPC message from the client, classified by what the gateway must decide about it. `params` is the
 * message's params object as parsed (depth-bounded), for checks that look everywhere in it.
 */
export type McpOperation = McpOperationKind & { readonly params?: Readonly<Record<string, unknown>> };

type McpOperationKind =
  | {
      readonly kind: 'tool-call';
      readonly id: JsonRpcId;
      readonly tool: ToolName;
      readonly arguments: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'list'; readonly id: JsonRpcId; readonly method: ListMethod }
  | {
      readonly kind: 'prompt-get';
      readonly id: JsonRpcId;
      readonly name: string;
      readonly arguments: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'resource-read'; readonly id: JsonRpcId; readonly uri: string }
  /**
   * Session/protocol plumbing that runs no tool: `initialize`, `ping`, and the 2026-07-28 `server/discover`
   * (versions, capabilities, server info; its answer lists no tool, prompt or resource).
   */
  | {
      readonly kind: 'protocol';
      readonly id: JsonRpcId;
      readonly method: 'initialize' | 'ping' | 'server/discover';
    }
  /** `notifications/*` (no id, no answer). */
  | { readonly kind: 'notification'; readonly method: string }
  /** The client answering a server request (sampling, elicitation, roots). */
  | { readonly kind: 'client-response'; readonly id: JsonRpcId }
  /** Any other method. Not decided by policy: denied (fail closed) until someone models it. */
  | { readonly kind: 'unsupported'; readonly id: JsonRpcId; readonly method: string };

export type ParsedRequest =
  | { readonly ok: true; readonly operation: McpOperation }
  | { readonly ok: false; readonly error: MalformedRequestError; readonly id: JsonRpcId | null };

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const TARGET_SEPARATOR = '___';
const MAX_METHOD_LENGTH = 128;
const MAX_NESTING = 32;
const LIST_METHODS: readonly string[] = [
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
];

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isJsonRpcId(value: unknown): value is JsonRpcId {
  return (
    (typeof value === 'string' && value.length <= 256) ||
    // Stryker disable next-line ConditionalExpression: Number.isSafeInteger is false for anything but a number anyway
    (typeof value === 'number' && Number.isSafeInteger(value))
  );
}

/** Splits `target___tool` at the first separator; a name without one is a system tool. */
export function parseToolName(full: string): ToolName | undefined {
  if (!TOOL_NAME.test(full)) return undefined;
  const at = full.indexOf(TARGET_SEPARATOR);
  if (at <= 0) return { full, tool: full };
  const tool = full.slice(at + TARGET_SEPARATOR.length);
  if (tool.length === 0) return undefined;
  return { full, target: full.slice(0, at), tool };
}

/**
 * Keys that reshape JavaScript objects when a target merges arguments naively (`Object.assign`, lodash
 * merge): a client could smuggle a bound identity parameter through the prototype. Refused anywhere.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function inspectParams(value: unknown, limit: number): 'too-deep' | 'forbidden-key' | undefined {
  if (limit < 0) return 'too-deep';
  const children = Array.isArray(value) ? value : isRecord(value) ? Object.values(value) : [];
  if (isRecord(value) && Object.keys(value).some((key) => FORBIDDEN_KEYS.has(key))) return 'forbidden-key';
  for (const child of children) {
    const problem = inspectParams(child, limit - 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * JSON `null` has no Cedar value, so the decision sees a null argument as absent. The tool must receive what
 * was decided on, so nulls are removed from arguments (in objects and lists alike) before either sees them.
 * Depth is already bounded by the caller.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((item) => item !== null).map(withoutNulls);
  if (!isRecord(value)) return value;
  const kept: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (item !== null) kept[key] = withoutNulls(item);
  return kept;
}

function fail(message: string, code: -32700 | -32600 | -32602, id: JsonRpcId | null): ParsedRequest {
  return { ok: false, error: new MalformedRequestError(message, code), id };
}

/**
 * Classifies one JSON-RPC 2.0 message. Never throws: anything we cannot read is a {@link MalformedRequestError}
 * carrying the JSON-RPC code to answer with (batches are refused: MCP removed them in 2025-06-18, and one
 * decision per HTTP request keeps the audit trail one-to-one).
 */
export function parseMcpRequest(body: unknown): ParsedRequest {
  if (Array.isArray(body)) return fail('JSON-RPC batches are not supported', -32600, null);
  if (!isRecord(body)) return fail('the request body must be a JSON-RPC 2.0 object', -32600, null);
  const id = isJsonRpcId(body.id) ? body.id : null;
  if (body.jsonrpc !== '2.0') return fail("the request must have jsonrpc: '2.0'", -32600, id);
  if (body.id !== undefined && id === null)
    return fail('the request id must be a string or an integer', -32600, null);

  if (body.method === undefined) {
    if (id !== null && ('result' in body || 'error' in body))
      return { ok: true, operation: { kind: 'client-response', id } };
    return fail('the request has no method', -32600, id);
  }
  if (typeof body.method !== 'string' || body.method.length === 0 || body.method.length > MAX_METHOD_LENGTH) {
    return fail('the request method must be a non-empty string', -32600, id);
  }
  const method = body.method;
  if (body.params !== undefined && !isRecord(body.params))
    return fail('params must be an object', -32602, id);
  const params = body.params ?? {};
  const problem = inspectParams(params, MAX_NESTING);
  if (problem === 'too-deep') return fail(`params are nested deeper than ${MAX_NESTING} levels`, -32602, id);
  if (problem === 'forbidden-key')
    return fail('params use a reserved JavaScript key (__proto__, constructor, prototype)', -32602, id);

  const withParams = (operation: McpOperationKind): ParsedRequest => ({
    ok: true,
    operation: body.params === undefined ? operation : { ...operation, params },
  });
  if (id === null) {
    if (method.startsWith('notifications/')) return withParams({ kind: 'notification', method });
    return fail(`'${method}' needs an id`, -32600, null);
  }
  const operation = classify(method, params, id);
  return 'kind' in operation ? withParams(operation) : operation;
}

function classify(
  method: string,
  params: Record<string, unknown>,
  id: JsonRpcId,
): McpOperationKind | ParsedRequest {
  switch (method) {
    case 'tools/call': {
      if (typeof params.name !== 'string') return fail('tools/call needs params.name', -32602, id);
      const tool = parseToolName(params.name);
      if (tool === undefined) return fail('the tool name is not a valid MCP tool name', -32602, id);
      const args = params.arguments ?? {};
      if (!isRecord(args)) return fail('tools/call params.arguments must be an object', -32602, id);
      return { kind: 'tool-call', id, tool, arguments: withoutNulls(args) as Record<string, unknown> };
    }
    case 'prompts/get':
      if (typeof params.name !== 'string' || params.name.length === 0)
        return fail('prompts/get needs params.name', -32602, id);
      if (params.arguments !== undefined && params.arguments !== null && !isRecord(params.arguments))
        return fail('prompts/get params.arguments must be an object', -32602, id);
      return {
        kind: 'prompt-get',
        id,
        name: params.name,
        arguments: withoutNulls(params.arguments ?? {}) as Record<string, unknown>,
      };
    case 'resources/read':
      if (typeof params.uri !== 'string' || params.uri.length === 0)
        return fail('resources/read needs params.uri', -32602, id);
      return { kind: 'resource-read', id, uri: params.uri };
    case 'initialize':
    case 'ping':
    case 'server/discover':
      return { kind: 'protocol', id, method };
    default:
      if (LIST_METHODS.includes(method)) return { kind: 'list', id, method: method as ListMethod };
      return { kind: 'unsupported', id, method };
  }
}

/** The method name for audit and errors. */
export function methodOf(operation: McpOperation): string {
  switch (operation.kind) {
    case 'tool-call':
      return 'tools/call';
    case 'prompt-get':
      return 'prompts/get';
    case 'resource-read':
      return 'resources/read';
    case 'client-response':
      return 'response';
    case 'list':
    case 'protocol':
    case 'notification':
    case 'unsupported':
      return operation.method;
  }
}
