import { VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import {
  DECISION_HEADER,
  forwardRequest,
  type GatewayResponse,
  headerValue,
  headerValues,
  type InterceptorInput,
  type InterceptorOutput,
  interceptorInputSchema,
  jsonBody,
  respond,
} from '../adapters/agentcore-interceptor';
import { AvpDecisionPoint } from '../adapters/avp-decision-point';
import { AvpPolicyNames, StableIdDecisionPoint } from '../adapters/avp-policy-names';
import { CachingDecisionPoint } from '../adapters/decision-cache';
import { bearerToken, JwtTokenVerifier } from '../adapters/jwt-token-verifier';
import { LogAuditSink } from '../adapters/log-audit-sink';
import { CachingTokenVerifier } from '../adapters/verified-caller-cache';
import {
  type AuditErrorCode,
  type AuditRecord,
  type AuditSettings,
  type AuditSink,
  buildAuditEvent,
  requestDigest,
} from '../core/audit-event';
import {
  type AuthorizerSettings,
  authorizeOperation,
  type Verdict,
  visibleListings,
} from '../core/authorize';
import type { Caller, TokenVerifier } from '../core/caller';
import type { Decision, PolicyDecisionPoint } from '../core/decision';
import {
  AuditWriteError,
  InvalidTokenError,
  IssuerUnavailableError,
  MalformedRequestError,
} from '../core/errors';
import { MAX_BODY_NESTING, nestsDeeperThan } from '../core/json-depth';
import { filterListings as filterListingsIn, type Listed, listedIn, type Visible } from '../core/listings';
import { mirroredHeaderMismatch } from '../core/mcp-headers';
import { type JsonRpcId, type McpOperation, methodOf, parseMcpRequest } from '../core/mcp-operation';
import { ACCESS_DENIED_CODE, jsonRpcError, speaksStatelessMcp, toolDenied } from '../core/mcp-responses';
import { auditArguments, type RedactionConfig, redactString, redactValue } from '../core/redaction';
import {
  decodeResponseMessages,
  encodeResponseMessages,
  type ResponseMessages,
  readableMessages,
} from '../core/response-messages';
import { type InterceptorConfig, loadInterceptorConfig } from '../shared/config';
import { createAuditLogger, type DiagnosticLog, logger } from '../shared/logger';

/** JSON-RPC code for "authenticate first" (implementation-defined server error range). */
export const AUTHENTICATION_REQUIRED_CODE = -32001;

export interface InterceptorSettings extends AuthorizerSettings {
  readonly redaction: RedactionConfig;
  readonly audit: Omit<AuditSettings, 'mode'>;
  readonly maxBodyBytes: number;
  /** RFC 9728 protected resource metadata URL, advertised in `WWW-Authenticate`. */
  readonly resourceMetadataUrl?: string;
}

export interface InterceptorDeps {
  readonly verifier: TokenVerifier;
  readonly pdp: PolicyDecisionPoint;
  readonly audit: AuditSink;
  readonly log: DiagnosticLog;
  readonly settings: InterceptorSettings;
  readonly now?: () => Date;
}

export type InterceptorHandler = (event: unknown) => Promise<InterceptorOutput>;

interface RequestFacts {
  readonly headers: InterceptorInput['mcp']['gatewayRequest']['headers'];
  readonly sessionId?: string;
  readonly userAgent?: string;
  /** The address the front door observed (none for AgentCore, whose event does not carry one). */
  readonly sourceIp?: string;
  readonly forwardedFor?: readonly string[];
}

const DENY_HEADERS = Object.freeze({ 'Content-Type': 'application/json', [DECISION_HEADER]: 'deny' });

function auditCode(decision: Decision): AuditErrorCode | undefined {
  switch (decision.kind) {
    case 'allow':
      return undefined;
    case 'error':
      return 'AuthorizationServiceError';
    case 'deny':
      switch (decision.code) {
        case 'policy':
          return 'AccessDenied';
        case 'policy-error':
          return 'PolicyEvaluationError';
        case 'spoofing':
          return 'SpoofingAttempt';
        case 'unsupported-method':
          return 'UnsupportedMethod';
        case 'unknown-tool-arguments':
          return 'InvalidArguments';
      }
  }
}

/** Only operations that run something are decided by policy, so only they (and every refusal) are audited. */
function isPolicyOperation(operation: McpOperation): boolean {
  return (
    operation.kind === 'tool-call' ||
    operation.kind === 'prompt-get' ||
    operation.kind === 'resource-read' ||
    operation.kind === 'unsupported'
  );
}

function paramsOf(body: unknown): unknown {
  return body !== null && typeof body === 'object' && !Array.isArray(body)
    ? (body as Record<string, unknown>).params
    : undefined;
}

function methodIn(body: unknown): string {
  const method =
    body !== null && typeof body === 'object' ? (body as Record<string, unknown>).method : undefined;
  return typeof method === 'string' ? method.slice(0, 128) : 'unknown';
}

/**
 * The request body as the rest of the pipeline may walk it: a body nested deeper than any request needs is
 * replaced by its top-level scalar fields (so the id and method can still be answered and audited) before
 * anything recursive — digest, size, redaction, Cedar — sees it.
 */
function boundedBody(body: unknown): { readonly body: unknown; readonly tooDeep: boolean } {
  if (!nestsDeeperThan(body, MAX_BODY_NESTING)) return { body, tooDeep: false };
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return { body: undefined, tooDeep: true };
  const shallow = Object.fromEntries(
    Object.entries(body as Record<string, unknown>).filter(
      ([, value]) => value === null || typeof value !== 'object',
    ),
  );
  return { body: shallow, tooDeep: true };
}

function idIn(body: unknown): JsonRpcId | null {
  const id = body !== null && typeof body === 'object' ? (body as Record<string, unknown>).id : undefined;
  return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)) ? id : null;
}

