import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditEventData, AuditSink } from '../lambda/core/audit-event';
import { DEFAULT_VALUE_PATTERNS, REDACTED, redactString } from '../lambda/core/redaction';

/**
 * What the dev request log says about a request's decision: who (the verified caller's subject, as the guard
 * audited it — never read from the token here), the decision and its reason. Read from the guard's own audit
 * events for that request, so the log and the audit trail cannot disagree.
 *
 * Each door runs a request inside {@link withRequestLog}; the stack's audit sink is wrapped in
 * {@link recordingAuditSink}, which keeps the events written while the request runs (AsyncLocalStorage follows
 * the request through the door, the guard and the sink, so concurrent requests do not mix).
 */
const requestEvents = new AsyncLocalStorage<AuditEventData[]>();

/** Bounds: a subject or a reason longer than this is cut (scrubbed first, like the rest of the line). */
const LOG_SUBJECT_CHARS = 64;
const LOG_REASON_CHARS = 160;

/** Runs one request of a door with its own record of audit events. */
export function withRequestLog<T>(handle: () => T): T {
  return requestEvents.run([], handle);
}

/** The audit sink, also noting each event for the request it belongs to (outside a request: only written). */
export function recordingAuditSink(inner: AuditSink): AuditSink {
  return {
    write: (event) => {
      requestEvents.getStore()?.push(event);
      return inner.write(event);
    },
  };
}

/**
 * ` · alice deny: Denied by policy …` (or ` · alice allow (outcome: ToolError)`) for the current request: the request step's event when there is one (the
 * decision), else the first event. Empty when the guard audited nothing (e.g. a notification without an id).
 */
export function decisionSummary(events: readonly AuditEventData[] = requestEvents.getStore() ?? []): string {
  const event = events.find((candidate) => candidate.additionalEventData?.phase === 'request') ?? events[0];
  if (event === undefined) return '';
  const who =
    event.userIdentity.type === 'Anonymous'
      ? 'anonymous'
      : logSafe(event.userIdentity.principalId, LOG_SUBJECT_CHARS);
  const decision = logSafe(event.responseElements?.decision, 16);
  const reason = event.responseElements?.reason ?? event.errorMessage;
  // A call the guard allowed can still fail at the target: the response step audits that outcome.
  const failed = events.find(
    (candidate) => candidate.additionalEventData?.phase === 'response' && candidate.errorCode !== undefined,
  );
  const outcome = failed === undefined ? '' : ` (outcome: ${logSafe(failed.errorCode, 64)})`;
  return ` · ${who} ${decision}${reason === undefined ? '' : `: ${logSafe(reason, LOG_REASON_CHARS)}`}${outcome}`;
}

/**
 * Client text as the request log may print it: credential-shaped values replaced as in the audit trail (before
 * cutting, so a token is never cut into a shape the patterns miss), control and line-breaking characters
 * replaced (no forged log lines), and the length bounded. Anything but a string prints as `?`.
 */
export function logSafe(value: unknown, maxChars: number): string {
  if (typeof value !== 'string' || value.length === 0) return '?';
  const cleaned = redactString(value, DEFAULT_VALUE_PATTERNS).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '?');
  if (cleaned.length <= maxChars) return cleaned;
  // Never end inside a redaction marker, so a cut line still reads as redacted.
  const cut = cleaned.slice(0, maxChars);
  const marker = cut.lastIndexOf('[');
  const partial = marker !== -1 && REDACTED.startsWith(cut.slice(marker)) && cut.slice(marker) !== REDACTED;
  return `${partial ? cut.slice(0, marker) : cut}…`;
}
