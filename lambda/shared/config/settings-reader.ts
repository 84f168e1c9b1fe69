import { readFileSync } from 'node:fs';
import { ConfigurationError } from '../../core/errors';
import { parseJsonText } from '../json-syntax';

/**
 * The hand-written validation every Lambda's configuration loader is built on: environment variables read once at
 * cold start, checked key by key, typed and frozen.
 *
 * Validated by hand rather than with zod: this module is bundled into every Lambda, and zod was 45 % of the
 * interceptor's bundle and a good part of its cold start, for three dozen flat string settings. zod stays
 * where size does not matter (the CDK app and the CLI). Messages name the full variable, as before.
 */

export const PREFIX = 'MCP_IDENTITY_';

export const list = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/**
 * Reads settings one key at a time, collecting every problem as `<KEY> <what is wrong>` so one error names
 * every bad key; keys never read are reported as unknown.
 */
export class SettingsReader {
  readonly problems: string[] = [];
  private readonly unread: Set<string>;

  constructor(
    private readonly settings: Readonly<Record<string, string>>,
    private readonly prefix: string,
  ) {
    this.unread = new Set(Object.keys(settings));
  }

  problem(key: string, message: string): void {
    this.problems.push(`${this.prefix}${key} ${message}`);
  }

  raw(key: string): string | undefined {
    this.unread.delete(key);
    return this.settings[key];
  }

  required(key: string): string {
    const value = this.raw(key);
    if (value === undefined) this.problem(key, 'is required');
    return value ?? '';
  }

  text(key: string, fallback: string, max = Number.POSITIVE_INFINITY): string {
    const value = this.raw(key) ?? fallback;
    if (value.length > max) this.problem(key, `must be at most ${max} characters`);
    return value;
  }

  matching(key: string, value: string | undefined, pattern: RegExp, message: string): void {
    if (value !== undefined && !pattern.test(value)) this.problem(key, message);
  }

  url(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    try {
      const url = new URL(value);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') this.problem(key, 'must be an http(s) URL');
    } catch {
      this.problem(key, 'must be a URL');
    }
    return value;
  }

  csv(key: string, fallback: readonly string[]): string[] {
    const value = this.raw(key);
    return value === undefined ? [...fallback] : list(value);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(key) ?? fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problem(key, `must be one of ${allowed.join(', ')} (got '${value}')`);
      return fallback;
    }
    return value as T;
  }

  integer(key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    const number = Number(value.trim());
    if (value.trim() === '' || !Number.isInteger(number) || number < min || number > max) {
      this.problem(
        key,
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer ≥ ${min}`
          : `must be an integer from ${min} to ${max}`,
      );
      return fallback;
    }
    return number;
  }

  json(key: string): unknown {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      this.problem(key, 'is not valid JSON');
      return undefined;
    }
  }

  /** Problems, with keys nobody read (typos) first. */
  all(): string[] {
    const unknown = [...this.unread].map((key) => this.prefix + key);
    return [...(unknown.length > 0 ? [`unknown setting(s) ${unknown.join(', ')}`] : []), ...this.problems];
  }
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
export const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** The non-empty variables starting with `prefix`, keyed by the rest of their name. */
export function settingsWithPrefix(env: NodeJS.ProcessEnv, prefix: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(prefix) && value !== undefined && value !== '')
      settings[key.slice(prefix.length)] = value;
  }
  return settings;
}

/** The JSON file a `MCP_IDENTITY_<key>` setting names; unreadable or not JSON: {@link ConfigurationError}. */
export function readJsonFile(key: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(
      `${PREFIX}${key}: cannot read JSON from ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok)
    throw new ConfigurationError(
      `${PREFIX}${key}: cannot read JSON from ${path}: not valid JSON (${parsed.place})`,
    );
  return parsed.value;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof RegExp) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
