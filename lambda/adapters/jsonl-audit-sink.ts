import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEventData, AuditSink } from '../core/audit-event';

/**
 * The local audit store: one CloudTrail Lake-shaped `eventData` object per line. Each write is awaited before
 * the decision is returned, so a failing disk refuses the request instead of losing the record.
 */
export class JsonlAuditSink implements AuditSink {
  private ready: Promise<unknown> | undefined;

  constructor(readonly path: string) {}

  async write(event: AuditEventData): Promise<void> {
    this.ready ??= mkdir(dirname(this.path), { recursive: true });
    await this.ready;
    await appendFile(this.path, `${JSON.stringify(event)}\n`, 'utf8');
  }
}
