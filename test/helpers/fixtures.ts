import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FIXTURES = join(__dirname, '..', 'fixtures');

/** A documented payload from test/fixtures, as a fresh copy to vary. */
export function fixture<T = Record<string, unknown>>(relativePath: string): T {
  return structuredClone(JSON.parse(readFileSync(join(FIXTURES, relativePath), 'utf8')) as T);
}

/** The tools/call REQUEST interceptor input with a real token and the given call. */
export function toolCallEvent(
  token: string | undefined,
  name: string,
  args: Record<string, unknown>,
  id: number | string = 7,
) {
  const event = fixture<{
    mcp: {
      rawGatewayRequest: { body: string };
      gatewayRequest: { headers: Record<string, string>; body: Record<string, unknown> };
    };
  }>('agentcore/request-interceptor-input.tools-call.json');
  const body = { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
  event.mcp.gatewayRequest.body = body;
  event.mcp.rawGatewayRequest.body = JSON.stringify(body);
  setToken(event.mcp.gatewayRequest.headers, token);
  return event;
}

export function requestEvent(token: string | undefined, body: unknown) {
  const event = fixture<{
    mcp: {
      rawGatewayRequest: { body: string };
      gatewayRequest: { headers: Record<string, string>; body: unknown };
    };
  }>('agentcore/request-interceptor-input.tools-list.json');
  event.mcp.gatewayRequest.body = body;
  event.mcp.rawGatewayRequest.body = JSON.stringify(body);
  setToken(event.mcp.gatewayRequest.headers, token);
  return event;
}

export function setToken(headers: Record<string, string>, token: string | undefined): void {
  if (token === undefined) delete headers.Authorization;
  else headers.Authorization = `Bearer ${token}`;
  headers['Mcp-Session-Id'] = 'session-1';
  headers['User-Agent'] = 'jest-mcp-client/1.0';
}
