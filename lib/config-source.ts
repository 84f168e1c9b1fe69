import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parseJsonText } from '../lambda/shared/json-syntax';
import {
  CONFIG_FILE_CONTEXT_KEY,
  CONTEXT_KEY,
  type ConfigKeyPath,
  parseStackConfig,
  type StackConfig,
  StackConfigError,
} from './config';
import { CONFIG_FILE, CONFIG_FILE_ENV } from './config-file';

/**
 * Where the configuration comes from, in one place for the CDK app (bin/app.ts), `doctor`, `init` and every CLI
 * command that reads it, so all see the same merged view:
 *
 * 1. the base: the `mcpIdentity` object of CDK context (cdk.json), or the whole file `-c mcpIdentityConfigFile=`
 *    names (which replaces it, as before);
 * 2. merged over it, the project's configuration file — `mcp-identity.config.json` next to cdk.json (what
 *    `npx mcp-identity init` writes), or the file `MCP_IDENTITY_CONFIG` names — by JSON Merge Patch
 *    (RFC 7396): objects merge key by key, arrays and scalars replace, `null` removes a key.
 *
 * Without a configuration file nothing changes: cdk.json-only projects read exactly what they read before.
 */

export { CONFIG_FILE, CONFIG_FILE_ENV };

export type JsonObject = { [key: string]: unknown };

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * JSON Merge Patch (RFC 7396, §2): the whole algorithm is these lines, so it is written here rather than taken
 * from a package (json-merge-patch has had no release since 2021), and it never mutates its inputs. Keys are
 * copied with `Object.fromEntries`, which defines own properties: a `"__proto__"` key in a file stays a plain
 * (and then refused) key, never a prototype.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const merged = new Map(Object.entries(isObject(target) ? target : {}));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, mergePatch(merged.get(key), value));
  }
  return Object.fromEntries(merged);
}

/** Does the patch set this key path (or an array or scalar above it, which replaces everything below)? */
export function patchSets(patch: unknown, path: ConfigKeyPath): boolean {
  let node = patch;
  for (const part of path) {
    if (!isObject(node)) return true;
    if (!Object.hasOwn(node, String(part))) return false;
    node = node[String(part)];
  }
  return true;
}

/** Reads one JSON file; a missing or malformed file is a {@link StackConfigError} naming it. */
export function readJsonFile(path: string, label = path): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new StackConfigError(
      `cannot read ${label}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder, not a file' : (error as Error).message}`,
    );
  }
  // Only the place of a syntax error, never the engine's message: it quotes the file (a secret, if the path
  // named the wrong file).
  const parsed = parseJsonText(text.replace(/^\uFEFF/, ''));
  if (!parsed.ok) throw new StackConfigError(`${label} is not valid JSON (${parsed.place})`);
  return parsed.value;
}

