/**
 * Expected failures of the CLI commands (bin/cli.ts prints their message on one line and exits 1). They live
 * here, apart from the modules that throw them, so bin/cli.ts can recognise them with `instanceof` without
 * loading those modules and their AWS SDK clients and cedar-wasm; the throwing modules re-export them.
 */

/** A command failed in a way the operator can act on (no local stack running, a port in use…). */
export class CliError extends Error {}

/** `activity` (and `policies replay`): a store that cannot be read or queried, a time that is not one. */
export class ActivityError extends Error {}

/** `policies diff|push`: the Verified Permissions policy store cannot be read or changed as asked. */
export class PolicyStoreError extends Error {}

/** `schema generate`: the tools cannot be listed or turned into a schema. */
export class SchemaGenerationError extends Error {}
