import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
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
  /** As stored: entries are checked when read ({@link grantEntry}, {@link revocationEntry}), kept as written. */
  readonly grants: unknown[];
  readonly revocations: unknown[];
}

const LOCK_WAIT_MS = 5000;
/** A lock older than this was left by a process that died mid-write: taken over. */
const STALE_LOCK_MS = 30_000;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

type Entry = Readonly<Record<string, unknown>>;
const isEntry = (value: unknown): value is Entry =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const time = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * A grant as the file holds it, checked like the table's codec: one that is not whole (a string `expiresAt`, a
 * `revokedAt: null`, a missing role) is ignored — no role from half a grant.
 */
export function grantEntry(value: unknown): RoleGrant | undefined {
  if (!isEntry(value)) return undefined;
  const { id, user, role, issuedAt, expiresAt, revokedAt } = value;
  if (typeof id !== 'string' || typeof user !== 'string' || typeof role !== 'string') return undefined;
  if (!time(issuedAt) || !time(expiresAt) || (revokedAt !== undefined && !time(revokedAt))) return undefined;
  const revokedBy = text(value.revokedBy);
  const revokeReason = text(value.revokeReason);
  return {
    id,
    user,
    role,
    reason: text(value.reason) ?? '',
    issuedBy: text(value.issuedBy) ?? '',
    issuedAt,
    expiresAt,
    ...(revokedAt === undefined ? {} : { revokedAt }),
    ...(revokedBy === undefined ? {} : { revokedBy }),
    ...(revokeReason === undefined ? {} : { revokeReason }),
  };
}

/**
 * A revocation as the file holds it, checked like the table's codec, failing closed: one whose times cannot be
 * read (`liftedAt: null`, `expiresAt: "never"`, no `issuedAt`) counts as a revocation of its subject until
 * lifted. One that names no readable subject makes the file unreadable (throws): the guard then refuses
 * everyone, as for a broken file, rather than guess whom it stops.
 */
export function revocationEntry(value: unknown, index: number): Revocation {
  const entry = isEntry(value) ? value : {};
  const subject = isEntry(entry.subject) ? entry.subject : {};
  const kind = subject.kind;
  const subjectId = subject.id;
  if ((kind !== 'user' && kind !== 'agent') || typeof subjectId !== 'string' || subjectId === '')
    throw new AccessLedgerError(
      `revocation ${index + 1} in ${ACCESS_FILE} names no readable subject; fix or remove it`,
    );
  const id = text(entry.id) ?? `unreadable-${index + 1}`;
  const { issuedAt, expiresAt, liftedAt } = entry;
  const lifted = time(liftedAt);
  const whole =
    text(entry.id) !== undefined &&
    time(issuedAt) &&
    (expiresAt === undefined || time(expiresAt)) &&
    (liftedAt === undefined || lifted);
  if (!whole && !lifted)
    return {
      id,
      subject: { kind, id: subjectId },
      reason: 'the revocation record is unreadable',
      issuedBy: '',
      issuedAt: 0,
    };
  const liftedBy = text(entry.liftedBy);
  const liftReason = text(entry.liftReason);
  return {
    id,
    subject: { kind, id: subjectId },
    reason: text(entry.reason) ?? '',
    issuedBy: text(entry.issuedBy) ?? '',
    issuedAt: time(issuedAt) ? issuedAt : 0,
    ...(time(expiresAt) ? { expiresAt } : {}),
    ...(lifted ? { liftedAt } : {}),
    ...(liftedBy === undefined ? {} : { liftedBy }),
    ...(liftReason === undefined ? {} : { liftReason }),
  };
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

  /** The entries checked: damaged grants dropped, damaged revocations read as revocations (fail closed). */
  private entries(): { grants: RoleGrant[]; revocations: Revocation[] } {
    const file = this.load();
    return {
      grants: file.grants.map(grantEntry).filter((grant) => grant !== undefined),
      revocations: file.revocations.map(revocationEntry),
    };
  }

  async read(subject: AccessSubject): Promise<SubjectAccess> {
    const file = this.entries();
    return {
      grants: subject.kind === 'user' ? file.grants.filter((grant) => grant.user === subject.id) : [],
      // A user's revocations by userKey (case and Unicode normalisation ignored), as the table keys them.
      revocations: file.revocations.filter(
        (revocation) =>
          revocation.subject.kind === subject.kind &&
          (subject.kind === 'user'
            ? userKey(revocation.subject.id) === userKey(subject.id)
            : revocation.subject.id === subject.id),
      ),
    };
  }

  async list(): Promise<{ grants: RoleGrant[]; revocations: Revocation[] }> {
    return this.entries();
  }

  /**
   * Read-modify-write under the lock; the new content replaces the file atomically. The lock file holds a
   * random token: a stale lock (its holder died) is removed only when its content and mtime, read again just
   * before, are those judged stale — never a lock another process took meanwhile — and the holder removes the
   * lock only while it still holds its own token.
   */
  private change<T>(apply: (file: AccessFile) => { file: AccessFile; result: T }): T {
    const lock = `${this.path}.lock`;
    // A grant or revocation made before the stack first ran lands in the folder the stack will read.
    mkdirSync(dirname(this.path), { recursive: true });
    const token = `${process.pid} ${randomBytes(12).toString('hex')}\n`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    let fd: number | undefined;
    while (fd === undefined) {
      try {
        fd = openSync(lock, 'wx', 0o600);
        writeSync(fd, token);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        this.removeStaleLock(lock);
        if (Date.now() > deadline)
          throw new AccessLedgerError(`${lock} is held by another grant or revoke command; try again`);
        sleep(20);
      }
    }
    try {
      const { file, result } = apply(this.load());
      // A fresh random name, created exclusively (O_EXCL): a file or symlink planted at a guessable name is
      // never followed or overwritten.
      const temporary = `${this.path}.${randomBytes(12).toString('hex')}.tmp`;
      try {
        writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
        renameSync(temporary, this.path);
      } catch (error) {
        rmSync(temporary, { force: true });
        throw error;
      }
      return result;
    } finally {
      closeSync(fd);
      try {
        if (readFileSync(lock, 'utf8') === token) rmSync(lock, { force: true });
      } catch {
        // gone already (taken over as stale): nothing of ours to remove
      }
    }
  }

  private removeStaleLock(lock: string): void {
    try {
      const seen = statSync(lock);
      if (Date.now() - seen.mtimeMs <= STALE_LOCK_MS) return;
      const content = readFileSync(lock, 'utf8');
      const again = statSync(lock);
      if (again.ino !== seen.ino || again.mtimeMs !== seen.mtimeMs || readFileSync(lock, 'utf8') !== content)
        return;
      rmSync(lock, { force: true });
    } catch {
      // gone meanwhile: try again
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
      const before = file.grants.map(grantEntry).find((grant) => grant?.id === id);
      if (before === undefined) throw new AccessLedgerError(`no grant ${id} in ${this.path}`);
      if (before.revokedAt !== undefined) throw new AccessLedgerError(`grant ${id} is already revoked`);
      const after: RoleGrant = {
        ...before,
        revokedAt: change.at,
        revokedBy: change.by,
        revokeReason: change.reason,
      };
      return {
        file: { ...file, grants: file.grants.map((grant) => (grantEntry(grant)?.id === id ? after : grant)) },
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
      const before = file.revocations.map(revocationEntry).find((revocation) => revocation.id === id);
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
          revocations: file.revocations.map((revocation, index) =>
            revocationEntry(revocation, index).id === id ? after : revocation,
          ),
        },
        result: { before, after },
      };
    });
  }
}
