import type { Caller } from './caller';
import {
  ArgumentConversionError,
  type AuthorizationRequest,
  authorizationRequest,
  type CedarModel,
  discoveryRequest,
} from './cedar-request';
import { type Decision, decisionFromAnswer, type PolicyCatalog, type PolicyDecisionPoint } from './decision';
import { DecisionPointError, McpIdentityError, SpoofingAttemptError } from './errors';
import { type InjectionConfig, injectIdentity, spoofedArguments, spoofedParams } from './injection';
import type { Listed, Visible } from './listings';
import { type McpOperation, parseToolName, type ToolName } from './mcp-operation';
import { regenerateCommand } from './schema-remedy';

export type EnforcementMode = 'enforce' | 'log-only';

export interface AuthorizerSettings {
  readonly model: CedarModel;
  readonly injection: InjectionConfig;
  /** `log-only` evaluates and audits policy denials but lets the call through (rollout). Authentication,
   * spoofing, malformed input and engine errors are always enforced. @default 'enforce' */
  readonly mode: EnforcementMode;
  readonly catalog?: PolicyCatalog;
}

/** What the gateway does with a request after deciding it. */
export interface Verdict {
  readonly decision: Decision;
  /** Whether the request goes on to the target. */
  readonly forward: boolean;
  /** False when a deny was recorded but not enforced (log-only). */
  readonly enforced: boolean;
  /** For a forwarded `tools/call`: the arguments the target receives (identity injected). */
  readonly arguments?: Record<string, unknown>;
  readonly injected?: readonly string[];
}

const ALLOW_WITHOUT_POLICY: Decision = Object.freeze({ kind: 'allow', policies: Object.freeze([]) });

function errorDecision(error: unknown): Decision {
  const safe =
    error instanceof McpIdentityError
      ? error
      : new DecisionPointError('decision point failed', { cause: error });
  return { kind: 'error', reason: safe.safeReason, error: safe };
}

function who(caller: Caller): string {
  return caller.username ?? caller.email ?? caller.subject;
}

/**
 * The decision for one MCP operation by one verified caller. Never throws: every failure is a deny.
 */
export async function authorizeOperation(
  caller: Caller,
  operation: McpOperation,
  pdp: PolicyDecisionPoint,
  settings: AuthorizerSettings,
): Promise<Verdict> {
  // Reserved identity names are refused wherever the client puts them in params, for every method and in
  // log-only mode too: a target may read `params._meta`, the top level or nested data as well as arguments.
  const spoofing = spoofingVerdict(
    operation.params ?? {},
    settings,
    // Stryker disable next-line StringLiteral: outside a call only the '*' bindings apply; '' is no tool name (parseToolName refuses it), nor is any placeholder text
    operation.kind === 'tool-call' ? operation.tool.full : '',
  );
  if (spoofing !== undefined) return spoofing;
  switch (operation.kind) {
    case 'protocol':
    case 'notification':
    case 'client-response':
    case 'list':
      // Session plumbing runs no tool; lists are filtered per tool on the way back.
      return { decision: ALLOW_WITHOUT_POLICY, forward: true, enforced: true };
    case 'unsupported':
      return {
        decision: {
          kind: 'deny',
          code: 'unsupported-method',
          reason: `The method '${operation.method}' is not permitted through this gateway.`,
          policies: [],
        },
        forward: false,
        enforced: true,
      };
    case 'tool-call': {
      // Already covered by the params walk above when the operation came from the parser.
      const spoofing =
        // Stryker disable next-line ConditionalExpression: with params, arguments are params.arguments (less nulls), already walked above; a second check finds nothing new
        operation.params === undefined
          ? spoofingVerdict(operation.arguments, settings, operation.tool.full, spoofedArguments)
          : undefined;
      if (spoofing !== undefined) return spoofing;
      return decide(caller, operation, pdp, settings, `call the tool '${operation.tool.full}'`);
    }
    case 'prompt-get': {
      // A prompt server may read the same identity arguments a tool does: the client may not set them either.
      const spoofing = spoofingVerdict(
        operation.arguments,
        settings,
        `prompt:${operation.name}`,
        spoofedArguments,
      );
      if (spoofing !== undefined) return spoofing;
      return decide(caller, operation, pdp, settings, `get the prompt '${operation.name}'`);
    }
    case 'resource-read':
      return decide(caller, operation, pdp, settings, `read the resource '${operation.uri}'`);
  }
}

