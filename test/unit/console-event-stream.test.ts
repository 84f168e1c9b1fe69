import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecisionFeed } from '../../local/console/decision-feed';
import { EventStreams } from '../../local/console/event-stream';
import { JsonlTail } from '../../local/console/jsonl-tail';
import { auditLine } from '../helpers/console-events';

/** A response whose reader never reads: everything written stays buffered. */
class StalledResponse {
  writableLength = 0;
  destroyed = false;
  ended = false;
  chunks: string[] = [];
  writeHead() {
    return this;
  }
  write(chunk: string) {
    this.chunks.push(chunk);
    this.writableLength += Buffer.byteLength(chunk);
    return false;
  }
  once() {
    return this;
  }
  end() {
    this.ended = true;
  }
  destroy() {
    this.destroyed = true;
  }
}

let dir: string;
let file: string;
let streams: EventStreams | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'console-stream-'));
  file = join(dir, 'audit.jsonl');
});
afterEach(() => {
  streams?.close();
  rmSync(dir, { recursive: true, force: true });
});

const open = (s: EventStreams, response: StalledResponse, filter = {}) =>
  s.open(response as unknown as ServerResponse, filter);

it('does not drop a reader for a history larger than the bound, but drops one that stops reading', () => {
  for (let n = 0; n < 20; n += 1) appendFileSync(file, `${auditLine({ uid: `old${n}` })}\n`);
  const feed = new DecisionFeed(new JsonlTail(file));
  streams = new EventStreams(feed, { maxBufferedBytes: 2000, pollMs: 60_000 });
  const reader = new StalledResponse();
  expect(open(streams, reader)).toBe(true);
  expect(reader.writableLength).toBeGreaterThan(2000);

  appendFileSync(file, `${auditLine({ uid: 'new1' })}\n`);
  feed.refresh();
  expect(reader.destroyed).toBe(false);
  expect(reader.chunks.at(-1)).toContain('"uid":"new1"');

  for (let n = 0; n < 10; n += 1) appendFileSync(file, `${auditLine({ uid: `more${n}` })}\n`);
  feed.refresh();
  expect(reader.destroyed).toBe(true);
  expect(streams.size).toBe(0);
});

it('sends each reader only what matches its filter, and caps the number of readers', () => {
  const feed = new DecisionFeed(new JsonlTail(file));
  streams = new EventStreams(feed, { maxClients: 2, pollMs: 60_000 });
  const alice = new StalledResponse();
  const everyone = new StalledResponse();
  expect(open(streams, alice, { user: 'alice' })).toBe(true);
  expect(open(streams, everyone)).toBe(true);
  expect(open(streams, new StalledResponse())).toBe(false);
  appendFileSync(
    file,
    `${auditLine({ uid: 'b', user: 'bob' })}\n${auditLine({ uid: 'a', user: 'alice' })}\n`,
  );
  feed.refresh();
  const decisions = (response: StalledResponse) =>
    response.chunks
      .filter((chunk) => chunk.startsWith('event: decision'))
      .map((chunk) => JSON.parse(chunk.split('data: ')[1] as string).uid);
  expect(decisions(alice)).toEqual(['a']);
  expect(decisions(everyone)).toEqual(['b', 'a']);
  streams.close();
  expect(alice.ended && everyone.ended).toBe(true);
  expect(streams.size).toBe(0);
});

describe('polling', () => {
  afterEach(() => jest.useRealTimers());

  it('delivers the lines after a line whose policies cannot be converted to text', () => {
    jest.useFakeTimers();
    appendFileSync(file, '');
    const feed = new DecisionFeed(new JsonlTail(file));
    streams = new EventStreams(feed, { pollMs: 10 });
    const reader = new StalledResponse();
    expect(open(streams, reader)).toBe(true);
    appendFileSync(
      file,
      '{"UID":"e","additionalEventData":{"phase":"request"},"responseElements":{"determiningPolicies":[{"toString":1}]}}\n' +
        `${auditLine({ uid: 'after' })}\n`,
    );
    expect(() => jest.advanceTimersByTime(20)).not.toThrow();
    expect(reader.chunks.join('')).toContain('"uid":"after"');
  });

  it('a poll that throws never escapes its timer (it would end the whole local stack)', () => {
    jest.useFakeTimers();
    const feed = new DecisionFeed(new JsonlTail(file));
    streams = new EventStreams(feed, { pollMs: 10 });
    expect(open(streams, new StalledResponse())).toBe(true);
    jest.spyOn(feed, 'refresh').mockImplementation(() => {
      throw new TypeError('Cannot convert object to primitive value');
    });
    expect(() => jest.advanceTimersByTime(30)).not.toThrow();
    expect(feed.refresh).toHaveBeenCalled();
  });
});
