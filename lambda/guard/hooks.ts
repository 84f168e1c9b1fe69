/**
 * The guard's extension slots, in the order they run. Each is a small interface the guard's deps take as an
 * ordered list; an empty list (the default) leaves the pipeline as it is. Every slot fails closed: a hook that
 * throws refuses the call, or hides the listing entries, and the guard audits it.
 *
 *   REQUEST:  authenticate → parse → gates[].onCaller → policy (core/authorize) → gates[].onCall
 *             → forwardSteps[] → audit → forward
 *   RESPONSE: gates[].onCaller again (a refused caller's tool, prompt or resource result is withheld, its
 *             listings emptied) → listings: policy ∩ gates[].onListing → filter → audit;
 *             calls: re-decide → outcome audit
 *   TERMINATE (`DELETE /mcp`, no body): authenticate → gates[].onCaller → audit → forward
 */
import type { AuditErrorCode } from '../core/audit-event';
import type { Caller } from '../core/caller';
import type { McpOperation } from '../core/mcp-operation';
import type { Door, HeaderIntent, RequestFacts } from './types';

/**
 * What a hook sees of one request that policy let through (or, in log-only mode, would have refused); for
 * `onCaller`, one that policy has not seen yet.
 */
export interface AllowedRequest {
  readonly door: Door;
  readonly caller: Caller;
  readonly operation: McpOperation;
  readonly facts: RequestFacts;
  readonly decisionId: string;
}

/** A gate's refusal: the reason is shown to the caller (scrubbed) and audited under `errorCode`. */
export interface GateRefusal {
  readonly reason: string;
  readonly errorCode: AuditErrorCode;
}

/** What one listing response offers a caller, for gates that hide entries. */
export interface OfferedListing {
  readonly door: Door;
  readonly caller: Caller;
  readonly facts: RequestFacts;
  /** The JSON-RPC messages of the response (list results, search results, errors), as the target sent them. */
  readonly messages: readonly unknown[];
}

/**
 * A check beside policy, enforced in every mode, that gates calls and filters listings with one predicate
 * (agentgateway's ext_mcp) — e.g. pinned tool definitions: refuse a call to, and hide from lists, a tool whose
 * definition digest drifted from the pinned one. Gates run in order; the first refusal wins.
 */
export interface Gate {
  readonly name: string;
  /**
   * REQUEST step, BEFORE policy and its decision cache, for every operation (lists and session plumbing too):
   * a refusal that holds whatever policy would say — the kill switch (`access-gates.ts`). A cached allow can
   * therefore never outlive it. Asked again at the RESPONSE step (an answer that arrives after the refusal is
   * withheld, with an operation that may be a placeholder) and for a session termination (operation
   * `{ kind: 'notification', method: 'session/terminate' }`).
   */
  onCaller?(request: AllowedRequest): Promise<GateRefusal | undefined>;
  /** REQUEST step, after policy: a refusal of its own, or undefined to let the request on. */
  onCall?(request: AllowedRequest): Promise<GateRefusal | undefined>;
  /**
   * RESPONSE step: listed tools to hide from this caller, whatever policy says — their names, or a map from
   * name to the reason (audited with the listing).
   */
  onListing?(listing: OfferedListing): Promise<ReadonlySet<string> | ReadonlyMap<string, string>>;
}

/** What goes downstream: the message (identity injected by core/authorize) and the header changes. */
export interface Outgoing {
  readonly message: unknown;
  readonly headers: HeaderIntent;
  /** Names of the injected identity arguments still in `message` (audited). */
  readonly injected?: readonly string[];
}

/**
 * Shapes an allowed request before it is forwarded — e.g. per-target identity delivery: a signed identity
 * assertion header for the target of the tool called, in addition to or instead of the injected `_caller_*`
 * arguments. Steps run in order, each on the previous one's output. Whatever they return, the client's
 * `Authorization` stays in `headers.remove`. A step that throws stops the request: nothing half-delivered
 * is forwarded (503, audited).
 */
export interface ForwardStep {
  readonly name: string;
  apply(request: AllowedRequest, outgoing: Outgoing): Promise<Outgoing>;
}
