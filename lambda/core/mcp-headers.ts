import { MalformedRequestError } from './errors';

/** JSON-RPC code for a mirrored header that disagrees with the body (MCP 2026-07-28 `HeaderMismatch`). */
export const HEADER_MISMATCH_CODE = -32020;

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/**
 * A mirrored header value as the client meant it: values that are not plain printable ASCII are sent as
 * `=?base64?{base64(UTF-8)}?=` (MCP 2026-07-28, Streamable HTTP "HTTP headers"). Undefined when the encoding is
 * malformed, which a comparison then treats as a mismatch.
 */
export function decodeMirroredValue(value: string): string | undefined {
  const match = SENTINEL.exec(value);
  if (match === null) return value;
  const bytes = Buffer.from(match[1] as string, 'base64');
  if (bytes.toString('base64') !== match[1]) return undefined;
  // Stryker disable next-line ObjectLiteral: fatal: false is TextDecoder's default
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return text.includes('\uFFFD') ? undefined : text;
}

function record(value: unknown): Record<string, unknown> | undefined {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: callers read the result through ?. ; null, a primitive or a list has no method, name or uri either
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The value `Mcp-Name` must mirror for a method: `params.name` or `params.uri`; undefined for other methods. */
function mirroredName(
  method: string,
  params: Record<string, unknown> | undefined,
): string | undefined | null {
  switch (method) {
    case 'tools/call':
    case 'prompts/get':
      return typeof params?.name === 'string' ? params.name : null;
    case 'resources/read':
      return typeof params?.uri === 'string' ? params.uri : null;
    default:
      return undefined;
  }
}

/**
 * Checks the headers a 2026-07-28 client mirrors from the body — `Mcp-Method` (every request) and `Mcp-Name`
 * (`tools/call`, `prompts/get`, `resources/read`) — against the body we decide on. A header that is present
 * must agree, once, exactly; a mismatch is refused with `-32020` (400), as the specification requires of a
 * server that processes the body, because an intermediary may have routed or authorised on the header. Absent
 * headers are accepted: older clients do not send them. Never throws.
 */
export function mirroredHeaderMismatch(
  values: (name: string) => readonly string[],
  body: unknown,
): MalformedRequestError | undefined {
  const message = record(body);
  const method = typeof message?.method === 'string' ? message.method : undefined;
  const mismatch = (header: string) =>
    new MalformedRequestError(`the ${header} header does not match the request body`, HEADER_MISMATCH_CODE);

  const methods = values('mcp-method');
  if (methods.length > 1) return mismatch('Mcp-Method');
  if (methods[0] !== undefined && decodeMirroredValue(methods[0]) !== method) return mismatch('Mcp-Method');

  const names = values('mcp-name');
  if (names.length > 1) return mismatch('Mcp-Name');
  const announced = names[0];
  if (announced === undefined) return undefined;
  const expected = method === undefined ? undefined : mirroredName(method, record(message?.params));
  // Mcp-Name on a method that has no name, or on one whose name is missing, disagrees with the body too.
  if (expected === undefined || expected === null || decodeMirroredValue(announced) !== expected)
    return mismatch('Mcp-Name');
  return undefined;
}
