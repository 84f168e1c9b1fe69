// The bearer syntax lives with the verifier adapter; it is a pure function (no aws-jwt-verify code runs here).
import { bearerToken } from '../adapters/jwt-token-verifier';
import type { Caller, TokenVerifier } from '../core/caller';
import { InvalidTokenError, IssuerUnavailableError } from '../core/errors';
import type { JsonRpcId } from '../core/mcp-operation';
import type { DiagnosticLog } from '../shared/logger';
import { unauthenticated, unavailable } from './answers';
import type { Answer, Credential } from './types';

/** A verified caller, or the answer to give instead with what to audit about it. */
export type Verification =
  | { readonly ok: true; readonly caller: Caller }
  | { readonly ok: false; readonly answer: Answer; readonly reason: string; readonly cause: string };

/**
 * Reads the bearer token out of the credential and verifies it: one path for every door. Exactly one
 * `Authorization` header, a bearer token, a token that verifies; an unreachable issuer is a 503, anything else
 * a 401. The token never reaches a log or an answer.
 */
export function createVerification(deps: {
  readonly verifier: TokenVerifier;
  readonly log: DiagnosticLog;
  readonly scrubError: (error: unknown) => string;
  readonly resourceMetadataUrl: string | undefined;
}): (credential: Credential, id: JsonRpcId | null) => Promise<Verification> {
  const { verifier, log, scrubError, resourceMetadataUrl } = deps;
  const refuse = (id: JsonRpcId | null, reason: string, presented: boolean, cause: string): Verification => ({
    ok: false,
    answer: unauthenticated(id, reason, presented, resourceMetadataUrl),
    reason,
    cause,
  });

  return async (credential, id) => {
    const headers = credential.authorization;
    if (headers.length > 1)
      // Two Authorization headers: which one a downstream component would read is anyone's guess.
      return refuse(id, 'Send exactly one Authorization header.', true, 'more than one Authorization header');
    const header = headers[0];
    const token = bearerToken(header);
    if (token === undefined)
      return refuse(
        id,
        'Authentication required: send a bearer access token.',
        header !== undefined,
        header === undefined ? 'no Authorization header' : 'Authorization is not a bearer token',
      );
    try {
      return { ok: true, caller: await verifier.verify(token) };
    } catch (error) {
      if (error instanceof IssuerUnavailableError) {
        log.error('identity provider unavailable', { error: error.message });
        return {
          ok: false,
          answer: unavailable(id, error.safeReason),
          reason: error.safeReason,
          cause: error.message,
        };
      }
      const cause = error instanceof InvalidTokenError ? error.message : 'token verification failed';
      if (!(error instanceof InvalidTokenError))
        log.error('unexpected token verification failure', { error: scrubError(error) });
      return refuse(id, new InvalidTokenError(cause).safeReason, true, cause);
    }
  };
}
