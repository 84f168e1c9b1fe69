import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AccessLedger, AccessLedgerError, type LedgerChange } from '../cli/access-ledger';
import {
  type AccessSubject,
  type Revocation,
  type RoleGrant,
  type SubjectAccess,
  userKey,
} from '../lambda/core/access';
import { parseJsonText } from '../lambda/shared/json-syntax';

/** The local stack's grant store, in its data folder beside `audit.jsonl`. */
export const ACCESS_FILE = 'access.json';

interface AccessFile {
  readonly version: 1;
  readonly grants: RoleGrant[];
  readonly revocations: Revocation[];
}

const LOCK_WAIT_MS = 5000;
/** A lock older than this was left by a process that died mid-write: taken over. */
const STALE_LOCK_MS = 30_000;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The grant store as one JSON file. Readers (the running local stack) never see half a write: every change
 * writes a temporary file and renames it over the old one (rename is atomic within a folder). Writers (`grant`,
 * `revoke`, possibly two at once) take an exclusive lock file (`O_EXCL`) around read-modify-write, so no change
 * is lost. Written by hand: the two packages that do this (write-file-atomic, proper-lockfile) are not
 * dependencies here, and this is the whole of what is needed — a dozen lines over `fs`.
 *
 * A file that exists but cannot be read throws: the guard then ignores grants and refuses (kill switch) —
 * the same failure modes as an unreachable table.
 */
export class FileAccessLedger implements AccessLedger {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, ACCESS_FILE);
  }

  get where(): string {
    return this.path;
  }

  private load(): AccessFile {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { version: 1, grants: [], revocations: [] };
      throw new AccessLedgerError(`cannot read ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    const json = parseJsonText(text);
    if (!json.ok)
      throw new AccessLedgerError(`${this.path} is not valid JSON (${json.place}); fix or remove it`);
    const file = json.value as Partial<AccessFile>;
    if (
      file === null ||
      typeof file !== 'object' ||
      file.version !== 1 ||
      !Array.isArray(file.grants) ||
      !Array.isArray(file.revocations)
    )
      throw new AccessLedgerError(
        `${this.path} is not a grant store (version 1 with grants and revocations)`,
      );
    return { version: 1, grants: file.grants, revocations: file.revocations };
  }

  async read(subject: AccessSubject): Promise<SubjectAccess> {
    const file = this.load();
    return {
      grants: subject.kind === 'user' ? file.grants.filter((grant) => grant.user === subject.id) : [],
      // A user's revocations by userKey (case and Unicode normalisation ignored), as the table keys them.
      revocations: file.revocations.filter(
        (revocation) =>
          revocation.subject?.kind === subject.kind &&
          (subject.kind === 'user'
            ? userKey(revocation.subject.id) === userKey(subject.id)
            : revocation.subject.id === subject.id),
      ),
    };
  }

  async list(): Promise<{ grants: RoleGrant[]; revocations: Revocation[] }> {
    const { grants, revocations } = this.load();
    return { grants, revocations };
  }

  /** Read-modify-write under the lock; the new content replaces the file atomically. */
  private change<T>(apply: (file: AccessFile) => { file: AccessFile; result: T }): T {
    const lock = `${this.path}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    let fd: number | undefined;
    while (fd === undefined) {
      try {
        fd = openSync(lock, 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        try {
          if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { force: true });
        } catch {
          // gone meanwhile: try again
        }
        if (Date.now() > deadline)
          throw new AccessLedgerError(`${lock} is held by another grant or revoke command; try again`);
        sleep(20);
      }
    }
    try {
      const { file, result } = apply(this.load());
      const temporary = `${this.path}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      renameSync(temporary, this.path);
      return result;
    } finally {
      closeSync(fd);
      rmSync(lock, { force: true });
    }
  }

  async addGrant(grant: RoleGrant): Promise<void> {
    this.change((file) => ({ file: { ...file, grants: [...file.grants, grant] }, result: undefined }));
  }

  async addRevocation(revocation: Revocation): Promise<void> {
    this.change((file) => ({
      file: { ...file, revocations: [...file.revocations, revocation] },
      result: undefined,
    }));
  }

  async revokeGrant(id: string, change: LedgerChange): Promise<{ before: RoleGrant; after: RoleGrant }> {
    return this.change((file) => {
      const before = file.grants.find((grant) => grant.id === id);
      if (before === undefined) throw new AccessLedgerError(`no grant ${id} in ${this.path}`);
      if (before.revokedAt !== undefined) throw new AccessLedgerError(`grant ${id} is already revoked`);
      const after: RoleGrant = {
        ...before,
        revokedAt: change.at,
        revokedBy: change.by,
        revokeReason: change.reason,
      };
      return {
        file: { ...file, grants: file.grants.map((grant) => (grant.id === id ? after : grant)) },
        result: { before, after },
      };
    });
  }

  async liftRevocation(
    id: string,
    change: LedgerChange,
    check?: (before: Revocation) => void,
  ): Promise<{ before: Revocation; after: Revocation }> {
    return this.change((file) => {
      const before = file.revocations.find((revocation) => revocation.id === id);
      if (before === undefined) throw new AccessLedgerError(`no revocation ${id} in ${this.path}`);
      if (before.liftedAt !== undefined) throw new AccessLedgerError(`revocation ${id} is already lifted`);
      check?.(before);
      const after: Revocation = {
        ...before,
        liftedAt: change.at,
        liftedBy: change.by,
        liftReason: change.reason,
      };
      return {
        file: {
          ...file,
          revocations: file.revocations.map((revocation) => (revocation.id === id ? after : revocation)),
        },
        result: { before, after },
      };
    });
  }
}
