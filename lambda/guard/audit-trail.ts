import { type AuditRecord, type AuditSettings, type AuditSink, buildAuditEvent } from '../core/audit-event';
import { AuditWriteError } from '../core/errors';
import { type RedactionConfig, redactString, redactValue } from '../core/redaction';
import type { DiagnosticLog } from '../shared/logger';
import { UNEXPECTED_FAILURE } from './answers';
import type { AuditDraft } from './audit-records';

/** Where the guard's records become audit events: scrubbed, stamped and written, one per step. */
export interface AuditTrail {
  /** Free text that can echo client input, through the operator's value patterns (a pasted token stays out). */
  scrub(text: string): string;
  /** An error as the diagnostic log may hold it: scrubbed and bounded (errors may quote request data). */
  scrubError(error: unknown): string;
  /** Writes one event with this UID; throws {@link AuditWriteError} when the sink fails. */
  write(record: AuditDraft, uid: string): Promise<void>;
  /**
   * RESPONSE-step audit: the call has already run and its decision was recorded at REQUEST, so a failing sink
   * is logged loudly but does not withhold the result (or invite the client to repeat a side effect).
   */
  writeOutcome(record: AuditDraft, uid: string): Promise<void>;
  /**
   * A step's decision record written before its result is acted on. Without proof we do not act: when the
   * record cannot be written the result is replaced by `refuse(reason)`, with the reason safe to show.
   */
  recorded<T>(record: AuditDraft, uid: string, result: T, refuse: (reason: string) => T): Promise<T>;
}

/** The reason a failed step may show: an audit failure's own safe reason, else the generic one. */
export function failureReason(error: unknown): string {
  return error instanceof AuditWriteError ? error.safeReason : UNEXPECTED_FAILURE;
}

export function createAuditTrail(deps: {
  readonly audit: AuditSink;
  readonly log: DiagnosticLog;
  readonly redaction: RedactionConfig;
  readonly settings: AuditSettings;
  readonly now: () => Date;
}): AuditTrail {
  const { audit, log, redaction, now } = deps;
  // The operator's own redaction patterns also cover the client text the builder stores (the id, names, …).
  const settings: AuditSettings = { ...deps.settings, valuePatterns: redaction.valuePatterns };
  const scrub = (text: string): string => redactString(text, redaction.valuePatterns);
  const scrubError = (error: unknown): string =>
    scrub(error instanceof Error ? (error.stack ?? error.message) : String(error)).slice(0, 2000);

  /** The record scrubbed and stamped: one copy, its client text through the operator's patterns. */
  function stamped(record: AuditDraft): AuditRecord {
    const out: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = { ...record, time: now() };
    out.method = scrub(record.method);
    if (record.toolName !== undefined) out.toolName = scrub(record.toolName);
    if (record.reason !== undefined) out.reason = scrub(record.reason);
    if (record.userAgent !== undefined) out.userAgent = scrub(record.userAgent);
    if (record.sessionId !== undefined) out.sessionId = scrub(record.sessionId);
    if (record.extra !== undefined)
      out.extra = redactValue(record.extra, redaction) as Record<string, unknown>;
    return out;
  }

  async function write(record: AuditDraft, uid: string): Promise<void> {
    try {
      await audit.write(buildAuditEvent(stamped(record), settings, { newUid: () => uid }));
    } catch (error) {
      log.error('audit event could not be written', {
        error: scrubError(error),
        method: scrub(record.method),
        phase: record.phase,
      });
      throw new AuditWriteError('audit sink failed', { cause: error });
    }
  }

  async function writeOutcome(record: AuditDraft, uid: string): Promise<void> {
    try {
      await write(record, uid);
    } catch (error) {
      if (!(error instanceof AuditWriteError)) throw error;
    }
  }

  async function recorded<T>(
    record: AuditDraft,
    uid: string,
    result: T,
    refuse: (reason: string) => T,
  ): Promise<T> {
    try {
      await write(record, uid);
      return result;
    } catch (error) {
      return refuse(failureReason(error));
    }
  }

  return { scrub, scrubError, write, writeOutcome, recorded };
}
