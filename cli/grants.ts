import { randomBytes } from 'node:crypto';
import {
  formatDuration,
  isActiveGrant,
  isActiveRevocation,
  MAX_REASON_LENGTH,
  parseDuration,
  type Revocation,
  type RoleGrant,
  roleNameProblem,
  subjectIdProblem,
} from '../lambda/core/access';
import { type AccessLedger, AccessLedgerError } from './access-ledger';

/**
 * What `grant` and `revoke` decide before they write: input checks, the duration bound, the self-grant rule,
 * ids, and the listing rows. The commands (`grant-commands.ts`) add the store, the issuer and the audit.
 */

/** Bad input: the command names what to fix (exit 2). */
export class GrantUsageError extends Error {}

export interface GrantRules {
  /** Longest `--for`, in seconds. */
  readonly maxSeconds: number;
  readonly allowSelfGrant: boolean;
}

export function newAccessId(prefix: 'g' | 'r'): string {
  // 60 random bits, lower-case base32-ish: short enough to type, unguessable enough not to collide.
  return `${prefix}-${randomBytes(8).toString('base64url').replace(/[-_]/g, '').toLowerCase().slice(0, 12)}`;
}

export function checkedSubject(id: string, flag: string): string {
  const problem = subjectIdProblem(id);
  if (problem !== undefined) throw new GrantUsageError(`${flag} ${JSON.stringify(id)} ${problem}`);
  return id;
}

export function checkedRole(role: string): string {
  const problem = roleNameProblem(role);
  if (problem !== undefined) throw new GrantUsageError(`--role ${JSON.stringify(role)} ${problem}`);
  return role;
}

export function checkedReason(reason: string | undefined, command: string): string {
  const text = reason?.trim() ?? '';
  if (text === '')
    throw new GrantUsageError(`${command} needs --reason "…" (for example an incident or ticket id)`);
  if (text.length > MAX_REASON_LENGTH)
    throw new GrantUsageError(`--reason is longer than ${MAX_REASON_LENGTH} characters`);
  if (/[\p{Cc}]/u.test(text)) throw new GrantUsageError('--reason cannot contain control characters');
  return text;
}

/** `--for`: a duration within the configured maximum. */
export function checkedDuration(text: string, maxSeconds: number): number {
  const seconds = parseDuration(text);
  if (seconds === undefined)
    throw new GrantUsageError(
      `--for ${JSON.stringify(text)} is not a duration: use 90s, 15m, 2h, 1d or 1h30m`,
    );
  if (seconds > maxSeconds)
    throw new GrantUsageError(
      `--for ${text} is longer than the configured maximum ${formatDuration(maxSeconds)} (grants.maxDuration)`,
    );
  return seconds;
}

/**
 * Whether an issuer identity names the user it would grant to. An AWS principal ARN is compared by its last
 * path segment (the IAM user name, or an assumed role's session name, which SSO sets to the person's user
 * name or email); `local:<name>` by the name. Case-insensitive, and an email matches its local part — so
 * `…/AWSReservedSSO_Admin_x/alice@example.com` is alice.
 */
export function isSelfGrant(issuer: string, user: string): boolean {
  const name = (
    issuer.startsWith('local:') ? issuer.slice(6) : (issuer.split('/').pop() ?? issuer)
  ).toLowerCase();
  const target = user.toLowerCase();
  const local = (text: string) => text.split('@')[0] ?? text;
  return name === target || local(name) === local(target);
}

export interface GrantRequest {
  readonly user: string;
  readonly role: string;
  readonly duration: string;
  readonly reason?: string;
}

