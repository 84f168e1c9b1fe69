import type { Revocation, RoleGrant } from './access';
import {
  AUDIT_EVENT_VERSION,
  type AuditEventData,
  type AuditSettings,
  eventTime,
  fitMap,
  LIMITS,
  toAuditMap,
  truncateString,
} from './audit-event';
import { DEFAULT_VALUE_PATTERNS, redactString } from './redaction';

/**
 * Audit events for changes to access over time: a grant issued or revoked, a revocation issued or lifted. They go
 * to the same trail as decisions (the local JSONL store; in AWS, the audit log group, written by the function
 * that reads the grants table's stream) and `activity` lists them like any other event: `eventName` is the
 * change, the user is who made it (the issuer's AWS principal or local name), and the subject is in
 * `requestParameters`.
 */

export type AccessChangeName =
  | 'GrantRole'
  | 'RevokeGrant'
  | 'RevokeAccess'
  | 'LiftRevocation'
  /** Any other write to an entry (a revocation's expiry moved, a grant's role rewritten, a type changed). */
  | 'ChangeAccessEntry'
  /** An entry deleted by anyone but DynamoDB's TTL process (a kill switch removed outright). */
  | 'DeleteAccessEntry'
  /** An entry deleted by DynamoDB's TTL process (stream `userIdentity` Service / dynamodb.amazonaws.com). */
  | 'ExpireAccessEntry';

/** One field that a write changed, as the record held it before and after (absent: not there). */
export interface FieldChange {
  readonly before?: string;
  readonly after?: string;
}

/** What a write changed, field by field: every attribute of the entry whose value differs. */
export type FieldChanges = Readonly<Record<string, FieldChange>>;

export type AccessChange =
  | {
      readonly kind: 'grant';
      readonly name: 'GrantRole' | 'RevokeGrant';
      readonly grant: RoleGrant;
      readonly changes?: FieldChanges;
    }
  | {
      readonly kind: 'revocation';
      readonly name: 'RevokeAccess' | 'LiftRevocation';
      readonly revocation: Revocation;
      readonly changes?: FieldChanges;
    }
  | {
      readonly kind: 'entry';
      readonly name: 'ChangeAccessEntry' | 'DeleteAccessEntry' | 'ExpireAccessEntry';
      /** The entry's key (`pk`/`sk`), or its id. */
      readonly key: string;
      /** What the writer put in the entry as its author (`revokedBy`, `liftedBy`, `issuedBy`): claimed, not verified. */
      readonly claimedBy?: string;
      /** When the write happened (the stream record's approximate creation time), seconds. */
      readonly at: number;
      /** Makes the event UID of this write (the stream sequence number): a retried batch repeats it. */
      readonly writeId: string;
      readonly changes: FieldChanges;
    };

/** One write to the store as its change stream reports it, with both images read. */
export interface StoredWrite {
  readonly operation: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** The entries decoded (undefined when absent or not a whole grant or revocation). */
  readonly before?: RoleGrant | Revocation;
  readonly after?: RoleGrant | Revocation;
  /** Every attribute of each image as text, to name what changed whatever the entry holds. */
  readonly beforeFields?: Readonly<Record<string, string>>;
  readonly afterFields?: Readonly<Record<string, string>>;
  /** A REMOVE made by DynamoDB's TTL process (the only writer identity a stream record carries). */
  readonly byTtl: boolean;
  readonly at: number;
  readonly writeId: string;
}

/** The attributes whose values differ between two images (both sides named; absent on one side = undefined). */
export function fieldChanges(
  before: Readonly<Record<string, string>> | undefined,
  after: Readonly<Record<string, string>> | undefined,
): FieldChanges {
  const out: Record<string, FieldChange> = {};
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].sort();
  for (const key of keys) {
    const was = before?.[key];
    const is = after?.[key];
    if (was === is) continue;
    out[key] = { ...(was === undefined ? {} : { before: was }), ...(is === undefined ? {} : { after: is }) };
  }
  return out;
}

