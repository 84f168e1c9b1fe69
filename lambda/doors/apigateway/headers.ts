import type { RequestFacts } from '../../guard/types';

/**
 * Reading API Gateway's header maps (REQUEST authorizer and proxy payload 1.0): `headers` holds the last value
 * per name, `multiValueHeaders` every value; names keep the client's casing, so they are compared
 * case-insensitively (CONTRACTS §7a, §7b). Pure; never throws.
 */

export interface HeaderMap {
  readonly single: Readonly<Record<string, unknown>> | undefined;
  readonly multi: Readonly<Record<string, unknown>> | undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function stringField(object: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Every value sent under `name`, from `multiValueHeaders` when it has the name (it holds them all), else from
 * `headers`. Values that are not strings are ignored.
 */
export function headerValues(headers: HeaderMap, name: string): string[] {
  const wanted = name.toLowerCase();
  const collect = (map: Readonly<Record<string, unknown>> | undefined): string[] =>
    map === undefined
      ? []
      : Object.entries(map)
          .filter(([key]) => key.toLowerCase() === wanted)
          .flatMap(([, value]) =>
            typeof value === 'string'
              ? [value]
              : Array.isArray(value)
                ? value.filter((item): item is string => typeof item === 'string')
                : [],
          );
  const multi = collect(headers.multi);
  return multi.length > 0 ? multi : collect(headers.single);
}

/** One map's string values grouped by lower-cased name, in the map's order. */
function grouped(map: Readonly<Record<string, unknown>> | undefined): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const [key, value] of Object.entries(map ?? {})) {
    const values =
      typeof value === 'string'
        ? [value]
        : Array.isArray(value)
          ? value.filter((item): item is string => typeof item === 'string')
          : [];
    const name = key.toLowerCase();
    const group = groups.get(name);
    if (group === undefined) groups.set(name, [...values]);
    else group.push(...values);
  }
  return groups;
}

/**
 * Every header as lower-cased name → values, from both maps (multi wins for a name it holds values for): the
 * same answer as {@link headerValues} per name, in one pass over each map rather than one per name.
 */
export function allHeaders(headers: HeaderMap): Map<string, string[]> {
  const multi = grouped(headers.multi);
  const all = new Map<string, string[]>();
  for (const [name, values] of grouped(headers.single)) if (values.length > 0) all.set(name, values);
  for (const [name, values] of multi) if (values.length > 0) all.set(name, values);
  return all;
}

/**
 * The guard's request facts from an authorizer or proxy event: every header, the MCP session, the user agent,
 * and the client address API Gateway itself observed (`requestContext.identity.sourceIp`) — never a header the
 * client wrote (X-Forwarded-For stays a header, which the guard records as a claim).
 */
export function requestFacts(event: Readonly<Record<string, unknown>>, headers: HeaderMap): RequestFacts {
  const context = isRecord(event.requestContext) ? event.requestContext : {};
  const identity = isRecord(context.identity) ? context.identity : {};
  const all = allHeaders(headers);
  const sessionId = all.get('mcp-session-id')?.[0];
  const userAgent = all.get('user-agent')?.[0] ?? stringField(identity, 'userAgent');
  const sourceIp = stringField(identity, 'sourceIp');
  return {
    headers: all,
    ...(sessionId === undefined || sessionId === '' ? {} : { sessionId }),
    ...(userAgent === undefined || userAgent === '' ? {} : { userAgent }),
    ...(sourceIp === undefined || sourceIp === '' ? {} : { sourceIp }),
  };
}
