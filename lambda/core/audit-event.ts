import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Caller } from './caller';
import { sha256Base64url } from './digest';
import type { JsonRpcId } from './mcp-operation';
import { DEFAULT_VALUE_PATTERNS, redactString } from './redaction';

/**
 * CloudTrail Lake stores `userIdentity.details`, `requestParameters`, `responseElements` and
 * `additionalEventData` as `map<string,string>`: every value in them is a string. Lists, booleans, numbers and
 * objects are stored as their JSON text (`"true"`, `"[\"orders-readers\"]"`); read them back with
 * {@link auditList} / {@link auditFlag}.
 */
export type AuditMap = Readonly<Record<string, string>>;

/**
 * One audit event per decision, shaped as a CloudTrail Lake integration event (`eventData`). Field limits are
 * the documented ones: an oversized field is truncated with a marker, never rejected, so nothing is lost.
 */
export interface AuditEventData {
  readonly version: string;
  readonly userIdentity: {
    readonly type: string;
    readonly principalId: string;
    readonly details?: AuditMap;
  };
  readonly userAgent?: string;
  readonly eventSource: string;
  readonly eventName: string;
  readonly eventTime: string;
  readonly UID: string;
  readonly requestParameters?: AuditMap;
  readonly responseElements?: AuditMap;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly sourceIPAddress?: string;
  readonly recipientAccountId: string;
  readonly additionalEventData?: AuditMap;
}

export const AUDIT_EVENT_VERSION = '1.0';

/**
 * CONTRACTS §5. The documented sizes are decimal: 100 kB is 100,000 bytes, 28 kB is 28,000 bytes. Map sizes
 * are UTF-8 bytes of the map's JSON text; string fields count characters. `userIdentity.details` has no
 * documented size: it is held to the smaller map limit.
 */
