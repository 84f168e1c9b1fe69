import { auditFlag, auditList } from '../../lambda/core/audit-event';
import type { JsonlTail } from './jsonl-tail';

/**
 * The console's view of the local audit trail: the most recent decisions (REQUEST-phase events) in a bounded
 * ring, each joined to its outcome (the RESPONSE-phase event with the same `requestKey`), and a way to be told of
 * new ones. Everything comes from the JSONL store through {@link JsonlTail}: what the console shows is what the
 * audit trail holds — arguments as recorded (already redacted by the guard), never anything more.
 */
export interface ConsoleDecision {
  /** Increases by one per decision seen by this feed. */
  readonly seq: number;
  readonly uid: string;
  readonly time: string;
  readonly user: string;
  readonly agent: string;
  /** The tool, or the method for anything that is not a tool call. */
  readonly tool: string;
  readonly method: string;
  /** The arguments as the audit recorded them (JSON text), cut to {@link MAX_ARGUMENT_CHARS}. */
  readonly arguments: string;
  readonly decision: string;
  /** False when log-only mode let a denied call through. */
  readonly enforced: boolean;
  readonly policies: readonly string[];
  readonly reason: string;
  readonly errorCode: string;
  /** The RESPONSE step's outcome (`success`, `tool-error`…), '' until it is recorded. */
  outcome: string;
  readonly requestKey: string;
}

export interface DecisionFilter {
  readonly user?: string;
  readonly tool?: string;
  readonly decision?: 'allow' | 'deny';
}

export type FeedChange =
  | { readonly kind: 'decision'; readonly decision: ConsoleDecision }
  | { readonly kind: 'outcome'; readonly decision: ConsoleDecision };

/** Arguments longer than this are shown cut (they are kept whole in the audit store): bounds the ring's memory. */
export const MAX_ARGUMENT_CHARS = 4096;
const CUT_MARKER = '…[cut by the console]';
const MAX_TEXT_CHARS = 1024;
/** Determining policies kept per decision: a real decision names a handful; one hostile line could name 200,000. */
export const MAX_POLICIES = 32;

const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
const text = (value: unknown, max = MAX_TEXT_CHARS): string =>
  typeof value === 'string' ? (value.length > max ? `${value.slice(0, max)}${CUT_MARKER}` : value) : '';

/** The items of a list as recorded: a real array, JSON text of one (read here, so its items keep their types), or a comma-separated string. */
function listItems(value: unknown): readonly unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string' && value.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // not JSON: a plain string
    }
  }
  return auditList(value);
}

/** The determining policies' ids: strings only (anything else in a hand-written line is left out), at most {@link MAX_POLICIES}. */
function policyIds(value: unknown): string[] {
  const ids: string[] = [];
  const items = listItems(value);
  for (const item of items) {
    if (ids.length >= MAX_POLICIES) break;
    if (typeof item === 'string' && item !== '') ids.push(text(item));
  }
  return ids;
}

function phaseOf(event: Record<string, unknown>): string {
  return text(record(event.additionalEventData).phase);
}

/** One REQUEST-phase audit event as a console row; undefined for anything else (never throws). */
export function decisionFromEvent(value: unknown, seq: number): ConsoleDecision | undefined {
  const event = record(value);
  if (phaseOf(event) !== 'request' || typeof event.UID !== 'string') return undefined;
  const identity = record(event.userIdentity);
  const response = record(event.responseElements);
  const parameters = record(event.requestParameters);
  const reason = text(response.reason) || text(event.errorMessage);
  return {
    seq,
    uid: text(event.UID),
    time: text(event.eventTime),
    user: text(identity.principalId),
    agent: text(record(identity.details).agent),
    tool: text(event.eventName),
    method: text(parameters.method),
    arguments: text(parameters.arguments, MAX_ARGUMENT_CHARS),
    decision: text(response.decision),
    enforced: auditFlag(response.enforced) !== false,
    policies: policyIds(response.determiningPolicies),
    reason,
    errorCode: text(event.errorCode),
    outcome: '',
    requestKey: text(record(event.additionalEventData).requestKey),
  };
}

export function matches(decision: ConsoleDecision, filter: DecisionFilter): boolean {
  return (
    (filter.user === undefined || decision.user === filter.user) &&
    (filter.tool === undefined || decision.tool === filter.tool) &&
    (filter.decision === undefined || decision.decision === filter.decision)
  );
}

export interface DecisionFeedOptions {
  /** Decisions kept for the page's history. @default 1000 */
  readonly capacity?: number;
}

export class DecisionFeed {
  private readonly ring: ConsoleDecision[] = [];
  private readonly byRequest = new Map<string, ConsoleDecision>();
  private readonly listeners = new Set<(change: FeedChange) => void>();
  private readonly capacity: number;
  private seq = 0;
  private unreadableLines = 0;

  constructor(
    private readonly tail: JsonlTail,
    options: DecisionFeedOptions = {},
  ) {
    this.capacity = options.capacity ?? 1000;
  }

  /** Reads what the store gained since the last refresh and tells the listeners. Never throws. */
  refresh(): void {
    let values: unknown[];
    try {
      const read = this.tail.read();
      values = read.values;
      this.unreadableLines += read.unreadable;
    } catch {
      return; // an unreadable store this time (permissions, a race with a rename): try again next poll
    }
    for (const value of values) {
      try {
        this.take(value);
      } catch {
        // Whatever a line holds, it is one line: counted, and the rest of the chunk is still read.
        this.unreadableLines += 1;
      }
    }
  }

  /** The decisions in the ring that match, oldest first. */
  recent(filter: DecisionFilter = {}): ConsoleDecision[] {
    return this.ring.filter((decision) => matches(decision, filter));
  }

  /** Lines of the store that could not be read, since the console started. */
  get unreadable(): number {
    return this.unreadableLines;
  }

  subscribe(listener: (change: FeedChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private take(value: unknown): void {
    const event = record(value);
    if (phaseOf(event) === 'response') {
      const key = text(record(event.additionalEventData).requestKey);
      const decision = key === '' ? undefined : this.byRequest.get(key);
      if (decision === undefined) return;
      decision.outcome =
        text(record(event.additionalEventData).outcome) || text(event.errorCode) || 'recorded';
      this.emit({ kind: 'outcome', decision });
      return;
    }
    const decision = decisionFromEvent(event, this.seq + 1);
    if (decision === undefined) return;
    this.seq += 1;
    this.ring.push(decision);
    if (decision.requestKey !== '') this.byRequest.set(decision.requestKey, decision);
    while (this.ring.length > this.capacity) {
      const dropped = this.ring.shift() as ConsoleDecision;
      if (this.byRequest.get(dropped.requestKey) === dropped) this.byRequest.delete(dropped.requestKey);
    }
    this.emit({ kind: 'decision', decision });
  }

  private emit(change: FeedChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // a listener's failure (a closed client) is its own; the others still hear
      }
    }
  }
}