/**
 * The AgentCore Gateway interceptor, attached at REQUEST and RESPONSE. REQUEST: verify the caller, decide,
 * inject identity or answer the denial itself (the target is never called). RESPONSE: filter `tools/list` to
 * what the caller could call and audit the outcome of calls. Never throws (what the gateway does with a
 * throwing interceptor is undocumented) and is idempotent (the gateway may retry): same input, same output,
 * same audit event id.
 */
export function createInterceptorHandler(deps: InterceptorDeps): InterceptorHandler {
  const { verifier, pdp, audit, log, settings } = deps;
  const now = deps.now ?? (() => new Date());
  // The operator's own redaction patterns also cover the client text the builder stores (the id, names, …).
  const auditSettings: AuditSettings = {
    ...settings.audit,
    mode: settings.mode,
    valuePatterns: settings.redaction.valuePatterns,
  };

  /**
   * Free text that can echo client input (a resource URI, a prompt name, an argument path in a reason, the
   * user agent) goes through the same value patterns as arguments: a token pasted anywhere stays out.
   */
  const scrub = (text: string): string => redactString(text, settings.redaction.valuePatterns);
  // Errors may quote request data (a token, an argument): logged scrubbed and bounded like any free text.
  const scrubError = (error: unknown): string =>
    scrub(error instanceof Error ? (error.stack ?? error.message) : String(error)).slice(0, 2000);

  function scrubbed(record: Omit<AuditRecord, 'time'>): Omit<AuditRecord, 'time'> {
    return {
      ...record,
      method: scrub(record.method),
      ...(record.toolName === undefined ? {} : { toolName: scrub(record.toolName) }),
      ...(record.reason === undefined ? {} : { reason: scrub(record.reason) }),
      ...(record.userAgent === undefined ? {} : { userAgent: scrub(record.userAgent) }),
      ...(record.sessionId === undefined ? {} : { sessionId: scrub(record.sessionId) }),
      ...(record.extra === undefined
        ? {}
        : { extra: redactValue(record.extra, settings.redaction) as Record<string, unknown> }),
    };
  }

  async function writeAudit(record: Omit<AuditRecord, 'time'>): Promise<void> {
    try {
      await audit.write(buildAuditEvent({ ...scrubbed(record), time: now() }, auditSettings));
    } catch (error) {
      log.error('audit event could not be written', {
        error: scrubError(error),
        method: scrub(record.method),
        phase: record.phase,
      });
      throw new AuditWriteError('audit sink failed', { cause: error });
    }
  }

  function wwwAuthenticate(error?: 'invalid_token'): string {
    const parts = [
      ...(settings.resourceMetadataUrl === undefined
        ? []
        : [`resource_metadata="${settings.resourceMetadataUrl}"`]),
      ...(error === undefined ? [] : [`error="${error}"`]),
    ];
    return parts.length === 0 ? 'Bearer' : `Bearer ${parts.join(', ')}`;
  }

  function unauthorized(id: JsonRpcId | null, reason: string, tokenPresent: boolean): InterceptorOutput {
    return respond({
      statusCode: 401,
      headers: {
        ...DENY_HEADERS,
        'WWW-Authenticate': wwwAuthenticate(tokenPresent ? 'invalid_token' : undefined),
      },
      body: jsonRpcError(id, AUTHENTICATION_REQUIRED_CODE, reason),
    });
  }

  function serviceUnavailable(id: JsonRpcId | null, reason: string): InterceptorOutput {
    return respond({
      statusCode: 503,
      headers: { ...DENY_HEADERS, 'Retry-After': '1' },
      body: jsonRpcError(id, ACCESS_DENIED_CODE, reason),
    });
  }

  function badRequest(id: JsonRpcId | null, error: MalformedRequestError): InterceptorOutput {
    return respond({
      statusCode: 400,
      headers: DENY_HEADERS,
      body: jsonRpcError(id, error.jsonRpcCode, error.safeReason),
    });
  }

  function refusal(operation: McpOperation, unsafeReason: string): InterceptorOutput {
    const reason = scrub(unsafeReason);
    if (operation.kind === 'tool-call')
      return respond({
        statusCode: 200,
        headers: DENY_HEADERS,
        body: toolDenied(operation.id, reason, speaksStatelessMcp(operation.params)),
      });
    const id = 'id' in operation ? operation.id : null;
    return respond({
      statusCode: 403,
      headers: DENY_HEADERS,
      body: jsonRpcError(id, ACCESS_DENIED_CODE, reason),
    });
  }

  /** Verifies the bearer token; the outcome is a caller or the response to give instead. */
  async function authenticate(
    facts: RequestFacts,
    body: unknown,
  ): Promise<
    | { readonly caller: Caller }
    | { readonly refused: InterceptorOutput; readonly reason: string; readonly cause: string }
  > {
    const headers = headerValues(facts.headers, 'authorization');
    if (headers.length > 1) {
      // Two Authorization headers: which one a downstream component would read is anyone's guess.
      const reason = 'Send exactly one Authorization header.';
      return {
        refused: unauthorized(idIn(body), reason, true),
        reason,
        cause: 'more than one Authorization header',
      };
    }
    const header = headers[0];
    const token = bearerToken(header);
    if (token === undefined) {
      const reason = 'Authentication required: send a bearer access token.';
      return {
        refused: unauthorized(idIn(body), reason, header !== undefined),
        reason,
        cause: header === undefined ? 'no Authorization header' : 'Authorization is not a bearer token',
      };
    }
    try {
      return { caller: await verifier.verify(token) };
    } catch (error) {
      if (error instanceof IssuerUnavailableError) {
        log.error('identity provider unavailable', { error: error.message });
        return {
          refused: serviceUnavailable(idIn(body), error.safeReason),
          reason: error.safeReason,
          cause: error.message,
        };
      }
      const cause = error instanceof InvalidTokenError ? error.message : 'token verification failed';
      if (!(error instanceof InvalidTokenError))
        log.error('unexpected token verification failure', { error: scrubError(error) });
      const reason = new InvalidTokenError(cause).safeReason;
      return { refused: unauthorized(idIn(body), reason, true), reason, cause };
    }
  }

  function baseRecord(
    facts: RequestFacts,
    phase: 'request' | 'response',
    caller: Caller | undefined,
    body: unknown,
  ) {
    return {
      phase,
      caller,
      jsonRpcId: idIn(body),
      requestDigest: requestDigest(methodIn(body), paramsOf(body)),
      ...(facts.sessionId === undefined ? {} : { sessionId: facts.sessionId }),
      ...(facts.userAgent === undefined ? {} : { userAgent: facts.userAgent }),
      ...(facts.sourceIp === undefined ? {} : { sourceIp: facts.sourceIp }),
      ...(facts.forwardedFor === undefined ? {} : { forwardedFor: facts.forwardedFor }),
    };
  }

  function refusedTokenRecord(
    facts: RequestFacts,
    phase: 'request' | 'response',
    body: unknown,
    method: string,
    auth: { readonly reason: string; readonly cause: string },
  ): Omit<AuditRecord, 'time'> {
    return {
      ...baseRecord(facts, phase, undefined, body),
      method,
      decision: 'deny',
      enforced: true,
      errorCode: 'InvalidToken',
      reason: auth.reason,
      extra: { cause: auth.cause },
    };
  }

  function operationRecord(operation: McpOperation) {
    if (operation.kind !== 'tool-call') {
      return {
        method: methodOf(operation),
        ...(operation.kind === 'prompt-get' ? { toolName: `prompt:${operation.name}` } : {}),
        ...(operation.kind === 'resource-read' ? { extra: { uri: operation.uri } } : {}),
      };
    }
    const args = auditArguments(operation.arguments, settings.redaction);
    return {
      method: 'tools/call',
      toolName: operation.tool.full,
      ...(operation.tool.target === undefined ? {} : { target: operation.tool.target }),
      ...(args === undefined ? {} : { arguments: args }),
    };
  }

  /** A request that cannot be decided: 400, audited (and attributed when the caller is known). */
  async function refuseMalformed(
    facts: RequestFacts,
    caller: Caller | undefined,
    body: unknown,
    error: MalformedRequestError,
  ): Promise<InterceptorOutput> {
    await writeAudit({
      ...baseRecord(facts, 'request', caller, body),
      method: methodIn(body),
      decision: 'deny',
      enforced: true,
      errorCode: 'MalformedRequest',
      reason: error.safeReason,
    });
    return badRequest(idIn(body), error);
  }

  async function onRequest(input: InterceptorInput, facts: RequestFacts): Promise<InterceptorOutput> {
    const { mcp } = input;
    const raw = mcp.rawGatewayRequest?.body ?? undefined;
    const parsedBody =
      mcp.gatewayRequest.body !== undefined && mcp.gatewayRequest.body !== null
        ? jsonBody(mcp.gatewayRequest.body)
        : raw === undefined
          ? { ok: true as const, value: undefined }
          : jsonBody(raw);
    const bounded = boundedBody(parsedBody.ok ? parsedBody.value : undefined);
    const body = bounded.body;

    const auth = await authenticate(facts, body);
    if (bounded.tooDeep) {
      // Refused whoever sends it, and attributed when the token is good.
      const error = new MalformedRequestError(
        `the request nests deeper than ${MAX_BODY_NESTING} levels`,
        -32600,
      );
      return refuseMalformed(facts, 'caller' in auth ? auth.caller : undefined, body, error);
    }
    if ('refused' in auth) {
      await writeAudit(refusedTokenRecord(facts, 'request', body, methodIn(body), auth));
      return auth.refused;
    }
    const { caller } = auth;

    // Measured on what is decided and forwarded (the parsed body), and on the raw text when there is one.
    const size = Math.max(
      Buffer.byteLength(JSON.stringify(body) ?? '', 'utf8'),
      raw === undefined ? 0 : Buffer.byteLength(raw, 'utf8'),
    );
    let malformed: MalformedRequestError | undefined;
    let parsed: ReturnType<typeof parseMcpRequest> | undefined;
    if (!parsedBody.ok) malformed = new MalformedRequestError('the request body is not valid JSON', -32700);
    else if (size > settings.maxBodyBytes)
      malformed = new MalformedRequestError(
        `the request body exceeds ${settings.maxBodyBytes} bytes`,
        -32600,
      );
    else {
      parsed = parseMcpRequest(body);
      if (!parsed.ok) malformed = parsed.error;
      else malformed = mirroredHeaderMismatch((name) => headerValues(facts.headers, name), body);
    }
    if (malformed !== undefined || parsed === undefined || !parsed.ok) {
      const error = malformed ?? new MalformedRequestError('the request could not be read', -32600);
      return refuseMalformed(facts, caller, body, error);
    }

    const operation = parsed.operation;
    const verdict = await authorizeOperation(caller, operation, pdp, settings);
    if (verdict.decision.kind === 'error') {
      // Engine messages can quote the request's context (the arguments): scrubbed and cut short for the log.
      log.error('authorization failed', { error: scrub(verdict.decision.error.message).slice(0, 300) });
    }
    if (isPolicyOperation(operation) || !verdict.forward) {
      await writeAudit(verdictRecord(facts, caller, body, operation, verdict));
    }
    if (!verdict.forward) {
      return refusal(operation, verdict.decision.kind === 'allow' ? 'Denied.' : verdict.decision.reason);
    }
    // What goes on is what was decided: the arguments Cedar saw (nulls removed), plus the injected identity.
    const decidedArguments =
      verdict.arguments ?? (operation.kind === 'prompt-get' ? operation.arguments : undefined);
    if (decidedArguments === undefined) return forwardRequest(body);
    const request = body as Record<string, unknown>;
    return forwardRequest({
      ...request,
      params: { ...(request.params as Record<string, unknown>), arguments: decidedArguments },
    });
  }

  function verdictRecord(
    facts: RequestFacts,
    caller: Caller,
    body: unknown,
    operation: McpOperation,
    verdict: Verdict,
  ): Omit<AuditRecord, 'time'> {
    const { decision } = verdict;
    const errorCode = auditCode(decision);
    return {
      ...baseRecord(facts, 'request', caller, body),
      ...operationRecord(operation),
      decision: decision.kind === 'allow' ? 'allow' : 'deny',
      enforced: verdict.enforced,
      ...(errorCode === undefined ? {} : { errorCode }),
      ...(decision.kind === 'allow' ? {} : { reason: decision.reason }),
      ...(decision.kind === 'error' ? {} : { policies: decision.policies }),
      ...(verdict.injected === undefined ? {} : { injected: verdict.injected }),
    };
  }

  function passThrough(response: GatewayResponse): InterceptorOutput {
    return respond({
      statusCode: response.statusCode ?? 200,
      ...(response.headers ? { headers: flatHeaders(response.headers) } : {}),
      body: response.body,
    });
  }

  async function onResponse(
    input: InterceptorInput,
    facts: RequestFacts,
    response: GatewayResponse,
  ): Promise<InterceptorOutput> {
    const requestJson = jsonBody(input.mcp.gatewayRequest.body ?? input.mcp.rawGatewayRequest?.body ?? null);
    const requestBody = boundedBody(requestJson.ok ? requestJson.value : undefined).body;
    const parsed = requestJson.ok ? parseMcpRequest(requestBody) : undefined;
    const operation = parsed?.ok ? parsed.operation : undefined;
    const searchResult = operation?.kind === 'tool-call' && SEARCH_TOOLS.has(operation.tool.full);

    // Filtering is decided by what the response *is*, not by what the request claimed to be: anything that
    // lists tools, prompts or resources — in a JSON body, a batch or SSE events, a tool list inside a search
    // tool's result, tool names in an error's data — is filtered for a verified caller, or refused.
    const decoded = decodeResponseMessages(response.body);
    const messages = readableMessages(decoded);
    const listings = messages.map((message) => listedIn(message, searchResult));
    const listsSomething = messages.some((message, index) =>
      carriesListing(message, listings[index], searchResult),
    );
    const expectsList = operation?.kind === 'list';
    const answered = messages.some(
      (message) => isRecord(message) && ('result' in message || 'error' in message),
    );
    // A list (or search) answer we cannot read at all, or a search result whose tool list is not JSON, is not
    // passed on unfiltered: only what can be checked goes through.
    if (((expectsList || searchResult) && !answered) || listings.some((listed) => listed.unreadable)) {
      log.warn('a listing response could not be read; refusing it rather than passing it unfiltered');
      return respond({
        statusCode: 502,
        headers: DENY_HEADERS,
        body: jsonRpcError(
          operation !== undefined && 'id' in operation ? operation.id : idIn(requestBody),
          ACCESS_DENIED_CODE,
          'The list could not be checked, so it is not shown.',
        ),
      });
    }
    if (listsSomething) {
      const filtered = await filterListings(
        facts,
        response,
        decoded,
        listings,
        requestBody,
        operation,
        searchResult,
      );
      if (filtered.refused !== undefined || operation?.kind !== 'tool-call') return filtered.output;
      response = { ...response, body: filtered.body };
    }

    if (operation?.kind === 'tool-call') {
      const auth = await authenticate(facts, requestBody);
      const caller = 'caller' in auth ? auth.caller : undefined;
      // Whether the REQUEST step refused this call is decided again on the original request the RESPONSE
      // event carries (a decision-cache hit in AWS), not read from a header no document promises survives
      // and a target could forge. Without a caller it was refused at REQUEST too.
      const refusedHere =
        caller === undefined || !(await authorizeOperation(caller, operation, pdp, settings)).forward;
      const outcome = refusedHere ? 'refused-by-gateway' : toolOutcome(response);
      const errorCode =
        caller === undefined
          ? ('InvalidToken' as const)
          : outcome === 'success' || refusedHere
            ? undefined
            : ('ToolError' as const);
      await writeOutcome({
        ...baseRecord(facts, 'response', caller, requestBody),
        ...operationRecord(operation),
        decision: refusedHere ? 'deny' : 'allow',
        enforced: true,
        ...(errorCode === undefined ? {} : { errorCode }),
        extra: {
          outcome,
          statusCode: response.statusCode ?? null,
          ...('cause' in auth ? { tokenAtResponse: auth.cause } : {}),
        },
      });
    }
    return passThrough(response);
  }

  /**
   * RESPONSE-phase audit: the call has already run and its decision was recorded at REQUEST, so a failing
   * sink is logged loudly but does not withhold the result (or invite the client to repeat a side effect).
   */
  async function writeOutcome(record: Omit<AuditRecord, 'time'>): Promise<void> {
    try {
      await writeAudit(record);
    } catch (error) {
      if (!(error instanceof AuditWriteError)) throw error;
    }
  }

  /**
   * Filters every listing in the response for the verified caller (or answers 401), audits what was shown and
   * hidden, and returns the output to give — or, for a search tool's `tools/call`, the filtered body for the
   * outcome audit to pass on.
   */
  async function filterListings(
    facts: RequestFacts,
    response: GatewayResponse,
    decoded: ResponseMessages,
    listings: readonly (Listed & { readonly unreadable: boolean })[],
    requestBody: unknown,
    operation: McpOperation | undefined,
    searchResult: boolean,
  ): Promise<{ readonly output: InterceptorOutput; readonly body?: unknown; readonly refused?: true }> {
    const method = operation === undefined ? 'tools/list' : methodOf(operation);
    const auth = await authenticate(facts, requestBody);
    if ('refused' in auth) {
      await writeOutcome(refusedTokenRecord(facts, 'response', requestBody, method, auth));
      return { output: auth.refused, refused: true };
    }
    const union: Listed = {
      tools: [...new Set(listings.flatMap((listed) => listed.tools))],
      prompts: [...new Set(listings.flatMap((listed) => listed.prompts))],
      resources: [...new Set(listings.flatMap((listed) => listed.resources))],
      templates: [...new Set(listings.flatMap((listed) => listed.templates))],
    };
    const { visible, error } = await visibleListings(auth.caller, union, pdp, settings);
    if (error !== undefined)
      log.error('list filtering failed; hiding every entry', { error: scrub(error.message).slice(0, 300) });
    const enforce = settings.mode === 'enforce';
    const shown: Visible = enforce
      ? visible
      : {
          tools: new Set(union.tools),
          prompts: new Set(union.prompts),
          resources: new Set(union.resources),
          templates: new Set(union.templates),
        };
    const body = encodeResponseMessages(
      decoded,
      (message) =>
        isRecord(message) ? filterListingsIn(message, shown, settings.injection, searchResult) : message,
      response.body,
    );
    const hidden = (names: readonly string[], seen: ReadonlySet<string>) =>
      names.filter((name) => !seen.has(name));
    const hiddenPrompts = hidden(union.prompts, visible.prompts);
    const hiddenResources = hidden(
      [...union.resources, ...union.templates],
      new Set([...visible.resources, ...visible.templates]),
    );
    if (operation?.kind !== 'tool-call') {
      await writeOutcome({
        ...baseRecord(facts, 'response', auth.caller, requestBody),
        method,
        decision: 'allow',
        enforced: enforce,
        ...(error === undefined
          ? {}
          : { errorCode: 'AuthorizationServiceError' as const, reason: error.safeReason }),
        extra: {
          listedTools: union.tools.filter((name) => shown.tools.has(name)),
          hiddenTools: hidden(union.tools, visible.tools),
          ...(hiddenPrompts.length === 0 ? {} : { hiddenPrompts }),
          ...(hiddenResources.length === 0 ? {} : { hiddenResources }),
        },
      });
    }
    const headers = response.headers ? flatHeaders(response.headers) : undefined;
    if (headers !== undefined) {
      // The body changed length; let the gateway compute it.
      for (const key of Object.keys(headers)) if (key.toLowerCase() === 'content-length') delete headers[key];
    }
    return {
      body,
      output: respond({ statusCode: response.statusCode ?? 200, ...(headers ? { headers } : {}), body }),
    };
  }

  return async (event: unknown): Promise<InterceptorOutput> => {
    const input = interceptorInputSchema.safeParse(event);
    try {
      if (!input.success) {
        log.warn('event is not an AgentCore interceptor input', { issues: input.error.issues.slice(0, 5) });
        await writeAudit({
          phase: 'request',
          caller: undefined,
          method: 'unknown',
          decision: 'deny',
          enforced: true,
          errorCode: 'MalformedRequest',
          reason: 'The gateway event could not be read.',
          requestDigest: requestDigest('unknown', null),
        });
        return badRequest(null, new MalformedRequestError('The gateway event could not be read.', -32600));
      }
      const headers = input.data.mcp.gatewayRequest.headers;
      // The AgentCore event reports no address the gateway observed, and X-Forwarded-For is whatever the
      // client wrote: it is kept, bounded and scrubbed, as a claim in additionalEventData, never as the
      // event's sourceIPAddress.
      const forwardedFor = headerValues(headers, 'x-forwarded-for')
        .flatMap((value) => value.split(','))
        .map((hop) => scrub(hop.trim()).slice(0, 64))
        .filter((hop) => hop.length > 0)
        .slice(0, 8);
      const facts: RequestFacts = {
        headers,
        ...optional('sessionId', headerValue(headers, 'mcp-session-id')),
        ...optional('userAgent', headerValue(headers, 'user-agent')),
        ...(forwardedFor.length === 0 ? {} : { forwardedFor }),
      };
      const response = input.data.mcp.gatewayResponse;
      return response === null || response === undefined
        ? await onRequest(input.data, facts)
        : await onResponse(input.data, facts, response);
    } catch (error) {
      // Fail closed: whatever went wrong, the target is not called with this request.
      log.error('interceptor failed; denying', { error: scrubError(error) });
      const reason =
        error instanceof AuditWriteError
          ? error.safeReason
          : 'The request could not be authorized, so it was denied.';
      const given = input.success
        ? (input.data.mcp.gatewayRequest.body ?? input.data.mcp.rawGatewayRequest?.body)
        : undefined;
      const parsedGiven = jsonBody(given ?? null);
      const body = parsedGiven.ok ? parsedGiven.value : undefined;
      const isResponse =
        input.success &&
        input.data.mcp.gatewayResponse !== null &&
        input.data.mcp.gatewayResponse !== undefined;
      if (isResponse)
        return respond({
          statusCode: 500,
          headers: DENY_HEADERS,
          body: jsonRpcError(idIn(body), ACCESS_DENIED_CODE, reason),
        });
      return serviceUnavailable(idIn(body), reason);
    }
  };
}