export const LIMITS = Object.freeze({
  principalId: 1024,
  errorCode: 256,
  errorMessage: 256,
  requestParameters: 100_000,
  responseElements: 100_000,
  additionalEventData: 28_000,
  details: 28_000,
  userAgent: 1024,
  sourceIPAddress: 128,
  eventName: 1024,
  /** Client-chosen text that is not a tool name: the JSON-RPC id, the method, the session id, the target. */
  clientText: 256,
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
  | 'ToolError'
  /** A pinned tool's listed definition no longer matches its pin (issue 12 #4). */
  | 'ToolDefinitionDrift'
  /** The kill switch: the user or agent is revoked (`mcp-identity revoke`), whatever the token says. */
  | 'Revoked';

export interface AuditRecord {
  readonly time: Date;
  readonly phase: 'request' | 'response';
  readonly caller: Caller | undefined;
  readonly method: string;
  readonly toolName?: string;
  readonly target?: string;
  readonly arguments?: unknown;
  /** As the client sent it: bounded and scrubbed when the event is built. */
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
  /** The address the front door observed, when it reports one. Only a valid IPv4/IPv6 address is kept. */
  readonly sourceIp?: string;
  /** The front door the request came through (`agentcore`, `apigw`): a label, never an input to policy. */
  readonly door?: string;
  /** The client-supplied `X-Forwarded-For` chain, bounded and scrubbed: recorded, never trusted. */
  readonly forwardedFor?: readonly string[];
  /** Digest of what was asked (method, params): part of the {@link requestKey} joining decision and outcome. */
  readonly requestDigest: string;
}

export interface AuditSettings {
  readonly eventSource: string;
  readonly recipientAccountId: string;
  readonly mode: 'enforce' | 'log-only';
  /**
   * Patterns scrubbed from every piece of client text in the event, in addition to
   * {@link DEFAULT_VALUE_PATTERNS} (which always apply). @default []
   */
  readonly valuePatterns?: readonly RegExp[];
}

/** What {@link buildAuditEvent} needs from the outside world; injectable for tests. */
export interface AuditEventDeps {
  /** A fresh event UID. @default crypto.randomUUID */
  readonly newUid?: () => string;
}

let lastSecond = Number.NaN;
let lastEventTime = '';

/** `yyyy-MM-ddTHH:mm:ssZ`, UTC, whole seconds (the format CloudTrail Lake requires). */
export function eventTime(time: Date): string {
  // Formatted once per second: every event of a busy second shares the text. An invalid date never matches
  // (NaN) and throws in toISOString as before.
  const second = Math.floor(time.getTime() / 1000);
  if (second !== lastSecond) {
    lastEventTime = `${time.toISOString().slice(0, 19)}Z`;
    lastSecond = second;
  }
  return lastEventTime;
}

export function truncateString(value: string, max: number): string {
  if (value.length <= max) return value;
  return value.slice(0, Math.max(0, max - TRUNCATION_MARKER.length)) + TRUNCATION_MARKER;
}

function jsonBytes(value: unknown): number {
  // Stryker disable next-line StringLiteral: only strings and maps are measured, whose JSON text is never undefined
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/** A value as Lake's `map<string,string>` holds it: strings as they are, anything else as its JSON text. */
export function auditMapValue(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return '[unserializable]';
  }
}

/** A `map<string,string>` from entries, leaving out undefined ones and keeping their order. */
export function toAuditMap(entries: Readonly<Record<string, unknown>>): AuditMap {
  const map: Record<string, string> = {};
  for (const key of Object.keys(entries)) {
    const value = entries[key];
    if (value !== undefined) map[key] = auditMapValue(value);
  }
  return map;
}

/**
 * One item of a list read back: strings as they are, anything else as its map value. Never `String(item)`: an
 * object parsed from a hostile line can carry `"toString": 1`, and converting it throws.
 */
function auditListItem(item: unknown): string {
  return typeof item === 'string' ? item : auditMapValue(item);
}

/**
 * Reads a list back from an audit map value: the JSON text this builder writes, a real array (events written
 * before values were encoded, or a reader that already decoded them) or a comma-separated string.
 */
export function auditList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(auditListItem);
  if (typeof value !== 'string' || value === '') return [];
  // Stryker disable next-line ConditionalExpression,StringLiteral: text not starting with '[' parses to no array and falls through to the split anyway; this only skips the parse
  if (value.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed.map(auditListItem);
    } catch {
      // not JSON: a plain string
    }
  }
  return value.split(',');
}

/** Reads a flag back from an audit map value (`"true"`/`"false"`, or a boolean in older events). */
export function auditFlag(value: unknown): boolean | undefined {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return undefined;
}

/**
 * An upper bound on the UTF-8 bytes of a map's JSON text, without writing it: braces, and per entry two quoted
 * strings, a colon and a comma, each UTF-16 unit taking at most 6 bytes (a `\uXXXX` escape; unescaped it is 1 to
 * 3 bytes, a surrogate pair 4). Most maps are far below their limit, so most events skip the exact count.
 */
function jsonBytesAtMost(map: AuditMap): number {
  let bytes = 2;
  for (const key in map) bytes += 6 + 6 * (key.length + (map[key] as string).length);
  return bytes;
}

