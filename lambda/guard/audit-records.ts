import { type AuditErrorCode, type AuditRecord, requestDigest } from '../core/audit-event';
import type { Verdict } from '../core/authorize';
import type { Caller } from '../core/caller';
import type { Decision } from '../core/decision';
import { type McpOperation, methodOf } from '../core/mcp-operation';
import { auditArguments, type RedactionConfig } from '../core/redaction';
import { idIn, methodIn, paramsOf } from './message';
import type { Door, RequestFacts } from './types';

/**
 * The audit records the guard writes, built from what it knows at each step. Pure: `audit-trail.ts` scrubs,
 * stamps and writes them. One record per step (OPA's Envoy plugin: log every decision from one place).
 */

export type AuditDraft = Omit<AuditRecord, 'time'>;
type Phase = AuditDraft['phase'];

/** Request facts as audited: client text scrubbed, the client-written X-Forwarded-For kept only as a claim. */
export interface AuditedFacts {
  /** The door the request came through (an audit label: never an input to policy). */
  readonly door: Door;
  readonly sessionId?: string;
  readonly userAgent?: string;
  readonly sourceIp?: string;
  readonly forwardedFor?: readonly string[];
}

/**
 * X-Forwarded-For is whatever the client wrote: kept, bounded and scrubbed, as a claim in additionalEventData,
 * never as the event's sourceIPAddress (only an address the door observed is that).
 */
export function auditedFacts(facts: RequestFacts, scrub: (text: string) => string, door: Door): AuditedFacts {
  const forwardedFor = (facts.headers.get('x-forwarded-for') ?? [])
    .flatMap((value) => value.split(','))
    .map((hop) => scrub(hop.trim()).slice(0, 64))
    .filter((hop) => hop.length > 0)
    .slice(0, 8);
  return {
    door,
    ...nonEmpty('sessionId', facts.sessionId),
    ...nonEmpty('userAgent', facts.userAgent),
    ...(facts.sourceIp === undefined ? {} : { sourceIp: facts.sourceIp }),
    ...(forwardedFor.length === 0 ? {} : { forwardedFor }),
  };
}

function nonEmpty<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined || value.length === 0 ? {} : ({ [key]: value } as Record<K, string>);
}

export function auditCode(decision: Decision): AuditErrorCode | undefined {
  switch (decision.kind) {
    case 'allow':
      return undefined;
    case 'error':
      return 'AuthorizationServiceError';
    case 'deny':
      switch (decision.code) {
        case 'policy':
          return 'AccessDenied';
        case 'policy-error':
          return 'PolicyEvaluationError';
        case 'spoofing':
          return 'SpoofingAttempt';
        case 'unsupported-method':
          return 'UnsupportedMethod';
        case 'unknown-tool-arguments':
          return 'InvalidArguments';
      }
  }
}

/** Only operations that run something are decided by policy, so only they (and every refusal) are audited. */
export function isPolicyOperation(operation: McpOperation): boolean {
  return (
    operation.kind === 'tool-call' ||
    operation.kind === 'prompt-get' ||
    operation.kind === 'resource-read' ||
    operation.kind === 'unsupported'
  );
}

export function baseRecord(facts: AuditedFacts, phase: Phase, caller: Caller | undefined, message: unknown) {
  return {
    phase,
    caller,
    jsonRpcId: idIn(message),
    requestDigest: requestDigest(methodIn(message), paramsOf(message)),
    ...facts,
  };
}

/** A request refused because its credential did not verify. */
export function refusedCredentialRecord(
  facts: AuditedFacts,
  phase: Phase,
  message: unknown,
  method: string,
  refusal: { readonly reason: string; readonly cause: string },
): AuditDraft {
  return {
    ...baseRecord(facts, phase, undefined, message),
    method,
    decision: 'deny',
    enforced: true,
    errorCode: 'InvalidToken',
    reason: refusal.reason,
    extra: { cause: refusal.cause },
  };
}

/** A request that cannot be decided (400), attributed when the caller is known. */
export function malformedRecord(
  facts: AuditedFacts,
  caller: Caller | undefined,
  message: unknown,
  reason: string,
): AuditDraft {
  return {
    ...baseRecord(facts, 'request', caller, message),
    method: methodIn(message),
    decision: 'deny',
    enforced: true,
    errorCode: 'MalformedRequest',
    reason,
  };
}

/** What was asked, as audited: the tool (with redacted arguments), prompt or resource. */
export function operationRecord(operation: McpOperation, redaction: RedactionConfig) {
  if (operation.kind !== 'tool-call') {
    return {
      method: methodOf(operation),
      ...(operation.kind === 'prompt-get' ? { toolName: `prompt:${operation.name}` } : {}),
      ...(operation.kind === 'resource-read' ? { extra: { uri: operation.uri } } : {}),
    };
  }
  const args = auditArguments(operation.arguments, redaction);
  return {
    method: 'tools/call',
    toolName: operation.tool.full,
    ...(operation.tool.target === undefined ? {} : { target: operation.tool.target }),
    ...(args === undefined ? {} : { arguments: args }),
  };
}

/** The policy verdict on a parsed request. */
export function verdictRecord(
  facts: AuditedFacts,
  caller: Caller,
  message: unknown,
  operation: McpOperation,
  verdict: Verdict,
  redaction: RedactionConfig,
): AuditDraft {
  const { decision } = verdict;
  const errorCode = auditCode(decision);
  // Filled in place, field by field (one object per decision, on every call's path): the same fields as
  // `{ ...baseRecord(…), ...operationRecord(…), … }`, without copying two intermediate objects into a third.
  const record: { -readonly [K in keyof AuditDraft]: AuditDraft[K] } = {
    phase: 'request',
    caller,
    jsonRpcId: idIn(message),
    requestDigest: requestDigest(methodIn(message), paramsOf(message)),
    door: facts.door,
    method: 'tools/call',
    decision: decision.kind === 'allow' ? 'allow' : 'deny',
    enforced: verdict.enforced,
  };
  if (facts.sessionId !== undefined) record.sessionId = facts.sessionId;
  if (facts.userAgent !== undefined) record.userAgent = facts.userAgent;
  if (facts.sourceIp !== undefined) record.sourceIp = facts.sourceIp;
  if (facts.forwardedFor !== undefined) record.forwardedFor = facts.forwardedFor;
  const asked = operationRecord(operation, redaction);
  record.method = asked.method;
  if (asked.toolName !== undefined) record.toolName = asked.toolName;
  if ('target' in asked && asked.target !== undefined) record.target = asked.target;
  if ('arguments' in asked && asked.arguments !== undefined) record.arguments = asked.arguments;
  if ('extra' in asked && asked.extra !== undefined) record.extra = asked.extra;
  if (errorCode !== undefined) record.errorCode = errorCode;
  if (decision.kind !== 'allow') record.reason = decision.reason;
  if (decision.kind !== 'error') record.policies = decision.policies;
  if (verdict.injected !== undefined) record.injected = verdict.injected;
  return record;
}
