import { requestDigest } from '../core/audit-event';
import { authorizeOperation, type Verdict } from '../core/authorize';
import type { Caller } from '../core/caller';
import type { Decision } from '../core/decision';
import { MalformedRequestError } from '../core/errors';
import { MAX_BODY_NESTING } from '../core/json-depth';
import { mirroredHeaderMismatch } from '../core/mcp-headers';
import { type McpOperation, parseMcpRequest } from '../core/mcp-operation';
import { invalid, refused, UNEXPECTED_FAILURE, unavailable } from './answers';
import {
  type AuditDraft,
  type AuditedFacts,
  auditedFacts,
  baseRecord,
  isPolicyOperation,
  malformedRecord,
  operationRecord,
  refusedCredentialRecord,
  verdictRecord,
} from './audit-records';
import type { AuditTrail } from './audit-trail';
import type { Verification } from './authenticate';
import type { GuardDeps } from './deps';
import { gateRefusal } from './gates';
import type { AllowedRequest, Outgoing } from './hooks';
import { boundedMessage, idIn, methodIn } from './message';
import type { Answer, Credential, GuardRequest, GuardResult } from './types';

/** What the request step decided, and the one audit record that says so. */
interface Outcome {
  readonly result: GuardResult;
  readonly record?: AuditDraft;
}

/** What is known so far, for the audit record of a step that fails unexpectedly. */
interface Known {
  message?: unknown;
  facts?: AuditedFacts;
  caller?: Caller;
}

const DELIVERY_FAILED = 'The request could not be prepared for the target, so it was not carried out.';

export interface RequestStepContext {
  readonly deps: GuardDeps;
  readonly trail: AuditTrail;
  readonly verify: (credential: Credential, id: ReturnType<typeof idIn>) => Promise<Verification>;
  readonly newId: () => string;
}

function answered(answer: Answer, decisionId: string, decision?: Decision): GuardResult {
  return { kind: 'answer', ...answer, ...(decision === undefined ? {} : { decision }), decisionId };
}

/**
 * The REQUEST step: bound and parse → verify → decide (core/authorize) → gates → forward steps → audit, once,
 * after the result is known. A request it cannot audit is not carried out; a failure anywhere is an answer.
 */
