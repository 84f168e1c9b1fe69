import { parseToolName } from './mcp-operation';

/**
 * The command an operator runs to (re)generate the Cedar schema entries of one tool from what the live gateway
 * lists: the tool's target alone (`--target`), or the whole schema for a system tool, which has no target.
 * Denials that an operator fixes by regenerating name it, so the audit trail says what to do.
 */
export function regenerateCommand(toolName: string): string {
  const target = parseToolName(toolName)?.target;
  return `npx mcp-identity schema generate --from-url <gateway MCP URL>${target === undefined ? '' : ` --target ${target}`}`;
}
