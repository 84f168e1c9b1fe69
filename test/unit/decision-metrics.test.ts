import { gzipSync } from 'node:zlib';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { CloudWatchLogsEvent } from 'aws-lambda';
import fc from 'fast-check';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { EmfDecisionMetrics, METRIC, publishDeliveryMetrics } from '../../lambda/adapters/emf-metrics';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import { AUDIT_LOG_KEY } from '../../lambda/adapters/log-audit-sink';
import type { DeliveryReport } from '../../lambda/core/audit-delivery';
import { buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import type { PolicyDecisionPoint } from '../../lambda/core/decision';
import {
  type DecisionMetrics,
  type DecisionSample,
  LIST_LABEL,
  MAX_UNLISTED_TOOL_LABELS,
  OTHER_LABEL,
  PROMPT_LABEL,
  RESOURCE_LABEL,
  toolLabeler,
  UNKNOWN_TOOL_LABEL,
} from '../../lambda/guard/decision-metrics';
import { createGuard } from '../../lambda/guard/guard';
import type { GuardRequest } from '../../lambda/guard/types';
import { createForwarderHandler } from '../../lambda/handlers/audit-forwarder';
import { DevIssuer } from '../../local/dev-issuer';
import { AUDIENCE, MemoryAuditSink, policyBundle, settings, silentLog, USERS } from '../helpers/harness';

/**
 * Issue 14.5: one metric sample per REQUEST step, from the guard both Lambda doors share; labels bounded
 * whatever the client sends; a failing recorder never changes what the guard decided.
 */

let issuer: DevIssuer;
let verifier: JwtTokenVerifier;
const cedar = new CedarDecisionPoint(policyBundle());
beforeAll(async () => {
  issuer = await DevIssuer.start();
  verifier = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
  await verifier.hydrate();
});
afterAll(() => issuer.stop());

class Recorder implements DecisionMetrics {
  readonly samples: DecisionSample[] = [];
  record(sample: DecisionSample): void {
    this.samples.push(sample);
  }
}

function build(
  metrics: DecisionMetrics,
  pdp: PolicyDecisionPoint = cedar,
  mode: 'enforce' | 'log-only' = 'enforce',
) {
  const log = silentLog();
  const guard = createGuard({
    verifier,
    pdp,
    audit: new MemoryAuditSink(),
    log,
    settings: settings({ mode }),
    metrics,
  });
  return { guard, log };
}

async function request(
  user: keyof typeof USERS | undefined,
  message: unknown,
  door: 'agentcore' | 'apigw' = 'agentcore',
): Promise<GuardRequest> {
  const bearer = user === undefined ? [] : [`Bearer ${await issuer.sign({ ...USERS[user], aud: AUDIENCE })}`];
  return {
    door,
    credential: { authorization: bearer },
    message,
    parsed: true,
    facts: { headers: new Map() },
  };
}

const call = (name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name, arguments: args },
});