export interface ConfigInputs {
  /** The project folder (holding cdk.json): relative file names resolve against it. */
  readonly projectDir: string;
  /** CDK context: the app's `node.tryGetContext`, or cdk.json's `context` for the CLI. */
  readonly context: (key: string) => unknown;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface LoadedConfig {
  readonly config: StackConfig;
  /** What was read, in merge order, for messages (`cdk.json context mcpIdentity`, `mcp-identity.config.json`). */
  readonly sources: readonly string[];
  /** The configuration file merged over the context, when there is one. */
  readonly file?: string;
}

/** The configuration file that applies: `MCP_IDENTITY_CONFIG` (must exist), else `mcp-identity.config.json` if present. */
export function configFilePath(
  projectDir: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { path: string; named: boolean } | undefined {
  const named = env[CONFIG_FILE_ENV];
  if (named !== undefined && named.trim() !== '') return { path: resolve(projectDir, named), named: true };
  const path = resolve(projectDir, CONFIG_FILE);
  return existsSync(path) ? { path, named: false } : undefined;
}

/** A file name as the user sees it: relative to the project when inside it (`.` for the project folder itself). */
export function displayPath(projectDir: string, path: string): string {
  const shown = relative(projectDir, path);
  if (shown === '') return '.';
  return shown.startsWith('..') || isAbsolute(shown) ? path : shown;
}

/** What the configuration file merges over: the whole file `-c mcpIdentityConfigFile=` names, else the context. */
export function configBase(inputs: Pick<ConfigInputs, 'projectDir' | 'context'>): {
  base: unknown;
  baseLabel: string;
  wholeFile: boolean;
} {
  const wholeFile = inputs.context(CONFIG_FILE_CONTEXT_KEY);
  if (typeof wholeFile === 'string')
    return {
      base: readJsonFile(resolve(inputs.projectDir, wholeFile), wholeFile),
      baseLabel: wholeFile,
      wholeFile: true,
    };
  return {
    base: inputs.context(CONTEXT_KEY),
    baseLabel: `cdk.json context ${CONTEXT_KEY}`,
    wholeFile: false,
  };
}

/** The merged, validated configuration. Throws {@link StackConfigError} naming the file and key path. */
export function loadStackConfig(inputs: ConfigInputs): LoadedConfig {
  const env = inputs.env ?? process.env;
  const { base, baseLabel, wholeFile } = configBase(inputs);
  const file = configFilePath(inputs.projectDir, env);
  if (file === undefined) {
    return {
      config: wholeFile ? parseStackConfig(base, baseLabel) : parseStackConfig(base),
      sources: base === undefined ? [] : [baseLabel],
    };
  }
  const label = displayPath(inputs.projectDir, file.path);
  const patch = readJsonFile(file.path, file.named ? `${CONFIG_FILE_ENV}=${label}` : label);
  if (!isObject(patch)) throw new StackConfigError(`${label} must hold a JSON object (the configuration)`);
  return {
    config: parseMerged({ base, baseLabel, patch, label }),
    sources: base === undefined ? [label] : [baseLabel, label],
    file: file.path,
  };
}

/**
 * Merges a configuration file's content over a base and validates the result, naming for each bad key the
 * file that set it (a key set nowhere is named in the file: that is where it can be added).
 */
export function parseMerged(parts: {
  readonly base: unknown;
  readonly baseLabel: string;
  readonly patch: JsonObject;
  readonly label: string;
}): StackConfig {
  const { base, baseLabel, patch, label } = parts;
  if (base !== undefined && !isObject(base))
    throw new StackConfigError(`${baseLabel} must be an object to merge ${label} over`);
  return parseStackConfig(mergePatch(base ?? {}, patch), (path) =>
    patchSets(patch, path) || base === undefined || !patchSets(base, path) ? label : baseLabel,
  );
}

/**
 * One top-level section of the configuration the CDK app in `projectDir` would read, merged (the configuration
 * file over the context) but not validated: for a command that needs one section of a configuration that may be
 * unfinished elsewhere. Unreadable files are a {@link StackConfigError} naming them.
 */
export function projectConfigSection(
  cdkJsonPath: string,
  section: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): unknown {
  const projectDir = dirname(resolve(cdkJsonPath));
  const context = existsSync(cdkJsonPath) ? cdkJsonContext(cdkJsonPath) : () => undefined;
  const { base } = configBase({ projectDir, context });
  const file = configFilePath(projectDir, env);
  const merged =
    file === undefined
      ? base
      : mergePatch(base ?? {}, readJsonFile(file.path, displayPath(projectDir, file.path)));
  return isObject(merged) ? merged[section] : undefined;
}

/** cdk.json's `context` as a lookup (the CLI's view of what `cdk synth` sees from that file). */
export function cdkJsonContext(cdkJsonPath: string): (key: string) => unknown {
  const cdkJson = readJsonFile(cdkJsonPath, displayPath(process.cwd(), cdkJsonPath));
  const context = isObject(cdkJson) && isObject(cdkJson.context) ? cdkJson.context : {};
  return (key) => context[key];
}

/** The configuration the CDK app in `projectDir` (the folder of cdk.json) would read. */
export function loadProjectConfig(
  cdkJsonPath: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LoadedConfig {
  const projectDir = dirname(resolve(cdkJsonPath));
  const context = existsSync(cdkJsonPath) ? cdkJsonContext(cdkJsonPath) : () => undefined;
  return loadStackConfig({ projectDir, context, env });
}
