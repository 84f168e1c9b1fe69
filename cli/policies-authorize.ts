import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { type PolicyDiagnostic, PolicyFolderError } from '../lambda/adapters/policy-diagnostics';
import { lineOf, loadPolicyBundle, type PolicyBundle } from '../lambda/adapters/policy-files';
import { type AuthorizerSettings, authorizeOperation } from '../lambda/core/authorize';
import { type Caller, callerFromClaims, DEFAULT_CLAIM_NAMES } from '../lambda/core/caller';
import { authorizationRequest, type CedarModel } from '../lambda/core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../lambda/core/decision';
import { McpIdentityError } from '../lambda/core/errors';
import { DEFAULT_INJECTION } from '../lambda/core/injection';
import { type McpOperation, parseMcpRequest } from '../lambda/core/mcp-operation';
import { parseJsonText } from '../lambda/shared/json-syntax';
import { actClaim } from '../local/dev-issuer';
import { loadUsers, UsersFileError } from '../local/users';
import { BearerTokenError, resolveToken } from './bearer-token';
import { decodeSampleToken, SampleTokenError } from './sample-token';

export { roleList } from './policies-authorize-command';

/**
 * `mcp-identity policies authorize`: "would alice be allowed to do X, and why?", decided on the local policy
 * folder by the live path's own code — the MCP request parser, `authorizeOperation` (schema check, Cedar
 * request, reason, identity injection) and the Cedar decision point the local stack uses — and explained:
 * the decision, the policies that determined it with file:line, the permit a forbid overrode, policy errors,
 * and the arguments the gateway would inject.
 */

/** Exit codes: 0 allowed, 3 denied, 1 could not decide (bad input, unreadable policies, engine error). */
export const EXIT_ALLOWED = 0;
export const EXIT_DENIED = 3;
export const EXIT_ERROR = 1;

/** An expected problem with the input (users file, token, arguments, policy folder): its message, exit 1. */
export class AuthorizeError extends Error {
  constructor(
    message: string,
    /** For a policy folder that cannot be used: its errors, located (what `--json` prints). */
    readonly diagnostics: readonly PolicyDiagnostic[] = [],
  ) {
    super(message);
  }
}

export interface AuthorizeInput {
  readonly dir: string;
  readonly tool: string;
  /** The tool arguments as the client would send them (any JSON: a non-object is refused as the gateway does). */
  readonly arguments: unknown;
  readonly user?: string;
  readonly roles?: readonly string[];
  readonly agent?: string;
  /** A delegation chain (the token's `act`), current actor first. */
  readonly act?: readonly string[];
  /** Where roles and email come from when `roles` is not given. */
  readonly usersFile: string;
  /** A sample token whose claims name the caller instead of `user`/`roles` (never verified, never printed). */
  readonly token?: { readonly token: string; readonly from: string };
  readonly now?: Date;
}

export interface PolicyReference {
  readonly id: string;
  readonly effect?: 'permit' | 'forbid';
  readonly file?: string;
  readonly line?: number;
  readonly reason?: string;
}

export interface AuthorizeReport {
  readonly decision: 'allow' | 'deny' | 'error';
  /** Why a denial happened, as the audit records it: policy, policy-error, spoofing, unknown-tool-arguments. */
  readonly code?: string;
  /** The reason exactly as the caller (the agent, relaying it) would read it. */
  readonly reason?: string;
  readonly tool: string;
  readonly caller: {
    readonly subject: string;
    readonly roles: readonly string[];
    readonly rolesFrom: string;
    readonly agent?: string;
    readonly email?: string;
    readonly actors: readonly string[];
  };
  /** The policies that determined the decision: permits for an allow, forbids for a denial by forbid. */
  readonly determining: readonly PolicyReference[];
  /** For a denial by forbid: the permits that would have allowed the call without it. */
  readonly overriddenPermits: readonly PolicyReference[];
  /** Policies that failed to evaluate (Cedar skips them; the gateway denies). Engine text, for operators. */
  readonly errors: readonly { readonly policy?: PolicyReference; readonly detail: string }[];
  /** For an allowed call: the identity arguments the gateway would add before forwarding. */
  readonly injected: Readonly<Record<string, unknown>>;
  readonly notes: readonly string[];
}