const GRANT_REVOKE_FIELDS = new Set(['revokedAt', 'revokedBy', 'revokeReason', 'deleteAfter']);
const REVOCATION_LIFT_FIELDS = new Set(['liftedAt', 'liftedBy', 'liftReason', 'deleteAfter']);

const only = (changes: FieldChanges, allowed: ReadonlySet<string>) =>
  Object.keys(changes).every((key) => allowed.has(key));

/**
 * The audit event for every write to the store (INSERT, MODIFY, REMOVE), none skipped: a write is named for
 * what the CLI does (`GrantRole`, `RevokeGrant`, `RevokeAccess`, `LiftRevocation`) only when it is exactly
 * that — a new entry, or a revoke/lift that touched nothing but its own fields; any other write is
 * `ChangeAccessEntry`, a delete `DeleteAccessEntry`, a TTL delete `ExpireAccessEntry`. Each carries the fields
 * it changed, before and after, so a kill switch expired in place or a grant widened is in the trail.
 */
export function accessChange(write: StoredWrite): AccessChange {
  const changes = fieldChanges(write.beforeFields, write.afterFields);
  const { before, after } = write;
  if (write.operation === 'INSERT' && write.beforeFields === undefined && after !== undefined) {
    if ('role' in after) return { kind: 'grant', name: 'GrantRole', grant: after, changes };
    return { kind: 'revocation', name: 'RevokeAccess', revocation: after, changes };
  }
  if (write.operation === 'MODIFY' && before !== undefined && after !== undefined) {
    if (
      'role' in before &&
      'role' in after &&
      before.revokedAt === undefined &&
      after.revokedAt !== undefined &&
      only(changes, GRANT_REVOKE_FIELDS)
    )
      return { kind: 'grant', name: 'RevokeGrant', grant: after, changes };
    if (
      'subject' in before &&
      'subject' in after &&
      before.liftedAt === undefined &&
      after.liftedAt !== undefined &&
      only(changes, REVOCATION_LIFT_FIELDS)
    )
      return { kind: 'revocation', name: 'LiftRevocation', revocation: after, changes };
  }
  const fields = write.afterFields ?? write.beforeFields ?? {};
  const entry = after ?? before;
  // Only an author field this write set names its writer (a stale `issuedBy` would name the wrong person).
  const claimedBy = ['liftedBy', 'revokedBy', 'issuedBy']
    .map((field) => changes[field]?.after)
    .find((value) => value !== undefined);
  return {
    kind: 'entry',
    name:
      write.operation !== 'REMOVE'
        ? 'ChangeAccessEntry'
        : write.byTtl
          ? 'ExpireAccessEntry'
          : 'DeleteAccessEntry',
    key: entry?.id ?? fields.id ?? ([fields.pk, fields.sk].filter(Boolean).join(' ') || 'unknown'),
    ...(claimedBy === undefined ? {} : { claimedBy }),
    at: write.at,
    writeId: write.writeId,
    changes,
  };
}

const iso = (seconds: number | undefined) =>
  seconds === undefined ? undefined : new Date(seconds * 1000).toISOString();

/** Where the authoritative identity of whoever wrote to the grants table is: named in every change event. */
export const WRITER_IDENTITY_NOTE =
  'claimedBy is what the writer put in the entry, not verified; the authoritative writer is in CloudTrail data events for the grants table';

/**
 * The audit event for one change. The event UID is derived from the change, so a retried stream batch repeats
 * it. `userIdentity.principalId` is the author the entry claims (`issuedBy`, `revokedBy`, `liftedBy` — written by
 * the writer, so forgeable by anyone who can write the table), and `userIdentity.details.claimedBy` says so;
 * who really wrote is in CloudTrail data events for the table.
 */
