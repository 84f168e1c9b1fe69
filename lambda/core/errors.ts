/**
 * One error hierarchy for the decision path. Every subclass carries a `safeReason`: fixed text that may be shown
 * to the caller. The `message` and `cause` are for structured logs only and never reach a response.
 */
export class McpIdentityError extends Error {
  constructor(
    message: string,
    readonly safeReason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bearer token is missing, malformed, expired, not for us, or its signature does not verify. */
export class InvalidTokenError extends McpIdentityError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'The access token is missing, invalid or expired.', options);
  }
}

/** The token verified but lacks what we need to name the caller (e.g. no subject). */
export class InvalidClaimsError extends InvalidTokenError {}

/** The MCP request body is not an acceptable JSON-RPC 2.0 request. */
export class MalformedRequestError extends McpIdentityError {
  constructor(
    message: string,
    /** -32020: a mirrored MCP header (`Mcp-Method`, `Mcp-Name`) disagrees with the body (MCP 2026-07-28). */
    readonly jsonRpcCode: -32700 | -32600 | -32602 | -32020,
    options?: { cause?: unknown },
  ) {
    super(message, message, options);
  }
}

/** A client supplied an argument that only the gateway may set (identity injection). */
export class SpoofingAttemptError extends McpIdentityError {
  constructor(readonly parameters: readonly string[]) {
    super(
      `client supplied reserved argument(s): ${parameters.join(', ')}`,
      `The request sets reserved identity argument(s) (${parameters.join(', ')}) that only the gateway may set.`,
    );
  }
}

/** The policy decision point could not decide (timeout, throttling, bad response, schema mismatch). */
export class DecisionPointError extends McpIdentityError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'The authorization service could not decide this request, so it was denied.', options);
  }
}

/** Configuration is missing or invalid. Raised at cold start; never per request. */
export class ConfigurationError extends McpIdentityError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'The gateway is misconfigured.', options);
  }
}

/** The identity provider's discovery document or JWKS could not be fetched: we cannot verify, so we deny. */
export class IssuerUnavailableError extends McpIdentityError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      message,
      'The identity provider could not be reached to verify the access token; try again shortly.',
      options,
    );
  }
}

/** The audit event could not be written. Without proof we do not act: the request is denied. */
export class AuditWriteError extends McpIdentityError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      message,
      'The request could not be recorded in the audit trail, so it was not carried out.',
      options,
    );
  }
}

/**
 * The signed identity assertion a target needs could not be made (KMS unreachable, throttled, denied, a key
 * that is not the one published, or a token already expired). Without it the target cannot tell who calls, so
 * the call is refused.
 */
export class AssertionSigningError extends McpIdentityError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      message,
      "The caller's identity could not be signed for the tool, so the request was not carried out.",
      options,
    );
  }
}
