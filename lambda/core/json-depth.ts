/**
 * Whether a JSON value nests deeper than `limit` (objects and arrays count one level each). Iterative with an
 * explicit stack, so it is safe on client data of any depth: every other walk of a request body (digest, size,
 * redaction, Cedar conversion) runs only after this has bounded the depth.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: item, depth } = stack.pop() as { value: unknown; depth: number };
    if (item === null || typeof item !== 'object') continue;
    if (depth >= limit) return true;
    const children = Array.isArray(item) ? item : Object.values(item as Record<string, unknown>);
    for (const child of children) {
      // Stryker disable next-line ConditionalExpression,LogicalOperator: a scalar pushed anyway is skipped when popped; the test only keeps the stack small
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1 });
    }
  }
  return false;
}

/** Deepest nesting any request body may have. The parser's own bound on `params` is lower (32). */
export const MAX_BODY_NESTING = 64;
