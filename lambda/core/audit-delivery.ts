import { createHash } from 'node:crypto';
import type { AuditEventData } from './audit-event';

/**
 * Delivery of audit events to CloudTrail Lake `PutAuditEvents` (CONTRACTS §5): batches of at most 100 events
 * and 1 MB, stable ids, checksums, per-event retries for transient failures, and a dead-letter queue for what
 * still fails — with the reason — so that no event is ever dropped.
 */

export interface PutAuditEvent {
  readonly id: string;
  /** The event as a JSON *string* (the API takes eventData as a string). */
  readonly eventData: string;
  /** base64(SHA-256(eventData)). */
  readonly eventDataChecksum: string;
}

export interface PutAuditEventsResult {
  readonly successful: readonly { readonly id: string; readonly eventID: string }[];
  readonly failed: readonly {
    readonly id: string;
    readonly errorCode: string;
    readonly errorMessage: string;
  }[];
}

/** A request-level failure (no per-event result). `retriable` for 5xx, throttling, timeouts, dropped connections. */
export class AuditRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AuditRequestError';
  }
}

/** Port: one `PutAuditEvents` call. Throws {@link AuditRequestError} when the call as a whole failed. */
export interface AuditEventsClient {
  put(events: readonly PutAuditEvent[]): Promise<PutAuditEventsResult>;
}

export interface ParkedEvent {
  readonly event: PutAuditEvent;
  readonly errorCode: string;
  readonly reason: string;
  readonly attempts: number;
}

/** Port: the dead-letter queue. Throws if it cannot take the events (the caller must then fail loudly). */
export interface DeadLetterSink {
  park(events: readonly ParkedEvent[]): Promise<void>;
}

export const MAX_EVENTS_PER_CALL = 100;
/** 1 MB per call, measured on the request body. */
/** "1 MB" per call (the model does not say which megabyte: the decimal one is the safe reading). */
export const MAX_BYTES_PER_CALL = 1_000_000;
const ID_PATTERN = /^[-_A-Za-z0-9]{1,128}$/;
/** Per-event codes worth retrying; everything else is a property of the event and goes to the DLQ. */
export const RETRIABLE_EVENT_CODES: ReadonlySet<string> = new Set(['Throttling', 'InternalFailure']);

export function toPutAuditEvent(event: AuditEventData): PutAuditEvent {
  const eventData = JSON.stringify(event);
  const id = ID_PATTERN.test(event.UID) ? event.UID : createHash('sha256').update(eventData).digest('hex');
  return {
    id,
    eventData,
    eventDataChecksum: createHash('sha256').update(eventData, 'utf8').digest('base64'),
  };
}

function bodySize(events: readonly PutAuditEvent[]): number {
  return Buffer.byteLength(JSON.stringify({ auditEvents: events }), 'utf8');
}

/**
 * Splits events into calls within the count and size limits, dropping duplicate ids (a retried decision
 * has the same id; the API refuses duplicates within a call). An event too large to send alone is returned in
 * `oversized` for the DLQ rather than blocking the rest.
 */
export function batchAuditEvents(events: readonly PutAuditEvent[]): {
  readonly batches: PutAuditEvent[][];
  readonly oversized: PutAuditEvent[];
  readonly duplicates: number;
} {
  const seen = new Set<string>();
  const batches: PutAuditEvent[][] = [];
  const oversized: PutAuditEvent[] = [];
  let duplicates = 0;
  let current: PutAuditEvent[] = [];
  let currentBytes = bodySize([]);
  for (const event of events) {
    if (seen.has(event.id)) {
      duplicates += 1;
      continue;
    }
    seen.add(event.id);
    const size = bodySize([event]) - bodySize([]) + 1; // +1 for the separating comma
    if (bodySize([event]) > MAX_BYTES_PER_CALL) {
      oversized.push(event);
      continue;
    }
    if (current.length >= MAX_EVENTS_PER_CALL || currentBytes + size > MAX_BYTES_PER_CALL) {
      batches.push(current);
      current = [];
      currentBytes = bodySize([]);
    }
    current.push(event);
    currentBytes += size;
  }
  if (current.length > 0) batches.push(current);
  return { batches, oversized, duplicates };
}

export interface DeliveryOptions {
  /** Attempts per event, first one included. @default 4 */
  readonly maxAttempts: number;
  /** Base delay for exponential backoff with full jitter. @default 200 */
  readonly baseDelayMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /**
   * Epoch ms by which delivery must stop (the Lambda's remaining time, less a margin). Past it, what is not yet
   * ingested is parked instead of retried, so a timeout never loses events or replays ingested ones.
   */
  readonly deadlineMs?: number;
  readonly now?: () => number;
}

