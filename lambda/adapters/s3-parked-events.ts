import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PutAuditEvent } from '../core/audit-delivery';

/** Where an event too large for a queue message was stored; the pointer message carries it. */
export interface StoredEventRef {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: number;
}

/** Port: keeps events too large for the dead-letter queue. Throws when it cannot. */
export interface ParkedEventStore {
  put(event: PutAuditEvent, parkedAt: Date): Promise<StoredEventRef>;
}

/** Port: reads a stored event back (the redrive). Throws when it cannot. */
export interface ParkedEventReader {
  get(ref: StoredEventRef): Promise<PutAuditEvent>;
}

/**
 * Parked events on S3: one object per event under `parked/YYYY-MM-DD/<id>-<random>.json`, the bucket's own
 * encryption, removed by the bucket's lifecycle rule (after the queue's retention, so a pointer never outlives
 * its object). The redrive only reads objects: deleting one whose message then failed to delete would leave a
 * pointer to nothing.
 */
export class S3ParkedEvents implements ParkedEventStore, ParkedEventReader {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(event: PutAuditEvent, parkedAt: Date): Promise<StoredEventRef> {
    const body = JSON.stringify(event);
    const key = `parked/${parkedAt.toISOString().slice(0, 10)}/${event.id}-${Math.random().toString(36).slice(2, 10)}.json`;
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
    );
    return { bucket: this.bucket, key, bytes: Buffer.byteLength(body, 'utf8') };
  }

  async get(ref: StoredEventRef): Promise<PutAuditEvent> {
    const { Body } = await this.client.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    if (Body === undefined) throw new Error(`s3://${ref.bucket}/${ref.key} has no body`);
    const event = JSON.parse(await Body.transformToString('utf8')) as PutAuditEvent;
    if (typeof event?.id !== 'string' || typeof event.eventData !== 'string')
      throw new Error(`s3://${ref.bucket}/${ref.key} is not a parked audit event`);
    return event;
  }
}
