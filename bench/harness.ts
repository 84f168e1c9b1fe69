import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { McpTool } from '../cli/schema';
import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { CachingDecisionPoint } from '../lambda/adapters/decision-cache';
import { JwtTokenVerifier } from '../lambda/adapters/jwt-token-verifier';
import type { PolicyBundle } from '../lambda/adapters/policy-files';
import { CachingTokenVerifier } from '../lambda/adapters/verified-caller-cache';
import type { AuditEventData } from '../lambda/core/audit-event';
import type { Caller, TokenVerifier } from '../lambda/core/caller';
import { DEFAULT_INJECTION } from '../lambda/core/injection';
import { DEFAULT_REDACTION } from '../lambda/core/redaction';
import type { InterceptorOutput } from '../lambda/doors/agentcore/contract';
import { createInterceptorHandler, type InterceptorHandler } from '../lambda/handlers/interceptor';
import type { DiagnosticLog } from '../lambda/shared/logger';
import { DevIssuer } from '../local/dev-issuer';
import type { Check } from './outcome';

export const REPO = join(__dirname, '..');
export const POLICY_DIR = join(REPO, 'policies');
const FIXTURES = join(REPO, 'test', 'fixtures', 'agentcore');
export const AUDIENCE = 'mcp-identity-bench';

/** The documented AgentCore REQUEST event (test/fixtures/agentcore), as a fresh copy. */
type RequestEvent = {
  interceptorInputVersion: string;
  mcp: {
    rawGatewayRequest: { body: string };
    gatewayRequest: { headers: Record<string, string>; body: unknown };
    gatewayResponse?: { statusCode: number; headers: Record<string, string>; body: unknown };
  };
};
const callTemplate = readFileSync(join(FIXTURES, 'request-interceptor-input.tools-call.json'), 'utf8');
const listTemplate = readFileSync(join(FIXTURES, 'response-interceptor-input.tools-list.json'), 'utf8');

function withToken(event: RequestEvent, token: string): RequestEvent {
  const headers = event.mcp.gatewayRequest.headers;
  headers.Authorization = `Bearer ${token}`;
  headers['Mcp-Session-Id'] = 'bench-session-1';
  headers['User-Agent'] = 'mcp-identity-bench/1.0';
  return event;
}

