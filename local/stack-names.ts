/**
 * Names and bounds of the local stack that the command line shows before it loads the stack (`--door`
 * choices, the `--ttl` bound, default file names in help): this module imports nothing, so `--help` stays
 * fast (test/cli/startup-modules.test.ts). The stack's modules take them from here.
 */

/** The front doors `dev --door` can emulate (local/doors.ts). */
export const DOOR_KINDS = ['agentcore', 'apigateway'] as const;
export type DoorKind = (typeof DOOR_KINDS)[number];

/** Longest token the local token endpoint mints (local/dev-issuer.ts). */
export const MAX_DEV_TTL_SECONDS = 24 * 3600;

/** The file a running local stack describes itself in, so `mcp-identity token` can find it. */
export const STATE_FILE = 'local-stack.json';

/** The local audit store, in the stack's data folder. */
export const AUDIT_FILE = 'audit.jsonl';
