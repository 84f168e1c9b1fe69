import { gzipSync } from 'node:zlib';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { eventsInMessage, redriveDeadLetters } from '../../lambda/adapters/audit-redrive';
import { AUDIT_LOG_KEY } from '../../lambda/adapters/log-audit-sink';
import { type PutAuditEvent, toPutAuditEvent } from '../../lambda/core/audit-delivery';
import { buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';

const sqs = mockClient(SQSClient);
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq';
const event = (index: number) =>
  buildAuditEvent(
    {
      time: new Date(0),
      phase: 'request',
      caller: undefined,
      method: 'tools/call',
      decision: 'deny',
      enforced: true,
      requestDigest: requestDigest('x', index),
    },
    { eventSource: 's', recipientAccountId: '123456789012', mode: 'enforce' },
    // One UID per event index: the same index stands for the same event (UIDs are random per execution).
    { newUid: () => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}` },
  );
const parkedBody = (put: PutAuditEvent, errorCode = 'Throttling') =>
  JSON.stringify({
    kind: 'mcp-identity.parked-audit-event',
    errorCode,
    reason: 'r',
    attempts: 4,
    parkedAt: 'now',
    event: put,
  });
const subscriptionBody = (...indexes: number[]) =>
  JSON.stringify({
    awslogs: {
      data: gzipSync(
        JSON.stringify({
          messageType: 'DATA_MESSAGE',
          logEvents: indexes.map((index) => ({
            id: String(index),
            timestamp: 0,
            message: JSON.stringify({ [AUDIT_LOG_KEY]: event(index) }),
          })),
        }),
      ).toString('base64'),
    },
  });

beforeEach(() => sqs.reset());

describe('eventsInMessage', () => {
  it('reads parked events and whole subscription payloads, and nothing else', () => {
    const put = toPutAuditEvent(event(1));
    expect(eventsInMessage(parkedBody(put))).toEqual({ events: [put], errorCode: 'Throttling' });
    expect(eventsInMessage(subscriptionBody(2, 3))?.events.map((item) => item.id)).toEqual([
      event(2).UID,
      event(3).UID,
    ]);
    expect(eventsInMessage('not json')).toBeUndefined();
    expect(eventsInMessage('{"hello":1}')).toBeUndefined();
  });
});

describe('redriveDeadLetters', () => {
  const messages = [
    { MessageId: 'm1', ReceiptHandle: 'r1', Body: parkedBody(toPutAuditEvent(event(1))) },
    { MessageId: 'm2', ReceiptHandle: 'r2', Body: subscriptionBody(2, 3) },
    { MessageId: 'm3', ReceiptHandle: 'r3', Body: 'garbage' },
    { MessageId: 'm4', ReceiptHandle: 'r4', Body: parkedBody(toPutAuditEvent(event(4)), 'InvalidData') },
  ];

  it('sends parked events and deletes only the messages whose events were all ingested', async () => {
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({ Messages: [] });
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const poison = event(4).UID;
    const client = {
      put: async (batch: readonly PutAuditEvent[]) => ({
        successful: batch
          .filter((item) => item.id !== poison)
          .map((item) => ({ id: item.id, eventID: item.id })),
        failed: batch
          .filter((item) => item.id === poison)
          .map((item) => ({ id: item.id, errorCode: 'InvalidData', errorMessage: 'still bad' })),
      }),
    };
    const lines: string[] = [];

    const report = await redriveDeadLetters(new SQSClient({ region: 'eu-west-1' }), client, {
      queueUrl: QUEUE,
      dryRun: false,
      onProgress: (line) => lines.push(line),
    });

    expect(report).toEqual({
      messages: 4,
      events: 4,
      uniqueEvents: 4,
      stored: 0,
      redriven: 3,
      alreadyDelivered: 0,
      unknownOutcomeResends: 0,
      stillFailing: 1,
      unreadable: 1,
      undeleted: 0,
      byErrorCode: { Throttling: 1, ForwarderFailed: 2, InvalidData: 1 },
    });
    const deleted = sqs
      .commandCalls(DeleteMessageBatchCommand)
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .map((entry) => entry.ReceiptHandle);
    expect(deleted.sort()).toEqual(['r1', 'r2']);
    expect(lines.at(-1)).toBe(
      '4 message(s): 3 event(s) redriven, 0 already delivered, 1 still failing, 1 unreadable',
    );
  });

  it('in a dry run sends and deletes nothing, and ends when messages come back again', async () => {
    sqs.on(ReceiveMessageCommand).resolves({ Messages: messages });
    const put = jest.fn();
    const report = await redriveDeadLetters(
      new SQSClient({ region: 'eu-west-1' }),
      { put },
      { queueUrl: QUEUE, dryRun: true },
    );
    expect(report).toMatchObject({ messages: 4, events: 4, redriven: 0, unreadable: 1 });
    expect(put).not.toHaveBeenCalled();
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0);
    // Read messages stay hidden while the scan goes on (so each receive brings others), and are made visible
    // again at the end: nothing is consumed.
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input.VisibilityTimeout).toBeGreaterThan(0);
    expect(
      sqs
        .commandCalls(ChangeMessageVisibilityBatchCommand)
        .flatMap((call) => call.args[0].input.Entries ?? [])
        .map((entry) => [entry.ReceiptHandle, entry.VisibilityTimeout])
        .sort(),
    ).toEqual([
      ['r1', 0],
      ['r2', 0],
      ['r3', 0],
      ['r4', 0],
    ]);
  });

  it('stops at --max', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: messages.slice(0, 2) })
      .resolves({ Messages: messages.slice(2) });
    sqs.on(DeleteMessageBatchCommand).resolves({});
    const client = {
      put: async (batch: readonly PutAuditEvent[]) => ({
        successful: batch.map((item) => ({ id: item.id, eventID: item.id })),
        failed: [],
      }),
    };
    const report = await redriveDeadLetters(new SQSClient({ region: 'eu-west-1' }), client, {
      queueUrl: QUEUE,
      dryRun: false,
      maxMessages: 2,
    });
    expect(report.messages).toBe(2);
  });
});
