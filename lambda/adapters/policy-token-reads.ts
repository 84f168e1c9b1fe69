/**
 * Which facts of `context.token` (expiry, issue time, token id) a policy set can read. The decision cache keys
 * on what policies can read: when no policy reads a token fact, a fresh token with the same claims reuses the
 * answer decided for the previous one. Anything this walk cannot prove harmless (the whole `context` or
 * `context.token` used as a value, a computed attribute) counts as reading every fact.
 *
 * Written by hand: Cedar's JSON policy format is a small tagged tree, and no maintained package answers "which
 * attributes does this policy read".
 */
export type TokenReads = 'all' | ReadonlySet<string>;

function isVar(node: unknown, name: string): boolean {
  return node !== null && typeof node === 'object' && (node as Record<string, unknown>).Var === name;
}

function attrAccess(node: unknown): { op: '.' | 'has'; left: unknown; attr: unknown } | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
  for (const op of ['.', 'has'] as const) {
    const inner = (node as Record<string, unknown>)[op];
    if (inner !== null && typeof inner === 'object' && 'left' in inner && 'attr' in inner) {
      const { left, attr } = inner as { left: unknown; attr: unknown };
      return { op, left, attr };
    }
  }
  return undefined;
}

function isContextToken(node: unknown): boolean {
  const access = attrAccess(node);
  return access?.op === '.' && access.attr === 'token' && isVar(access.left, 'context');
}

/** Token facts one policy (Cedar JSON: its `conditions`) reads, added to `fields`; false when it cannot tell. */
function collect(node: unknown, fields: Set<string>, depth: number): boolean {
  if (depth > 200) return false;
  if (Array.isArray(node)) return node.every((item) => collect(item, fields, depth + 1));
  if (node === null || typeof node !== 'object') return true;
  if (isVar(node, 'context')) return false;
  const access = attrAccess(node);
  if (access !== undefined) {
    if (isVar(access.left, 'context')) return access.attr !== 'token' || access.op === 'has';
    if (isContextToken(access.left)) {
      if (typeof access.attr !== 'string') return false;
      fields.add(access.attr);
      return true;
    }
  }
  return Object.values(node).every((value) => collect(value, fields, depth + 1));
}

/** The token facts any of the policies reads (`conditions` of Cedar JSON policies). */
export function tokenReads(policies: readonly { readonly conditions?: unknown }[]): TokenReads {
  const fields = new Set<string>();
  for (const policy of policies) if (!collect(policy.conditions ?? [], fields, 0)) return 'all';
  return fields;
}
