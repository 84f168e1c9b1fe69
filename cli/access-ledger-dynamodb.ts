import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import {
  ACCESS_PARTITION_KEY,
  ACCESS_SORT_KEY,
  type AccessItem,
  grantFromItem,
  grantItem,
  revocationFromItem,
  revocationItem,
} from '../lambda/adapters/access-items';
import { DynamoDbAccessStore } from '../lambda/adapters/dynamodb-access-store';
import type { AccessSubject, Revocation, RoleGrant, SubjectAccess } from '../lambda/core/access';
import { type AccessLedger, AccessLedgerError, type LedgerChange } from './access-ledger';

/**
 * The grants table as the CLI writes it. New entries are conditional puts (never overwrite); revoking or lifting
 * rewrites the item on condition that it is still unrevoked/unlifted, so two operators cannot both "win". Finding
 * an entry by id and listing scan the table: it holds only active and recently ended entries (TTL), and these are
 * operator commands, not the hot path. The table's stream turns each write into an audit event (AWS side).
 */
export class DynamoDbAccessLedger implements AccessLedger {
  private readonly reader: DynamoDbAccessStore;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.reader = new DynamoDbAccessStore(client, tableName);
  }

  get where(): string {
    return `table ${this.tableName}`;
  }

  read(subject: AccessSubject): Promise<SubjectAccess> {
    return this.reader.read(subject);
  }

  private async scan(filter?: { id: string }): Promise<AccessItem[]> {
    const items: AccessItem[] = [];
    let start: ScanCommandOutput['LastEvaluatedKey'];
    do {
      const output = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          ...(filter === undefined
            ? {}
            : {
                FilterExpression: '#id = :id',
                ExpressionAttributeNames: { '#id': 'id' },
                ExpressionAttributeValues: { ':id': { S: filter.id } },
              }),
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      items.push(...((output.Items ?? []) as AccessItem[]));
      start = output.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  async list(): Promise<{ grants: RoleGrant[]; revocations: Revocation[] }> {
    const items = await this.scan();
    return {
      grants: items.map((item) => grantFromItem(item)).filter((grant) => grant !== undefined),
      revocations: items
        .map((item) => revocationFromItem(item))
        .filter((revocation) => revocation !== undefined),
    };
  }

  private async put(item: AccessItem, condition: string, conflict: string): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#pk': ACCESS_PARTITION_KEY },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new AccessLedgerError(conflict);
      throw error;
    }
  }

  async addGrant(grant: RoleGrant): Promise<void> {
    await this.put(grantItem(grant), 'attribute_not_exists(#pk)', `grant id ${grant.id} exists already`);
  }

  async addRevocation(revocation: Revocation): Promise<void> {
    await this.put(
      revocationItem(revocation),
      'attribute_not_exists(#pk)',
      `revocation id ${revocation.id} exists already`,
    );
  }

  async revokeGrant(id: string, change: LedgerChange): Promise<{ before: RoleGrant; after: RoleGrant }> {
    const before = (await this.scan({ id })).map((item) => grantFromItem(item)).find((grant) => grant);
    if (before === undefined) throw new AccessLedgerError(`no grant ${id} in ${this.where}`);
    if (before.revokedAt !== undefined) throw new AccessLedgerError(`grant ${id} is already revoked`);
    const after: RoleGrant = {
      ...before,
      revokedAt: change.at,
      revokedBy: change.by,
      revokeReason: change.reason,
    };
    await this.put(
      grantItem(after),
      'attribute_exists(#pk) AND attribute_not_exists(revokedAt)',
      `grant ${id} was revoked by someone else meanwhile`,
    );
    return { before, after };
  }

  async liftRevocation(
    id: string,
    change: LedgerChange,
    check?: (before: Revocation) => void,
  ): Promise<{ before: Revocation; after: Revocation }> {
    const found = (await this.scan({ id }))
      .map((item) => ({ item, revocation: revocationFromItem(item) }))
      .find((entry) => entry.revocation);
    const before = found?.revocation;
    if (found === undefined || before === undefined)
      throw new AccessLedgerError(`no revocation ${id} in ${this.where}`);
    if (before.liftedAt !== undefined) throw new AccessLedgerError(`revocation ${id} is already lifted`);
    check?.(before);
    const after: Revocation = {
      ...before,
      liftedAt: change.at,
      liftedBy: change.by,
      liftReason: change.reason,
    };
    // Rewritten where it is (a user revocation written before keys were case folded lives under the exact id).
    const key = {
      [ACCESS_PARTITION_KEY]: found.item[ACCESS_PARTITION_KEY],
      [ACCESS_SORT_KEY]: found.item[ACCESS_SORT_KEY],
    };
    await this.put(
      { ...revocationItem(after), ...key } as AccessItem,
      'attribute_exists(#pk) AND attribute_not_exists(liftedAt)',
      `revocation ${id} was lifted by someone else meanwhile`,
    );
    return { before, after };
  }
}
