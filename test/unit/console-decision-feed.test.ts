import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DecisionFeed, decisionFromEvent, type FeedChange } from '../../local/console/decision-feed';
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