export function buildAccessChangeEvent(
  change: AccessChange,
  settings: Pick<AuditSettings, 'eventSource' | 'recipientAccountId' | 'valuePatterns'>,
): AuditEventData {
  const patterns = [...new Set([...DEFAULT_VALUE_PATTERNS, ...(settings.valuePatterns ?? [])])];
  const clean = (text: string | undefined) => (text === undefined ? undefined : redactString(text, patterns));
  let actor: string | undefined;
  let at: number;
  let reason: string | undefined;
  let parameters: Record<string, unknown>;
  let id: string;
  let uid: string;
  if (change.kind === 'grant') {
    const { grant } = change;
    const revoked = change.name === 'RevokeGrant';
    actor = revoked ? grant.revokedBy : grant.issuedBy;
    at = (revoked ? grant.revokedAt : grant.issuedAt) ?? grant.issuedAt;
    reason = revoked ? grant.revokeReason : grant.reason;
    parameters = {
      method: revoked ? 'access/grant-revoke' : 'access/grant',
      grantId: grant.id,
      user: grant.user,
      role: grant.role,
      expiresAt: iso(grant.expiresAt),
      ...(revoked ? { grantReason: clean(grant.reason) } : {}),
    };
    id = grant.id;
    uid = `${change.name}-${id}`;
  } else if (change.kind === 'revocation') {
    const { revocation } = change;
    const lifted = change.name === 'LiftRevocation';
    actor = lifted ? revocation.liftedBy : revocation.issuedBy;
    at = (lifted ? revocation.liftedAt : revocation.issuedAt) ?? revocation.issuedAt;
    reason = lifted ? revocation.liftReason : revocation.reason;
    parameters = {
      method: lifted ? 'access/revoke-lift' : 'access/revoke',
      revocationId: revocation.id,
      [revocation.subject.kind]: revocation.subject.id,
      expiresAt: iso(revocation.expiresAt) ?? 'until lifted',
      ...(lifted ? { revocationReason: clean(revocation.reason) } : {}),
    };
    id = revocation.id;
    uid = `${change.name}-${id}`;
  } else {
    actor = change.name === 'ExpireAccessEntry' ? 'dynamodb.amazonaws.com' : change.claimedBy;
    at = change.at;
    reason = undefined;
    parameters = {
      method:
        change.name === 'ChangeAccessEntry'
          ? 'access/entry-change'
          : change.name === 'DeleteAccessEntry'
            ? 'access/entry-delete'
            : 'access/entry-expire',
      entry: change.key,
    };
    id = change.key;
    uid = `${change.name}-${id}-${change.writeId}`;
  }
  const changes =
    change.changes === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(change.changes).map(([field, value]) => [
            field,
            { before: clean(value.before), after: clean(value.after) },
          ]),
        );
  const verified = change.kind === 'entry' && change.name === 'ExpireAccessEntry';
  return {
    version: AUDIT_EVENT_VERSION,
    UID: uid,
    eventTime: eventTime(new Date(at * 1000)),
    eventSource: settings.eventSource,
    eventName: change.name,
    recipientAccountId: settings.recipientAccountId,
    userIdentity: {
      type: verified ? 'AWSService' : 'AccessAdministrator',
      principalId: truncateString(
        actor === undefined || actor === '' ? 'unknown' : actor,
        LIMITS.principalId,
      ),
      details: fitMap(
        toAuditMap(
          verified
            ? { ttl: true }
            : {
                claimedBy: actor === undefined || actor === '' ? 'unknown' : actor,
                note: WRITER_IDENTITY_NOTE,
              },
        ),
        LIMITS.details,
      ),
    },
    responseElements: fitMap(
      toAuditMap({ decision: 'allow', enforced: true, reason: clean(reason) }),
      LIMITS.responseElements,
    ),
    additionalEventData: fitMap(
      toAuditMap({ phase: 'request', requestKey: id, accessChange: change.name }),
      LIMITS.additionalEventData,
    ),
    requestParameters: fitMap(toAuditMap({ ...parameters, changes }), LIMITS.requestParameters),
  };
}