function loadBundle(dir: string): PolicyBundle {
  try {
    return loadPolicyBundle(dir);
  } catch (error) {
    // Located errors (file:line:column and a caret excerpt) start on their own line.
    const located = error instanceof PolicyFolderError;
    throw new AuthorizeError(
      `the policy folder ${dir} cannot be used (see: npx mcp-identity policies validate --dir ${dir}):${located ? '\n' : ' '}${(error as Error).message}`,
      located ? error.diagnostics : [],
    );
  }
}

/** The caller as the gateway would build it, from the same claim reader, so bad identifiers fail the same way. */
function resolveCaller(
  input: AuthorizeInput,
  now: Date,
): { caller: Caller; rolesFrom: string; notes: string[] } {
  const seconds = Math.floor(now.getTime() / 1000);
  const notes: string[] = [];
  let claims: Record<string, unknown>;
  let rolesFrom: string;
  if (input.token !== undefined) {
    claims = { ...decodeSampleToken(input.token.token, input.token.from).claims };
    rolesFrom = `the token's '${DEFAULT_CLAIM_NAMES.roles}' claim`;
    notes.push(
      `the token's signature, issuer and audience were not checked: the claims were read as the gateway reads verified ones (default claim names)`,
    );
    if (typeof claims.exp === 'number' && claims.exp <= seconds)
      notes.push(
        `the token expired at ${new Date(claims.exp * 1000).toISOString()}: the gateway would refuse it (401) before asking any policy`,
      );
    if (input.agent !== undefined) claims.client_id = input.agent;
  } else {
    const user = input.user as string;
    let roles = input.roles;
    let email: string | undefined;
    rolesFrom = '--roles';
    if (roles === undefined || input.usersFile !== undefined) {
      let users: ReturnType<typeof loadUsers> | undefined;
      try {
        users = loadUsers(input.usersFile);
      } catch (error) {
        if (roles === undefined)
          throw new AuthorizeError(
            `${(error as UsersFileError).message}; or give the roles with --roles a,b`,
          );
      }
      const known = users === undefined || !Object.hasOwn(users, user) ? undefined : users[user];
      if (roles === undefined) {
        if (known === undefined)
          throw new AuthorizeError(
            `'${user}' is not in ${input.usersFile} (users: ${Object.keys(users ?? {}).join(', ')}); give the roles with --roles a,b`,
          );
        roles = known.roles;
        rolesFrom = input.usersFile;
      }
      email = known?.email;
    }
    claims = {
      sub: user,
      iss: 'urn:mcp-identity:policies-authorize',
      iat: seconds,
      exp: seconds + 3600,
      roles: [...roles],
      ...(email === undefined ? {} : { email }),
      ...(input.agent === undefined ? {} : { client_id: input.agent }),
      ...(input.act === undefined || input.act.length === 0 ? {} : { act: actClaim(input.act) }),
    };
  }
  try {
    return { caller: callerFromClaims(claims, DEFAULT_CLAIM_NAMES), rolesFrom, notes };
  } catch (error) {
    throw new AuthorizeError(`the gateway would refuse this caller: ${(error as Error).message}`);
  }
}

/** A decision point that remembers what the engine answered for the call itself (not for explanations). */
function recording(inner: CedarDecisionPoint): { pdp: PolicyDecisionPoint; answers: PolicyAnswer[] } {
  const answers: PolicyAnswer[] = [];
  return {
    answers,
    pdp: {
      isAuthorized: async (request) => {
        const answer = await inner.isAuthorized(request);
        answers.push(answer);
        return answer;
      },
      couldBeAllowed: (requests) => inner.couldBeAllowed(requests),
      permits: (request) => inner.permits(request),
      tokenReads: inner.tokenReads,
    },
  };
}

export function references(bundle: PolicyBundle, dir: string): (id: string) => PolicyReference {
  const texts = new Map<string, string>();
  const byId = new Map(bundle.policies.map((policy) => [policy.id, policy]));
  return (id) => {
    const policy = byId.get(id);
    if (policy === undefined) return { id };
    let text = texts.get(policy.file);
    if (text === undefined) {
      text = readFileSync(join(dir, policy.file), 'utf8');
      texts.set(policy.file, text);
    }
    const at = text.indexOf(policy.text);
    return {
      id,
      ...(policy.scope === undefined ? {} : { effect: policy.scope.effect }),
      file: policy.file,
      ...(at < 0 ? {} : { line: lineOf(text, at) }),
      ...(policy.reason === undefined ? {} : { reason: policy.reason }),
    };
  };
}

