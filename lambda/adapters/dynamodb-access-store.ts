import { type DynamoDBClient, QueryCommand, type QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import type { AccessStore, AccessSubject, Revocation, RoleGrant, SubjectAccess } from '../core/access';
import {
  ACCESS_PARTITION_KEY,
  type AccessItem,
  grantFromItem,
  partitionOf,
  revocationFromItem,
} from './access-items';

/** A subject with more than this many pages of items is refused rather than read without end. */
const MAX_PAGES = 5;

/**
 * The guard's read side of the grants table: one strongly consistent Query per subject (`pk`), so a revocation
 * written before the read began is always seen — the propagation bound is the cache TTL, not replication lag.
 * Read-only (`dynamodb:Query` on the table ARN). Throws when the table cannot be read; the callers decide what
 * that means (grants ignored, revocation check refuses).
 */
export class DynamoDbAccessStore implements AccessStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async read(subject: AccessSubject): Promise<SubjectAccess> {
    const grants: RoleGrant[] = [];
    const revocations: Revocation[] = [];
    let start: QueryCommandOutput['LastEvaluatedKey'];
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const output = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': ACCESS_PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': { S: partitionOf(subject) } },
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of (output.Items ?? []) as AccessItem[]) {
        const grant = grantFromItem(item);
        if (grant !== undefined) grants.push(grant);
        const revocation = revocationFromItem(item, subject);
        if (revocation !== undefined) revocations.push(revocation);
      }
      start = output.LastEvaluatedKey;
      if (start === undefined) return { grants, revocations };
    }
    throw new Error(`more than ${MAX_PAGES} pages of grants for one subject`);
  }
}
