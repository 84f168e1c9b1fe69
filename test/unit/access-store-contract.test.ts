import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AccessLedgerError } from '../../cli/access-ledger';
import { DynamoDbAccessLedger } from '../../cli/access-ledger-dynamodb';
import { grantItem, revocationItem } from '../../lambda/adapters/access-items';
import { DynamoDbAccessStore } from '../../lambda/adapters/dynamodb-access-store';
import type { Revocation, RoleGrant } from '../../lambda/core/access';
import type { AuditEventData } from '../../lambda/core/audit-event';
import { silentLog } from '../helpers/harness';

/**
 * The grants table against DynamoDB's documented request shapes (Query, Scan, PutItem), with the SDK mocked:
 * what the doors read, what the CLI writes, and what the stream auditor makes of the table's change records.
 */

// The handler module builds its instance at load (as in Lambda): give it the environment the stack sets.
process.env.MCP_IDENTITY_RECIPIENT_ACCOUNT_ID ??= '123456789012';
let createHandler: typeof import('../../lambda/handlers/access-audit').createHandler;
beforeAll(() => {
  ({ createHandler } =
    require('../../lambda/handlers/access-audit') as typeof import('../../lambda/handlers/access-audit'));
});

const dynamo = mockClient(DynamoDBClient);
beforeEach(() => dynamo.reset());

const TABLE = 'Grants-Table-1';
const grant: RoleGrant = {
  id: 'g-1',
  user: 'carol',
  role: 'order-admin',
  reason: 'INC-1234',
  issuedBy: 'arn:aws:sts::123456789012:assumed-role/Ops/dave',
  issuedAt: 1_800_000_000,
  expiresAt: 1_800_007_200,
};
const revocation: Revocation = {
  id: 'r-1',
  subject: { kind: 'agent', id: 'travel-bot' },
  reason: 'prompt injection',
  issuedBy: 'arn:aws:sts::123456789012:assumed-role/Sec/erin',
  issuedAt: 1_800_000_100,
};

describe('DynamoDbAccessStore (the doors)', () => {
  it('reads one subject with one strongly consistent Query on its partition key', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [grantItem(grant)] });
    const access = await new DynamoDbAccessStore(new DynamoDBClient({}), TABLE).read({
      kind: 'user',
      id: 'carol',
    });
    expect(dynamo).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(dynamo).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'pk' },
      ExpressionAttributeValues: { ':pk': { S: 'user#carol' } },
      ConsistentRead: true,
    });
    expect(access.grants).toEqual([grant]);
  });

  it('follows LastEvaluatedKey, and refuses a subject with too many pages rather than reading forever', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: { pk: { S: 'x' }, sk: { S: 'y' } } });
    await expect(
      new DynamoDbAccessStore(new DynamoDBClient({}), TABLE).read({ kind: 'agent', id: 'bot' }),
    ).rejects.toThrow(/pages/);
    expect(dynamo).toHaveReceivedCommandTimes(QueryCommand, 5);
  });

  it('reads an unreadable revocation under a subject as a revocation of that subject (fails closed)', async () => {
    dynamo.on(QueryCommand).resolves({
      Items: [
        { pk: { S: 'agent#bot' }, sk: { S: 'revocation#r-9' }, type: { S: 'revocation' }, id: { S: 'r-9' } },
      ],
    });
    const access = await new DynamoDbAccessStore(new DynamoDBClient({}), TABLE).read({
      kind: 'agent',
      id: 'bot',
    });
    expect(access.revocations).toEqual([
      expect.objectContaining({ id: 'r-9', subject: { kind: 'agent', id: 'bot' } }),
    ]);
  });

  it('passes a throttled read up to the caller (which ignores grants and refuses on revocations)', async () => {
    dynamo.on(QueryCommand).rejects(new Error('ProvisionedThroughputExceededException'));
    await expect(
      new DynamoDbAccessStore(new DynamoDBClient({}), TABLE).read({ kind: 'user', id: 'carol' }),
    ).rejects.toThrow();
  });
});

describe('the table items', () => {
  it('store times as epoch-second Numbers and the TTL attribute as the expiry', () => {
    const item = grantItem(grant);
    expect(item).toMatchObject({
      pk: { S: 'user#carol' },
      sk: { S: 'grant#g-1' },
      type: { S: 'grant' },
      expiresAt: { N: '1800007200' },
      issuedAt: { N: '1800000000' },
      deleteAfter: { N: '1800007200' },
    });
  });

  it('give a revocation until lifted no TTL, and a lifted one the lift time', () => {
    expect(revocationItem(revocation).deleteAfter).toBeUndefined();
    expect(revocationItem({ ...revocation, liftedAt: 1_800_000_500 }).deleteAfter).toEqual({
      N: '1800000500',
    });
  });
});

