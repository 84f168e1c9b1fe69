import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one Powertools logger. Diagnostic lines carry causes and ids, never tokens or raw arguments: the
 * token is read from the header and handed to the verifier, and nothing else touches it.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'mcp-identity' });

/** The subset of a logger the handlers use, so tests and the local stack can pass their own. */
export type DiagnosticLog = Pick<Logger, 'info' | 'warn' | 'error'>;
