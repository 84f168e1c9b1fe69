import type { McpOperation } from '../core/mcp-operation';
import { refused, UNEXPECTED_FAILURE, unavailable } from './answers';
import { type AuditDraft, auditedFacts, baseRecord, refusedCredentialRecord } from './audit-records';
import type { AuditTrail } from './audit-trail';
import type { Verification } from './authenticate';
import type { GuardDeps } from './deps';
import { gateRefusal } from './gates';
import type { Credential, GuardTermination, TerminationResult } from './types';

/** The audited method of an HTTP `DELETE` on the MCP endpoint (session termination, MCP 2025-03-26 … 2025-11-25). */
export const SESSION_TERMINATION = 'session/terminate';

/** The operation gates see for a session termination: it runs no tool and has no JSON-RPC id. */
const TERMINATION: McpOperation = Object.freeze({ kind: 'notification', method: SESSION_TERMINATION });

export interface TerminationStepContext {
  readonly deps: GuardDeps;
  readonly trail: AuditTrail;
  readonly verify: (credential: Credential, id: null) => Promise<Verification>;
  readonly newId: () => string;
}

/**
 * A session termination (`DELETE` on the MCP endpoint), which has no body to decide: verify → the gates'
 * pre-policy check (`onCaller`: the kill switch) → audit, once, allowed or refused. A revoked caller is
 * refused with the revocation's reason; a termination that cannot be audited is not carried out.
 */
export function createTerminationStep(
  context: TerminationStepContext,
): (request: GuardTermination) => Promise<TerminationResult> {
  const { deps, trail, verify, newId } = context;
  const { log } = deps;
  const gates = deps.gates ?? [];

  async function decide(
    request: GuardTermination,
    decisionId: string,
  ): Promise<{ readonly result: TerminationResult; readonly record: AuditDraft }> {
    const facts = auditedFacts(request.facts, trail.scrub, request.door);
    const auth = await verify(request.credential, null);
    if (!auth.ok)
      return {
        result: { ...auth.answer, kind: 'answer', decisionId },
        record: refusedCredentialRecord(facts, 'request', undefined, SESSION_TERMINATION, auth),
      };
    const base = { ...baseRecord(facts, 'request', auth.caller, undefined), method: SESSION_TERMINATION };
    const barred = await gateRefusal(
      gates,
      { door: request.door, caller: auth.caller, operation: TERMINATION, facts: request.facts, decisionId },
      log,
      trail.scrubError,
      'onCaller',
    );
    if (barred !== undefined)
      return {
        result: { ...refused(TERMINATION, trail.scrub(barred.reason)), kind: 'answer', decisionId },
        record: {
          ...base,
          decision: 'deny',
          enforced: true,
          errorCode: barred.errorCode,
          reason: barred.reason,
        },
      };
    return {
      result: { kind: 'forward', caller: auth.caller, decisionId },
      record: { ...base, decision: 'allow', enforced: true },
    };
  }

  return async (request) => {
    const decisionId = newId();
    let outcome: { readonly result: TerminationResult; readonly record?: AuditDraft };
    try {
      outcome = await decide(request, decisionId);
    } catch (error) {
      log.error('guard failed on a session termination; refusing', { error: trail.scrubError(error) });
      outcome = { result: { ...unavailable(null, UNEXPECTED_FAILURE), kind: 'answer', decisionId } };
    }
    if (outcome.record === undefined) return outcome.result;
    // A termination whose decision cannot be recorded is not carried out.
    return trail.recorded(outcome.record, decisionId, outcome.result, (reason) => ({
      ...unavailable(null, reason),
      kind: 'answer',
      decisionId,
    }));
  };
}
