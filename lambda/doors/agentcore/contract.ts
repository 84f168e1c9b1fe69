/**
 * The AgentCore Gateway interceptor contract for MCP targets (CONTRACTS §1, interceptorInputVersion 1.0).
 * Parsing is lenient where the documentation is silent (extra fields pass, and are dropped from the parsed
 * value) and strict where a wrong guess would be unsafe (a missing request is an error, never an allow).
 *
 * Checked by hand rather than with zod: this runs in the interceptor Lambda, where zod was 45 % of the bundle
 * and a measurable part of cold start, for one small, flat shape. Same result type as zod's `safeParse`.
 */

export type Headers = Record<string, string | string[]> | null | undefined;

export interface InterceptorInput {
  interceptorInputVersion?: string | undefined;
  mcp: {
    rawGatewayRequest?: { body?: string | null | undefined } | null | undefined;
    gatewayRequest: {
      path?: string | null | undefined;
      httpMethod?: string | null | undefined;
      headers?: Headers;
      body?: unknown;
    };
    gatewayResponse?:
      | {
          statusCode?: number | null | undefined;
          headers?: Headers;
          body?: unknown;
          isStreamingResponse?: boolean | null | undefined;
        }
      | null
      | undefined;
  };
}

export type GatewayResponse = NonNullable<InterceptorInput['mcp']['gatewayResponse']>;

export interface InputIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export type ParseResult =
  | { readonly success: true; readonly data: InterceptorInput }
  | { readonly success: false; readonly error: { readonly issues: readonly InputIssue[] } };

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const absent = (value: unknown): value is null | undefined => value === null || value === undefined;

function checkHeaders(value: unknown, path: string[], issues: InputIssue[]): void {
  if (absent(value)) return;
  if (!isObject(value)) {
    issues.push({ path, message: 'expected an object of headers' });
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') continue;
    if (Array.isArray(item) && item.every((entry) => typeof entry === 'string')) continue;
    issues.push({ path: [...path, key], message: 'expected a string or a list of strings' });
  }
}

function optionalOf(
  object: Json,
  key: string,
  type: 'string' | 'boolean' | 'integer',
  path: string[],
  issues: InputIssue[],
): void {
  const value = object[key];
  if (absent(value)) return;
  const ok = type === 'integer' ? Number.isInteger(value) : typeof value === type;
  if (!ok) issues.push({ path: [...path, key], message: `expected ${type}` });
}

/** Copies only the fields the contract names, so extra fields pass but do not travel on. */
function pick(object: Json, keys: readonly string[]): Json {
  const out: Json = {};
  for (const key of keys) if (key in object) out[key] = object[key];
  return out;
}

export const interceptorInputSchema = {
  safeParse(input: unknown): ParseResult {
    const issues: InputIssue[] = [];
    if (!isObject(input))
      return { success: false, error: { issues: [{ path: [], message: 'expected an object' }] } };
    optionalOf(input, 'interceptorInputVersion', 'string', [], issues);
    const mcp = input.mcp;
    if (!isObject(mcp))
      return { success: false, error: { issues: [{ path: ['mcp'], message: 'expected an object' }] } };
    const raw = mcp.rawGatewayRequest;
    if (!absent(raw)) {
      if (!isObject(raw)) issues.push({ path: ['mcp', 'rawGatewayRequest'], message: 'expected an object' });
      else optionalOf(raw, 'body', 'string', ['mcp', 'rawGatewayRequest'], issues);
    }
    const request = mcp.gatewayRequest;
    if (!isObject(request)) {
      issues.push({ path: ['mcp', 'gatewayRequest'], message: 'expected an object' });
    } else {
      optionalOf(request, 'path', 'string', ['mcp', 'gatewayRequest'], issues);
      optionalOf(request, 'httpMethod', 'string', ['mcp', 'gatewayRequest'], issues);
      checkHeaders(request.headers, ['mcp', 'gatewayRequest', 'headers'], issues);
    }
    const response = mcp.gatewayResponse;
    if (!absent(response)) {
      if (!isObject(response))
        issues.push({ path: ['mcp', 'gatewayResponse'], message: 'expected an object' });
      else {
        optionalOf(response, 'statusCode', 'integer', ['mcp', 'gatewayResponse'], issues);
        optionalOf(response, 'isStreamingResponse', 'boolean', ['mcp', 'gatewayResponse'], issues);
        checkHeaders(response.headers, ['mcp', 'gatewayResponse', 'headers'], issues);
      }
    }
    if (issues.length > 0 || !isObject(request)) return { success: false, error: { issues } };
    const data = {
      ...pick(input, ['interceptorInputVersion']),
      mcp: {
        ...(isObject(raw)
          ? { rawGatewayRequest: pick(raw, ['body']) }
          : 'rawGatewayRequest' in mcp
            ? { rawGatewayRequest: raw }
            : {}),
        gatewayRequest: pick(request, ['path', 'httpMethod', 'headers', 'body']),
        ...(isObject(response)
          ? { gatewayResponse: pick(response, ['statusCode', 'headers', 'body', 'isStreamingResponse']) }
          : 'gatewayResponse' in mcp
            ? { gatewayResponse: response }
            : {}),
      },
    } as InterceptorInput;
    return { success: true, data };
  },
};

export interface TransformedResponse {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: unknown;
}

export interface InterceptorOutput {
  readonly interceptorOutputVersion: '1.0';
  readonly mcp: {
    readonly transformedGatewayRequest?: {
      readonly body: unknown;
      readonly headers?: Readonly<Record<string, string>>;
    };
    readonly transformedGatewayResponse?: TransformedResponse;
  };
}

/** Every value of a header, across case variants of its name (the gateway documents no casing) and lists. */
export function headerValues(
  input: Record<string, string | string[]> | null | undefined,
  name: string,
): string[] {
  if (input === null || input === undefined) return [];
  const wanted = name.toLowerCase();
  return Object.entries(input).flatMap(([key, value]) =>
    key.toLowerCase() === wanted ? [value].flat() : [],
  );
}

/** The first value of a header, whatever the casing of its name. */
export function headerValue(
  input: Record<string, string | string[]> | null | undefined,
  name: string,
): string | undefined {
  if (input === null || input === undefined) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(input)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

export function forwardRequest(body: unknown): InterceptorOutput {
  return { interceptorOutputVersion: '1.0', mcp: { transformedGatewayRequest: { body } } };
}

export function respond(response: TransformedResponse): InterceptorOutput {
  return { interceptorOutputVersion: '1.0', mcp: { transformedGatewayResponse: response } };
}

/** The body of a request or response, parsed when the gateway handed it over as text. */
export function jsonBody(
  body: unknown,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false } {
  if (typeof body !== 'string') return { ok: true, value: body };
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return { ok: false };
  }
}
