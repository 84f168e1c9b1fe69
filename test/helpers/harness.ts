import { join } from 'node:path';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import { loadPolicyBundle, type PolicyBundle } from '../../lambda/adapters/policy-files';
import type { AuditEventData, AuditSink } from '../../lambda/core/audit-event';
import type { PolicyDecisionPoint } from '../../lambda/core/decision';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { DEFAULT_REDACTION } from '../../lambda/core/redaction';
import { createInterceptorHandler, type InterceptorSettings } from '../../lambda/handlers/interceptor';
import type { DiagnosticLog } from '../../lambda/shared/logger';
import { DevIssuer } from '../../local/dev-issuer';

export const POLICY_DIR = join(__dirname, '..', '..', 'policies');
export const AUDIENCE = 'mcp+https://gateway.example.com/mcp';

let bundle: PolicyBundle | undefined;
/** The repository's policies, loaded once per test file. */
export function policyBundle(): PolicyBundle {
  bundle ??= loadPolicyBundle(POLICY_DIR);
  return bundle;
}

export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEventData[] = [];
  failing = false;
  async write(event: AuditEventData): Promise<void> {
    if (this.failing) throw new Error('disk full');
    this.events.push(event);
  }
}

export function silentLog(): DiagnosticLog & { lines: unknown[][] } {
  const lines: unknown[][] = [];
  const record = (...args: unknown[]) => {
    lines.push(args);
  };
  return { info: record, warn: record, error: record, lines } as unknown as DiagnosticLog & {
    lines: unknown[][];
  };
}

export function settings(overrides: Partial<InterceptorSettings> = {}): InterceptorSettings {
  const policies = policyBundle();
  return {
    model: { namespace: 'McpIdentity', resourceId: 'gateway', inputTypes: policies.inputTypes },
    injection: DEFAULT_INJECTION,
    mode: 'enforce',
    catalog: policies.catalog,
    redaction: DEFAULT_REDACTION,
    audit: { eventSource: 'mcp-identity', recipientAccountId: '123456789012' },
    maxBodyBytes: 1024 * 1024,
    resourceMetadataUrl: 'https://gateway.example.com/.well-known/oauth-protected-resource',
    ...overrides,
  };
}

export const USERS = {
  alice: {
    sub: 'alice',
    email: 'alice@example.com',
    roles: ['developer', 'db-reader'],
    client_id: 'agent-cli',
  },
  bob: { sub: 'bob', email: 'bob@example.com', roles: ['order-admin'], client_id: 'agent-cli' },
  carol: { sub: 'carol', email: 'carol@example.com', roles: [], client_id: 'agent-cli' },
} as const;

export interface Harness {
  readonly issuer: DevIssuer;
  readonly audit: MemoryAuditSink;
  readonly log: ReturnType<typeof silentLog>;
  readonly handler: ReturnType<typeof createInterceptorHandler>;
  readonly pdp: PolicyDecisionPoint;
  token(user: keyof typeof USERS, extra?: Record<string, unknown>): Promise<string>;
}

/** The interceptor wired with a loopback issuer, the real Cedar engine on policies/, and an in-memory sink. */
export async function startHarness(
  options: { settings?: Partial<InterceptorSettings>; pdp?: PolicyDecisionPoint; hydrate?: boolean } = {},
): Promise<Harness> {
  const issuer = await DevIssuer.start();
  const audit = new MemoryAuditSink();
  const log = silentLog();
  const pdp = options.pdp ?? new CedarDecisionPoint(policyBundle());
  const verifier = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
  // As the Lambda does at cold start: a busy machine must not turn the first discovery fetch into a 503.
  if (options.hydrate !== false) await verifier.hydrate();
  const handler = createInterceptorHandler({
    verifier,
    pdp,
    audit,
    log,
    settings: settings(options.settings),
  });
  return {
    issuer,
    audit,
    log,
    handler,
    pdp,
    token: (user, extra = {}) => issuer.sign({ ...USERS[user], aud: AUDIENCE, ...extra }),
  };
}
