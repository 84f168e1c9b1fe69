import type { AccessChangeName } from './access-audit';
import {
  AUDIT_EVENT_VERSION,
  type AuditEventData,
  auditFlag,
  auditList,
  TRUNCATION_MARKER,
} from './audit-event';
import type { Caller } from './caller';
import type { PolicyOperation } from './cedar-request';
import { parseToolName } from './mcp-operation';
import { REDACTED } from './redaction';

/**
 * A recorded decision read back from its audit event as the caller and operation the live path decided: the
 * input of `policies replay`, which runs them through the live path's own `authorizeOperation` (and so its
 * Cedar request builder) under candidate policies.
 *
 * Only what the event records is used, and an event that does not record enough to rebuild the request is
 * named {@link NotReplayable} with the reason, never guessed at.
 */

/** Why an event is not a policy decision that can be decided again. */
export type NotReplayableReason =
  /** The token did not verify (no caller): decided before any policy. */
  | 'refused-credential'
  /** The request could not be parsed: decided before any policy. */
  | 'malformed-request'
  /** The client set a reserved identity argument: refused before any policy. */
  | 'spoofing-attempt'
  /** A method no policy decides. */
  | 'unsupported-method'
  /** The decision point failed (fail closed): no policy answer was recorded. */
  | 'service-error'
  /** The kill switch refused the caller (`mcp-identity revoke`): no policy change lifts a revocation. */
  | 'revoked'
  /** A refusal by something other than policy (a gate, a code this version does not know). */
  | 'not-a-policy-decision'
  /** A field the request is built from was cut to fit the audit limits. */
  | 'truncated'
  /** An event version or front door this replay does not know. */
  | 'unknown-format'
  /** Arguments recorded by name only or not at all (`arguments: names|none`) and a policy reads them. */
  | 'arguments-not-recorded'
  /** Arguments recorded with values redacted and a policy reads them. */
  | 'arguments-redacted'
  /** The token's issue/expiry times are not recorded (events before they were) and a policy reads them. */
  | 'token-facts-not-recorded';

/** How faithfully the event recorded the tool arguments. */
export type ArgumentFidelity = 'exact' | 'redacted' | 'names' | 'none';

export interface RecordedCall {
  readonly uid: string;
  readonly time: string;
  readonly caller: Caller;
  readonly operation: PolicyOperation;
  readonly recorded: {
    readonly decision: 'allow' | 'deny';
    readonly errorCode?: string;
    readonly policies: readonly string[];
  };
  readonly arguments: ArgumentFidelity;
  /**
   * The top-level argument names the call carried, as recorded (with values, or by name under `arguments:
   * names`): what the schema check of a candidate is redone on when the values are not all known. Undefined
   * when they are not known: nothing recorded (`arguments: none`), or a name itself redacted.
   */
  readonly argumentNames?: readonly string[];
  /** False when the token's issue and expiry times were not recorded (a placeholder expiry is used). */
  readonly tokenFacts: boolean;
}

/** A `tools/list` answer as the RESPONSE step recorded it: which listed tools policy let the caller see. */
export interface RecordedListing {
  readonly uid: string;
  readonly time: string;
  readonly caller: Caller;
  /** Every tool the target listed that no gate (tool pins) hid: the ones policy decided. */
  readonly tools: readonly string[];
  /** Of those, the ones the caller saw. */
  readonly visible: ReadonlySet<string>;
  readonly tokenFacts: boolean;
}

export type RecordedEvent =
  | { readonly kind: 'call'; readonly call: RecordedCall }
  | { readonly kind: 'listing'; readonly listing: RecordedListing }
  | {
      readonly kind: 'not-replayable';
      readonly reason: NotReplayableReason;
      readonly detail?: string;
      /** The recorded decision, when the event was read that far. */
      readonly recorded?: 'allow' | 'deny';
    }
  /** Not a decision at all (the RESPONSE step's outcome of a call): not counted. */
  | { readonly kind: 'outcome' }
  /** A change to access (a grant issued or revoked, a revocation issued or lifted): not a decision, not counted. */
  | { readonly kind: 'access-change' };

