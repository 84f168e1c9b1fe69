import type { Caller } from './caller';

/** Caller fields that can be bound onto tool arguments. */
export type CallerField = 'subject' | 'email' | 'username' | 'agent' | 'roles';
export const CALLER_FIELDS: readonly CallerField[] = ['subject', 'email', 'username', 'agent', 'roles'];

export interface InjectionConfig {
  /** Argument receiving the verified subject. @default '_caller_user' */
  readonly userParameter: string;
  /** Argument receiving the verified roles. @default '_caller_roles' */
  readonly rolesParameter: string;
  /**
   * Extra bindings of caller fields onto declared tool parameters, per full tool name or `*` for every tool,
   * e.g. `{ "orders___create_order": { "owner": "email" } }`. A bound parameter is reserved like the defaults.
   */
  readonly bindings: Readonly<Record<string, Readonly<Record<string, CallerField>>>>;
}

export const DEFAULT_INJECTION: InjectionConfig = Object.freeze({
  userParameter: '_caller_user',
  rolesParameter: '_caller_roles',
  bindings: Object.freeze({}),
});

/**
 * Folds case, Unicode compatibility forms, width, separators, and invisible characters so `_Caller_User`,
 * `caller-user`, `ＣＡＬＬＥＲ_USER`, `_caller\u200b_user` and `_caller_user\u0000` all name the same reserved
 * argument: a target (or a library between it and the wire) might read any of them as that name, so none may
 * come from the client. Removed: whitespace and separators (`\p{Z}`, `_`, `-`, `.`), format characters
 * (`\p{Cf}`: zero-width, bidi controls, soft hyphen) and control characters (`\p{Cc}`: NUL and friends).
 */
export function fold(name: string): string {
  const known = folded.get(name);
  if (known !== undefined) return known;
  const result = foldName(name);
  // Argument names repeat from call to call; the memo is bounded and simply restarts when full.
  // Stryker disable next-line all: the memo's bound and fill change speed and memory, never a result
  if (folded.size >= 2048) folded.clear();
  // Stryker disable next-line all: as above
  folded.set(name, result);
  return result;
}

const folded = new Map<string, string>();

function foldName(name: string): string {
  // Upper then lower case: `ı` (dotless i) folds to `i`, as a target that upper-cases names would read it.
  return name
    .normalize('NFKC')
    .toUpperCase()
    .toLowerCase()
    .normalize('NFKC')
    .replace(/[\s\p{Z}\p{Cf}\p{Cc}_\-.]/gu, '');
}

/** Every parameter name the gateway sets for this tool. */
export function reservedParameters(config: InjectionConfig, toolName: string): string[] {
  return [
    config.userParameter,
    config.rolesParameter,
    ...Object.keys(config.bindings['*'] ?? {}),
    ...Object.keys(config.bindings[toolName] ?? {}),
  ];
}

/**
 * Every key anywhere in a request's `params` (its arguments, `_meta`, the top level, nested objects and lists)
 * that collides with a reserved name after folding, as a dotted path. Empty when clean. The parser has already
 * bounded the depth; the walk is iterative anyway.
 */
export function spoofedParams(
  params: Readonly<Record<string, unknown>>,
  config: InjectionConfig,
  toolName: string,
): string[] {
  const reserved = new Set(reservedParameters(config, toolName).map(fold));
  const found: string[] = [];
  const pending: { value: unknown; path: string }[] = [{ value: params, path: '' }];
  while (pending.length > 0) {
    const { value, path } = pending.pop() as { value: unknown; path: string };
    if (value === null || typeof value !== 'object') continue;
    const entries = Array.isArray(value)
      ? value.map((item, index) => [String(index), item] as const)
      : Object.entries(value as Record<string, unknown>);
    for (const [key, item] of entries) {
      const at = path === '' ? key : `${path}.${key}`;
      if (!Array.isArray(value) && reserved.has(fold(key))) found.push(at);
      pending.push({ value: item, path: at });
    }
  }
  return found.sort();
}

/** Client-supplied arguments that collide with reserved names (after folding). Empty when clean. */
export function spoofedArguments(
  args: Readonly<Record<string, unknown>>,
  config: InjectionConfig,
  toolName: string,
): string[] {
  const reserved = new Set(reservedParameters(config, toolName).map(fold));
  return Object.keys(args).filter((key) => reserved.has(fold(key)));
}

function fieldValue(caller: Caller, field: CallerField): string | readonly string[] | undefined {
  switch (field) {
    case 'subject':
      return caller.subject;
    case 'email':
      return caller.email;
    case 'username':
      return caller.username;
    case 'agent':
      return caller.agent;
    case 'roles':
      return caller.roles;
  }
}

/**
 * The arguments the target receives: the client's (already checked by {@link spoofedArguments}) plus the
 * verified identity. Bound fields the caller lacks are left out rather than set to a guess.
 */
export function injectIdentity(
  args: Readonly<Record<string, unknown>>,
  caller: Caller,
  config: InjectionConfig,
  toolName: string,
): { readonly arguments: Record<string, unknown>; readonly injected: string[] } {
  const injected: Record<string, unknown> = {
    [config.userParameter]: caller.subject,
    [config.rolesParameter]: [...caller.roles],
  };
  for (const bindings of [config.bindings['*'], config.bindings[toolName]]) {
    for (const [parameter, field] of Object.entries(bindings ?? {})) {
      const value = fieldValue(caller, field);
      if (value !== undefined) injected[parameter] = Array.isArray(value) ? [...value] : value;
    }
  }
  return { arguments: { ...args, ...injected }, injected: Object.keys(injected) };
}
