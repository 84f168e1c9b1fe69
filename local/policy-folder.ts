import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `dev --policies <folder>` on a folder that does not exist yet, or holds no Cedar files: the starting point of
 * putting your own MCP server behind the local stack. It gets the schema stub (principal, roles, the gateway,
 * the MCP system actions), a schema with no tool actions (so every tool is denied), and the `schema-readers`
 * policy that lets an `mcp-operator` list every tool unfiltered for `schema generate --from-url`.
 * A folder that already has a schema or policies is never touched.
 */

const STARTER_FILES = ['schema-stub.cedarschema', 'schema-readers.cedar'] as const;

/** The files written, or an empty list when the folder already had Cedar content. */
export function seedPolicyFolder(folder: string, packagePolicies: string): string[] {
  if (existsSync(folder)) {
    const cedarFiles = readdirSync(folder).filter(
      (name) => name.endsWith('.cedar') || name.endsWith('.cedarschema'),
    );
    if (cedarFiles.length > 0) return [];
  }
  mkdirSync(folder, { recursive: true });
  const written: string[] = [];
  for (const name of STARTER_FILES) {
    writeFileSync(join(folder, name), readFileSync(join(packagePolicies, name), 'utf8'));
    written.push(name);
  }
  // The stub is itself a valid schema: no tool actions yet, so no tool can be permitted until it is generated.
  writeFileSync(
    join(folder, 'schema.cedarschema'),
    readFileSync(join(packagePolicies, 'schema-stub.cedarschema'), 'utf8'),
  );
  written.push('schema.cedarschema');
  return written;
}