/** Decides one tool call on the policy folder and explains it. Throws {@link AuthorizeError} for bad input. */
export async function explainToolCall(input: AuthorizeInput): Promise<AuthorizeReport> {
  const now = input.now ?? new Date();
  const bundle = loadBundle(input.dir);
  const { caller, rolesFrom, notes } = resolveCaller(input, now);
  // The request as a client would send it, read by the gateway's own parser (null arguments, reserved keys…).
  const parsed = parseMcpRequest({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: input.tool, arguments: input.arguments },
  });
  if (!parsed.ok) throw new AuthorizeError(`the gateway would refuse this request: ${parsed.error.message}`);
  const operation = parsed.operation as Extract<McpOperation, { kind: 'tool-call' }>;
  const model: CedarModel = {
    namespace: bundle.namespace || 'McpIdentity',
    resourceId: 'gateway',
    inputTypes: bundle.inputTypes,
  };
  const settings: AuthorizerSettings = {
    model,
    injection: DEFAULT_INJECTION,
    mode: 'enforce',
    catalog: bundle.catalog,
  };
  const engine = new CedarDecisionPoint(bundle);
  const { pdp, answers } = recording(engine);
  const verdict = await authorizeOperation(caller, operation, pdp, settings);
  const reference = references(bundle, input.dir);
  const answer = answers[0];
  const decision = verdict.decision;

  let overriddenPermits: PolicyReference[] = [];
  if (decision.kind === 'deny' && answer !== undefined && answer.determiningPolicies.length > 0) {
    // Which permits a forbid overrode: the same request on the permits alone.
    const permitsOnly = new CedarDecisionPoint({
      ...bundle,
      policies: bundle.policies.filter((policy) => policy.scope?.effect !== 'forbid'),
    });
    const alone = await permitsOnly.isAuthorized(authorizationRequest(caller, operation, model));
    if (alone.decision === 'allow') overriddenPermits = alone.determiningPolicies.map(reference);
  }
  if (!bundle.actions.has(operation.tool.full))
    notes.push(
      `the schema has no action '${operation.tool.full}' (${Array.from(bundle.actions).length} actions)`,
    );

  const injected: Record<string, unknown> = {};
  for (const name of verdict.injected ?? []) injected[name] = verdict.arguments?.[name];
  return {
    decision: decision.kind,
    ...(decision.kind === 'allow' ? {} : { reason: decision.reason }),
    ...(decision.kind === 'deny' ? { code: decision.code } : {}),
    tool: operation.tool.full,
    caller: {
      subject: caller.subject,
      roles: caller.roles,
      rolesFrom,
      ...(caller.agent === undefined ? {} : { agent: caller.agent }),
      ...(caller.email === undefined ? {} : { email: caller.email }),
      actors: caller.actors,
    },
    determining:
      decision.kind === 'error' ? [] : (answer?.determiningPolicies ?? []).map((id) => reference(id)),
    overriddenPermits,
    errors: [
      ...(answer?.errors ?? []).map((error) => ({
        ...(error.policyId === undefined ? {} : { policy: reference(error.policyId) }),
        detail: error.detail,
      })),
      ...(decision.kind === 'error' ? [{ detail: decision.error.message }] : []),
    ],
    injected,
    notes,
  };
}

export function where(policy: PolicyReference): string {
  const place =
    policy.file === undefined ? '' : ` (${policy.file}${policy.line === undefined ? '' : `:${policy.line}`})`;
  return `${policy.effect ?? 'policy'} ${policy.id}${place}${policy.reason === undefined ? '' : ` — ${policy.reason}`}`;
}

