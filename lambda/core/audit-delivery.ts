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
  /** The last request carrying it got no answer: the service may hold it already (a redrive may copy it). */
  readonly outcomeUnknown?: boolean;
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

/**
 * What the delivered-UID store says about one id when a sender asks to claim it:
 * - `claimed`: nobody delivered it and nobody else holds a live claim; this sender may send it now;
 * - `delivered`: the service accepted it before (a re-run, a duplicate delivery, a redrive): skip it;
 * - `busy`: another sender holds a live claim (a concurrent duplicate delivery, or a process that died
 *   holding it, until its lease ends): do not send it now;
 * - `unavailable`: the store did not answer. The event is sent anyway: a store failure must never lose or
 *   hold back an event, so it fails towards at-least-once (a possible copy), never towards dropping.
 */
export type ClaimState = 'claimed' | 'delivered' | 'busy' | 'unavailable';

/**
 * Port: the delivered-UID store (DynamoDB in AWS). Checked before sending, marked after the service accepted
 * an event. Implementations never throw: a failure is `unavailable` (claim) or an id in the returned list
 * (mark).
 */
export interface DeliveryLedger {
  /** Claims ids for sending until `leaseUntilMs` (epoch ms), unless delivered or claimed by a live sender. */
  claim(ids: readonly string[], leaseUntilMs: number): Promise<ReadonlyMap<string, ClaimState>>;
  /** Records ids the service accepted. Returns the ids it could not record. */
  markDelivered(ids: readonly string[]): Promise<readonly string[]>;
  /** Gives back claims on ids this sender parks instead of sending, so a redrive can take them at once. */
  release(ids: readonly string[]): Promise<void>;
}

/**
 * An in-memory ledger: what one process knows. The redrive uses it when no table is given, so events carried
 * by two queue messages are still sent once per run.
 */
export class MemoryDeliveryLedger implements DeliveryLedger {
  private readonly delivered = new Set<string>();
  private readonly claims = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}

  async claim(ids: readonly string[], leaseUntilMs: number): Promise<ReadonlyMap<string, ClaimState>> {
    const states = new Map<string, ClaimState>();
    for (const id of ids) {
      const lease = this.claims.get(id);
      if (this.delivered.has(id)) states.set(id, 'delivered');
      else if (lease !== undefined && lease > this.now()) states.set(id, 'busy');
      else {
        this.claims.set(id, leaseUntilMs);
        states.set(id, 'claimed');
      }
    }
    return states;
  }

  async markDelivered(ids: readonly string[]): Promise<readonly string[]> {
    for (const id of ids) {
      this.delivered.add(id);
      this.claims.delete(id);
    }
    return [];
  }

  async release(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.claims.delete(id);
  }
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
  /** The delivered-UID store. @default - none: every event is sent (at least once) */
  readonly ledger?: DeliveryLedger;
  /**
   * Epoch ms until which this sender's claims hold: past it, another sender may take an id this one has not
   * marked delivered (it is presumed dead). Must outlast the sender: the forwarder uses its invocation's end.
   * @default deadlineMs, else now + 5 minutes
   */
  readonly leaseUntilMs?: number;
  /**
   * How long to wait, in all, for ids another sender holds before parking them (`InFlightElsewhere`; a
   * redrive later finds them delivered, or sends them once that sender's lease has ended). @default 10000
   */
  readonly busyWaitMs?: number;
  /** Told the ids that are now known delivered: ingested by this call, or already delivered before. */
  readonly onSettled?: (ids: readonly string[]) => void;
}