/** `eventName` of the access-change events (lambda/core/access-audit.ts `AccessChangeName`). */
const ACCESS_CHANGES: ReadonlySet<string> = new Set([
  'GrantRole',
  'RevokeGrant',
  'RevokeAccess',
  'LiftRevocation',
  'ChangeAccessEntry',
  'DeleteAccessEntry',
  'ExpireAccessEntry',
] satisfies AccessChangeName[]);

/** The front doors whose events this builder reads (an absent door: events written before doors were named). */
const KNOWN_DOORS: ReadonlySet<string> = new Set(['agentcore', 'apigw']);

/** Error codes of policy decisions (and of the request builder's argument check, which a schema change moves). */
const POLICY_CODES: ReadonlySet<string> = new Set([
  'AccessDenied',
  'PolicyEvaluationError',
  'InvalidArguments',
]);

const REFUSALS: Readonly<Record<string, NotReplayableReason>> = {
  InvalidToken: 'refused-credential',
  MalformedRequest: 'malformed-request',
  SpoofingAttempt: 'spoofing-attempt',
  UnsupportedMethod: 'unsupported-method',
  AuthorizationServiceError: 'service-error',
  Revoked: 'revoked',
};

type AuditFields = Readonly<Record<string, unknown>>;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A NumericDate recorded as its decimal text (or a number in events read back already decoded). */
function seconds(value: unknown): number | undefined {
  const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : undefined;
}

function truncated(map: AuditFields | undefined): boolean {
  return auditFlag(map?.truncated) === true;
}

function notReplayable(
  reason: NotReplayableReason,
  detail?: string,
  recorded?: 'allow' | 'deny',
): RecordedEvent {
  return {
    kind: 'not-replayable',
    reason,
    ...(detail === undefined ? {} : { detail }),
    ...(recorded === undefined ? {} : { recorded }),
  };
}

/** A recorded name the redaction changed (a value pattern in the key) is not the name the call carried. */
function marked(text: string): boolean {
  return text.includes(REDACTED) || text.includes('[TOO DEEP]');
}

/** The arguments as recorded, and how faithful they are. */
function recordedArguments(value: unknown): {
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly fidelity: ArgumentFidelity;
  readonly names?: readonly string[];
} {
  if (value === undefined || value === null) return { arguments: {}, fidelity: 'none' };
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return { arguments: {}, fidelity: 'none' };
    }
  }
  if (Array.isArray(parsed)) {
    const names = parsed.every((name) => typeof name === 'string' && !marked(name))
      ? (parsed as string[])
      : undefined;
    return { arguments: {}, fidelity: 'names', ...(names === undefined ? {} : { names }) };
  }
  if (parsed === null || typeof parsed !== 'object') return { arguments: {}, fidelity: 'none' };
  // The redaction marks (a replaced value, a cut subtree): the recorded value is not what the policy saw.
  const serialized = typeof value === 'string' ? value : JSON.stringify(value);
  const redacted = serialized.includes(REDACTED) || serialized.includes('[TOO DEEP]');
  const names = Object.keys(parsed);
  return {
    arguments: parsed as Record<string, unknown>,
    fidelity: redacted ? 'redacted' : 'exact',
    ...(names.some(marked) ? {} : { names }),
  };
}