/** The report for people. */
export function formatReport(report: AuthorizeReport): string[] {
  const lines: string[] = [];
  const { caller } = report;
  lines.push(`${report.decision.toUpperCase()}  ${caller.subject} → ${report.tool}`);
  lines.push(
    `  caller      ${caller.subject}, roles [${caller.roles.join(', ')}] (from ${caller.rolesFrom})${caller.agent === undefined ? '' : `, agent ${caller.agent}`}${caller.actors.length === 0 ? '' : `, acting through ${caller.actors.join(' → ')}`}`,
  );
  if (report.decision === 'allow') {
    for (const policy of report.determining) lines.push(`  allowed by  ${where(policy)}`);
    if (report.determining.length === 0) lines.push('  allowed by  no policy (not a policy decision)');
  } else {
    // A forbid that applied where no permit did is on record, but the denial is the default one.
    const byDefault =
      report.decision === 'deny' && report.code === 'policy' && report.overriddenPermits.length === 0;
    if (byDefault) lines.push('  denied by   default: no permit applies');
    for (const policy of report.determining)
      lines.push(`  ${byDefault ? 'also       ' : 'denied by  '} ${where(policy)}`);
    for (const policy of report.overriddenPermits) lines.push(`  overriding  ${where(policy)}`);
    for (const error of report.errors)
      lines.push(
        `  error       ${error.policy === undefined ? '' : `${where(error.policy)}: `}${error.detail}`,
      );
    lines.push(
      `  reason      ${report.reason} (as the caller reads it${report.code ? `; code ${report.code}` : ''})`,
    );
  }
  const injected = Object.entries(report.injected);
  if (injected.length > 0)
    lines.push(
      `  injected    ${injected.map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(', ')}`,
    );
  for (const note of report.notes) lines.push(`  note        ${note}`);
  return lines;
}

export function exitCodeOf(report: AuthorizeReport): number {
  switch (report.decision) {
    case 'allow':
      return EXIT_ALLOWED;
    case 'deny':
      return EXIT_DENIED;
    case 'error':
      return EXIT_ERROR;
  }
}

function jsonArguments(text: string, from: string): unknown {
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new AuthorizeError(`${from} is not JSON (${parsed.place})`);
  return parsed.value;
}

export interface AuthorizeOptions {
  user?: string;
  roles?: string[];
  agent?: string;
  act?: string[];
  tool: string;
  args?: string;
  argsFile?: string;
  tokenFile?: string;
  users: string;
  dir: string;
  json: boolean;
}

/** The `policies authorize` action: explains the decision and sets the exit code (0 allow, 3 deny, 1 error). */
export async function authorize(options: AuthorizeOptions): Promise<void> {
  try {
    if (options.user === undefined && options.tokenFile === undefined)
      throw new AuthorizeError(
        'name the caller: --user <name> (with --roles, or from --users) or --token-file <file>',
      );
    let args: unknown = {};
    if (options.args !== undefined) args = jsonArguments(options.args, '--args');
    else if (options.argsFile !== undefined) {
      let text: string;
      try {
        text = readFileSync(options.argsFile, 'utf8');
      } catch (error) {
        throw new AuthorizeError(
          `cannot read --args-file ${options.argsFile}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
        );
      }
      args = jsonArguments(text, `--args-file ${options.argsFile}`);
    }
    const token = resolveToken(options.tokenFile === undefined ? {} : { tokenFile: options.tokenFile }, {});
    const report = await explainToolCall({
      dir: options.dir,
      tool: options.tool,
      arguments: args,
      usersFile: options.users,
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.roles === undefined ? {} : { roles: options.roles }),
      ...(options.agent === undefined ? {} : { agent: options.agent }),
      ...(options.act === undefined ? {} : { act: options.act }),
      ...(token === undefined ? {} : { token }),
    });
    process.stdout.write(
      options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report).join('\n')}\n`,
    );
    process.exitCode = exitCodeOf(report);
  } catch (error) {
    if (
      error instanceof AuthorizeError ||
      error instanceof BearerTokenError ||
      error instanceof SampleTokenError ||
      error instanceof UsersFileError ||
      error instanceof McpIdentityError
    ) {
      process.stderr.write(`mcp-identity: ${error.message}\n`);
      // --json: scripts get the located policy errors too ({file, line, column, …, message, help}).
      if (options.json && error instanceof AuthorizeError && error.diagnostics.length > 0)
        process.stdout.write(
          `${JSON.stringify({ decision: 'error', errors: error.diagnostics }, null, 2)}\n`,
        );
      process.exitCode = EXIT_ERROR;
      return;
    }
    throw error;
  }
}
