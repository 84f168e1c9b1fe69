import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import type { AccessStore, Revocation, RoleGrant } from '../../lambda/core/access';
import type { AuditEventData } from '../../lambda/core/audit-event';
import { type Caller, callerFromClaims } from '../../lambda/core/caller';
import { revocationGate } from '../../lambda/guard/access-gates';
import { FileAccessLedger } from '../../local/access-file';
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

  it('reads an item under a revocation key whose type was rewritten as a revocation of that subject', async () => {
    const retyped = { ...revocationItem(revocation), type: { S: 'note' } };
    dynamo.on(QueryCommand).resolves({ Items: [retyped] });
    const access = await new DynamoDbAccessStore(new DynamoDBClient({}), TABLE).read({
      kind: 'agent',
      id: 'travel-bot',
    });
    expect(access.revocations).toEqual([
      expect.objectContaining({ id: 'r-1', subject: { kind: 'agent', id: 'travel-bot' } }),
    ]);
    expect(access.revocations[0]?.liftedAt).toBeUndefined();
  });

  it('passes a throttled read up to the caller (which ignores grants and refuses on revocations)', async () => {
    dynamo.on(QueryCommand).rejects(new Error('ProvisionedThroughputExceededException'));
    await expect(
      new DynamoDbAccessStore(new DynamoDBClient({}), TABLE).read({ kind: 'user', id: 'carol' }),
    ).rejects.toThrow();
  });
});