function spoofingVerdict(
  args: Readonly<Record<string, unknown>>,
  settings: AuthorizerSettings,
  name: string,
  find: typeof spoofedArguments = spoofedParams,
): Verdict | undefined {
  const spoofed = find(args, settings.injection, name);
  if (spoofed.length === 0) return undefined;
  const error = new SpoofingAttemptError(spoofed);
  return {
    decision: { kind: 'deny', code: 'spoofing', reason: error.safeReason, policies: [] },
    forward: false,
    enforced: true,
  };
}

/**
 * Whether the schema has an entry for the tool: an action with a typed `context.input` (what `schema generate`
 * writes for every tool; a tool call always sends `context.input`, so an action without it could not be
 * decided anyway). Unknown (true) when the model was given no input types: the engine then decides alone.
 */
function inSchema(model: CedarModel, tool: string): boolean {
  return model.inputTypes === undefined || Object.hasOwn(model.inputTypes, tool);
}

/**
 * A tool the schema does not know is denied before any engine is asked: no policy can name it, whichever engine
 * (cedar-wasm denies by default; Verified Permissions may reject the request instead), and a policy without an
 * action scope must not allow it either. The reason tells the operator which command adds it.
 */
function notInSchema(caller: Caller, tool: ToolName): Decision {
  return {
    kind: 'deny',
    code: 'policy',
    reason: `Denied: no policy permits ${who(caller)} to call the tool '${tool.full}': it has no entry in the Cedar schema. An operator adds it with \`${regenerateCommand(tool.full)}\`, then writes a policy for it and deploys.`,
    policies: [],
  };
}

async function decide(
  caller: Caller,
  operation: Extract<McpOperation, { kind: 'tool-call' | 'prompt-get' | 'resource-read' }>,
  pdp: PolicyDecisionPoint,
  settings: AuthorizerSettings,
  what: string,
): Promise<Verdict> {
  let request: AuthorizationRequest;
  try {
    if (operation.kind === 'tool-call' && !inSchema(settings.model, operation.tool.full))
      return settle(notInSchema(caller, operation.tool), caller, operation, settings);
    request = authorizationRequest(caller, operation, settings.model);
  } catch (error) {
    if (!(error instanceof ArgumentConversionError))
      return { decision: errorDecision(error), forward: false, enforced: true };
    return {
      decision: {
        kind: 'deny',
        code: 'unknown-tool-arguments',
        reason: `Denied: the arguments cannot be checked against policy (${error.message}).`,
        policies: [],
      },
      forward: false,
      enforced: true,
    };
  }

  let decision: Decision;
  try {
    const answer = await pdp.isAuthorized(request);
    const permitted =
      answer.decision === 'deny' && answer.errors.length === 0 && answer.determiningPolicies.length > 0
        ? await permittedWithoutForbids(pdp, request, caller, operation, settings.model)
        : undefined;
    decision = decisionFromAnswer(
      answer,
      // Stryker disable next-line ConditionalExpression: { permitted: undefined } reads as no answer, like leaving it out (only false changes the reason)
      { who: who(caller), what, ...(permitted === undefined ? {} : { permitted }) },
      settings.catalog,
    );
  } catch (error) {
    return { decision: errorDecision(error), forward: false, enforced: true };
  }
  return settle(decision, caller, operation, settings);
}

/** What the gateway does with a policy decision: enforce it, or in log-only mode let a policy denial through. */
function settle(
  decision: Decision,
  caller: Caller,
  operation: Extract<McpOperation, { kind: 'tool-call' | 'prompt-get' | 'resource-read' }>,
  settings: AuthorizerSettings,
): Verdict {
  // Log-only relaxes policy denials only; a policy that could not be evaluated is still enforced.
  const shadow = settings.mode === 'log-only' && decision.kind === 'deny' && decision.code === 'policy';
  if (decision.kind !== 'allow' && !shadow) return { decision, forward: false, enforced: true };
  if (operation.kind !== 'tool-call') return { decision, forward: true, enforced: !shadow };
  const injected = injectIdentity(operation.arguments, caller, settings.injection, operation.tool.full);
  return {
    decision,
    forward: true,
    enforced: !shadow,
    arguments: injected.arguments,
    injected: injected.injected,
  };
}