describe('the guard records one sample per request step', () => {
  it('counts an allowed call under its tool, with its door and a latency', async () => {
    const recorder = new Recorder();
    const { guard } = build(recorder);
    const result = await guard.onRequest(await request('bob', call('orders___get_recent_activity'), 'apigw'));
    expect(result.kind).toBe('forward');
    expect(recorder.samples).toEqual([
      {
        door: 'apigw',
        tool: 'orders___get_recent_activity',
        outcome: 'allow',
        decisionPointError: false,
        latencyMs: expect.any(Number),
      },
    ]);
    expect(recorder.samples[0]?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('counts a policy denial as a denial of that tool', async () => {
    const recorder = new Recorder();
    const { guard } = build(recorder);
    const result = await guard.onRequest(
      await request('carol', call('orders___update_order', { order_id: '1', status: 'x' })),
    );
    expect(result.kind).toBe('answer');
    expect(recorder.samples).toMatchObject([
      { door: 'agentcore', tool: 'orders___update_order', outcome: 'deny', decisionPointError: false },
    ]);
  });

  it('counts a decision point failure as a denial and an error', async () => {
    const recorder = new Recorder();
    const failing: PolicyDecisionPoint = {
      isAuthorized: () => Promise.reject(new Error('ThrottlingException: Rate exceeded')),
      couldBeAllowed: () => Promise.reject(new Error('ThrottlingException: Rate exceeded')),
      tokenReads: 'all',
    } as unknown as PolicyDecisionPoint;
    const { guard } = build(recorder, failing);
    const result = await guard.onRequest(await request('bob', call('orders___get_recent_activity')));
    expect(result.kind).toBe('answer');
    expect(recorder.samples).toMatchObject([
      { tool: 'orders___get_recent_activity', outcome: 'deny', decisionPointError: true },
    ]);
  });

  it('counts a missing token as a denial, and a policy deny let through in log-only mode as a denial', async () => {
    const recorder = new Recorder();
    const { guard } = build(recorder, cedar, 'log-only');
    expect(
      (await guard.onRequest(await request(undefined, call('orders___get_order', { order_id: '1' })))).kind,
    ).toBe('answer');
    const shadow = await guard.onRequest(
      await request('carol', call('orders___update_order', { order_id: '1', status: 'x' })),
    );
    expect(shadow.kind).toBe('forward');
    expect(recorder.samples.map((sample) => [sample.tool, sample.outcome])).toEqual([
      ['orders___get_order', 'deny'],
      ['orders___update_order', 'deny'],
    ]);
  });

  it('labels lists, prompts, resources and session plumbing with fixed values', async () => {
    const recorder = new Recorder();
    const { guard } = build(recorder);
    for (const method of [
      'tools/list',
      'resources/templates/list',
      'prompts/get',
      'resources/read',
      'initialize',
      'x/y',
    ])
      await guard.onRequest(
        await request('alice', { jsonrpc: '2.0', id: 1, method, params: { name: 'p', uri: 'u://x' } }),
      );
    expect(recorder.samples.map((sample) => sample.tool)).toEqual([
      LIST_LABEL,
      LIST_LABEL,
      PROMPT_LABEL,
      RESOURCE_LABEL,
      OTHER_LABEL,
      OTHER_LABEL,
    ]);
  });

  it('never lets a client-chosen tool name become a dimension value', async () => {
    const recorder = new Recorder();
    const { guard } = build(recorder);
    const token = await issuer.sign({ ...USERS.alice, aud: AUDIENCE });
    for (const name of ['orders___made_up', token, 'a'.repeat(65), 'orders___get_order\n', 42])
      await guard.onRequest(await request('alice', call(name as string)));
    expect(recorder.samples.map((sample) => sample.tool)).toEqual(Array(5).fill(UNKNOWN_TOOL_LABEL));
    expect(recorder.samples.every((sample) => sample.outcome === 'deny')).toBe(true);
  });

  it('a recorder that throws changes nothing the guard decided, and its warning holds no token', async () => {
    const throwing: DecisionMetrics = {
      record: () => {
        throw new Error('stdout closed');
      },
    };
    const { guard, log } = build(throwing);
    const token = await issuer.sign({ ...USERS.bob, aud: AUDIENCE });
    const allowed = await guard.onRequest({
      ...(await request('bob', call('orders___get_recent_activity'))),
      credential: { authorization: [`Bearer ${token}`] },
    });
    expect(allowed.kind).toBe('forward');
    const denied = await guard.onRequest(
      await request('carol', call('orders___update_order', { order_id: '1', status: 'x' })),
    );
    expect(denied.kind).toBe('answer');
    const warnings = log.lines.filter((line) => line[0] === 'decision metrics could not be recorded');
    expect(warnings).toHaveLength(2);
    expect(JSON.stringify(log.lines)).not.toContain(token);
  });

  it('without a recorder, the guard decides as before', async () => {
    const guard = createGuard({
      verifier,
      pdp: cedar,
      audit: new MemoryAuditSink(),
      log: silentLog(),
      settings: settings(),
    });
    expect((await guard.onRequest(await request('bob', call('orders___get_recent_activity')))).kind).toBe(
      'forward',
    );
  });
});

describe('tool labels stay bounded', () => {
  it('with the schema known, every label is a schema tool or (unknown)', () => {
    const known = new Set(['orders___get_order', 'orders___update_order']);
    const label = toolLabeler(known);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom(...known), fc.anything()), (name) => {
        const value = label(name);
        return known.has(value) || value === UNKNOWN_TOOL_LABEL;
      }),
    );
  });

  it('without the schema, at most the first 50 well-formed names are kept', () => {
    const label = toolLabeler(undefined);
    const labels = new Set(Array.from({ length: 200 }, (_, index) => label(`t___tool_${index}`)));
    expect(labels.size).toBe(MAX_UNLISTED_TOOL_LABELS + 1);
    expect(label('t___tool_0')).toBe('t___tool_0');
    expect(label('t___tool_199')).toBe(UNKNOWN_TOOL_LABEL);
  });
});

