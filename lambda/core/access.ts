import { type Caller, MAX_ROLES } from './caller';

/**
 * Access over time (DESIGN §3.10): just-in-time role grants and the kill switch. Pure: what is active at a
 * given second, what a grant adds to a caller, which revocation refuses one. The stores (a DynamoDB table in
 * AWS, a file locally) live in `adapters/` and `local/`; the guard's use of them in `guard/access-*.ts`.
 */

/** A role given to one user for a bounded time. Times are seconds since the epoch. */
export interface RoleGrant {
  readonly id: string;
  /** The user's token subject (`sub`, or the configured subject claim). */
  readonly user: string;
  readonly role: string;
  readonly reason: string;
  /** Who issued it: an AWS principal ARN (from STS GetCallerIdentity), or `local:<name>` on the local stack. */
  readonly issuedBy: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly revokedAt?: number;
  readonly revokedBy?: string;
  readonly revokeReason?: string;
}

/** Whose access a revocation stops: a user (token subject) or an agent (OAuth client id). */
export interface AccessSubject {
  readonly kind: 'user' | 'agent';
  readonly id: string;
}

/** The kill switch for one subject: every decision for it is a deny with this reason until lifted or expired. */
export interface Revocation {
  readonly id: string;
  readonly subject: AccessSubject;
  readonly reason: string;
  readonly issuedBy: string;
  readonly issuedAt: number;
  /** Absent: until lifted. */
  readonly expiresAt?: number;
  readonly liftedAt?: number;
  readonly liftedBy?: string;
  readonly liftReason?: string;
}

/** What a store holds for one subject: its grants (users only) and its revocations. */
export interface SubjectAccess {
  readonly grants: readonly RoleGrant[];
  readonly revocations: readonly Revocation[];
}

/** Read port the guard uses: one read per subject. Throws when the store cannot be read. */
export interface AccessStore {
  read(subject: AccessSubject): Promise<SubjectAccess>;
}

/** A grant as the audit event names it: which grant supplied which role, until when. */
export interface GrantedRole {
  readonly id: string;
  readonly role: string;
  readonly expiresAt: number;
}

export const MAX_ROLE_NAME_LENGTH = 256;
export const MAX_SUBJECT_LENGTH = 1024;
export const MAX_REASON_LENGTH = 512;

/**
 * A role name a grant may give: what `parseRoles` would keep from a token (1–256 characters), and nothing a
 * role claim could not carry as one entry — no whitespace or comma (string claims split on them), no control
 * or format character.
 */
export function roleNameProblem(role: string): string | undefined {
  if (role.length === 0) return 'is empty';
  if (role.length > MAX_ROLE_NAME_LENGTH) return `is longer than ${MAX_ROLE_NAME_LENGTH} characters`;
  if (/[\s\p{Z},\p{Cc}\p{Cf}]/u.test(role)) return 'contains whitespace, a comma or a control character';
  return undefined;
}

/** A user or agent id as a token would carry it (the rules of `core/caller`'s identifiers). */
export function subjectIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty';
  if (id.length > MAX_SUBJECT_LENGTH) return `is longer than ${MAX_SUBJECT_LENGTH} characters`;
  if (/^[\s\p{Z}]|[\s\p{Z}]$|[\p{Cc}\p{Cf}]/u.test(id))
    return 'has leading or trailing whitespace or a control character';
  return undefined;
}

export function isActiveGrant(grant: RoleGrant, nowSeconds: number): boolean {
  return grant.revokedAt === undefined && grant.expiresAt > nowSeconds;
}

export function isActiveRevocation(revocation: Revocation, nowSeconds: number): boolean {
  return (
    revocation.liftedAt === undefined &&
    (revocation.expiresAt === undefined || revocation.expiresAt > nowSeconds)
  );
}

/** The caller as policy sees it: `grants` says which grant supplied which role (see {@link Caller}). */
export type GrantedCaller = Caller;

/**
 * The caller with the roles of the user's active grants added after the token's own, up to {@link MAX_ROLES}
 * (the bound that keeps the entity within what Verified Permissions accepts). A grant for a role the token
 * already carries adds nothing and is not named. Grants for other users, expired, revoked or with an unusable
 * role name are ignored: the store is not trusted to have filtered them.
 */
