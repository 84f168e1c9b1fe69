import { parseToolName } from './mcp-operation';

/** How one target receives the verified caller. */
export interface TargetDelivery {
  /** Injected arguments (`_caller_user`, `_caller_roles`, bindings) for tools that declare them. */
  readonly arguments: boolean;
  /** The signed identity assertion, in the assertion header. */
  readonly assertion: boolean;
}

export interface IdentityDeliverySettings {
  /** Per target name; targets not listed, and system tools, get arguments only. */
  readonly targets: ReadonlyMap<string, TargetDelivery>;
  /** The header the assertion travels in (allow-listed on the targets that take it). */
  readonly assertionHeader: string;
}

/** What the guard does for one tool call. */
export interface IdentityDelivery {
  readonly arguments: boolean;
  /** Present when the tool's target takes the assertion: where it goes and who it is for. */
  readonly assertion?: { readonly header: string; readonly audience: string };
}

export const DEFAULT_ASSERTION_HEADER = 'X-Mcp-Identity-Assertion';

/** Today's behaviour, for tools of targets the configuration does not list. */
const ARGUMENTS_ONLY: IdentityDelivery = Object.freeze({ arguments: true });

/**
 * How the caller reaches the tool `target___tool` (split on the first `___`, as the gateway names tools):
 * as its target is configured, or arguments only for a target not listed and for system tools (no prefix).
 * The assertion's audience is the target name, so an assertion made for one target is refused by another.
 */
export function identityDelivery(toolName: string, settings: IdentityDeliverySettings): IdentityDelivery {
  const target = parseToolName(toolName)?.target;
  const configured = target === undefined ? undefined : settings.targets.get(target);
  if (target === undefined || configured === undefined) return ARGUMENTS_ONLY;
  return configured.assertion
    ? { arguments: configured.arguments, assertion: { header: settings.assertionHeader, audience: target } }
    : { arguments: configured.arguments };
}

/** AgentCore target names (CreateGatewayTarget `name`): letters and digits, single hyphens between them. */
export const TARGET_NAME = /^([0-9a-zA-Z][-]?){1,100}$/;

/**
 * Headers AgentCore will not propagate to a target, or that mean something else on the way (CONTRACTS.md §8,
 * "Header propagation"): an assertion there would be dropped or, worse, read as something else. One list for
 * both checks: the interceptor's at cold start (lambda/shared/config/delivery-settings.ts) and the stack's at synth
 * (lib/target-config.ts).
 */
const RESTRICTED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'www-authenticate',
  'host',
  'user-agent',
  'referer',
  'from',
  'range',
  'te',
  'trailer',
  'server',
  'date',
  'location',
  'retry-after',
  'cookie',
  'set-cookie',
  'cache-control',
  'etag',
  'expires',
  'pragma',
  'vary',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'transfer-encoding',
  'last-modified',
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
]);
const RESTRICTED_PREFIXES = ['accept', 'content-', 'if-', 'x-amz-', 'x-amzn-', 'access-control-', 'mcp-'];
const HEADER_NAME = /^[A-Za-z0-9-]{1,100}$/;

/** Why `name` cannot carry the assertion, or undefined when it can. */
export function assertionHeaderProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return 'must be a header name of letters, digits and hyphens, at most 100';
  const lower = name.toLowerCase();
  if (RESTRICTED_HEADERS.has(lower) || RESTRICTED_PREFIXES.some((prefix) => lower.startsWith(prefix)))
    return 'is a header AgentCore does not propagate to targets (restricted or reserved); choose another';
  return undefined;
}