describe('EMF lines (Powertools Metrics)', () => {
  let lines: string[];
  let write: jest.SpyInstance;
  beforeEach(() => {
    lines = [];
    write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
  });
  afterEach(() => write.mockRestore());

  const emf = () => lines.map((line) => JSON.parse(line));
  const sample = (overrides: Partial<DecisionSample> = {}): DecisionSample => ({
    door: 'agentcore',
    tool: 'orders___get_order',
    outcome: 'allow',
    decisionPointError: false,
    latencyMs: 12.3456789,
    ...overrides,
  });

  it('writes one line per decision, flushed at once, with the per-tool and per-door dimension sets', () => {
    const metrics = new EmfDecisionMetrics(new Metrics({ namespace: 'TestNs', serviceName: 'gw-1' }));
    metrics.record(sample());
    metrics.record(
      sample({ tool: 'orders___update_order', outcome: 'deny', decisionPointError: true, door: 'apigw' }),
    );
    const [first, second] = emf();
    expect(lines).toHaveLength(2);
    expect(first._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'TestNs',
        Dimensions: [
          ['service', 'Tool'],
          ['service', 'Door'],
        ],
        Metrics: expect.arrayContaining([
          { Name: METRIC.calls, Unit: 'Count' },
          { Name: METRIC.allows, Unit: 'Count' },
          { Name: METRIC.denials, Unit: 'Count' },
          { Name: METRIC.decisionPointErrors, Unit: 'Count' },
          { Name: METRIC.decisionLatency, Unit: 'Milliseconds' },
        ]),
      },
    ]);
    expect(first).toMatchObject({
      service: 'gw-1',
      Tool: 'orders___get_order',
      Door: 'agentcore',
      Calls: 1,
      Allows: 1,
      Denials: 0,
      DecisionPointErrors: 0,
      DecisionLatency: 12.346,
    });
    // Nothing of the first decision leaks into the second line.
    expect(second).toMatchObject({
      Tool: 'orders___update_order',
      Door: 'apigw',
      Calls: 1,
      Allows: 0,
      Denials: 1,
      DecisionPointErrors: 1,
    });
  });

  it('a line that fails half-built leaves nothing behind for the next decision', () => {
    const powertools = new Metrics({ namespace: 'TestNs', serviceName: 'gw-1' });
    const metrics = new EmfDecisionMetrics(powertools);
    jest.spyOn(powertools, 'publishStoredMetrics').mockImplementationOnce(() => {
      throw new Error('EPIPE');
    });
    expect(() => metrics.record(sample({ tool: 'orders___update_order', outcome: 'deny' }))).toThrow('EPIPE');
    metrics.record(sample());
    expect(lines).toHaveLength(1);
    // One value each (not the failed decision's too), and the second decision's own tool.
    expect(emf()[0]).toMatchObject({ Tool: 'orders___get_order', Calls: 1, Allows: 1, Denials: 0 });
  });

  it('the forwarder publishes delivered and parked counts', () => {
    const metrics = new Metrics({ namespace: 'TestNs', serviceName: 'gw-1' });
    publishDeliveryMetrics(metrics, {
      ingested: 7,
      parked: 2,
      duplicates: 0,
      retries: 1,
      alreadyDelivered: 0,
      unknownOutcomeResends: 0,
      ledgerUnavailable: 0,
      unmarked: 0,
    });
    expect(emf()).toEqual([
      expect.objectContaining({ service: 'gw-1', AuditEventsDelivered: 7, AuditEventsParked: 2 }),
    ]);
    expect(emf()[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service']]);
  });
});

describe('the audit forwarder reports parked events', () => {
  const eventLine = () =>
    JSON.stringify({
      [AUDIT_LOG_KEY]: buildAuditEvent(
        {
          time: new Date(Date.UTC(2026, 10, 21, 12, 0, 0)),
          phase: 'request',
          caller: {
            subject: 'alice',
            issuer: 'i',
            roles: [],
            actors: [],
            expiresAt: 2000000000,
            tokenId: 't',
          },
          method: 'tools/call',
          toolName: 'orders___get_order',
          jsonRpcId: 1,
          decision: 'allow',
          enforced: true,
          requestDigest: requestDigest('tools/call', {}),
        },
        { eventSource: 'mcp-identity', recipientAccountId: '123456789012', mode: 'enforce' },
      ),
    });
  const subscription = (): CloudWatchLogsEvent => ({
    awslogs: {
      data: gzipSync(
        JSON.stringify({
          messageType: 'DATA_MESSAGE',
          logGroup: '/audit',
          logEvents: [{ id: '1', timestamp: 0, message: eventLine() }],
        }),
      ).toString('base64'),
    },
  });
  const rejectingClient = {
    put: async (batch: readonly { id: string }[]) => ({
      successful: [],
      failed: batch.map((event) => ({ id: event.id, errorCode: 'InvalidData', errorMessage: 'bad' })),
    }),
  };
  const parkedSink = { park: async () => undefined };
  const delivery = { maxAttempts: 1, baseDelayMs: 1, sleep: async () => undefined };

  it('hands each invocation’s report to the metrics, parked events included', async () => {
    const reports: DeliveryReport[] = [];
    const handler = createForwarderHandler({
      client: rejectingClient,
      deadLetters: parkedSink,
      log: silentLog(),
      delivery,
      metrics: (report) => reports.push(report),
    });
    await handler(subscription());
    expect(reports).toEqual([expect.objectContaining({ ingested: 0, parked: 1 })]);
  });

  it('a metric that cannot be written does not fail the invocation (Lambda would retry a delivered batch)', async () => {
    const log = silentLog();
    const handler = createForwarderHandler({
      client: rejectingClient,
      deadLetters: parkedSink,
      log,
      delivery,
      metrics: () => {
        throw new Error('EPIPE');
      },
    });
    await expect(handler(subscription())).resolves.toMatchObject({ parked: 1 });
    expect(log.lines.some((line) => line[0] === 'forwarder metrics could not be recorded')).toBe(true);
  });
});