export interface DeliveryReport {
  readonly ingested: number;
  readonly parked: number;
  readonly duplicates: number;
  readonly retries: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Delivers events: every event ends up ingested once or parked in the DLQ with its reason. Throws only if the
 * DLQ itself fails, so the invocation fails and the platform retries (or parks the whole payload).
 */
export async function deliverAuditEvents(
  events: readonly PutAuditEvent[],
  client: AuditEventsClient,
  deadLetters: DeadLetterSink,
  options: DeliveryOptions,
): Promise<DeliveryReport> {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const { batches, oversized, duplicates } = batchAuditEvents(events);
  const parked: ParkedEvent[] = oversized.map((event) => ({
    event,
    errorCode: 'EventTooLarge',
    reason: `event exceeds the ${MAX_BYTES_PER_CALL}-byte request limit on its own`,
    attempts: 0,
  }));
  let ingested = 0;
  let retries = 0;

  const now = options.now ?? Date.now;
  const outOfTime = () => options.deadlineMs !== undefined && now() >= options.deadlineMs;
  for (const batch of batches) {
    let pending = batch;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (outOfTime()) {
        parked.push(
          ...pending.map((event) => ({
            event,
            errorCode: 'OutOfTime',
            reason: 'the forwarder ran out of time before this event was ingested',
            attempts: attempt - 1,
          })),
        );
        break;
      }
      let retry: PutAuditEvent[] = [];
      let lastCode = '';
      let lastReason = '';
      try {
        const result = await client.put(pending);
        const byId = new Map(pending.map((event) => [event.id, event]));
        const accounted = new Set<string>();
        for (const success of result.successful) {
          if (byId.has(success.id) && !accounted.has(success.id)) {
            accounted.add(success.id);
            ingested += 1;
          }
        }
        for (const failure of result.failed) {
          const event = byId.get(failure.id);
          if (event === undefined || accounted.has(failure.id)) continue;
          accounted.add(failure.id);
          if (RETRIABLE_EVENT_CODES.has(failure.errorCode)) {
            retry.push(event);
            lastCode = failure.errorCode;
            lastReason = failure.errorMessage;
          } else {
            parked.push({
              event,
              errorCode: failure.errorCode,
              reason: failure.errorMessage,
              attempts: attempt,
            });
          }
        }
        // An event the service did not mention is not known to be ingested: treat it as a transient failure.
        for (const event of pending) {
          if (!accounted.has(event.id)) {
            retry.push(event);
            lastCode = 'MissingResult';
            lastReason = 'the response did not mention this event';
          }
        }
      } catch (error) {
        const requestError =
          error instanceof AuditRequestError
            ? error
            : new AuditRequestError(String((error as Error)?.message ?? error), 'RequestFailed', true);
        if (!requestError.retriable) {
          parked.push(
            ...pending.map((event) => ({
              event,
              errorCode: requestError.code,
              reason: requestError.message,
              attempts: attempt,
            })),
          );
          retry = [];
        } else {
          retry = pending;
          lastCode = requestError.code;
          lastReason = requestError.message;
        }
      }
      if (retry.length > 0 && attempt >= options.maxAttempts) {
        parked.push(
          ...retry.map((event) => ({
            event,
            errorCode: lastCode,
            reason: `${lastReason} (after ${attempt} attempts)`,
            attempts: attempt,
          })),
        );
        retry = [];
      }
      if (retry.length > 0) {
        retries += retry.length;
        await sleep(Math.floor(random() * options.baseDelayMs * 2 ** (attempt - 1)));
      }
      pending = retry;
    }
  }

  if (parked.length > 0) await deadLetters.park(parked);
  return { ingested, parked: parked.length, duplicates, retries };
}

/**
 * Audit events in CloudWatch Logs lines written by the interceptor's audit sink: a JSON object with the event
 * under `auditEvent`, possibly after a runtime prefix. Lines that are not audit events are skipped.
 */
export function auditEventsFromLogLines(
  lines: readonly string[],
  key = 'auditEvent',
): { events: AuditEventData[]; skipped: number } {
  const events: AuditEventData[] = [];
  let skipped = 0;
  for (const line of lines) {
    const start = line.indexOf('{');
    if (start < 0) {
      skipped += 1;
      continue;
    }
    try {
      const parsed = JSON.parse(line.slice(start)) as Record<string, unknown>;
      const event = parsed[key] as AuditEventData | undefined;
      if (event !== undefined && typeof event === 'object' && typeof event.UID === 'string')
        events.push(event);
      else skipped += 1;
    } catch {
      skipped += 1;
    }
  }
  return { events, skipped };
}