/** The longest prefix of `value` (plus the marker) whose JSON text fits `maxBytes`; never splits a pair. */
function cutToJsonBytes(value: string, maxBytes: number): string {
  const fits = (length: number) => jsonBytes(value.slice(0, length) + TRUNCATION_MARKER) <= maxBytes;
  if (!fits(0)) return '';
  let low = 0;
  let high = value.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  const code = value.charCodeAt(low - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? low - 1 : low;
  return value.slice(0, end) + TRUNCATION_MARKER;
}

/**
 * Keeps a map within `maxBytes` of JSON text: whole when it fits; else its largest values are cut (with a
 * marker) until it does, and `truncated`/`originalBytes` say so. The small fields people filter on (method,
 * decision, phase…) survive, because the large values (arguments, lists) are cut first.
 */
export function fitMap(map: AuditMap, maxBytes: number): AuditMap {
  if (jsonBytesAtMost(map) <= maxBytes) return map;
  const size = jsonBytes(map);
  if (size <= maxBytes) return map;
  const out: Record<string, string> = { ...map, truncated: 'true', originalBytes: String(size) };
  const byLength = Object.keys(map).sort(
    (a, b) => (out[b] as string).length - (out[a] as string).length || a.localeCompare(b),
  );
  for (const key of byLength) {
    const over = jsonBytes(out) - maxBytes;
    if (over <= 0) break;
    const current = out[key] as string;
    out[key] = cutToJsonBytes(current, Math.max(0, jsonBytes(current) - over));
  }
  // Only a map of very many keys can still be too big: drop keys from its end (filter fields come first).
  const keys = Object.keys(map);
  while (jsonBytes(out) > maxBytes && keys.length > 0) delete out[keys.pop() as string];
  return out;
}

/**
 * The same for the REQUEST decision and the RESPONSE outcome of one call (who, session, JSON-RPC id, what),
 * so an investigator can join them. Each event has its own UID.
 */
export function requestKey(
  record: Pick<AuditRecord, 'caller' | 'sessionId' | 'jsonRpcId' | 'requestDigest'>,
): string {
  const who =
    record.caller === undefined
      ? 'anonymous'
      : (record.caller.tokenId ?? `${record.caller.subject}@${record.caller.issuedAt ?? ''}`);
  return sha256Base64url(
    [who, record.sessionId ?? '', JSON.stringify(record.jsonRpcId ?? null), record.requestDigest].join(
      '\u0000',
    ),
  ).slice(0, 22);
}

/** Digest of a JSON-RPC message's method and params (not its id, which the request key carries separately). */
export function requestDigest(method: string, params: unknown): string {
  return sha256Base64url(`${method}\u0000${JSON.stringify(params ?? null)}`);
}

function compact<T extends Record<string, unknown>>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const key in value) if (value[key] !== undefined) out[key] = value[key];
  return out as T;
}

/** The default value patterns and the operator's, without repeats, per operator list (built once). */
const patternLists = new WeakMap<readonly RegExp[], { readonly given: RegExp[]; readonly all: RegExp[] }>();
const NO_PATTERNS: readonly RegExp[] = Object.freeze([]);

function eventPatterns(operator: readonly RegExp[] = NO_PATTERNS): readonly RegExp[] {
  const known = patternLists.get(operator);
  if (
    known !== undefined &&
    known.given.length === operator.length &&
    known.given.every((p, i) => p === operator[i])
  )
    return known.all;
  const all = [...new Set([...DEFAULT_VALUE_PATTERNS, ...operator])];
  patternLists.set(operator, { given: [...operator], all });
  return all;
}

/** Client text as an event holds it. Scrub first, then cut: a credential is removed whole, never left half
 * inside the bound. */
function clientText(text: string, max: number, patterns: readonly RegExp[]): string {
  return truncateString(redactString(text, patterns), max);
}

/** Keys of `additionalEventData` the builder owns: `extra` cannot replace them. */
const OWN_ADDITIONAL_KEYS = new Set(['phase', 'requestKey', 'mode', 'door']);

/**
 * Builds the event for one decision or outcome. Every piece of client text (JSON-RPC id, method, tool, target,
 * session id, user agent, reason, source address) is scrubbed of credentials and bounded here, so no caller can
 * forget to. Each event gets a fresh UID: two executions of the same call are two events, and the forwarder's
 * de-duplication by UID only removes copies of one event.
 *
 * Field order is deliberate: CloudWatch Logs Insights reads only the first 200 JSON fields of a log event, so
 * the fields `activity` filters and shows come first and the arguments are one string at the end.
 */
