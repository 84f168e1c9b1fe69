/**
 * The API Gateway door's Lambda REQUEST authorizer codec (CONTRACTS §7a): the event becomes a credential and
 * the facts API Gateway observed; a verified caller becomes an IAM policy for the whole API plus a flat
 * context. Pure; never throws. The event carries no body, so the authorizer only authenticates: each JSON-RPC
 * request is decided by the MCP proxy, which verifies the token again.
 */
import type { Caller } from '../../core/caller';
import type { Credential, RequestFacts } from '../../guard/types';
import { type HeaderMap, headerValues, isRecord, requestFacts, stringField } from './headers';

/** What API Gateway's authorizer event tells us, in the guard's terms. */
export interface AuthorizerRequest {
  /** Every `Authorization` value sent: the guard's verification refuses none or several. */
  readonly credential: Credential;
  readonly methodArn: string;
  /** `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/*` `/*`: what a cached Allow must cover. */
  readonly apiArn: string;
  /** Headers, user agent and the address API Gateway observed (`requestContext.identity.sourceIp`). */
  readonly facts: RequestFacts;
}

export type DecodedAuthorizerEvent =
  | { readonly ok: true; readonly request: AuthorizerRequest }
  | { readonly ok: false; readonly problem: string };

/** `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{VERB}/{resource…}` (ARN ≤ 1600 bytes). */
const METHOD_ARN =
  /^(arn:aws[a-z-]*:execute-api:[a-z0-9-]+:\d{12}:[A-Za-z0-9]+)\/([A-Za-z0-9_-]+)\/[A-Z*]+\/[^\s]*$/;

/**
 * The resource a cached Allow must name: every method and path of the stage. API Gateway caches the policy by
 * identity source and applies it to every method using this authorizer during the TTL, so an Allow for one
 * method ARN would 403 the next method (CONTRACTS §7a). Undefined when the ARN is not an execute-api method ARN.
 */
export function apiWideResource(methodArn: string): string | undefined {
  if (methodArn.length > 1600) return undefined;
  const match = METHOD_ARN.exec(methodArn);
  return match === null ? undefined : `${match[1]}/${match[2]}/*/*`;
}

/** Decodes a REQUEST authorizer event. Never throws; anything unexpected is a problem, never a credential. */
export function decodeAuthorizerEvent(event: unknown): DecodedAuthorizerEvent {
  if (!isRecord(event)) return { ok: false, problem: 'the event is not an object' };
  if (event.type !== 'REQUEST') return { ok: false, problem: 'the event is not a REQUEST authorizer event' };
  const methodArn = stringField(event, 'methodArn');
  if (methodArn === undefined) return { ok: false, problem: 'the event has no methodArn' };
  const apiArn = apiWideResource(methodArn);
  if (apiArn === undefined) return { ok: false, problem: 'the methodArn is not an execute-api method ARN' };
  const headers: HeaderMap = {
    single: isRecord(event.headers) ? event.headers : undefined,
    multi: isRecord(event.multiValueHeaders) ? event.multiValueHeaders : undefined,
  };
  return {
    ok: true,
    request: {
      credential: { authorization: headerValues(headers, 'authorization') },
      methodArn,
      apiArn,
      facts: requestFacts(event, headers),
    },
  };
}

/** The authorizer's answer (CONTRACTS §7a output). */
export interface AuthorizerResult {
  readonly principalId: string;
  readonly policyDocument: {
    readonly Version: '2012-10-17';
    readonly Statement: readonly [
      { readonly Action: 'execute-api:Invoke'; readonly Effect: 'Allow'; readonly Resource: string },
    ];
  };
  /** Flat: string, number or boolean values only (a nested value fails the authorizer). */
  readonly context: Readonly<Record<string, string | number | boolean>>;
}

/** Longest value put in the context: the proxy never reads it, and API Gateway documents no size limit. */
export const MAX_CONTEXT_VALUE = 1024;

/** A list as one context value: JSON (unambiguous, whatever the entries hold), cut to whole entries. */
function listValue(items: readonly string[]): { readonly value: string; readonly truncated: boolean } {
  const kept: string[] = [];
  for (const item of items) {
    if (JSON.stringify([...kept, item]).length > MAX_CONTEXT_VALUE)
      return { value: JSON.stringify(kept), truncated: true };
    kept.push(item);
  }
  return { value: JSON.stringify(kept), truncated: false };
}

/**
 * The caller as the flat authorizer context, for access logs (`$context.authorizer.sub`) and for upstreams
 * that want a hint. Informational only: it is cached for the TTL, and the proxy verifies the token itself.
 * No email (needless personal data in access logs); lists are JSON text.
 */
export function authorizerContext(caller: Caller): Record<string, string | number | boolean> {
  const roles = listValue(caller.roles);
  const actors = listValue(caller.actors);
  return {
    sub: caller.subject.slice(0, MAX_CONTEXT_VALUE),
    iss: caller.issuer.slice(0, MAX_CONTEXT_VALUE),
    ...(caller.username === undefined ? {} : { username: caller.username.slice(0, MAX_CONTEXT_VALUE) }),
    roles: roles.value,
    ...(roles.truncated ? { rolesTruncated: true } : {}),
    ...(caller.agent === undefined ? {} : { clientId: caller.agent.slice(0, MAX_CONTEXT_VALUE) }),
    ...(caller.tokenId === undefined ? {} : { tokenId: caller.tokenId.slice(0, MAX_CONTEXT_VALUE) }),
    tokenExp: caller.expiresAt,
    ...(caller.actors.length === 0 ? {} : { actors: actors.value }),
  };
}

/** An Allow for the whole API (every method of the stage), with the caller as context. */
export function allowResult(caller: Caller, apiArn: string): AuthorizerResult {
  return {
    principalId: caller.subject,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: apiArn }],
    },
    context: authorizerContext(caller),
  };
}

/**
 * The error message API Gateway maps to 401 (`UNAUTHORIZED` gateway response). Any other error is a 500, and
 * a Deny policy a 403 (CONTRACTS §7a).
 */
export const UNAUTHORIZED = 'Unauthorized';
