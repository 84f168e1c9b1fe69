/**
 * Where a project's mcp-identity configuration lives (see lib/config-source.ts). Its own module, importing
 * nothing, so the command line can name the file in `init --help` without loading zod and aws-cdk-lib.
 */

/** The configuration file `init` writes, in the project folder (the one holding cdk.json). */
export const CONFIG_FILE = 'mcp-identity.config.json';
/** Names another configuration file (relative to the project folder); it must exist. */
export const CONFIG_FILE_ENV = 'MCP_IDENTITY_CONFIG';