/** Checks a grant and writes it; returns what was written. */
export async function issueGrant(
  ledger: AccessLedger,
  request: GrantRequest,
  rules: GrantRules,
  issuer: string,
  nowSeconds: number,
): Promise<RoleGrant> {
  const user = checkedSubject(request.user, '--user');
  const role = checkedRole(request.role);
  const seconds = checkedDuration(request.duration, rules.maxSeconds);
  const reason = checkedReason(request.reason, 'grant');
  if (!rules.allowSelfGrant && isSelfGrant(issuer, user))
    throw new AccessLedgerError(
      `${issuer} cannot grant a role to ${user} (themselves); ask another operator, or set grants.allowSelfGrant`,
    );
  const issuedAt = Math.floor(nowSeconds);
  const grant: RoleGrant = {
    id: newAccessId('g'),
    user,
    role,
    reason,
    issuedBy: issuer,
    issuedAt,
    expiresAt: issuedAt + seconds,
  };
  await ledger.addGrant(grant);
  return grant;
}

/**
 * The self check on `revoke lift`: an operator may not lift a revocation of themselves (by the rule of
 * {@link isSelfGrant}, the revoked user against the issuer identity) unless `allowSelfGrant` is set. Advisory,
 * like the self-grant check: it runs in the CLI and compares names the caller can choose (a session name), and
 * a direct PutItem skips it; the control is separate operator roles and the audited stream.
 */
export function selfLiftCheck(issuer: string, allowSelf: boolean): (before: Revocation) => void {
  return (before) => {
    if (allowSelf || before.subject.kind !== 'user' || !isSelfGrant(issuer, before.subject.id)) return;
    throw new AccessLedgerError(
      `${issuer} cannot lift revocation ${before.id} of ${before.subject.id} (themselves); ask another operator, or set grants.allowSelfGrant`,
    );
  };
}

export interface RevokeRequest {
  readonly user?: string;
  readonly agent?: string;
  readonly duration?: string;
  readonly reason?: string;
}

export async function issueRevocation(
  ledger: AccessLedger,
  request: RevokeRequest,
  maxSeconds: number,
  issuer: string,
  nowSeconds: number,
): Promise<Revocation> {
  if ((request.user === undefined) === (request.agent === undefined))
    throw new GrantUsageError('revoke needs exactly one of --user <subject> or --agent <client_id>');
  const subject =
    request.user !== undefined
      ? { kind: 'user' as const, id: checkedSubject(request.user, '--user') }
      : { kind: 'agent' as const, id: checkedSubject(request.agent as string, '--agent') };
  const reason = checkedReason(request.reason, 'revoke');
  const issuedAt = Math.floor(nowSeconds);
  const revocation: Revocation = {
    id: newAccessId('r'),
    subject,
    reason,
    issuedBy: issuer,
    issuedAt,
    ...(request.duration === undefined
      ? {}
      : { expiresAt: issuedAt + checkedDuration(request.duration, maxSeconds) }),
  };
  await ledger.addRevocation(revocation);
  return revocation;
}

const iso = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`;

export function grantRow(grant: RoleGrant, nowSeconds: number): Record<string, string> {
  const state =
    grant.revokedAt !== undefined ? 'revoked' : isActiveGrant(grant, nowSeconds) ? 'active' : 'expired';
  return {
    id: grant.id,
    user: grant.user,
    role: grant.role,
    state,
    expires: iso(grant.expiresAt),
    left: state === 'active' ? formatDuration(grant.expiresAt - nowSeconds) : '',
    issuedBy: grant.issuedBy,
    reason: grant.reason,
  };
}

export function revocationRow(revocation: Revocation, nowSeconds: number): Record<string, string> {
  const state =
    revocation.liftedAt !== undefined
      ? 'lifted'
      : isActiveRevocation(revocation, nowSeconds)
        ? 'active'
        : 'expired';
  return {
    id: revocation.id,
    subject: `${revocation.subject.kind}:${revocation.subject.id}`,
    state,
    expires: revocation.expiresAt === undefined ? 'until lifted' : iso(revocation.expiresAt),
    issuedBy: revocation.issuedBy,
    reason: revocation.reason,
  };
}
