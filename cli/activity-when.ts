import { ActivityError } from './errors';

/** The times `activity` and `policies replay` take on their command lines (light: parsed as argv is). */

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `24h`, `7d`, `30m`, `2w`, or an ISO 8601 date/time. */
export function parseWhen(value: string, now: Date): Date {
  const relative = /^(\d+)\s*([mhdw])$/.exec(value.trim());
  if (relative)
    return new Date(now.getTime() - Number(relative[1]) * (UNITS[relative[2] as string] as number));
  if (/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    const date = new Date(value.trim());
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new ActivityError(
    `'${value}' is not a time: use an ISO date (2026-11-21, 2026-11-21T10:00:00Z) or a relative one (30m, 24h, 7d, 2w)`,
  );
}
