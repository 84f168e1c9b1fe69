import { createHash } from 'node:crypto';
import type { Caller } from './caller';
import type { JsonRpcId } from './mcp-operation';

/**
 * One audit event per decision, shaped as a CloudTrail Lake integration event (`eventData`). Field limits are
 * the documented ones: an oversized field is truncated with a marker, never rejected, so nothing is lost.
 */
export interface AuditEventData {
  readonly version: string;
  readonly userIdentity: {
    readonly type: string;
    readonly principalId: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
  readonly userAgent?: string;
  readonly eventSource: string;
  readonly eventName: string;
  readonly eventTime: string;
  readonly UID: string;
  readonly requestParameters?: Readonly<Record<string, unknown>>;
  readonly responseElements?: Readonly<Record<string, unknown>>;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly sourceIPAddress?: string;
  readonly recipientAccountId: string;
  readonly additionalEventData?: Readonly<Record<string, unknown>>;
}

export const AUDIT_EVENT_VERSION = '1.0';

/** CONTRACTS §5. Sizes are UTF-8 bytes of the JSON text; string fields count characters. */
export const LIMITS = Object.freeze({
  principalId: 1024,
  errorCode: 256,
  errorMessage: 256,
  requestParameters: 100 * 1024,
  responseElements: 100 * 1024,
  additionalEventData: 28 * 1024,
  userAgent: 1024,
  sourceIPAddress: 128,
  eventName: 1024,
});

export const TRUNCATION_MARKER = '…[truncated]';

/** Error codes in audit events; stable strings people query on. */
export type AuditErrorCode =
  | 'AccessDenied'
  | 'PolicyEvaluationError'
  | 'SpoofingAttempt'
  | 'InvalidToken'
  | 'MalformedRequest'
  | 'UnsupportedMethod'
  | 'InvalidArguments'
  | 'AuthorizationServiceError'
  | 'ToolError';

export interface AuditRecord {
  readonly time: Date;
  readonly phase: 'request' | 'response';
  readonly caller: Caller | undefined;
  readonly method: string;
  readonly toolName?: string;
  readonly target?: string;
  readonly arguments?: unknown;
  readonly jsonRpcId?: JsonRpcId | null;
  readonly decision: 'allow' | 'deny';
  /** False in log-only mode for a policy deny that was let through. */
  readonly enforced: boolean;
  readonly errorCode?: AuditErrorCode;
  readonly reason?: string;
  readonly policies?: readonly string[];
  readonly injected?: readonly string[];
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly sessionId?: string;
  readonly userAgent?: string;
  readonly sourceIp?: string;
  /** Digest of what was asked (method, params), so gateway retries give the same UID. */
  readonly requestDigest: string;
}

export interface AuditSettings {
  readonly eventSource: string;
  readonly recipientAccountId: string;
  readonly mode: 'enforce' | 'log-only';
}

/** `yyyy-MM-ddTHH:mm:ssZ`, UTC, whole seconds (the format CloudTrail Lake requires). */
export function eventTime(time: Date): string {
  return `${time.toISOString().slice(0, 19)}Z`;
}

export function truncateString(value: string, max: number): string {
  if (value.length <= max) return value;
  return value.slice(0, Math.max(0, max - TRUNCATION_MARKER.length)) + TRUNCATION_MARKER;
}

function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/**
 * Keeps an object within `maxBytes`: whole when it fits, else a marker object with a preview of its JSON text,
 * so an investigator still sees what was asked.
 */
export function fitObject(
  value: Readonly<Record<string, unknown>>,
  maxBytes: number,
): Readonly<Record<string, unknown>> {
  const size = byteLength(value);
  if (size <= maxBytes) return value;
  const text = JSON.stringify(value);
  // Leave room for the wrapper and for multi-byte characters in the preview.
  let preview = text.slice(0, Math.floor((maxBytes - 200) / 4));
  while (Buffer.byteLength(preview, 'utf8') > maxBytes - 200)
    preview = preview.slice(0, Math.floor(preview.length * 0.9));
  return { truncated: true, originalBytes: size, preview: preview + TRUNCATION_MARKER };
}

/**
 * Deterministic event id: the gateway may retry an interceptor, and a retried decision must not become two
 * events. Built from who (token id or subject+iat), what (digest), phase, session, JSON-RPC id and the minute.
 */
export function auditEventUid(record: AuditRecord): string {
  const who =
    record.caller === undefined
      ? 'anonymous'
      : (record.caller.tokenId ?? `${record.caller.subject}@${record.caller.issuedAt ?? ''}`);
  const minute = Math.floor(record.time.getTime() / 60_000);
  const hash = createHash('sha256')
    .update(
      [
        record.phase,
        who,
        record.sessionId ?? '',
        JSON.stringify(record.jsonRpcId ?? null),
        record.requestDigest,
        minute,
      ].join('\u0000'),
    )
    .digest('hex');
  return `${hash.slice(0, 8)}-${hash.slice(8, 12)}-${hash.slice(12, 16)}-${hash.slice(16, 20)}-${hash.slice(20, 32)}`;
}

/**
 * The same for the REQUEST decision and the RESPONSE outcome of one call (who, session, JSON-RPC id, what),
 * so an investigator can join them; the UID additionally carries the phase.
 */
export function requestKey(
  record: Pick<AuditRecord, 'caller' | 'sessionId' | 'jsonRpcId' | 'requestDigest'>,
): string {
  const who =
    record.caller === undefined
      ? 'anonymous'
      : (record.caller.tokenId ?? `${record.caller.subject}@${record.caller.issuedAt ?? ''}`);
  return createHash('sha256')
    .update(
      [who, record.sessionId ?? '', JSON.stringify(record.jsonRpcId ?? null), record.requestDigest].join(
        '\u0000',
      ),
    )
    .digest('base64url')
    .slice(0, 22);
}

/** Digest of a JSON-RPC message's method and params (not its id, which the UID carries separately). */
export function requestDigest(method: string, params: unknown): string {
  return createHash('sha256')
    .update(`${method}\u0000${JSON.stringify(params ?? null)}`)
    .digest('base64url');
}

function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}

