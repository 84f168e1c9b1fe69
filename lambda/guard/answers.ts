import type { MalformedRequestError } from '../core/errors';
import type { JsonRpcId, McpOperation } from '../core/mcp-operation';
import { ACCESS_DENIED_CODE, jsonRpcError, speaksStatelessMcp, toolDenied } from '../core/mcp-responses';
import type { Answer } from './types';

/**
 * The answers the guard gives instead of the target's: HTTP status, headers and a JSON-RPC body with fixed text
 * or a safe reason, never internals. Door-agnostic: each door puts them into its own response shape.
 */

/** Header marking answers the guard produced itself. */
export const DECISION_HEADER = 'x-mcp-identity-decision';

/** JSON-RPC code for "authenticate first" (implementation-defined server error range). */
export const AUTHENTICATION_REQUIRED_CODE = -32001;

const DENY_HEADERS = Object.freeze({ 'Content-Type': 'application/json', [DECISION_HEADER]: 'deny' });

/** Fixed text for a request refused because something unexpected failed. */
export const UNEXPECTED_FAILURE = 'The request could not be authorized, so it was denied.';

function wwwAuthenticate(resourceMetadataUrl: string | undefined, error?: 'invalid_token'): string {
  const parts = [
    ...(resourceMetadataUrl === undefined ? [] : [`resource_metadata="${resourceMetadataUrl}"`]),
    ...(error === undefined ? [] : [`error="${error}"`]),
  ];
  return parts.length === 0 ? 'Bearer' : `Bearer ${parts.join(', ')}`;
}

/** 401 with `WWW-Authenticate` (RFC 9728 metadata; `invalid_token` when a credential was presented). */
export function unauthenticated(
  id: JsonRpcId | null,
  reason: string,
  credentialPresented: boolean,
  resourceMetadataUrl: string | undefined,
): Answer {
  return {
    status: 401,
    headers: {
      ...DENY_HEADERS,
      'WWW-Authenticate': wwwAuthenticate(
        resourceMetadataUrl,
        credentialPresented ? 'invalid_token' : undefined,
      ),
    },
    body: jsonRpcError(id, AUTHENTICATION_REQUIRED_CODE, reason),
    cause: 'unauthenticated',
  };
}

/** 503: the request cannot be decided now (identity provider or audit trail down, misconfiguration). */
export function unavailable(id: JsonRpcId | null, reason: string): Answer {
  return {
    status: 503,
    headers: { ...DENY_HEADERS, 'Retry-After': '1' },
    body: jsonRpcError(id, ACCESS_DENIED_CODE, reason),
    cause: 'unavailable',
  };
}

/** 400: the event or the request cannot be read as an MCP request. */
export function invalid(id: JsonRpcId | null, error: MalformedRequestError): Answer {
  return {
    status: 400,
    headers: DENY_HEADERS,
    body: jsonRpcError(id, error.jsonRpcCode, error.safeReason),
    cause: 'invalid',
  };
}

/**
 * A refused operation. A `tools/call` answers as a tool result with `isError` (200), so the agent can relay the
 * reason; anything else as a JSON-RPC error (403). `reason` must already be scrubbed.
 */
export function refused(operation: McpOperation, reason: string): Answer {
  if (operation.kind === 'tool-call')
    return {
      status: 200,
      headers: DENY_HEADERS,
      body: toolDenied(operation.id, reason, speaksStatelessMcp(operation.params)),
      cause: 'denied',
    };
  return {
    status: 403,
    headers: DENY_HEADERS,
    body: jsonRpcError('id' in operation ? operation.id : null, ACCESS_DENIED_CODE, reason),
    cause: 'denied',
  };
}

/** 502: a response that lists something, but cannot be read to filter it, is not passed on. */
export function uncheckableListing(id: JsonRpcId | null): Answer {
  return {
    status: 502,
    headers: DENY_HEADERS,
    body: jsonRpcError(id, ACCESS_DENIED_CODE, 'The list could not be checked, so it is not shown.'),
    cause: 'error',
  };
}

/** 500: the response step failed; the target's answer is withheld. */
export function responseFailed(id: JsonRpcId | null, reason: string): Answer {
  return {
    status: 500,
    headers: DENY_HEADERS,
    body: jsonRpcError(id, ACCESS_DENIED_CODE, reason),
    cause: 'error',
  };
}
