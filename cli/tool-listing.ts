import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { parseToolName } from '../lambda/core/mcp-operation';
import { tokenProblem } from './bearer-token';
import { type McpTool, SchemaGenerationError } from './schema';

/**
 * The tools a live MCP endpoint (the gateway, across all its targets) lists, page by page through
 * `nextCursor`, with the MCP SDK client over Streamable HTTP. Definitions are kept exactly as the server sent
 * them (the SDK's own `listTools` drops fields it does not know, which would change their pinned digests).
 * Errors are one clear sentence each; the token never appears in them.
 */

/** The endpoint or the listing failed (exit 1). */
export class ToolListingError extends SchemaGenerationError {}
/** The URL itself is not usable (exit 2, like other bad input on the command line). */
export class GatewayUrlError extends SchemaGenerationError {}

export interface ListingOptions {
  readonly token?: string;
  /** Where the token came from, for messages (`--token`, `MCP_IDENTITY_TOKEN`, …). */
  readonly tokenFrom?: string;
  /** Per request. @default 60000 */
  readonly timeoutMs?: number;
  readonly onPage?: (progress: { readonly pages: number; readonly tools: number }) => void;
}

/** Most pages followed before giving up on a server that never stops paginating. */
export const MAX_PAGES = 10_000;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The endpoint URL: http(s) only; plain http only on loopback (a bearer token must not cross a network in
 * clear); no user:password part (it would end up in messages).
 */
export function gatewayUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new GatewayUrlError(`--from-url is not a URL: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new GatewayUrlError(`--from-url must be an https:// URL (got ${url.protocol})`);
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !url.hostname.startsWith('127.'))
    throw new GatewayUrlError(
      `--from-url must use https:// to send a token to ${url.hostname} (plain http only on loopback)`,
    );
  if (url.username !== '' || url.password !== '')
    throw new GatewayUrlError('--from-url must not carry a user name or password; use --token');
  return url;
}

const ListPage = z.looseObject({
  tools: z.array(z.unknown()),
  nextCursor: z.string().optional(),
});

/** Printable, bounded text from a server or library message, with the token cut out wherever it appears. */
function safeText(text: string, token: string | undefined): string {
  const scrubbed = token === undefined || token.length === 0 ? text : text.split(token).join('<token>');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  const printable = scrubbed.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return printable.length > 300 ? `${printable.slice(0, 299)}…` : printable;
}

/** `error_description` (else `error`) from a `WWW-Authenticate: Bearer …` challenge. */
function challengeDetail(header: string | null): string | undefined {
  if (header === null) return undefined;
  const field = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(header)?.[1];
  return field('error_description') ?? field('error');
}

/**
 * What went wrong on the way to the server, when it is a network problem: fetch's own `TypeError('fetch
 * failed')` carries the real reason (a system error code, or a message such as "bad port") in its causes.
 */
function networkProblem(error: unknown): string | undefined {
  let current: unknown = error;
  let fetchFailed = false;
  let deepest: string | undefined;
  for (let depth = 0; depth < 6 && current instanceof Error; depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && NETWORK_PROBLEMS[code] !== undefined) return NETWORK_PROBLEMS[code];
    if (current instanceof TypeError && current.message === 'fetch failed') fetchFailed = true;
    else if (fetchFailed) deepest = typeof code === 'string' ? code : current.message;
    current = current.cause;
  }
  return fetchFailed ? (deepest ?? 'the request failed') : undefined;
}

const NETWORK_PROBLEMS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate cannot be verified',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host name',
};

interface LastResponse {
  status?: number;
  challenge: string | null;
}