export function buildAuditEvent(record: AuditRecord, settings: AuditSettings): AuditEventData {
  const caller = record.caller;
  const eventName = record.toolName ?? record.method;
  const requestParameters = compact({
    method: record.method,
    tool: record.toolName,
    target: record.target,
    arguments: record.arguments,
    jsonRpcId: record.jsonRpcId ?? undefined,
    mcpSessionId: record.sessionId,
  });
  const responseElements = compact({
    decision: record.decision,
    enforced: record.enforced,
    reason: record.reason,
    determiningPolicies: record.policies === undefined ? undefined : [...record.policies],
    injectedParameters: record.injected === undefined ? undefined : [...record.injected],
  });
  const additionalEventData = compact({
    phase: record.phase,
    mode: settings.mode,
    requestKey: requestKey(record),
    ...record.extra,
  });
  return compact({
    version: AUDIT_EVENT_VERSION,
    userIdentity: compact({
      type: caller === undefined ? 'Anonymous' : 'McpUser',
      principalId: truncateString(caller?.subject ?? 'anonymous', LIMITS.principalId),
      details:
        caller === undefined
          ? undefined
          : compact({
              issuer: caller.issuer,
              email: caller.email,
              username: caller.username,
              roles: [...caller.roles],
              agent: caller.agent,
              actors: caller.actors.length > 0 ? [...caller.actors] : undefined,
              tokenId: caller.tokenId,
            }),
    }),
    userAgent:
      record.userAgent === undefined ? undefined : truncateString(record.userAgent, LIMITS.userAgent),
    eventSource: settings.eventSource,
    eventName: truncateString(eventName, LIMITS.eventName),
    eventTime: eventTime(record.time),
    UID: auditEventUid(record),
    requestParameters: fitObject(requestParameters, LIMITS.requestParameters),
    responseElements: fitObject(responseElements, LIMITS.responseElements),
    errorCode: record.errorCode,
    errorMessage:
      record.reason === undefined || record.decision === 'allow'
        ? undefined
        : truncateString(record.reason, LIMITS.errorMessage),
    sourceIPAddress:
      record.sourceIp === undefined ? undefined : truncateString(record.sourceIp, LIMITS.sourceIPAddress),
    recipientAccountId: settings.recipientAccountId,
    additionalEventData: fitObject(additionalEventData, LIMITS.additionalEventData),
  });
}

/** Where audit events go. The Lambda sink writes one structured log line; local writes JSONL. */
export interface AuditSink {
  write(event: AuditEventData): Promise<void>;
}
