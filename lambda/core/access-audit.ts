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

export type AccessChangeName = 'GrantRole' | 'RevokeGrant' | 'RevokeAccess' | 'LiftRevocation';

export type AccessChange =
  | { readonly kind: 'grant'; readonly name: 'GrantRole' | 'RevokeGrant'; readonly grant: RoleGrant }
  | {
      readonly kind: 'revocation';
      readonly name: 'RevokeAccess' | 'LiftRevocation';
      readonly revocation: Revocation;
    };

/** Where an audit event for a change in the store comes from: the record before and after (a stream's images). */
export function accessChange(
  before: RoleGrant | Revocation | undefined,
  after: RoleGrant | Revocation | undefined,
): AccessChange | undefined {
  if (after === undefined) return undefined; // deleted (TTL expiry or clean-up): not an access change
  if ('role' in after) {
    if (before === undefined) return { kind: 'grant', name: 'GrantRole', grant: after };
    if (after.revokedAt !== undefined && (before as RoleGrant).revokedAt === undefined)
      return { kind: 'grant', name: 'RevokeGrant', grant: after };
    return undefined;
  }
  if (before === undefined) return { kind: 'revocation', name: 'RevokeAccess', revocation: after };
  if (after.liftedAt !== undefined && (before as Revocation).liftedAt === undefined)
    return { kind: 'revocation', name: 'LiftRevocation', revocation: after };
  return undefined;
}

const iso = (seconds: number | undefined) =>
  seconds === undefined ? undefined : new Date(seconds * 1000).toISOString();

/** The audit event for one change. The event UID is derived from the change, so a retried stream batch repeats it. */
export function buildAccessChangeEvent(
  change: AccessChange,
  settings: Pick<AuditSettings, 'eventSource' | 'recipientAccountId' | 'valuePatterns'>,
): AuditEventData {
  const patterns = [...new Set([...DEFAULT_VALUE_PATTERNS, ...(settings.valuePatterns ?? [])])];
  const clean = (text: string | undefined) => (text === undefined ? undefined : redactString(text, patterns));
  let actor: string;
  let at: number;
  let reason: string | undefined;
  let parameters: Record<string, unknown>;
  if (change.kind === 'grant') {
    const { grant } = change;
    const revoked = change.name === 'RevokeGrant';
    actor = (revoked ? grant.revokedBy : grant.issuedBy) ?? '';
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
  } else {
    const { revocation } = change;
    const lifted = change.name === 'LiftRevocation';
    actor = (lifted ? revocation.liftedBy : revocation.issuedBy) ?? '';
    at = (lifted ? revocation.liftedAt : revocation.issuedAt) ?? revocation.issuedAt;
    reason = lifted ? revocation.liftReason : revocation.reason;
    parameters = {
      method: lifted ? 'access/revoke-lift' : 'access/revoke',
      revocationId: revocation.id,
      [revocation.subject.kind]: revocation.subject.id,
      expiresAt: iso(revocation.expiresAt) ?? 'until lifted',
      ...(lifted ? { revocationReason: clean(revocation.reason) } : {}),
    };
  }
  const id = change.kind === 'grant' ? change.grant.id : change.revocation.id;
  return {
    version: AUDIT_EVENT_VERSION,
    UID: `${change.name}-${id}`,
    eventTime: eventTime(new Date(at * 1000)),
    eventSource: settings.eventSource,
    eventName: change.name,
    recipientAccountId: settings.recipientAccountId,
    userIdentity: {
      type: 'AccessAdministrator',
      principalId: truncateString(actor === '' ? 'unknown' : actor, LIMITS.principalId),
    },
    responseElements: fitMap(
      toAuditMap({ decision: 'allow', enforced: true, reason: clean(reason) }),
      LIMITS.responseElements,
    ),
    additionalEventData: fitMap(
      toAuditMap({ phase: 'request', requestKey: id, accessChange: change.name }),
      LIMITS.additionalEventData,
    ),
    requestParameters: fitMap(toAuditMap(parameters), LIMITS.requestParameters),
  };
}