describe('DynamoDbAccessLedger (the CLI)', () => {
  it('adds a grant with a conditional put that never overwrites', async () => {
    dynamo.on(PutItemCommand).resolves({});
    await new DynamoDbAccessLedger(new DynamoDBClient({}), TABLE).addGrant(grant);
    expect(dynamo).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: TABLE,
      Item: grantItem(grant),
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
    });
  });

  it('revokes a grant found by id, on condition that nobody revoked it meanwhile', async () => {
    dynamo.on(ScanCommand).resolves({ Items: [grantItem(grant)] });
    dynamo.on(PutItemCommand).resolves({});
    const ledger = new DynamoDbAccessLedger(new DynamoDBClient({}), TABLE);
    const { after } = await ledger.revokeGrant('g-1', { by: 'arn:x', reason: 'done', at: 1_800_000_300 });
    expect(dynamo).toHaveReceivedCommandWith(ScanCommand, {
      TableName: TABLE,
      FilterExpression: '#id = :id',
      ExpressionAttributeValues: { ':id': { S: 'g-1' } },
    });
    expect(dynamo).toHaveReceivedCommandWith(PutItemCommand, {
      ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(revokedAt)',
      Item: expect.objectContaining({ revokedAt: { N: '1800000300' }, deleteAfter: { N: '1800000300' } }),
    });
    expect(after.revokedBy).toBe('arn:x');
  });

  it('says so when someone else revoked it first', async () => {
    dynamo.on(ScanCommand).resolves({ Items: [grantItem(grant)] });
    dynamo
      .on(PutItemCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    await expect(
      new DynamoDbAccessLedger(new DynamoDBClient({}), TABLE).revokeGrant('g-1', {
        by: 'a',
        reason: 'r',
        at: 1,
      }),
    ).rejects.toThrow(AccessLedgerError);
  });

  it('names an unknown id', async () => {
    dynamo.on(ScanCommand).resolves({ Items: [] });
    await expect(
      new DynamoDbAccessLedger(new DynamoDBClient({}), TABLE).liftRevocation('r-404', {
        by: 'a',
        reason: 'r',
        at: 1,
      }),
    ).rejects.toThrow(/no revocation r-404/);
  });
});

describe('the stream auditor', () => {
  const stream = (old: unknown, fresh: unknown, sequence = '100'): DynamoDBStreamEvent =>
    ({
      Records: [
        {
          eventName: old === undefined ? 'INSERT' : fresh === undefined ? 'REMOVE' : 'MODIFY',
          dynamodb: {
            SequenceNumber: sequence,
            ...(old === undefined ? {} : { OldImage: old }),
            ...(fresh === undefined ? {} : { NewImage: fresh }),
          },
        },
      ],
    }) as DynamoDBStreamEvent;

  function auditor() {
    const events: AuditEventData[] = [];
    let failing = false;
    const handler = createHandler({
      sink: {
        write: async (event) => {
          if (failing) throw new Error('down');
          events.push(event);
        },
      },
      settings: { eventSource: 'mcp-identity.gw', recipientAccountId: '123456789012' },
      log: silentLog(),
    });
    return { handler, events, fail: () => (failing = true) };
  }

  it('audits a new grant as GrantRole by its issuer, and a revoked one as RevokeGrant by the revoker', async () => {
    const { handler, events } = auditor();
    await handler(stream(undefined, grantItem(grant)));
    const revoked = { ...grant, revokedAt: 1_800_000_300, revokedBy: 'arn:r', revokeReason: 'closed' };
    await handler(stream(grantItem(grant), grantItem(revoked)));
    expect(events.map((event) => [event.eventName, event.userIdentity.principalId])).toEqual([
      ['GrantRole', grant.issuedBy],
      ['RevokeGrant', 'arn:r'],
    ]);
    expect(events[0]?.requestParameters).toMatchObject({
      user: 'carol',
      role: 'order-admin',
      grantId: 'g-1',
    });
    expect(events[0]?.eventSource).toBe('mcp-identity.gw');
  });

  it('audits revocations issued and lifted, and skips TTL deletions', async () => {
    const { handler, events } = auditor();
    await handler(stream(undefined, revocationItem(revocation)));
    const lifted = { ...revocation, liftedAt: 1_800_000_900, liftedBy: 'arn:l', liftReason: 'ok' };
    await handler(stream(revocationItem(revocation), revocationItem(lifted)));
    await handler(stream(revocationItem(lifted), undefined));
    expect(events.map((event) => event.eventName)).toEqual(['RevokeAccess', 'LiftRevocation']);
    expect(events[0]?.requestParameters).toMatchObject({ agent: 'travel-bot', expiresAt: 'until lifted' });
  });

  it('reports a record it could not write as a batch item failure, so Lambda retries it', async () => {
    const { handler, fail } = auditor();
    fail();
    expect(await handler(stream(undefined, grantItem(grant), '42'))).toEqual({
      batchItemFailures: [{ itemIdentifier: '42' }],
    });
  });

  it('gives one change the same event UID on a retry (the stores count it once)', async () => {
    const { handler, events } = auditor();
    await handler(stream(undefined, grantItem(grant)));
    await handler(stream(undefined, grantItem(grant)));
    expect(events[0]?.UID).toBe(events[1]?.UID);
  });
});