/** The caller as the verifier built it, from `userIdentity` (what `buildAuditEvent` wrote from the `Caller`). */
function recordedCaller(event: AuditEventData, details: AuditFields): Caller | undefined {
  const issuer = text(details.issuer);
  if (issuer === undefined) return undefined;
  const eventSeconds = Math.floor(Date.parse(event.eventTime) / 1000);
  const issuedAt = seconds(details.tokenIssuedAt);
  const expiresAt = seconds(details.tokenExpiresAt);
  const email = text(details.email);
  const username = text(details.username);
  const agent = text(details.agent);
  const tokenId = text(details.tokenId);
  return {
    subject: event.userIdentity.principalId,
    issuer,
    roles: auditList(details.roles),
    actors: auditList(details.actors),
    // Placeholder when not recorded: the call flags `tokenFacts: false`, and replay refuses the event when a
    // candidate policy reads the token's times.
    expiresAt: expiresAt ?? (Number.isFinite(eventSeconds) && eventSeconds > 0 ? eventSeconds : 1),
    ...(issuedAt === undefined ? {} : { issuedAt }),
    ...(email === undefined ? {} : { email }),
    ...(username === undefined ? {} : { username }),
    ...(agent === undefined ? {} : { agent }),
    ...(tokenId === undefined ? {} : { tokenId }),
  };
}

/** The operation the event records, or why it cannot be rebuilt. */
function recordedOperation(event: AuditEventData):
  | {
      readonly operation: PolicyOperation;
      readonly fidelity: ArgumentFidelity;
      readonly names?: readonly string[];
    }
  | RecordedEvent {
  const request: AuditFields = event.requestParameters ?? {};
  const method = text(request.method);
  switch (method) {
    case 'tools/call': {
      const name = text(request.tool) ?? event.eventName;
      if (name.endsWith(TRUNCATION_MARKER)) return notReplayable('truncated', 'tool name');
      const tool = parseToolName(name);
      if (tool === undefined) return notReplayable('unknown-format', `tool name '${name.slice(0, 80)}'`);
      const { arguments: args, fidelity, names } = recordedArguments(request.arguments);
      return {
        operation: { kind: 'tool-call', id: 0, tool, arguments: args },
        fidelity,
        ...(names === undefined ? {} : { names }),
      };
    }
    case 'prompts/get': {
      const name = event.eventName.startsWith('prompt:')
        ? event.eventName.slice('prompt:'.length)
        : undefined;
      if (name === undefined || name.endsWith(TRUNCATION_MARKER))
        return notReplayable('truncated', 'prompt name');
      // Prompt arguments are not part of the Cedar request (its context holds the name only).
      return {
        operation: { kind: 'prompt-get', id: 0, name, arguments: {} },
        fidelity: 'exact',
        names: [],
      };
    }
    case 'resources/read': {
      const uri = text(event.additionalEventData?.uri);
      if (uri === undefined || truncated(event.additionalEventData) || uri.includes(REDACTED))
        return notReplayable(uri === undefined ? 'unknown-format' : 'truncated', 'resource uri');
      return { operation: { kind: 'resource-read', id: 0, uri }, fidelity: 'exact', names: [] };
    }
    default:
      return notReplayable('unknown-format', `method '${String(method).slice(0, 80)}'`);
  }
}

/**
 * Reads one audit event back as a recorded decision. Never throws: anything unexpected is a
 * {@link NotReplayable} with its reason.
 */
