import { bearerToken, JwtTokenVerifier } from '../adapters/jwt-token-verifier';
import { LogAuditSink } from '../adapters/log-audit-sink';
import { type AuditSettings, type AuditSink, buildAuditEvent, requestDigest } from '../core/audit-event';
import type { TokenVerifier } from '../core/caller';
import { InvalidTokenError, IssuerUnavailableError } from '../core/errors';
import { redactString } from '../core/redaction';
import {
  type AuthorizerRequest,
  type AuthorizerResult,
  allowResult,
  decodeAuthorizerEvent,
  UNAUTHORIZED,
} from '../doors/apigateway/authorizer';
import { type AuthorizerConfig, loadAuthorizerConfig } from '../shared/config';
import { createAuditLogger, type DiagnosticLog, logger } from '../shared/logger';

export interface AuthorizerSettings {
  /** The result cache TTL configured on API Gateway; tokens expiring sooner are refused. */
  readonly cacheTtlSeconds: number;
  readonly audit: AuditSettings;
}

export interface AuthorizerDeps {
  readonly verifier: TokenVerifier;
  readonly audit: AuditSink;
  readonly log: DiagnosticLog;
  readonly settings: AuthorizerSettings;
  readonly now?: () => Date;
}

export type AuthorizerHandler = (event: unknown) => Promise<AuthorizerResult>;

/** Thrown for a missing or invalid token: API Gateway answers 401 (`UNAUTHORIZED` gateway response). */
export class UnauthorizedError extends Error {
  constructor() {
    super(UNAUTHORIZED);
    this.name = 'Error';
  }
}

/**
 * Thrown when the caller cannot be authenticated for a reason that is not theirs (the identity provider is
 * unreachable, the event cannot be read): API Gateway answers 500 (`AUTHORIZER_FAILURE`), never an Allow.
 */
export class AuthorizerFailure extends Error {}

/**
 * The API Gateway door's Lambda REQUEST authorizer. It only authenticates — the event has no body, so there is
 * nothing to decide on — and answers an Allow for the whole API with the caller as a flat context, or fails
 * with `Unauthorized` (401). API Gateway caches the answer by the `Authorization` value for the configured TTL
 * and cannot shorten it per token, so a token that would expire inside the TTL is refused rather than cached
 * past its lifetime. Every refusal is audited. The MCP proxy verifies the token again on every request.
 */
export function createAuthorizerHandler(deps: AuthorizerDeps): AuthorizerHandler {
  const { verifier, audit, log, settings } = deps;
  const now = deps.now ?? (() => new Date());
  const patterns = settings.audit.valuePatterns ?? [];
  const scrub = (text: string): string => redactString(text, patterns).slice(0, 500);

  async function refuse(
    request: AuthorizerRequest | undefined,
    cause: string,
    reason: string,
    errorCode: 'InvalidToken' | 'MalformedRequest' | 'AuthorizationServiceError',
  ): Promise<void> {
    try {
      await audit.write(
        buildAuditEvent(
          {
            time: now(),
            phase: 'request',
            caller: undefined,
            // The authorizer sees no body: which JSON-RPC method was meant is unknown here.
            method: 'unknown',
            decision: 'deny',
            enforced: true,
            errorCode,
            reason,
            requestDigest: requestDigest('unknown', null),
            ...(request?.facts.userAgent === undefined ? {} : { userAgent: request.facts.userAgent }),
            ...(request?.facts.sourceIp === undefined ? {} : { sourceIp: request.facts.sourceIp }),
            extra: {
              door: 'apigw',
              step: 'authorizer',
              cause: scrub(cause),
              ...(request?.facts.requestId === undefined ? {} : { requestId: request.facts.requestId }),
              ...(request?.facts.httpMethod === undefined ? {} : { httpMethod: request.facts.httpMethod }),
            },
          },
          settings.audit,
        ),
      );
    } catch (error) {
      // The request is refused either way; a lost audit line is loud in the diagnostics.
      log.error('audit event could not be written', { error: scrub(String(error)) });
    }
  }

  return async (event: unknown): Promise<AuthorizerResult> => {
    const decoded = decodeAuthorizerEvent(event);
    if (!decoded.ok) {
      log.error('not a REQUEST authorizer event; refusing', { problem: decoded.problem });
      await refuse(undefined, decoded.problem, 'The request could not be read.', 'MalformedRequest');
      throw new AuthorizerFailure('the authorizer event could not be read');
    }
    const { request } = decoded;
    const reason = new InvalidTokenError('').safeReason;
    if (request.ambiguous) {
      await refuse(request, 'more than one Authorization header', reason, 'InvalidToken');
      throw new UnauthorizedError();
    }
    const token = bearerToken(request.authorization);
    if (token === undefined) {
      const cause =
        request.authorization === undefined
          ? 'no Authorization header'
          : 'Authorization is not a bearer token';
      await refuse(request, cause, reason, 'InvalidToken');
      throw new UnauthorizedError();
    }
    let caller: Awaited<ReturnType<TokenVerifier['verify']>>;
    try {
      caller = await verifier.verify(token);
    } catch (error) {
      if (error instanceof IssuerUnavailableError) {
        log.error('identity provider unavailable', { error: scrub(error.message) });
        await refuse(request, error.message, error.safeReason, 'AuthorizationServiceError');
        throw new AuthorizerFailure('the identity provider is unavailable');
      }
      if (!(error instanceof InvalidTokenError))
        log.error('unexpected token verification failure', { error: scrub(String(error)) });
      const cause = error instanceof InvalidTokenError ? error.message : 'token verification failed';
      await refuse(request, cause, reason, 'InvalidToken');
      throw new UnauthorizedError();
    }
    const remaining = caller.expiresAt - Math.floor(now().getTime() / 1000);
    if (remaining < settings.cacheTtlSeconds) {
      // A cached Allow would outlive the token: refused, so the client refreshes it now.
      await refuse(
        request,
        `token expires in ${remaining} s, within the authorizer cache TTL of ${settings.cacheTtlSeconds} s`,
        reason,
        'InvalidToken',
      );
      throw new UnauthorizedError();
    }
    return allowResult(caller, request.apiArn);
  };
}

/** Settings for the handler from the validated configuration. */
export function authorizerSettings(config: AuthorizerConfig): AuthorizerSettings {
  return {
    cacheTtlSeconds: config.cacheTtlSeconds,
    audit: { ...config.audit, mode: 'enforce', valuePatterns: config.valuePatterns },
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
