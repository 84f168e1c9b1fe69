import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlTail } from '../../local/console/jsonl-tail';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'console-tail-'));
  file = join(dir, 'audit.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (n: number) => `${JSON.stringify({ n })}\n`;

describe('JsonlTail', () => {
  it('reads nothing from a missing file, then the whole file once it appears', () => {
    const tail = new JsonlTail(file);
    expect(tail.read()).toEqual({ values: [], unreadable: 0, restarted: false, skippedBytes: 0 });
    writeFileSync(file, line(1) + line(2));
    expect(tail.read()).toMatchObject({ values: [{ n: 1 }, { n: 2 }], restarted: true });
  });

  it('returns only the lines appended since the previous read', () => {
    writeFileSync(file, line(1));
    const tail = new JsonlTail(file);
    expect(tail.read().values).toEqual([{ n: 1 }]);
    expect(tail.read().values).toEqual([]);
    appendFileSync(file, line(2) + line(3));
    expect(tail.read()).toEqual({
      values: [{ n: 2 }, { n: 3 }],
      unreadable: 0,
      restarted: false,
      skippedBytes: 0,
    });
  });

  it('keeps a line without its newline until the rest of it is written', () => {
    const tail = new JsonlTail(file);
    writeFileSync(file, `${line(1)}{"n":`);
    expect(tail.read().values).toEqual([{ n: 1 }]);
    appendFileSync(file, '2}');
    expect(tail.read().values).toEqual([]);
    appendFileSync(file, `\n${line(3)}`);
    expect(tail.read().values).toEqual([{ n: 2 }, { n: 3 }]);
  });

  it('counts and skips lines that are not JSON, and blank lines', () => {
    writeFileSync(file, `${line(1)}not json\n\n{"cut":\n${line(2)}`);
    expect(new JsonlTail(file).read()).toMatchObject({ values: [{ n: 1 }, { n: 2 }], unreadable: 2 });
  });

  it('starts over when the file is truncated (someone cleared the store)', () => {
    writeFileSync(file, line(1) + line(2));
    const tail = new JsonlTail(file);
    tail.read();
    truncateSync(file, 0);
    appendFileSync(file, line(9));
    expect(tail.read()).toMatchObject({ values: [{ n: 9 }], restarted: true });
  });

  it('starts over on a replaced file (rotation), even one larger than the old offset', () => {
    writeFileSync(file, line(1));
    const tail = new JsonlTail(file);
    tail.read();
    const next = join(dir, 'next.jsonl');
    writeFileSync(next, line(7) + line(8) + line(9));
    renameSync(next, file);
    expect(tail.read()).toMatchObject({ values: [{ n: 7 }, { n: 8 }, { n: 9 }], restarted: true });
  });

  it('reads only the recent window of a large existing file, from its first whole line', () => {
    writeFileSync(file, Array.from({ length: 100 }, (_, n) => line(n)).join(''));
    const tail = new JsonlTail(file, { windowBytes: 30 });
    const { values, unreadable } = tail.read();
    expect(unreadable).toBe(0);
    expect(values.length).toBeGreaterThan(0);
    expect(values.at(-1)).toEqual({ n: 99 });
    expect(values).not.toContainEqual({ n: 90 });
  });

  it('keeps the first line of a window that starts exactly on a line', () => {
    writeFileSync(file, line(1) + line(2) + line(3));
    const tail = new JsonlTail(file, { windowBytes: line(2).length + line(3).length });
    expect(tail.read().values).toEqual([{ n: 2 }, { n: 3 }]);
  });

  it('skips ahead to the window when it has fallen further behind, and says how much it passed over', () => {
    writeFileSync(file, line(0));
    const tail = new JsonlTail(file, { windowBytes: 40 });
    expect(tail.read().values).toEqual([{ n: 0 }]);
    appendFileSync(file, Array.from({ length: 50 }, (_, n) => line(n + 1)).join(''));
    const read = tail.read();
    expect(read.skippedBytes).toBeGreaterThan(300);
    expect(read.values.at(-1)).toEqual({ n: 50 });
    expect(read.values.length).toBeLessThanOrEqual(40 / line(1).length + 1);
    expect(read.unreadable).toBe(0);
  });

  it('reads a large backlog in bounded steps without losing a line at a step boundary', () => {
    writeFileSync(file, Array.from({ length: 50 }, (_, n) => line(n)).join(''));
    const tail = new JsonlTail(file, { maxReadBytes: 17 });
    const seen: unknown[] = [];
    for (let step = 0; step < 100; step += 1) seen.push(...tail.read().values);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, n) => ({ n })));
  });

  it('skips a line longer than the bound instead of buffering it, and reads on after it', () => {
    const tail = new JsonlTail(file, { maxLineBytes: 64, maxReadBytes: 32 });
    writeFileSync(file, `${JSON.stringify({ big: 'x'.repeat(200) })}\n${line(5)}`);
    const seen: unknown[] = [];
    let unreadable = 0;
    for (let step = 0; step < 20; step += 1) {
      const read = tail.read();
      seen.push(...read.values);
      unreadable += read.unreadable;
    }
    expect(seen).toEqual([{ n: 5 }]);
    expect(unreadable).toBe(1);
  });

  it('forgets the file when it is removed, and reads a new one from its start', () => {
    writeFileSync(file, line(1));
    const tail = new JsonlTail(file);
    tail.read();
    rmSync(file);
    expect(tail.read()).toMatchObject({ values: [], restarted: true });
    writeFileSync(file, line(2));
    expect(tail.read().values).toEqual([{ n: 2 }]);
  });
});