function describeFailure(
  error: unknown,
  url: URL,
  last: LastResponse,
  options: ListingOptions,
): ToolListingError {
  const where = url.origin + url.pathname;
  const status = error instanceof StreamableHTTPError && error.code !== undefined ? error.code : last.status;
  if (status === 401) {
    const detail = challengeDetail(last.challenge);
    const said = detail === undefined ? '' : `: ${safeText(detail, options.token)}`;
    if (options.token === undefined)
      return new ToolListingError(
        `${where} needs a token (HTTP 401${said}): pass --token, --token-file or set MCP_IDENTITY_TOKEN`,
      );
    const problem = tokenProblem(options.token);
    return new ToolListingError(
      `${where} refused the token from ${options.tokenFrom ?? 'the command line'} (HTTP 401${said})${problem === undefined ? '; check its issuer and audience, or get a fresh one' : `; ${problem}`}`,
    );
  }
  if (status === 403)
    return new ToolListingError(`${where} refused to list tools for this token's caller (HTTP 403)`);
  if (status === 404)
    return new ToolListingError(
      `no MCP endpoint at ${where} (HTTP 404): use the gateway's MCP URL (it usually ends in /mcp)`,
    );
  if (typeof status === 'number' && status > 0)
    return new ToolListingError(`${where} answered HTTP ${status}`);
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout)
      return new ToolListingError(`${where} did not answer within ${(options.timeoutMs ?? 60_000) / 1000} s`);
    return new ToolListingError(`${where} answered with an error: ${safeText(error.message, options.token)}`);
  }
  const problem = networkProblem(error);
  if (problem !== undefined)
    return new ToolListingError(`cannot reach ${where}: ${safeText(problem, options.token)}`);
  const message = error instanceof Error ? error.message : String(error);
  return new ToolListingError(`cannot list the tools of ${where}: ${safeText(message, options.token)}`);
}

/** One listed entry, checked: a valid tool name and an object input schema. */
function checkedTool(entry: unknown, index: number, where: string): McpTool {
  const tool = entry as Partial<McpTool> | null;
  const name = tool !== null && typeof tool === 'object' ? tool.name : undefined;
  if (typeof name !== 'string' || parseToolName(name) === undefined)
    throw new ToolListingError(
      `${where} lists a tool (#${index + 1}) without a valid name: ${JSON.stringify(name ?? null)?.slice(0, 80)}`,
    );
  if (tool?.inputSchema === null || typeof tool?.inputSchema !== 'object' || Array.isArray(tool.inputSchema))
    throw new ToolListingError(`${where} lists the tool ${name} without an inputSchema object`);
  return tool as McpTool;
}

/** Every tool the endpoint lists, in its order, through all pages. */
export async function listTools(url: URL, options: ListingOptions = {}): Promise<McpTool[]> {
  const where = url.origin + url.pathname;
  const last: LastResponse = { challenge: null };
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    last.status = response.status;
    last.challenge = response.headers.get('www-authenticate');
    return response;
  };
  const client = new Client({ name: 'mcp-identity-schema', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url, {
    fetch: recordingFetch,
    requestInit: {
      headers: options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` },
    },
  });
  const timeout = options.timeoutMs ?? 60_000;
  try {
    await client.connect(transport, { timeout });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw describeFailure(error, url, last, options);
  }
  try {
    const tools: McpTool[] = [];
    const names = new Set<string>();
    const cursors = new Set<string>();
    let cursor: string | undefined;
    for (let pages = 1; ; pages += 1) {
      let page: z.infer<typeof ListPage>;
      try {
        page = await client.request(
          { method: 'tools/list', params: cursor === undefined ? {} : { cursor } },
          ListPage,
          { timeout },
        );
      } catch (error) {
        throw describeFailure(error, url, last, options);
      }
      for (const entry of page.tools) {
        const tool = checkedTool(entry, tools.length, where);
        if (names.has(tool.name)) throw new ToolListingError(`${where} lists the tool ${tool.name} twice`);
        names.add(tool.name);
        tools.push(tool);
      }
      options.onPage?.({ pages, tools: tools.length });
      cursor = page.nextCursor;
      // An empty cursor ends the listing too (the SDK's own helpers stop on any falsy cursor).
      if (cursor === undefined || cursor === '') return tools;
      if (cursors.has(cursor))
        throw new ToolListingError(`${where} repeats a pagination cursor (page ${pages + 1}); stopped`);
      if (pages >= MAX_PAGES)
        throw new ToolListingError(`${where} lists more than ${MAX_PAGES} pages; stopped`);
      cursors.add(cursor);
    }
  } finally {
    await client.close().catch(() => undefined);
  }
}
