import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one Powertools logger. Diagnostic lines carry causes and ids, never tokens or raw arguments: the
 * token is read from the header and handed to the verifier, and nothing else touches it.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'mcp-identity' });

/**
 * The audit trail's own logger, pinned at INFO: turning diagnostics down (`POWERTOOLS_LOG_LEVEL=ERROR`) must
 * never silence audit events, which are what the forwarder and investigators read.
 */
export function createAuditLogger(): Logger {
  return new Logger({ serviceName: 'mcp-identity-audit', logLevel: 'INFO' });
}

/** The subset of a logger the handlers use, so tests and the local stack can pass their own. */
export type DiagnosticLog = Pick<Logger, 'info' | 'warn' | 'error'>;