describe('a user revocation through the stores and the kill switch gate', () => {
  const alice = callerFromClaims({
    sub: '6f1c2d9e-0000-4000-8000-aaaaaaaaaaaa',
    iss: 'i',
    exp: 4_000_000_000,
    username: 'alice',
    email: 'alice@example.com',
  });
  const byName = (id: string): Revocation => ({
    id: 'r-9',
    subject: { kind: 'user', id },
    reason: 'laptop stolen',
    issuedBy: 'op',
    issuedAt: 1_800_000_000,
  });
  const refused = async (store: AccessStore, caller: Caller) =>
    (await revocationGate(store).onCaller?.({ caller } as never))?.errorCode;

  it('refuses by username or email, any case, from the table (the revocation is keyed folded)', async () => {
    for (const id of ['Alice', 'ALICE@example.com', 'alice']) {
      dynamo.reset();
      const item = revocationItem(byName(id));
      dynamo.on(QueryCommand).callsFake((input) => ({
        Items: input.ExpressionAttributeValues[':pk'].S === item.pk?.S ? [item] : [],
      }));
      expect([id, await refused(new DynamoDbAccessStore(new DynamoDBClient({}), TABLE), alice)]).toEqual([
        id,
        'Revoked',
      ]);
    }
  });

  it('refuses by username or email, any case, from the local file', async () => {
    for (const id of ['Alice', 'ALICE@Example.com', 'jose\u0301']) {
      const ledger = new FileAccessLedger(mkdtempSync(join(tmpdir(), 'access-')));
      await ledger.addRevocation(byName(id));
      const jose = callerFromClaims({ sub: 'Jos\u00e9', iss: 'i', exp: 4_000_000_000 });
      expect([id, (await refused(ledger, alice)) ?? (await refused(ledger, jose))]).toEqual([id, 'Revoked']);
    }
  });

  it('still finds a revocation written under the exact subject before keys were folded', async () => {
    const legacy = { ...revocationItem(byName('Alice')), pk: { S: 'user#Alice' } };
    dynamo.on(QueryCommand).callsFake((input) => ({
      Items: input.ExpressionAttributeValues[':pk'].S === 'user#Alice' ? [legacy] : [],
    }));
    const caller = callerFromClaims({ sub: 'Alice', iss: 'i', exp: 4_000_000_000 });
    expect(await refused(new DynamoDbAccessStore(new DynamoDBClient({}), TABLE), caller)).toBe('Revoked');
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
  const TTL_SERVICE = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
  const stream = (
    old: unknown,
    fresh: unknown,
    sequence = '100',
    userIdentity?: unknown,
  ): DynamoDBStreamEvent =>
    ({
      Records: [
        {
          eventName: old === undefined ? 'INSERT' : fresh === undefined ? 'REMOVE' : 'MODIFY',
          ...(userIdentity === undefined ? {} : { userIdentity }),
          dynamodb: {
            ApproximateCreationDateTime: 1_800_001_000,
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

  it('audits revocations issued and lifted, and a TTL deletion as an expiry by DynamoDB', async () => {
    const { handler, events } = auditor();
    await handler(stream(undefined, revocationItem(revocation)));
    const lifted = { ...revocation, liftedAt: 1_800_000_900, liftedBy: 'arn:l', liftReason: 'ok' };
    await handler(stream(revocationItem(revocation), revocationItem(lifted)));
    await handler(stream(revocationItem(lifted), undefined, '101', TTL_SERVICE));
    expect(events.map((event) => event.eventName)).toEqual([
      'RevokeAccess',
      'LiftRevocation',
      'ExpireAccessEntry',
    ]);
    expect(events[0]?.requestParameters).toMatchObject({ agent: 'travel-bot', expiresAt: 'until lifted' });
    expect(events[2]?.userIdentity).toMatchObject({
      type: 'AWSService',
      principalId: 'dynamodb.amazonaws.com',
    });
  });

  it('audits a delete by anyone but the TTL process as DeleteAccessEntry, with what the entry held', async () => {
    const { handler, events } = auditor();
    await handler(stream(revocationItem(revocation), undefined));
    await handler(
      stream(revocationItem(revocation), undefined, '102', {
        type: 'Service',
        principalId: 'evil.example.com',
      }),
    );
    expect(events.map((event) => event.eventName)).toEqual(['DeleteAccessEntry', 'DeleteAccessEntry']);
    const changes = JSON.parse(events[0]?.requestParameters?.changes ?? '{}');
    expect(changes.subjectId).toEqual({ before: 'travel-bot' });
    expect(changes.type).toEqual({ before: 'revocation' });
    expect(events[0]?.requestParameters).toMatchObject({ entry: 'r-1' });
  });

  it('audits a revocation expired in place (no lift) as ChangeAccessEntry with the expiry before and after', async () => {
    const { handler, events } = auditor();
    const expired = { ...revocation, expiresAt: 1_800_000_101 };
    await handler(stream(revocationItem(revocation), revocationItem(expired)));
    expect(events.map((event) => event.eventName)).toEqual(['ChangeAccessEntry']);
    const changes = JSON.parse(events[0]?.requestParameters?.changes ?? '{}');
    expect(changes.expiresAt).toEqual({ after: '1800000101' });
    expect(changes.deleteAfter).toEqual({ after: '1800000101' });
  });

  it('audits a revocation whose type was rewritten (so readers skip it) as ChangeAccessEntry', async () => {
    const { handler, events } = auditor();
    await handler(stream(revocationItem(revocation), { ...revocationItem(revocation), type: { S: 'note' } }));
    expect(events.map((event) => event.eventName)).toEqual(['ChangeAccessEntry']);
    expect(JSON.parse(events[0]?.requestParameters?.changes ?? '{}')).toEqual({
      type: { before: 'revocation', after: 'note' },
    });
  });

  it('audits a grant widened in place, and a revoke that also widens, as ChangeAccessEntry with role and expiry', async () => {
    const { handler, events } = auditor();
    const widened = { ...grant, role: 'admin', expiresAt: 4_102_444_800 };
    await handler(stream(grantItem(grant), grantItem(widened)));
    const sneaky = { ...widened, revokedAt: 1_800_000_300, revokedBy: 'arn:r', revokeReason: 'closed' };
    await handler(stream(grantItem(grant), grantItem(sneaky)));
    expect(events.map((event) => event.eventName)).toEqual(['ChangeAccessEntry', 'ChangeAccessEntry']);
    const changes = JSON.parse(events[0]?.requestParameters?.changes ?? '{}');
    expect(changes.role).toEqual({ before: 'order-admin', after: 'admin' });
    expect(changes.expiresAt).toEqual({ before: '1800007200', after: '4102444800' });
    // Nobody set an author field in the first write: no one is named, rather than the grant's old issuer.
    expect(events[0]?.userIdentity.principalId).toBe('unknown');
    expect(events[1]?.userIdentity.details).toMatchObject({ claimedBy: 'arn:r' });
  });

  it('names the author an entry claims as claimed, pointing at CloudTrail data events for the real writer', async () => {
    const { handler, events } = auditor();
    await handler(stream(undefined, grantItem(grant)));
    expect(events[0]?.userIdentity.details).toMatchObject({ claimedBy: grant.issuedBy });
    expect(events[0]?.userIdentity.details?.note).toMatch(/CloudTrail data events/);
  });

  it('gives every write its own event UID, and a retried write the same one', async () => {
    const { handler, events } = auditor();
    const expired = revocationItem({ ...revocation, expiresAt: 1_800_000_101 });
    await handler(stream(revocationItem(revocation), expired, '200'));
    await handler(stream(revocationItem(revocation), expired, '200'));
    await handler(stream(revocationItem(revocation), expired, '201'));
    expect(events[0]?.UID).toBe(events[1]?.UID);
    expect(events[2]?.UID).not.toBe(events[0]?.UID);
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
