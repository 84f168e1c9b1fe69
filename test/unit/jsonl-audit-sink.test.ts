import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditSinkClosedError, JsonlAuditSink } from '../../lambda/adapters/jsonl-audit-sink';
import type { AuditEventData } from '../../lambda/core/audit-event';

const event = (n: number) => ({ UID: `event-${n}`, eventName: 'tools/call' }) as unknown as AuditEventData;

function lines(path: string): { UID: string }[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { UID: string });
}

/** Open file descriptors of this process that point at `path` (Linux: /proc). */
function descriptorsFor(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jsonl-sink-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('JsonlAuditSink', () => {
  it('appends one line per event, in order, creating the folder', async () => {
    const path = join(dir, 'nested', 'audit.jsonl');
    const sink = new JsonlAuditSink(path);
    await sink.write(event(1));
    await sink.write(event(2));
    await sink.close();
    expect(lines(path).map((line) => line.UID)).toEqual(['event-1', 'event-2']);
  });

  it('keeps every line whole and in arrival order under concurrent writes', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = new JsonlAuditSink(path);
    await Promise.all(Array.from({ length: 500 }, (_, n) => sink.write(event(n))));
    await sink.close();
    expect(lines(path).map((line) => line.UID)).toEqual(Array.from({ length: 500 }, (_, n) => `event-${n}`));
  });

  it('opens the file once and keeps that handle for every write', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = new JsonlAuditSink(path);
    for (let n = 0; n < 50; n += 1) {
      await sink.write(event(n));
      expect(descriptorsFor(path)).toBe(1);
    }
    await sink.close();
    expect(descriptorsFor(path)).toBe(0);
  });

  it('writes everything still queued when closed, then refuses further writes', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = new JsonlAuditSink(path);
    const pending = Array.from({ length: 200 }, (_, n) => sink.write(event(n)));
    await sink.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(200);
    expect(lines(path)).toHaveLength(200);
    await expect(sink.write(event(999))).rejects.toBeInstanceOf(AuditSinkClosedError);
    expect(lines(path)).toHaveLength(200);
  });

  it('reopens the path when the file is removed while the sink runs', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = new JsonlAuditSink(path);
    await sink.write(event(1));
    rmSync(path);
    await sink.write(event(2));
    await sink.close();
    expect(lines(path).map((line) => line.UID)).toEqual(['event-2']);
  });

  it('rejects the write when the file cannot be written, and recovers when it can', async () => {
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, 'x');
    const sink = new JsonlAuditSink(join(blocker, 'audit.jsonl'));
    await expect(sink.write(event(1))).rejects.toThrow();
    rmSync(blocker);
    await sink.write(event(2));
    await sink.close();
    expect(lines(join(blocker, 'audit.jsonl')).map((line) => line.UID)).toEqual(['event-2']);
  });

  it('closes cleanly when nothing was written', async () => {
    const sink = new JsonlAuditSink(join(dir, 'audit.jsonl'));
    await expect(sink.close()).resolves.toBeUndefined();
  });
});
