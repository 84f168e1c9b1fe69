import type { AccessStore, Revocation, RoleGrant } from '../lambda/core/access';

/**
 * The write side of the grant store, for `grant` and `revoke`: the local file (`local/access-file.ts`) or the
 * stack's DynamoDB table (`cli/access-ledger-dynamodb.ts`). Each change returns the record before and after, so
 * the same audit builder (`core/access-audit.ts`) describes it on both.
 */
export interface AccessLedger extends AccessStore {
  /** Where it writes, for messages: a file path or a table name. */
  readonly where: string;
  addGrant(grant: RoleGrant): Promise<void>;
  revokeGrant(id: string, change: LedgerChange): Promise<{ before: RoleGrant; after: RoleGrant }>;
  addRevocation(revocation: Revocation): Promise<void>;
  /** `check` sees the revocation before it is lifted and may throw to refuse (the self check). */
  liftRevocation(
    id: string,
    change: LedgerChange,
    check?: (before: Revocation) => void,
  ): Promise<{ before: Revocation; after: Revocation }>;
  /** Everything in the store (expired entries included until they are cleaned up). */
  list(): Promise<{ grants: RoleGrant[]; revocations: Revocation[] }>;
}

export interface LedgerChange {
  readonly by: string;
  readonly reason: string;
  /** Seconds since the epoch. */
  readonly at: number;
}

/** An expected failure of a grant or revoke command: one line, exit 1. */
export class AccessLedgerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccessLedgerError';
  }
}
