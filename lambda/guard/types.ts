/**
 * The guard's vocabulary: what a door hands it and what it hands back. Door-agnostic by construction — nothing
 * here imports aws-lambda types or a door's event shapes; each door (`lambda/doors/…`) is a codec between its
 * own event and these types (DESIGN §3.11).
 */
import type { Caller } from '../core/caller';
import type { Decision } from '../core/decision';
import type { JsonRpcErrorBody, ToolErrorBody } from '../core/mcp-responses';

/** Which door a request came through: an audit label only, never an input to policy. */
export type Door = 'agentcore' | 'apigw';

/** Header names in lower case, each with every value the door saw, in order. */
export type HeaderMap = ReadonlyMap<string, readonly string[]>;

/**
 * What the client presented to prove who it is. Every `Authorization` value the door saw, unparsed: the guard
 * alone reads the bearer token out of it (one path for every door), refuses two of them, and never logs it.
 */
export interface Credential {
  readonly authorization: readonly string[];
}

/** Facts about the request that are not its JSON-RPC body. */
export interface RequestFacts {
  /** Every request header (lower-case names). The guard reads mirrored MCP headers and X-Forwarded-For here. */
  readonly headers: HeaderMap;
  readonly sessionId?: string;
  readonly userAgent?: string;
  /**
   * The client address the door itself observed (API Gateway's `requestContext.identity.sourceIp`). Never a
   * client-written header: AgentCore reports none, so its door leaves this out.
   */
  readonly sourceIp?: string;
}

/** One request as a door hands it to {@link Guard.onRequest}. */
export interface GuardRequest {
  readonly door: Door;
  readonly credential: Credential;
  /** The JSON-RPC message as the door parsed it; undefined when there was no body, or it was not JSON. */
  readonly message: unknown;
  /** False when the door had body text that is not JSON: the guard answers a parse error (-32700). */
  readonly parsed: boolean;
  /** UTF-8 size of the body text as received, when the door had one; bounded with the parsed size. */
  readonly rawBytes?: number;
  readonly facts: RequestFacts;
  /**
   * Set by a door that could not read its own event at all: the guard refuses it (400, cause `invalid`) and
   * audits that, without authenticating. `issues` go to the diagnostic log only.
   */
  readonly undecodable?: { readonly reason: string; readonly issues?: readonly unknown[] };
}

/**
 * Header changes for what goes downstream (Envoy ext_authz's "OK with header mutations"), applied in that order:
 * the client's headers named in `remove` are dropped, then `set` is applied (so a step may give the target an
 * `Authorization` of its own; never the client's). `remove` always
 * holds `authorization`: the client's token never reaches a target (MCP: no token passthrough). A door that
 * cannot forward client headers at all (AgentCore) satisfies `remove` by construction.
 */
export interface HeaderIntent {
  readonly set: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

/** A JSON-RPC answer the guard gives itself. */
export type JsonRpcAnswer = JsonRpcErrorBody | ToolErrorBody;

/**
 * Why the guard answered instead of forwarding: `unauthenticated` (401), `denied` (policy, spoofing, bad
 * arguments: 200 tool error or 403), `invalid` (400: unreadable event or body), `unavailable` (503: identity
 * provider or audit trail down, misconfiguration, unexpected failure), `error` (a response that cannot be
 * checked or a failure in the response step).
 */
export type AnswerCause = 'unauthenticated' | 'denied' | 'invalid' | 'unavailable' | 'error';

/** What the door answers the client with, in place of the target's answer. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: JsonRpcAnswer;
  readonly cause: AnswerCause;
}

/**
 * What the door does with a request (`forward` or `answer`), with what policy decided beside it: in log-only
 * mode a `deny` decision is forwarded. `decisionId` is minted before deciding; it is the UID of the request
 * step's audit event when there is one.
 */
export type GuardResult =
  | {
      readonly kind: 'forward';
      readonly message: unknown;
      readonly headers: HeaderIntent;
      readonly decision: Decision;
      readonly decisionId: string;
    }
  | (Answer & { readonly kind: 'answer'; readonly decision?: Decision; readonly decisionId: string });

/**
 * The target's answer as a door hands it to {@link Guard.onResponse}, with the request it answers. The response
 * step needs no saved state: it re-reads the request and re-decides (a decision-cache hit).
 */
export interface GuardResponse {
  readonly door: Door;
  readonly credential: Credential;
  readonly facts: RequestFacts;
  /** The JSON-RPC request this answers, as parsed; undefined when it could not be read. */
  readonly request: unknown;
  /** `body`: a parsed JSON object or batch, or JSON / Server-Sent Events text. */
  readonly response: { readonly status?: number; readonly body: unknown };
}

/**
 * What the door does with the target's answer: pass it on untouched, pass it on with this body (lists filtered;
 * the door drops a stale `Content-Length`), or answer with this instead.
 */
export type ResponseResult =
  | { readonly kind: 'pass' }
  | { readonly kind: 'replace'; readonly body: unknown }
  | (Answer & { readonly kind: 'answer' });

/** A session termination (`DELETE` on the MCP endpoint) as a door hands it to {@link Guard.onTerminate}. */
export interface GuardTermination {
  readonly door: Door;
  readonly credential: Credential;
  readonly facts: RequestFacts;
}

/** What the door does with a session termination: pass it on (no body to forward), or answer instead. */
export type TerminationResult =
  | { readonly kind: 'forward'; readonly caller: Caller; readonly decisionId: string }
  | (Answer & { readonly kind: 'answer'; readonly decisionId: string });

export type Authentication =
  | { readonly ok: true; readonly caller: Caller }
  | { readonly ok: false; readonly answer: GuardResult & { readonly kind: 'answer' } };

/** The door-agnostic pipeline. Never throws: every failure is an answer (fail closed). */
export interface Guard {
  /**
   * Verifies the credential alone (a door that sees no body, like API Gateway's authorizer). A refusal is
   * audited. A door that forwards must still call {@link onRequest}, which verifies again.
   */
  authenticate(credential: Credential, facts: RequestFacts, door: Door): Promise<Authentication>;
  /** Bound and parse → verify → decide → gates → inject / deliver identity → audit (once). */
  onRequest(request: GuardRequest): Promise<GuardResult>;
  /** Listings filtered by the same predicate that gates calls; the outcome of a call audited. */
  onResponse(response: GuardResponse): Promise<ResponseResult>;
  /**
   * A session termination (HTTP `DELETE`, no body): verify → gates' `onCaller` (the kill switch) → audit, once,
   * allowed or refused. A refused or unauditable termination is answered, not passed on.
   */
  onTerminate(request: GuardTermination): Promise<TerminationResult>;
}
