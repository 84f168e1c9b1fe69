import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbDeliveryLedger } from '../lambda/adapters/dynamodb-delivery-ledger';
import { S3ParkedEvents } from '../lambda/adapters/s3-parked-events';

/** The region in an SQS queue URL (`https://sqs.<region>.amazonaws.com/…` or the legacy `<region>.queue.…`). */
export function queueRegion(queueUrl: string): string | undefined {
  try {
    const host = new URL(queueUrl).hostname;
    return /^sqs\.([a-z0-9-]+)\./.exec(host)?.[1] ?? /^([a-z0-9-]+)\.queue\./.exec(host)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * What `audit redrive` reads besides the queue: the delivered-UID table (so events the forwarder or an earlier
 * run delivered are skipped and their messages deleted) and the parking bucket's objects (events too large for
 * a message; the pointer names the bucket). Both live in the queue's stack, so in the queue's region; the
 * clients take the SDK's standard credentials and endpoint settings.
 */
export function redriveStores(queueUrl: string, deliveredTable: string | undefined) {
  const region = queueRegion(queueUrl);
  const config = region === undefined ? {} : { region };
  return {
    storedEvents: new S3ParkedEvents(new S3Client(config), ''),
    ...(deliveredTable === undefined
      ? {}
      : { ledger: new DynamoDbDeliveryLedger(new DynamoDBClient(config), { tableName: deliveredTable }) }),
  };
}