export interface DeliveryReport {
  readonly ingested: number;
  readonly parked: number;
  readonly duplicates: number;
  readonly retries: number;
  /** Events skipped because the ledger knew them delivered (re-runs, duplicate deliveries, redrives). */
  readonly alreadyDelivered: number;
  /**
   * Events sent again after a request whose outcome is unknown (dropped connection, timeout, 5xx, no result
   * for the event): if the service had committed the first one, this makes a copy. The one at-least-once case
   * left; counted so it can be watched (metric filter on this field).
   */
  readonly unknownOutcomeResends: number;
  /** Events sent without a claim because the ledger did not answer (at-least-once, never dropped). */
  readonly ledgerUnavailable: number;
  /** Ingested events the ledger could not record: a later replay of them may send a copy. */
  readonly unmarked: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const DEFAULT_LEASE_MS = 5 * 60_000;

/**
 * Delivers events: every event ends up ingested, known delivered, or parked in the DLQ with its reason. With a
 * ledger, each id is claimed before it is sent and marked once the service accepted it, so re-runs, duplicate
 * deliveries and redrives skip what is already delivered. Throws only if the DLQ itself fails, so the
 * invocation fails and the platform retries (the ledger then skips what this attempt delivered).
 */
export async function deliverAuditEvents(
  events: readonly PutAuditEvent[],
  client: AuditEventsClient,
  deadLetters: DeadLetterSink,
  options: DeliveryOptions,
): Promise<DeliveryReport> {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const ledger = options.ledger;
  const leaseUntilMs = options.leaseUntilMs ?? options.deadlineMs ?? now() + DEFAULT_LEASE_MS;
  const settled = options.onSettled ?? (() => undefined);
  const { batches, oversized, duplicates } = batchAuditEvents(events);
  const parked: ParkedEvent[] = oversized.map((event) => ({
    event,
    errorCode: 'EventTooLarge',
    reason: `event exceeds the ${MAX_BYTES_PER_CALL}-byte request limit on its own`,
    attempts: 0,
  }));
  /** Ids this call holds a claim on and has not marked delivered: given back if parked. */
  const held = new Set<string>();
  let ingested = 0;
  let retries = 0;
  let alreadyDelivered = 0;
  let unknownOutcomeResends = 0;
  let ledgerUnavailable = 0;
  let unmarked = 0;

  const outOfTime = () => options.deadlineMs !== undefined && now() >= options.deadlineMs;

  /** Claims a batch: returns what to send now and what another sender holds. */
  const claim = async (batch: readonly PutAuditEvent[]) => {
    if (ledger === undefined) return { send: [...batch], busy: [] as PutAuditEvent[] };
    const states = await ledger.claim(
      batch.map((event) => event.id),
      leaseUntilMs,
    );
    const send: PutAuditEvent[] = [];
    const busy: PutAuditEvent[] = [];
    const known: string[] = [];
    for (const event of batch) {
      switch (states.get(event.id) ?? 'unavailable') {
        case 'claimed':
          held.add(event.id);
          send.push(event);
          break;
        case 'delivered':
          alreadyDelivered += 1;
          known.push(event.id);
          break;
        case 'busy':
          busy.push(event);
          break;
        case 'unavailable':
          ledgerUnavailable += 1;
          send.push(event);
          break;
      }
    }
    if (known.length > 0) settled(known);
    return { send, busy };
  };

  const accepted = async (ids: string[]) => {
    ingested += ids.length;
    if (ledger !== undefined) {
      // Marked before anything else happens: a process killed between the commit and this line is the
      // "answer lost" case (the id may be sent again once its lease ends).
      unmarked += (await ledger.markDelivered(ids)).length;
      for (const id of ids) held.delete(id);
    }
    settled(ids);
  };

  const send = async (batch: readonly PutAuditEvent[]) => {
    let pending = batch;
    /** Ids whose last request may have been committed although no answer said so. */
    const unknown = new Set<string>();
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (outOfTime()) {
        parked.push(
          ...pending.map((event) => ({
            event,
            errorCode: 'OutOfTime',
            reason: 'the forwarder ran out of time before this event was ingested',
            attempts: attempt - 1,
            ...(unknown.has(event.id) ? { outcomeUnknown: true } : {}),
          })),
        );
        break;
      }
      unknownOutcomeResends += pending.filter((event) => unknown.has(event.id)).length;
      let retry: PutAuditEvent[] = [];
      let lastCode = '';
      let lastReason = '';
      try {
        const result = await client.put(pending);
        const byId = new Map(pending.map((event) => [event.id, event]));
        const accounted = new Set<string>();
        const successful: string[] = [];
        for (const success of result.successful) {
          if (byId.has(success.id) && !accounted.has(success.id)) {
            accounted.add(success.id);
            successful.push(success.id);
            unknown.delete(success.id);
          }
        }
        if (successful.length > 0) await accepted(successful);
        for (const failure of result.failed) {
          const event = byId.get(failure.id);
          if (event === undefined || accounted.has(failure.id)) continue;
          accounted.add(failure.id);
          // A per-event failure is an answer: this request did not commit the event.
          unknown.delete(failure.id);
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
            unknown.add(event.id);
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
              ...(unknown.has(event.id) ? { outcomeUnknown: true } : {}),
            })),
          );
          retry = [];
        } else {
          // No answer, a timeout or a 5xx: the service may or may not have committed the request.
          for (const event of pending) unknown.add(event.id);
          retry = [...pending];
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
            ...(unknown.has(event.id) ? { outcomeUnknown: true } : {}),
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
  };

  let busy: PutAuditEvent[] = [];
  for (const batch of batches) {
    if (outOfTime()) {
      // Not claimed, not sent: parked as they are.
      parked.push(
        ...batch.map((event) => ({
          event,
          errorCode: 'OutOfTime',
          reason: 'the forwarder ran out of time before this event was ingested',
          attempts: 0,
        })),
      );
      continue;
    }
    const claimed = await claim(batch);
    busy.push(...claimed.busy);
    if (claimed.send.length > 0) await send(claimed.send);
  }

  // Ids another sender holds: wait (bounded) for it to finish, then skip them if it delivered them, or take
  // them over once its claim is gone. What is still held at the end is parked, never dropped.
  const busyWaitMs = options.busyWaitMs ?? 10_000;
  const waitUntil = now() + busyWaitMs;
  for (let round = 0; busy.length > 0 && !outOfTime() && now() < waitUntil; round += 1) {
    await sleep(Math.min(Math.max(1, waitUntil - now()), 100 * 2 ** round));
    const retried = busy;
    busy = [];
    const claimed = await claim(retried);
    busy.push(...claimed.busy);
    if (claimed.send.length > 0) {
      const { batches: again } = batchAuditEvents(claimed.send);
      for (const batch of again) await send(batch);
    }
  }
  parked.push(
    ...busy.map((event) => ({
      event,
      errorCode: 'InFlightElsewhere',
      reason: 'another sender held this event and had not delivered it in time',
      attempts: 0,
    })),
  );

  if (parked.length > 0) {
    await deadLetters.park(parked);
    if (ledger !== undefined) {
      const release = parked.map((item) => item.event.id).filter((id) => held.has(id));
      if (release.length > 0) await ledger.release(release);
    }
  }
  return {
    ingested,
    parked: parked.length,
    duplicates,
    retries,
    alreadyDelivered,
    unknownOutcomeResends,
    ledgerUnavailable,
    unmarked,
  };
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
