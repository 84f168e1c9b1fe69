import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  DecisionFeed,
  decisionFromEvent,
  type FeedChange,
  MAX_POLICIES,
} from '../../local/console/decision-feed';
import { JsonlTail } from '../../local/console/jsonl-tail';
import { auditLine } from '../helpers/console-events';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'console-feed-'));
  file = join(dir, 'audit.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('decisionFromEvent', () => {
  it('reads the fields the console shows from a REQUEST-phase event', () => {
    const event = JSON.parse(
      auditLine({ uid: 'u1', user: 'alice', tool: 'orders___get_order', decision: 'deny', policies: ['p1'] }),
    );
    expect(decisionFromEvent(event, 1)).toMatchObject({
      seq: 1,
      uid: 'u1',
      user: 'alice',
      agent: 'agent-1',
      tool: 'orders___get_order',
      decision: 'deny',
      policies: ['p1'],
      reason: 'Denied by policy p1',
      enforced: true,
      outcome: '',
    });
  });

  it('ignores outcomes and anything that is not an audit event, and never throws', () => {
    expect(decisionFromEvent(JSON.parse(auditLine({ uid: 'x', phase: 'response' })), 1)).toBeUndefined();
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const decision = decisionFromEvent(value, 1);
        if (decision !== undefined) expect(typeof decision.user).toBe('string');
      }),
    );
  });

  it('cuts very long recorded arguments, marking the cut', () => {
    const event = JSON.parse(auditLine({ uid: 'u', args: { blob: 'x'.repeat(10_000) } }));
    const decision = decisionFromEvent(event, 1);
    expect(decision?.arguments.length).toBeLessThan(4200);
    expect(decision?.arguments).toMatch(/…\[cut by the console\]$/);
  });
});

describe('DecisionFeed', () => {
  it('keeps the most recent decisions up to its capacity, oldest first', () => {
    for (let n = 1; n <= 5; n += 1) appendFileSync(file, `${auditLine({ uid: `u${n}` })}\n`);
    const feed = new DecisionFeed(new JsonlTail(file), { capacity: 3 });
    feed.refresh();
    expect(feed.recent().map((decision) => decision.uid)).toEqual(['u3', 'u4', 'u5']);
  });

  it('joins the outcome to its decision and tells listeners of both', () => {
    const feed = new DecisionFeed(new JsonlTail(file));
    const changes: FeedChange[] = [];
    feed.subscribe((change) => changes.push(change));
    appendFileSync(file, `${auditLine({ uid: 'u1', requestKey: 'k1' })}\n`);
    feed.refresh();
    appendFileSync(
      file,
      `${auditLine({ uid: 'o1', requestKey: 'k1', phase: 'response', outcome: 'success' })}\n`,
    );
    feed.refresh();
    expect(changes.map((change) => change.kind)).toEqual(['decision', 'outcome']);
    expect(feed.recent()[0]?.outcome).toBe('success');
  });

  it('filters by user, tool and decision', () => {
    appendFileSync(
      file,
      [
        auditLine({ uid: 'a', user: 'alice', tool: 't1', decision: 'allow' }),
        auditLine({ uid: 'b', user: 'bob', tool: 't1', decision: 'deny' }),
        auditLine({ uid: 'c', user: 'bob', tool: 't2', decision: 'deny' }),
        '',
      ].join('\n'),
    );
    const feed = new DecisionFeed(new JsonlTail(file));
    feed.refresh();
    const uids = (filter: Parameters<DecisionFeed['recent']>[0]) => feed.recent(filter).map((d) => d.uid);
    expect(uids({ user: 'bob' })).toEqual(['b', 'c']);
    expect(uids({ tool: 't1', decision: 'deny' })).toEqual(['b']);
    expect(uids({ decision: 'allow' })).toEqual(['a']);
  });

  it('counts unreadable lines and keeps going; a failing listener does not stop the others', () => {
    appendFileSync(file, `garbage\n${auditLine({ uid: 'u1' })}\n`);
    const feed = new DecisionFeed(new JsonlTail(file));
    const heard: string[] = [];
    feed.subscribe(() => {
      throw new Error('a closed client');
    });
    feed.subscribe((change) => heard.push(change.decision.uid));
    feed.refresh();
    expect(feed.unreadable).toBe(1);
    expect(heard).toEqual(['u1']);
  });
});