/** Tools whose results list other tools: AgentCore Gateway's built-in semantic search. */
const SEARCH_TOOLS: ReadonlySet<string> = new Set(['x_amz_bedrock_agentcore_search']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Whether a response message carries something a caller could learn names from. */
function carriesListing(message: unknown, listed: Listed | undefined, searchResult: boolean): boolean {
  if (!isRecord(message) || listed === undefined) return false;
  if (isRecord(message.error)) return listed.tools.length > 0;
  const result = message.result;
  if (!isRecord(result)) return false;
  return (
    Array.isArray(result.tools) ||
    Array.isArray(result.prompts) ||
    Array.isArray(result.resources) ||
    Array.isArray(result.resourceTemplates) ||
    (searchResult && listed.tools.length > 0)
  );
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined || value.length === 0 ? {} : ({ [key]: value } as Record<K, string>);
}

function flatHeaders(headers: Record<string, string | string[]>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([key, value]) => [key, Array.isArray(value) ? value.join(', ') : value]),
  );
}

function toolOutcome(response: GatewayResponse): 'success' | 'tool-error' | 'jsonrpc-error' | 'http-error' {
  if ((response.statusCode ?? 200) >= 400) return 'http-error';
  const body = jsonBody(response.body);
  if (!body.ok || body.value === null || typeof body.value !== 'object') return 'success';
  const message = body.value as Record<string, unknown>;
  if (message.error !== undefined) return 'jsonrpc-error';
  const result = message.result as Record<string, unknown> | undefined;
  return result?.isError === true ? 'tool-error' : 'success';
}

