/**
 * Values the command line needs before any command runs (`--door` choices, the `--ttl` bound, default file
 * names in help), copied here because the modules that own them are slow to load: local/stack.ts,
 * local/doors.ts and local/dev-issuer.ts bring the whole local stack (the MCP SDK, the gateway, the Lambda
 * handlers), lib/config-source.ts brings zod and aws-cdk-lib. test/cli/startup-constants.test.ts checks each
 * copy equals its original.
 */

/** local/doors.ts DOOR_KINDS: the front doors `dev --door` can emulate. */
export const DOOR_KINDS = ['agentcore', 'apigateway'] as const;

/** local/dev-issuer.ts MAX_DEV_TTL_SECONDS: the longest dev token the issuer signs. */
export const MAX_DEV_TTL_SECONDS = 24 * 3600;

/** local/stack.ts STATE_FILE: what a running local stack writes in its data folder. */
export const STATE_FILE = 'local-stack.json';

/** local/stack.ts AUDIT_FILE: the local audit store in the data folder. */
export const AUDIT_FILE = 'audit.jsonl';

/** lib/config-source.ts CONFIG_FILE: the configuration file `init` writes. */
export const CONFIG_FILE = 'mcp-identity.config.json';
