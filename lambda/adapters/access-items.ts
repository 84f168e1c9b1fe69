import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type AccessSubject, type Revocation, type RoleGrant, userKey } from '../core/access';

/**
 * The grants table's item shapes (one table, a type discriminator; DESIGN §3.10):
 *
 *   pk = `user#<subject>` | `agent#<client id>`   (partition key, S; a user's revocations: `user#<userKey>`)
 *   sk = `grant#<id>` | `revocation#<id>`          (sort key, S)
 *   type = `grant` | `revocation`
 *   deleteAfter (N, epoch seconds): the table's TTL attribute — a grant's expiry, a timed revocation's expiry,
 *   or the time it was revoked/lifted. DynamoDB deletes expired items within a few days, not at once, so every
 *   reader also checks the times itself.
 *
 * One Query on `pk` returns everything that bears on a subject: a user's grants and revocations, an agent's
 * revocations. Pure codec (the SDK's `AttributeValue` type only): shared by the Lambda reader, the CLI's writer
 * and the stream auditor.
 */

export const ACCESS_PARTITION_KEY = 'pk';
export const ACCESS_SORT_KEY = 'sk';
export const ACCESS_TTL_ATTRIBUTE = 'deleteAfter';

export type AccessItem = Record<string, AttributeValue>;

export function partitionOf(subject: AccessSubject): string {
  return `${subject.kind}#${subject.id}`;
}

const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(Math.floor(value)) });

function optional(entries: Record<string, AttributeValue | undefined>): AccessItem {
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as AccessItem;
}

export function grantItem(grant: RoleGrant): AccessItem {
  return optional({
    [ACCESS_PARTITION_KEY]: s(partitionOf({ kind: 'user', id: grant.user })),
    [ACCESS_SORT_KEY]: s(`grant#${grant.id}`),
    type: s('grant'),
    id: s(grant.id),
    user: s(grant.user),
    role: s(grant.role),
    reason: s(grant.reason),
    issuedBy: s(grant.issuedBy),
    issuedAt: n(grant.issuedAt),
    expiresAt: n(grant.expiresAt),
    [ACCESS_TTL_ATTRIBUTE]: n(grant.revokedAt ?? grant.expiresAt),
    revokedAt: grant.revokedAt === undefined ? undefined : n(grant.revokedAt),
    revokedBy: grant.revokedBy === undefined ? undefined : s(grant.revokedBy),
    revokeReason: grant.revokeReason === undefined ? undefined : s(grant.revokeReason),
  });
}

/**
 * Where a revocation is kept: an agent's under its client id; a user's under its {@link userKey} (NFC, case
 * folded), which the guard reads for the token's subject, username and email alike.
 */
export function revocationPartition(subject: AccessSubject): string {
  return partitionOf(subject.kind === 'user' ? { kind: 'user', id: userKey(subject.id) } : subject);
}

export function revocationItem(revocation: Revocation): AccessItem {
  const until = revocation.liftedAt ?? revocation.expiresAt;
  return optional({
    [ACCESS_PARTITION_KEY]: s(revocationPartition(revocation.subject)),
    [ACCESS_SORT_KEY]: s(`revocation#${revocation.id}`),
    type: s('revocation'),
    id: s(revocation.id),
    subjectKind: s(revocation.subject.kind),
    subjectId: s(revocation.subject.id),
    reason: s(revocation.reason),
    issuedBy: s(revocation.issuedBy),
    issuedAt: n(revocation.issuedAt),
    expiresAt: revocation.expiresAt === undefined ? undefined : n(revocation.expiresAt),
    // Until lifted: no TTL, DynamoDB never deletes it.
    [ACCESS_TTL_ATTRIBUTE]: until === undefined ? undefined : n(until),
    liftedAt: revocation.liftedAt === undefined ? undefined : n(revocation.liftedAt),
    liftedBy: revocation.liftedBy === undefined ? undefined : s(revocation.liftedBy),
    liftReason: revocation.liftReason === undefined ? undefined : s(revocation.liftReason),
  });
}

function text(item: AccessItem, key: string): string | undefined {
  const value = item[key];
  return value !== undefined && 'S' in value && typeof value.S === 'string' ? value.S : undefined;
}

function seconds(item: AccessItem, key: string): number | undefined {
  const value = item[key];
  if (value === undefined || !('N' in value) || typeof value.N !== 'string') return undefined;
  const number = Number(value.N);
  return Number.isFinite(number) ? number : undefined;
}

function withOptional<T extends object>(base: T, extra: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) out[key] = value;
  return out as T;
}

/** A grant item, or undefined when it is not a whole grant (never trusted half-read: no role from it). */
export function grantFromItem(item: AccessItem): RoleGrant | undefined {
  const id = text(item, 'id');
  const user = text(item, 'user');
  const role = text(item, 'role');
  const issuedAt = seconds(item, 'issuedAt');
  const expiresAt = seconds(item, 'expiresAt');
  if (text(item, 'type') !== 'grant' || id === undefined || user === undefined || role === undefined)
    return undefined;
  if (issuedAt === undefined || expiresAt === undefined) return undefined;
  return withOptional<RoleGrant>(
    {
      id,
      user,
      role,
      reason: text(item, 'reason') ?? '',
      issuedBy: text(item, 'issuedBy') ?? '',
      issuedAt,
      expiresAt,
    },
    {
      revokedAt: seconds(item, 'revokedAt'),
      revokedBy: text(item, 'revokedBy'),
      revokeReason: text(item, 'revokeReason'),
    },
  );
}

/**
 * A revocation item. One that cannot be read whole, found under a subject's key, is read as a revocation of
 * that subject until lifted (fail closed: a damaged kill switch still holds).
 */
export function revocationFromItem(item: AccessItem, under?: AccessSubject): Revocation | undefined {
  if (text(item, 'type') !== 'revocation') {
    // Kept under a revocation's sort key but typed otherwise (`type` rewritten): still a revocation, damaged.
    if (under === undefined || !(text(item, ACCESS_SORT_KEY) ?? '').startsWith('revocation#'))
      return undefined;
    if (text(item, 'type') === 'grant' && grantFromItem(item) !== undefined) return undefined;
    return {
      id: text(item, 'id') ?? text(item, ACCESS_SORT_KEY) ?? 'unreadable',
      subject: under,
      reason: 'the revocation record is unreadable',
      issuedBy: '',
      issuedAt: 0,
    };
  }
  const id = text(item, 'id') ?? text(item, ACCESS_SORT_KEY) ?? 'unreadable';
  const kind = text(item, 'subjectKind');
  const subjectId = text(item, 'subjectId');
  const issuedAt = seconds(item, 'issuedAt');
  const liftedAt = seconds(item, 'liftedAt');
  if ((kind !== 'user' && kind !== 'agent') || subjectId === undefined || issuedAt === undefined) {
    if (under === undefined || liftedAt !== undefined) return undefined;
    return { id, subject: under, reason: 'the revocation record is unreadable', issuedBy: '', issuedAt: 0 };
  }
  return withOptional<Revocation>(
    {
      id,
      subject: { kind, id: subjectId },
      reason: text(item, 'reason') ?? '',
      issuedBy: text(item, 'issuedBy') ?? '',
      issuedAt,
    },
    {
      expiresAt: seconds(item, 'expiresAt'),
      liftedAt,
      liftedBy: text(item, 'liftedBy'),
      liftReason: text(item, 'liftReason'),
    },
  );
}