export function withGrants(caller: Caller, grants: readonly RoleGrant[], nowSeconds: number): GrantedCaller {
  const roles = [...caller.roles];
  const present = new Set(roles);
  const supplied: GrantedRole[] = [];
  const active = grants
    .filter(
      (grant) =>
        grant.user === caller.subject &&
        isActiveGrant(grant, nowSeconds) &&
        roleNameProblem(grant.role) === undefined,
    )
    // The earliest expiry first: when the bound cuts, the grants that last longest are the ones kept out,
    // and the choice is the same on every instance. Ties by id.
    .sort((a, b) => a.expiresAt - b.expiresAt || a.id.localeCompare(b.id));
  for (const grant of active) {
    if (present.has(grant.role) || roles.length >= MAX_ROLES) continue;
    present.add(grant.role);
    roles.push(grant.role);
    supplied.push({ id: grant.id, role: grant.role, expiresAt: grant.expiresAt });
  }
  if (supplied.length === 0) return caller;
  return Object.freeze({ ...caller, roles: Object.freeze(roles), grants: Object.freeze(supplied) });
}

/**
 * How a user revocation names a user, and how a caller's names are compared with it: Unicode NFC, then case
 * folded (upper then lower case, so `ß` is `ss` and `Σ`/`ς`/`σ` are one). A kill switch that matches too much
 * is on the safe side; grants stay exact (a grant gives, so it must name exactly whom).
 */
export function userKey(id: string): string {
  return id.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

/** The names a user revocation matches for this caller: subject, username and email, as {@link userKey}s. */
export function userKeys(caller: Caller): string[] {
  return [
    ...new Set(
      [caller.subject, caller.username, caller.email]
        .filter((name): name is string => name !== undefined)
        .map(userKey),
    ),
  ];
}

/**
 * The store reads that bear on a caller: the user exactly as the token names them (grants, and revocations
 * written before user revocations were keyed by {@link userKey}), the user's keys (subject, username, email),
 * and every agent ({@link agentIds}). Usually two or three; each is cached per subject.
 */
export function accessReads(caller: Caller): AccessSubject[] {
  const users = [...new Set([caller.subject, ...userKeys(caller)])];
  return [
    ...users.map((id) => ({ kind: 'user' as const, id })),
    ...agentIds(caller).map((id) => ({ kind: 'agent' as const, id })),
  ];
}

/**
 * Every agent a request acts through, as a revocation of an agent may name it: the client id (`agent`), every
 * other configured agent claim in the token (`azp` beside `client_id`), and every actor of the delegation chain
 * (`act.sub`, nested). A revoked agent is refused wherever it appears — behind a broker too.
 */
export function agentIds(caller: Caller): string[] {
  return [
    ...new Set([
      ...(caller.agent === undefined ? [] : [caller.agent]),
      ...(caller.agents ?? []),
      ...caller.actors,
    ]),
  ];
}

/**
 * The revocation that refuses this caller now, if any: one for the user — its id matched against the token's
 * subject, username and email, ignoring case and Unicode normalisation ({@link userKey}) — or for any agent
 * acting for them ({@link agentIds}, exact). The earliest issued wins, so every instance names the same one.
 */
export function activeRevocation(
  caller: Caller,
  revocations: readonly Revocation[],
  nowSeconds: number,
): Revocation | undefined {
  const agents = new Set(agentIds(caller));
  const users = new Set(userKeys(caller));
  return revocations
    .filter(
      (revocation) =>
        isActiveRevocation(revocation, nowSeconds) &&
        ((revocation.subject.kind === 'user' && users.has(userKey(revocation.subject.id))) ||
          (revocation.subject.kind === 'agent' && agents.has(revocation.subject.id))),
    )
    .sort((a, b) => a.issuedAt - b.issuedAt || a.id.localeCompare(b.id))[0];
}

/** The refusal text a revoked caller sees (and the audit records): names the revocation, never the issuer. */
export function revocationMessage(revocation: Revocation): string {
  const who = revocation.subject.kind === 'user' ? 'this user' : 'this agent';
  return `Access for ${who} is revoked (${revocation.id}): ${revocation.reason}`;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A duration such as `90s`, `15m`, `2h`, `1d` or `1h30m`, in seconds; undefined when it is not one. A bare
 * number is refused (minutes or hours? nobody can tell).
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (!/^(\d+[smhd])+$/.test(value)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)([smhd])/g))
    seconds += Number(amount) * (DURATION_UNITS[unit as string] as number);
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}

/** `2h`, `1h30m`, `45s`: a number of seconds the way a person reads it. */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const parts: string[] = [];
  let left = Math.floor(seconds);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (left >= size) {
      parts.push(`${Math.floor(left / size)}${unit}`);
      left %= size;
    }
  }
  return parts.join('');
}