export function buildAuditEvent(
  record: AuditRecord,
  settings: AuditSettings,
  deps: AuditEventDeps = {},
): AuditEventData {
  const patterns = eventPatterns(settings.valuePatterns);
  const client = (text: string, max: number) => clientText(text, max, patterns);
  const optional = (text: string | undefined, max: number) =>
    text === undefined ? undefined : clientText(text, max, patterns);
  const caller = record.caller;
  const toolName = optional(record.toolName, LIMITS.eventName);
  const method = client(record.method, LIMITS.clientText);
  const jsonRpcId =
    record.jsonRpcId === undefined || record.jsonRpcId === null
      ? undefined
      : client(String(record.jsonRpcId), LIMITS.clientText);
  const extra = Object.fromEntries(
    Object.entries(record.extra ?? {}).filter(([key]) => !OWN_ADDITIONAL_KEYS.has(key)),
  );
  return compact({
    version: AUDIT_EVENT_VERSION,
    UID: (deps.newUid ?? randomUUID)(),
    eventTime: eventTime(record.time),
    eventSource: settings.eventSource,
    eventName: toolName ?? truncateString(method, LIMITS.eventName),
    recipientAccountId: settings.recipientAccountId,
    userIdentity: compact({
      type: caller === undefined ? 'Anonymous' : 'McpUser',
      principalId: truncateString(caller?.subject ?? 'anonymous', LIMITS.principalId),
      details:
        caller === undefined
          ? undefined
          : fitMap(
              toAuditMap({
                agent: caller.agent,
                roles: [...caller.roles],
                email: caller.email,
                username: caller.username,
                issuer: caller.issuer,
                tokenId: caller.tokenId,
                actors: caller.actors.length > 0 ? [...caller.actors] : undefined,
                // The token facts a policy can read as `context.token` (seconds since the epoch): recorded so
                // that `policies replay` rebuilds the very Cedar request that was decided.
                tokenIssuedAt: caller.issuedAt,
                tokenExpiresAt: caller.expiresAt,
                // Which just-in-time grant supplied which of the roles above (`policies replay` reads the roles).
                grants:
                  caller.grants === undefined ? undefined : caller.grants.map((grant) => ({ ...grant })),
                grantLookup: caller.grantLookup,
              }),
              LIMITS.details,
            ),
    }),
    errorCode: record.errorCode,
    errorMessage:
      record.reason === undefined || record.decision === 'allow'
        ? undefined
        : client(record.reason, LIMITS.errorMessage),
    responseElements: fitMap(
      toAuditMap({
        decision: record.decision,
        enforced: record.enforced,
        determiningPolicies: record.policies === undefined ? undefined : [...record.policies],
        reason: record.reason === undefined ? undefined : redactString(record.reason, patterns),
        injectedParameters: record.injected === undefined ? undefined : [...record.injected],
      }),
      LIMITS.responseElements,
    ),
    additionalEventData: fitMap(
      toAuditMap({
        phase: record.phase,
        requestKey: requestKey(record),
        mode: settings.mode,
        // Stryker disable next-line ConditionalExpression: toAuditMap leaves undefined values out, so { door: undefined } is no door
        ...(record.door === undefined ? {} : { door: record.door }),
        ...(record.forwardedFor === undefined || record.forwardedFor.length === 0
          ? {}
          : { forwardedFor: record.forwardedFor }),
        ...extra,
      }),
      LIMITS.additionalEventData,
    ),
    requestParameters: fitMap(
      toAuditMap({
        method,
        tool: toolName,
        target: optional(record.target, LIMITS.clientText),
        jsonRpcId,
        mcpSessionId: optional(record.sessionId, LIMITS.clientText),
        arguments: record.arguments,
      }),
      LIMITS.requestParameters,
    ),
    userAgent: optional(record.userAgent, LIMITS.userAgent),
    // CloudTrail Lake accepts only an IP address here, and an event it rejects would park for good.
    sourceIPAddress:
      record.sourceIp !== undefined && isIP(record.sourceIp) !== 0 ? record.sourceIp : undefined,
  });
}

/** Where audit events go. The Lambda sink writes one structured log line; local writes JSONL. */
export interface AuditSink {
  write(event: AuditEventData): Promise<void>;
}
