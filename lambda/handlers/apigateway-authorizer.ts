import { randomUUID } from 'node:crypto';
import { JwtTokenVerifier } from '../adapters/jwt-token-verifier';
import { LogAuditSink } from '../adapters/log-audit-sink';
import type { AuditSettings, AuditSink } from '../core/audit-event';
import type { TokenVerifier } from '../core/caller';
import { InvalidTokenError } from '../core/errors';
import { DEFAULT_REDACTION, type RedactionConfig } from '../core/redaction';
import {
  type AuthorizerResult,
  allowResult,
  decodeAuthorizerEvent,
  UNAUTHORIZED,
} from '../doors/apigateway/authorizer';
import {
  type AuditDraft,
  auditedFacts,
  malformedRecord,
  refusedCredentialRecord,
} from '../guard/audit-records';
import { createAuditTrail } from '../guard/audit-trail';
import { createVerification } from '../guard/authenticate';
import { type AuthorizerConfig, loadAuthorizerConfig } from '../shared/config';
import { createAuditLogger, type DiagnosticLog, logger } from '../shared/logger';

export interface AuthorizerSettings {
  /** The result cache TTL configured on API Gateway; tokens expiring sooner are refused. */
  readonly cacheTtlSeconds: number;
  readonly audit: Omit<AuditSettings, 'mode' | 'valuePatterns'>;
  /** Its value patterns scrub client text in refusal events, as the guard's do. */
  readonly redaction: RedactionConfig;
}

export interface AuthorizerDeps {
  readonly verifier: TokenVerifier;
  readonly audit: AuditSink;
  readonly log: DiagnosticLog;
  readonly settings: AuthorizerSettings;
  readonly now?: () => Date;
  /** A fresh audit event UID. @default crypto.randomUUID */
  readonly newId?: () => string;
}

export type AuthorizerHandler = (event: unknown) => Promise<AuthorizerResult>;

/** Thrown for a missing or invalid token: API Gateway answers 401 (`UNAUTHORIZED` gateway response). */
export class UnauthorizedError extends Error {
  constructor() {
    super(UNAUTHORIZED);
    // API Gateway reads only the message; the type stays the plain `Error` its documented examples throw.
    this.name = 'Error';
  }
}

/**
 * Thrown when the caller cannot be authenticated for a reason that is not theirs (the identity provider is
 * unreachable, the event cannot be read, a fault): API Gateway answers 500 (`AUTHORIZER_FAILURE`), never an
 * Allow, and not a 401 that would send the client to refresh a good token.
 */
export class AuthorizerFailure extends Error {}

const UNREADABLE_EVENT = 'The authorizer event could not be read.';

/**
 * The API Gateway door's Lambda REQUEST authorizer. It only authenticates — the event has no body, so there is
 * nothing to decide on — through the guard's one verification path (lambda/guard/authenticate.ts), and answers
 * an Allow for the whole API with the caller as a flat context, or fails with `Unauthorized` (401). API Gateway
 * caches the answer by the `Authorization` value for the configured TTL and cannot shorten it per token, so a
 * token that would expire inside the TTL is refused rather than cached past its lifetime. Every refusal is
 * audited as the guard audits it. The MCP proxy verifies the token again on every request.
 */
export function createAuthorizerHandler(deps: AuthorizerDeps): AuthorizerHandler {
  const { verifier, audit, log, settings } = deps;
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;
  const trail = createAuditTrail({
    audit,
    log,
    redaction: settings.redaction,
    settings: { ...settings.audit, mode: 'enforce' },
    now,
  });
  // The 401 the client sees is API Gateway's UNAUTHORIZED gateway response: no metadata URL is needed here.
  const verify = createVerification({
    verifier,
    log,
    scrubError: trail.scrubError,
    resourceMetadataUrl: undefined,
  });

  async function audited(record: AuditDraft): Promise<void> {
    try {
      await trail.write(record, newId());
    } catch {
      // Logged by the trail; the request is refused either way.
    }
  }

  async function authorize(event: unknown): Promise<AuthorizerResult> {
    const decoded = decodeAuthorizerEvent(event);
    if (!decoded.ok) {
      log.error('not a REQUEST authorizer event; refusing', { problem: decoded.problem });
      await audited({
        ...malformedRecord({ door: 'apigw' }, undefined, undefined, UNREADABLE_EVENT),
        extra: { cause: decoded.problem },
      });
      throw new AuthorizerFailure('the authorizer event could not be read');
    }
    const { request } = decoded;
    const facts = auditedFacts(request.facts, trail.scrub, 'apigw');
    const verification = await verify(request.credential, null);
    if (!verification.ok) {
      await audited(refusedCredentialRecord(facts, 'request', undefined, 'unknown', verification));
      if (verification.answer.cause === 'unauthenticated') throw new UnauthorizedError();
      throw new AuthorizerFailure('the caller could not be authenticated');
    }
    const { caller } = verification;
    const remaining = caller.expiresAt - Math.floor(now().getTime() / 1000);
    if (remaining < settings.cacheTtlSeconds) {
      // A cached Allow would outlive the token: refused, so the client refreshes it now.
      await audited(
        refusedCredentialRecord(facts, 'request', undefined, 'unknown', {
          reason: new InvalidTokenError('').safeReason,
          cause: `token expires in ${remaining} s, within the authorizer cache TTL of ${settings.cacheTtlSeconds} s`,
        }),
      );
      throw new UnauthorizedError();
    }
    return allowResult(caller, request.apiArn);
  }

  return async (event) => {
    try {
      return await authorize(event);
    } catch (error) {
      if (error instanceof UnauthorizedError || error instanceof AuthorizerFailure) throw error;
      // Fail closed: whatever went wrong, no Allow.
      log.error('authorizer failed; refusing', { error: trail.scrubError(error) });
      throw new AuthorizerFailure('the authorizer failed');
    }
  };
}

/** Settings for the handler from the validated configuration. */
export function authorizerSettings(config: AuthorizerConfig): AuthorizerSettings {
  return {
    cacheTtlSeconds: config.cacheTtlSeconds,
    audit: config.audit,
    redaction: { ...DEFAULT_REDACTION, valuePatterns: config.valuePatterns },
  };
}

function createProductionHandler(): AuthorizerHandler {
  const config = loadAuthorizerConfig();
  const verifier = new JwtTokenVerifier(config.jwt);
  // Started during the init phase, so the first request finds the JWKS loaded.
  void verifier.hydrate();
  return createAuthorizerHandler({
    verifier,
    audit: new LogAuditSink(createAuditLogger()),
    log: logger,
    settings: authorizerSettings(config),
  });
}

let production: AuthorizerHandler | undefined;
try {
  production = createProductionHandler();
} catch {
  production = undefined;
}

/**
 * Lambda entry. A configuration error fails every request with a 500 (never an Allow), logged once per call.
 * Verified callers are not cached here beyond the verifier's own JWKS cache: API Gateway caches the answer.
 */
export const handler: AuthorizerHandler = async (event) => {
  try {
    production ??= createProductionHandler();
  } catch (error) {
    logger.error('authorizer is misconfigured; refusing every request', { error });
    throw new AuthorizerFailure('the authorizer is misconfigured');
  }
  return production(event);
};