describe('DecisionFeed against hostile lines', () => {
  const HOSTILE =
    '{"UID":"e","additionalEventData":{"phase":"request"},"responseElements":{"determiningPolicies":[{"toString":1}]}}';

  it('reads a line whose policies cannot be converted to text, keeping only string ids, and the lines after it', () => {
    appendFileSync(file, `${HOSTILE}\n${auditLine({ uid: 'after', policies: ['p9'] })}\n`);
    const feed = new DecisionFeed(new JsonlTail(file));
    expect(() => feed.refresh()).not.toThrow();
    expect(feed.recent().map((decision) => [decision.uid, decision.policies])).toEqual([
      ['e', []],
      ['after', ['p9']],
    ]);
  });

  it('keeps the same for policies written as JSON text with objects in it', () => {
    const line = JSON.stringify({
      UID: 'e',
      additionalEventData: { phase: 'request' },
      responseElements: { determiningPolicies: '[{"valueOf":1,"toString":1},"p1",7,null]' },
    });
    appendFileSync(file, `${line}\n`);
    const feed = new DecisionFeed(new JsonlTail(file));
    feed.refresh();
    expect(feed.recent()[0]?.policies).toEqual(['p1']);
  });

  it(`keeps at most ${MAX_POLICIES} policies per decision`, () => {
    const many = Array.from({ length: 50_000 }, (_, n) => `p${n}`);
    appendFileSync(file, `${auditLine({ uid: 'many', policies: many })}\n`);
    const feed = new DecisionFeed(new JsonlTail(file));
    feed.refresh();
    expect(feed.recent()[0]?.policies).toEqual(many.slice(0, MAX_POLICIES));
  });

  it('counts an event whose conversion throws as unreadable and reads the rest of the chunk', () => {
    const tail = new JsonlTail(file);
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error('a getter that throws');
        },
      },
    );
    jest.spyOn(tail, 'read').mockReturnValueOnce({
      values: [trap, JSON.parse(auditLine({ uid: 'good' }))],
      unreadable: 0,
      restarted: false,
      skippedBytes: 0,
    });
    const feed = new DecisionFeed(tail);
    expect(() => feed.refresh()).not.toThrow();
    expect(feed.unreadable).toBe(1);
    expect(feed.recent().map((decision) => decision.uid)).toEqual(['good']);
  });

  const special = fc.dictionary(
    fc.constantFrom('toString', 'valueOf', 'toJSON', '__proto__', 'constructor', 'hasOwnProperty', 'length'),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const deep = fc.nat({ max: 3000 }).map((depth) => {
    let value: unknown = [{ toString: 1 }];
    for (let n = 0; n < depth; n += 1) value = n % 2 === 0 ? [value] : { determiningPolicies: value };
    return value;
  });
  const hostileValue = fc.oneof(fc.jsonValue(), fc.anything(), special, deep);
  const hostileList = fc.array(fc.oneof(special, hostileValue), { maxLength: 5 });
  // Lists are where String() met an object: as arrays, and as the JSON text the guard writes them in.
  const hostilePolicies = fc.oneof(
    hostileValue,
    hostileList,
    hostileList.map((list) => JSON.stringify(list)),
  );
  // Hostile values in every place the feed reads, and as whole lines.
  const hostileEvent = fc.oneof(
    hostileValue,
    fc
      .record({
        UID: fc.oneof(fc.string(), hostileValue),
        phase: fc.oneof(fc.constantFrom('request', 'response'), hostileValue),
        requestKey: fc.oneof(fc.constant('k'), hostileValue),
        userIdentity: hostileValue,
        responseElements: fc.oneof(
          hostileValue,
          fc.record({ determiningPolicies: hostilePolicies, decision: hostileValue, enforced: hostileValue }),
        ),
        requestParameters: hostileValue,
        outcome: hostileValue,
      })
      .map(({ phase, requestKey, outcome, ...rest }) => ({
        ...rest,
        additionalEventData: { phase, requestKey, outcome },
      })),
  );

  it('never throws for any JSON line, and keeps reading the good lines after it', () => {
    let round = 0;
    fc.assert(
      fc.property(fc.array(hostileEvent, { maxLength: 4 }), (events) => {
        round += 1;
        const lines = events
          .map((event) => {
            try {
              return JSON.stringify(event);
            } catch {
              return undefined; // fc.anything can make a BigInt, which has no JSON text
            }
          })
          .filter((line): line is string => typeof line === 'string');
        const path = join(dir, `round-${round}.jsonl`);
        const feed = new DecisionFeed(new JsonlTail(path));
        appendFileSync(path, `${auditLine({ uid: 'before', requestKey: 'k' })}\n`);
        feed.refresh();
        appendFileSync(path, `${[...lines, auditLine({ uid: 'after' })].join('\n')}\n`);
        expect(() => feed.refresh()).not.toThrow();
        expect(feed.recent().at(-1)?.uid).toBe('after');
        expect(feed.recent()[0]?.uid).toBe('before');
      }),
      { numRuns: 200 },
    );
  });
});
