import { Logger } from '@aws-lambda-powertools/logger';
import { AUDIT_LOG_KEY, LogAuditSink } from '../../lambda/adapters/log-audit-sink';
import { buildAuditEvent } from '../../lambda/core/audit-event';

describe('LogAuditSink', () => {
  it('writes one JSON line per event with the event under the key the forwarder selects', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const logger = new Logger({ serviceName: 'test', logLevel: 'INFO' });
      const event = buildAuditEvent(
        {
          time: new Date(),
          phase: 'request',
          caller: undefined,
          method: 'ping',
          decision: 'deny',
          enforced: true,
          requestDigest: 'd',
        },
        { eventSource: 's', recipientAccountId: '123456789012', mode: 'enforce' },
      );
      await new LogAuditSink(logger).write(event);
      const logged = lines
        .map((line) => JSON.parse(line))
        .find((entry) => entry[AUDIT_LOG_KEY] !== undefined);
      expect(logged[AUDIT_LOG_KEY]).toEqual(event);
      expect(logged.level).toBe('INFO');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('the audit logger', () => {
  it('still writes audit events when diagnostics are turned down', async () => {
    const saved = process.env.POWERTOOLS_LOG_LEVEL;
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const { createAuditLogger } = jest.requireActual(
        '../../lambda/shared/logger',
      ) as typeof import('../../lambda/shared/logger');
      const event = buildAuditEvent(
        {
          time: new Date(),
          phase: 'request',
          caller: undefined,
          method: 'ping',
          decision: 'deny',
          enforced: true,
          requestDigest: 'd',
        },
        { eventSource: 's', recipientAccountId: '123456789012', mode: 'enforce' },
      );
      await new LogAuditSink(createAuditLogger()).write(event);
      expect(lines.some((line) => line.includes(event.UID))).toBe(true);
    } finally {
      spy.mockRestore();
      process.env.POWERTOOLS_LOG_LEVEL = saved;
    }
  });
});