/** Settings for the handler from the validated configuration. */
export function interceptorSettings(config: InterceptorConfig): InterceptorSettings {
  return {
    model: {
      namespace: config.namespace,
      resourceId: config.resourceId,
      ...(config.inputTypes === undefined ? {} : { inputTypes: config.inputTypes }),
    },
    injection: config.injection,
    mode: config.mode,
    ...(config.catalog === undefined ? {} : { catalog: config.catalog }),
    redaction: config.redaction,
    audit: config.audit,
    maxBodyBytes: config.maxBodyBytes,
    ...(config.resourceMetadataUrl === undefined ? {} : { resourceMetadataUrl: config.resourceMetadataUrl }),
  };
}

/**
 * The Lambda entry point, wired once per execution environment with the real adapters. Configuration errors
 * surface at cold start (the function fails to initialise, visibly) rather than as per-request guesses.
 */
function createProductionHandler(): InterceptorHandler {
  const config = loadInterceptorConfig();
  if (config.decisionPoint.kind !== 'avp') {
    throw new Error(
      'the Lambda interceptor uses Verified Permissions; MCP_IDENTITY_DECISION_POINT=local is for the local stack',
    );
  }
  const verifier = new JwtTokenVerifier(config.jwt);
  // Started here, during the init phase, so the first request finds the JWKS (and policy names) loaded.
  void verifier.hydrate();
  const client = new VerifiedPermissionsClient({ maxAttempts: 2 });
  const avp = new AvpDecisionPoint(client, config.decisionPoint);
  let pdp: PolicyDecisionPoint = avp;
  if (config.policyNames !== undefined) {
    const names = new AvpPolicyNames(client, config.decisionPoint.policyStoreId, config.policyNames);
    void names.hydrate();
    pdp = new StableIdDecisionPoint(avp, names);
  }
  return createInterceptorHandler({
    // REQUEST and RESPONSE phases of one call, and the calls of one token, verify it once.
    verifier: new CachingTokenVerifier(verifier),
    pdp: new CachingDecisionPoint(pdp, config.cache),
    audit: new LogAuditSink(createAuditLogger()),
    log: logger,
    settings: interceptorSettings(config),
  });
}

/**
 * Built at module scope — configuration parsed, clients made, JWKS and policy names loading — so that work
 * falls in Lambda's init phase and the first request does not pay for it. A configuration error is kept for
 * the handler below, which retries (the environment may be fixed without a new deploy only in tests, but a
 * retry costs nothing next to refusing every request).
 */
let production: InterceptorHandler | undefined;
try {
  production = createProductionHandler();
} catch {
  production = undefined;
}

/**
 * Lambda entry. A configuration error is logged once per invocation and every request is refused with 503:
 * the function must never throw at the gateway, and must never run a tool it cannot authorize.
 */
export const handler: InterceptorHandler = async (event) => {
  try {
    production ??= createProductionHandler();
  } catch (error) {
    logger.error('interceptor is misconfigured; refusing every request', { error });
    return respond({
      statusCode: 503,
      headers: DENY_HEADERS,
      body: jsonRpcError(
        null,
        ACCESS_DENIED_CODE,
        'The gateway is misconfigured; the request was not carried out.',
      ),
    });
  }
  return production(event);
};