export function createRequestStep(
  context: RequestStepContext,
): (request: GuardRequest) => Promise<GuardResult> {
  const { deps, trail, verify, newId } = context;
  const { pdp, log, settings } = deps;
  const gates = deps.gates ?? [];
  const forwardSteps = deps.forwardSteps ?? [];

  async function decide(request: GuardRequest, decisionId: string, known: Known): Promise<Outcome> {
    if (request.undecodable !== undefined) {
      log.warn('the door event could not be read', {
        door: request.door,
        issues: request.undecodable.issues ?? [],
      });
      const error = new MalformedRequestError(request.undecodable.reason, -32600);
      return {
        result: answered(invalid(null, error), decisionId),
        record: {
          phase: 'request',
          caller: undefined,
          method: 'unknown',
          decision: 'deny',
          enforced: true,
          errorCode: 'MalformedRequest',
          reason: error.safeReason,
          requestDigest: requestDigest('unknown', null),
        },
      };
    }
    const { message, tooDeep } = boundedMessage(request.message);
    known.message = message;
    const facts = auditedFacts(request.facts, trail.scrub, request.door);
    known.facts = facts;
    const malformed = (error: MalformedRequestError, caller: Caller | undefined): Outcome => ({
      result: answered(invalid(idIn(message), error), decisionId),
      record: malformedRecord(facts, caller, message, error.safeReason),
    });

    const auth = await verify(request.credential, idIn(message));
    if (auth.ok) known.caller = auth.caller;
    // Refused whoever sends it, and attributed when the token is good.
    if (tooDeep)
      return malformed(
        new MalformedRequestError(`the request nests deeper than ${MAX_BODY_NESTING} levels`, -32600),
        auth.ok ? auth.caller : undefined,
      );
    if (!auth.ok)
      return {
        result: answered(auth.answer, decisionId),
        record: refusedCredentialRecord(facts, 'request', message, methodIn(message), auth),
      };
    const { caller } = auth;

    const parsed = parseRequest(request, message);
    if (!parsed.ok) return malformed(parsed.error, caller);
    const operation = parsed.operation;

    // Before policy and its cache: a refusal here (the kill switch) holds whatever policy would say.
    const seen: AllowedRequest = { door: request.door, caller, operation, facts: request.facts, decisionId };
    const barred = await gateRefusal(gates, seen, log, trail.scrubError, 'onCaller');
    if (barred !== undefined)
      return {
        result: answered(refused(operation, trail.scrub(barred.reason)), decisionId),
        record: {
          ...baseRecord(facts, 'request', caller, message),
          ...operationRecord(operation, settings.redaction),
          decision: 'deny',
          enforced: true,
          errorCode: barred.errorCode,
          reason: barred.reason,
        },
      };

    const verdict = await authorizeOperation(caller, operation, pdp, settings);
    if (verdict.decision.kind === 'error') {
      // Engine messages can quote the request's context (the arguments): scrubbed and cut short for the log.
      log.error('authorization failed', { error: trail.scrub(verdict.decision.error.message).slice(0, 300) });
    }
    const record = verdictRecord(facts, caller, message, operation, verdict, settings.redaction);
    if (!verdict.forward) {
      const reason = verdict.decision.kind === 'allow' ? 'Denied.' : verdict.decision.reason;
      return {
        result: answered(refused(operation, trail.scrub(reason)), decisionId, verdict.decision),
        record,
      };
    }

    const allowed: AllowedRequest = {
      door: request.door,
      caller,
      operation,
      facts: request.facts,
      decisionId,
    };
    const refusal = await gateRefusal(gates, allowed, log, trail.scrubError);
    if (refusal !== undefined) {
      const { injected: _notInjected, ...decided } = record;
      return {
        result: answered(refused(operation, trail.scrub(refusal.reason)), decisionId, verdict.decision),
        record: {
          ...decided,
          decision: 'deny',
          enforced: true,
          errorCode: refusal.errorCode,
          reason: refusal.reason,
        },
      };
    }

    let outgoing: Outgoing = {
      message: decidedMessage(message, operation, verdict),
      headers: { set: {}, remove: ['authorization'] },
      ...(verdict.injected === undefined ? {} : { injected: verdict.injected }),
    };
    try {
      for (const step of forwardSteps) outgoing = await step.apply(allowed, outgoing);
    } catch (error) {
      log.error('a forward step failed; refusing the request', { error: trail.scrubError(error) });
      const { injected: _notInjected, ...decided } = record;
      return {
        result: answered(unavailable(idIn(message), DELIVERY_FAILED), decisionId, verdict.decision),
        record: {
          ...decided,
          decision: 'deny',
          enforced: true,
          errorCode: 'AuthorizationServiceError',
          reason: DELIVERY_FAILED,
        },
      };
    }
    const remove = outgoing.headers.remove.some((name) => name.toLowerCase() === 'authorization')
      ? outgoing.headers.remove
      : [...outgoing.headers.remove, 'authorization'];
    const delivered = Object.keys(outgoing.headers.set);
    const { injected: _decidedInjection, ...decided } = record;
    return {
      result: {
        kind: 'forward',
        message: outgoing.message,
        headers: { set: outgoing.headers.set, remove },
        decision: verdict.decision,
        decisionId,
      },
      // Session plumbing and lists run nothing: only what policy decides is audited here.
      ...(isPolicyOperation(operation)
        ? {
            record: {
              ...decided,
              ...(outgoing.injected === undefined ? {} : { injected: outgoing.injected }),
              ...(delivered.length === 0 ? {} : { extra: { ...decided.extra, deliveredHeaders: delivered } }),
            },
          }
        : {}),
    };
  }

  /** Size, JSON, MCP shape and mirrored headers: what makes a request decidable. */
  function parseRequest(
    request: GuardRequest,
    message: unknown,
  ):
    | { readonly ok: true; readonly operation: McpOperation }
    | { readonly ok: false; readonly error: MalformedRequestError } {
    // Measured on what is decided and forwarded (the parsed message), and on the raw text when there is one.
    const size = Math.max(Buffer.byteLength(JSON.stringify(message) ?? '', 'utf8'), request.rawBytes ?? 0);
    if (!request.parsed)
      return { ok: false, error: new MalformedRequestError('the request body is not valid JSON', -32700) };
    if (size > settings.maxBodyBytes)
      return {
        ok: false,
        error: new MalformedRequestError(`the request body exceeds ${settings.maxBodyBytes} bytes`, -32600),
      };
    const parsed = parseMcpRequest(message);
    if (!parsed.ok) return parsed;
    const mismatch = mirroredHeaderMismatch((name) => [...(request.facts.headers.get(name) ?? [])], message);
    return mismatch === undefined ? parsed : { ok: false, error: mismatch };
  }

  return async (request) => {
    const decisionId = newId();
    const known: Known = {};
    let outcome: Outcome;
    try {
      outcome = await decide(request, decisionId, known);
    } catch (error) {
      // Fail closed: whatever went wrong, the target is not called with this request.
      log.error('guard failed; denying', { error: trail.scrubError(error) });
      outcome = {
        result: answered(unavailable(idIn(request.message), UNEXPECTED_FAILURE), decisionId),
        ...(known.facts === undefined
          ? {}
          : {
              record: {
                ...malformedRecord(known.facts, known.caller, known.message, UNEXPECTED_FAILURE),
                errorCode: 'AuthorizationServiceError',
              },
            }),
      };
    }
    if (outcome.record === undefined) return outcome.result;
    // A request whose decision cannot be recorded is not carried out.
    const decision = outcome.result.decision;
    return trail.recorded(outcome.record, decisionId, outcome.result, (reason) =>
      answered(unavailable(idIn(request.message), reason), decisionId, decision),
    );
  };
}

/** What goes on is what was decided: the arguments Cedar saw (nulls removed), plus the injected identity. */
function decidedMessage(message: unknown, operation: McpOperation, verdict: Verdict): unknown {
  const decidedArguments =
    verdict.arguments ?? (operation.kind === 'prompt-get' ? operation.arguments : undefined);
  if (decidedArguments === undefined) return message;
  const request = message as Record<string, unknown>;
  return {
    ...request,
    params: { ...(request.params as Record<string, unknown>), arguments: decidedArguments },
  };
}