export function recordedEvent(event: AuditEventData): RecordedEvent {
  try {
    const additional: AuditFields = event.additionalEventData ?? {};
    if (text(additional.phase) === 'response') return recordedListing(event, additional);
    // Issued and revoked grants and revocations share the trail: they change access, they decide nothing.
    if (
      ACCESS_CHANGES.has(text(additional.accessChange) ?? '') ||
      (event.userIdentity?.type === 'AccessAdministrator' && ACCESS_CHANGES.has(event.eventName))
    )
      return { kind: 'access-change' };
    if (event.version !== AUDIT_EVENT_VERSION)
      return notReplayable('unknown-format', `event version '${String(event.version).slice(0, 20)}'`);
    const door = text(additional.door);
    if (door !== undefined && !KNOWN_DOORS.has(door))
      return notReplayable('unknown-format', `door '${door.slice(0, 40)}'`);
    const errorCode = text(event.errorCode);
    if (errorCode !== undefined && !POLICY_CODES.has(errorCode))
      return notReplayable(REFUSALS[errorCode] ?? 'not-a-policy-decision', errorCode.slice(0, 64));
    const response: AuditFields = event.responseElements ?? {};
    const decision = text(response.decision);
    if (decision !== 'allow' && decision !== 'deny')
      return notReplayable('unknown-format', `decision '${String(decision).slice(0, 20)}'`);
    if (event.userIdentity?.type !== 'McpUser') return notReplayable('refused-credential');
    const details: AuditFields = event.userIdentity.details ?? {};
    if (truncated(details)) return notReplayable('truncated', 'caller details', decision);
    if (truncated(event.requestParameters)) return notReplayable('truncated', 'request parameters', decision);
    const caller = recordedCaller(event, details);
    if (caller === undefined) return notReplayable('unknown-format', 'no issuer recorded', decision);
    const rebuilt = recordedOperation(event);
    if (!('operation' in rebuilt))
      return rebuilt.kind === 'not-replayable' ? { ...rebuilt, recorded: decision } : rebuilt;
    return {
      kind: 'call',
      call: {
        uid: event.UID,
        time: event.eventTime,
        caller,
        operation: rebuilt.operation,
        recorded: {
          decision,
          ...(errorCode === undefined ? {} : { errorCode }),
          policies: auditList(response.determiningPolicies),
        },
        arguments: rebuilt.fidelity,
        ...(rebuilt.names === undefined ? {} : { argumentNames: rebuilt.names }),
        tokenFacts: seconds(details.tokenExpiresAt) !== undefined,
      },
    };
  } catch (error) {
    return notReplayable('unknown-format', (error as Error).message.slice(0, 120));
  }
}

/**
 * A RESPONSE-step event: a `tools/list` answer becomes a listing (per-tool visibility, decided again by the same
 * "could some input be allowed?" check); anything else there is a call's outcome, not a decision.
 */
function recordedListing(event: AuditEventData, additional: AuditFields): RecordedEvent {
  if (text(event.requestParameters?.method) !== 'tools/list' || additional.listedTools === undefined)
    return { kind: 'outcome' };
  if (event.version !== AUDIT_EVENT_VERSION) return notReplayable('unknown-format', 'listing version');
  const errorCode = text(event.errorCode);
  if (errorCode !== undefined)
    return notReplayable(
      REFUSALS[errorCode] ?? 'not-a-policy-decision',
      `listing: ${errorCode.slice(0, 64)}`,
    );
  if (event.userIdentity?.type !== 'McpUser') return notReplayable('refused-credential', 'listing');
  // An operator who may read the schema sees every tool, whatever the per-tool policy says.
  if (auditFlag(additional.schemaRead) === true)
    return notReplayable('not-a-policy-decision', 'listing: schema reader');
  const details: AuditFields = event.userIdentity.details ?? {};
  if (truncated(details) || truncated(additional)) return notReplayable('truncated', 'listing');
  const caller = recordedCaller(event, details);
  if (caller === undefined) return notReplayable('unknown-format', 'no issuer recorded');
  let gated: ReadonlySet<string> = new Set();
  const byGates = additional.hiddenByGates;
  if (byGates !== undefined) {
    const parsed: unknown = typeof byGates === 'string' ? JSON.parse(byGates) : byGates;
    gated = new Set(parsed !== null && typeof parsed === 'object' ? Object.keys(parsed) : []);
  }
  const hidden = new Set(auditList(additional.hiddenTools));
  const listed = auditList(additional.listedTools);
  const tools = [...new Set([...listed, ...hidden])].filter((tool) => !gated.has(tool));
  return {
    kind: 'listing',
    listing: {
      uid: event.UID,
      time: event.eventTime,
      caller,
      tools,
      visible: new Set(tools.filter((tool) => !hidden.has(tool))),
      tokenFacts: seconds(details.tokenExpiresAt) !== undefined,
    },
  };
}