/** A tools/call REQUEST event as the gateway sends it, with a real token. */
export function toolCallEvent(
  token: string,
  name: string,
  args: Record<string, unknown>,
  id = 7,
): RequestEvent {
  const event = JSON.parse(callTemplate) as RequestEvent;
  const body = { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
  event.mcp.gatewayRequest.body = body;
  event.mcp.rawGatewayRequest.body = JSON.stringify(body);
  return withToken(event, token);
}

/** A tool as a target lists it (the shape `schema generate` reads). */
export type ListedTool = McpTool;

/** A tools/list RESPONSE event carrying `tools` from the targets. */
export function toolListEvent(token: string, tools: readonly ListedTool[]): RequestEvent {
  const event = JSON.parse(listTemplate) as RequestEvent;
  const response = event.mcp.gatewayResponse as NonNullable<RequestEvent['mcp']['gatewayResponse']>;
  response.body = { jsonrpc: '2.0', id: 1, result: { tools } };
  return withToken(event, token);
}

/** Signs tokens with the dev issuer (RS256, as most identity providers) and verifies them like the stack. */
export class BenchIdentity {
  private constructor(
    readonly issuer: DevIssuer,
    readonly verifier: JwtTokenVerifier,
  ) {}

  static async start(): Promise<BenchIdentity> {
    const issuer = await DevIssuer.start({ algorithms: ['RS256'] });
    const verifier = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
    await verifier.hydrate();
    return new BenchIdentity(issuer, verifier);
  }

  /** A fresh token (new `jti`, `iat`, `exp`) for a user with these roles. */
  token(user: string, roles: readonly string[], ttlSeconds = 3600): Promise<string> {
    return this.issuer.sign(
      { sub: user, email: `${user}@example.com`, roles: [...roles], aud: AUDIENCE, client_id: 'bench-agent' },
      { ttlSeconds },
    );
  }

  /**
   * `count` fresh tokens for one user, signed up front (concurrently) so that no signing happens between
   * measured calls: RSA signing is ten times the cost of verifying, runs on the thread pool, and measured
   * right before a call it inflated that call by about a third.
   */
  tokens(user: string, roles: readonly string[], count: number): Promise<string[]> {
    return Promise.all(Array.from({ length: count }, () => this.token(user, roles)));
  }

  stop(): Promise<void> {
    return this.issuer.stop();
  }
}

/** A verifier that counts the tokens it actually verified (to prove a scenario's tokens were fresh). */
export class CountingVerifier implements TokenVerifier {
  verified = 0;

  constructor(private readonly inner: TokenVerifier) {}

  verify(token: string): Promise<Caller> {
    this.verified += 1;
    return this.inner.verify(token);
  }
}

/** Diagnostics off: the bench measures the decision path, not log formatting. */
const quietLog: DiagnosticLog = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export interface BenchHandler {
  readonly handler: InterceptorHandler;
  /** The decision cache in front of the engine (its hit counters say what the run reused). */
  readonly cache: CachingDecisionPoint;
  readonly audited: () => number;
}

/**
 * The interceptor handler as the Lambda and the local stack wire it: a verified-token cache in front of the
 * JWT verifier (a token is verified once), local Cedar over `bundle`, a decision cache (`cacheTtlSeconds`
 * 0 = off), audit events kept in memory (counted, then dropped).
 */
export function benchHandler(
  bundle: PolicyBundle,
  verifier: TokenVerifier,
  cacheTtlSeconds: number,
  engine: CedarDecisionPoint = new CedarDecisionPoint(bundle),
): BenchHandler {
  let audited = 0;
  const cache = new CachingDecisionPoint(engine, { ttlSeconds: cacheTtlSeconds, maxEntries: 10_000 });
  const handler = createInterceptorHandler({
    verifier: new CachingTokenVerifier(verifier),
    pdp: cache,
    audit: {
      write: async (_event: AuditEventData) => {
        audited += 1;
      },
    },
    log: quietLog,
    settings: {
      model: { namespace: bundle.namespace, resourceId: 'gateway', inputTypes: bundle.inputTypes },
      injection: DEFAULT_INJECTION,
      mode: 'enforce',
      catalog: bundle.catalog,
      redaction: DEFAULT_REDACTION,
      audit: { eventSource: 'mcp-identity-bench', recipientAccountId: '123456789012' },
      maxBodyBytes: 1024 * 1024,
    },
  });
  return { handler, cache, audited: () => audited };
}

function describe(output: InterceptorOutput): string {
  const answer = output.mcp.transformedGatewayResponse;
  if (answer === undefined) return 'forwarded';
  const body = answer.body as { result?: { content?: { text?: string }[] }; error?: { message?: string } };
  const text = body?.result?.content?.[0]?.text ?? body?.error?.message ?? '';
  return `answered ${answer.statusCode}: ${text}`.slice(0, 160);
}

/** Allowed and forwarded to the target with the verified caller injected. */
export function expectAllowed(output: InterceptorOutput, user: string): Check {
  const forwarded = output.mcp.transformedGatewayRequest;
  if (forwarded === undefined) return `expected allow, got ${describe(output)}`;
  const args = (forwarded.body as { params?: { arguments?: Record<string, unknown> } }).params?.arguments;
  return args?._caller_user === user ? true : `allowed but _caller_user is ${String(args?._caller_user)}`;
}

/** Refused by policy: the gateway answers a tool error itself and the target is never called. */
export function expectDenied(output: InterceptorOutput): Check {
  const answer = output.mcp.transformedGatewayResponse;
  if (output.mcp.transformedGatewayRequest !== undefined || answer === undefined)
    return 'expected deny, got allow';
  const body = answer.body as { result?: { isError?: boolean } };
  return answer.statusCode === 200 && body?.result?.isError === true
    ? true
    : `expected a policy denial, got ${describe(output)}`;
}

/** The filtered tool list shows exactly `expected`. */
export function expectListed(output: InterceptorOutput, expected: ReadonlySet<string>): Check {
  const body = output.mcp.transformedGatewayResponse?.body as
    | { result?: { tools?: { name: string }[] } }
    | undefined;
  const names = body?.result?.tools?.map((tool) => tool.name);
  if (names === undefined) return `expected a tool list, got ${describe(output)}`;
  if (names.length === expected.size && names.every((name) => expected.has(name))) return true;
  const extra = names.filter((name) => !expected.has(name));
  const missing = [...expected].filter((name) => !names.includes(name));
  return `listed ${names.length}, expected ${expected.size} (extra: ${extra.slice(0, 3).join(', ') || '–'}; missing: ${missing.slice(0, 3).join(', ') || '–'})`;
}