/**
 * A denial names a forbid only when a permit would otherwise have allowed the call: telling alice, who may not
 * call a tool at all, that a refund needs a finance role would send her after the wrong fix. Exact where the
 * engine can evaluate permits alone (cedar-wasm); otherwise, for a tool call, by the request without its
 * arguments, which under the documented policy convention (permits say who, forbids limit arguments) is
 * allowed exactly when a permit covers the caller. Undefined when it cannot tell: the forbid is named.
 */
async function permittedWithoutForbids(
  pdp: PolicyDecisionPoint,
  request: AuthorizationRequest,
  caller: Caller,
  operation: Extract<McpOperation, { kind: 'tool-call' | 'prompt-get' | 'resource-read' }>,
  model: CedarModel,
): Promise<boolean | undefined> {
  if (pdp.permits !== undefined) return pdp.permits(request);
  if (operation.kind !== 'tool-call') return undefined;
  const withoutArguments = await pdp.isAuthorized(discoveryRequest(caller, operation.tool.full, model));
  if (withoutArguments.errors.length > 0) return undefined;
  if (withoutArguments.decision === 'allow') return true;
  // Still denied by a forbid without arguments: that forbid is the reason whatever the permits say.
  return withoutArguments.determiningPolicies.length > 0 ? undefined : false;
}

/**
 * The tools among `names` the caller could call with some input. Any engine failure hides every tool
 * (fail closed: an empty list is safe, a list with a forbidden tool is not). In log-only mode the caller
 * shows every tool and audits what this would have hidden.
 */
export async function callableTools(
  caller: Caller,
  names: readonly string[],
  pdp: PolicyDecisionPoint,
  settings: AuthorizerSettings,
): Promise<{ readonly callable: Set<string>; readonly error?: McpIdentityError }> {
  try {
    // A name no `tools/call` can carry (see parseToolName) is never callable, so never listed, and never asked
    // about: the prompt and resource actions share the tools' namespace of action ids. Nor is a tool the schema
    // does not know (one unknown action must not make an engine reject, and so hide, the whole list).
    const candidates = names.filter(
      (name) => parseToolName(name) !== undefined && inSchema(settings.model, name),
    );
    const answers = await pdp.couldBeAllowed(
      candidates.map((name) => discoveryRequest(caller, name, settings.model)),
    );
    if (answers.length !== candidates.length)
      throw new DecisionPointError('decision point answered a different number of requests');
    return { callable: new Set(candidates.filter((_, index) => answers[index] === true)) };
  } catch (error) {
    const decision = errorDecision(error);
    return { callable: new Set(), error: decision.kind === 'error' ? decision.error : undefined };
  }
}

/**
 * What of a response's listings the caller may see: tools they could call with some input, prompts they could
 * get, resources (and resource templates, by their template text) they could read — one engine call for all.
 * Any failure hides everything (fail closed); the error is returned for the audit.
 */
export async function visibleListings(
  caller: Caller,
  listed: Listed,
  pdp: PolicyDecisionPoint,
  settings: AuthorizerSettings,
): Promise<{ readonly visible: Visible; readonly error?: McpIdentityError }> {
  const none: Visible = { tools: new Set(), prompts: new Set(), resources: new Set(), templates: new Set() };
  try {
    const tools = listed.tools.filter(
      (name) => parseToolName(name) !== undefined && inSchema(settings.model, name),
    );
    const requests = [
      ...tools.map((name) => discoveryRequest(caller, name, settings.model)),
      ...listed.prompts.map((name) =>
        authorizationRequest(caller, { kind: 'prompt-get', id: 0, name, arguments: {} }, settings.model),
      ),
      ...[...listed.resources, ...listed.templates].map((uri) =>
        authorizationRequest(caller, { kind: 'resource-read', id: 0, uri }, settings.model),
      ),
    ];
    const answers = requests.length === 0 ? [] : await pdp.couldBeAllowed(requests);
    if (answers.length !== requests.length)
      throw new DecisionPointError('decision point answered a different number of requests');
    let at = 0;
    const take = (names: readonly string[]) => new Set(names.filter(() => answers[at++] === true));
    return {
      visible: {
        tools: take(tools),
        prompts: take(listed.prompts),
        resources: take(listed.resources),
        templates: take(listed.templates),
      },
    };
  } catch (error) {
    const decision = errorDecision(error);
    return { visible: none, ...(decision.kind === 'error' ? { error: decision.error } : {}) };
  }
}
