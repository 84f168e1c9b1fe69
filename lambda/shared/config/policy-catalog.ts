import type { PolicyExplanation } from '../../core/decision';
import { isRecord, readJsonFile, type SettingsReader } from './settings-reader';

/**
 * The policy catalogue that explains decisions (`POLICY_CATALOG_FILE`, written into the code asset at synth; or
 * the older inline `POLICY_CATALOG`), and the Verified Permissions policy names it maps to stable ids.
 */

/** One catalogue entry; `avpName` is the policy's Verified Permissions name when the stack deployed it. */
interface CatalogEntry extends PolicyExplanation {
  readonly avpName?: string;
}

function catalogEntry(value: unknown): CatalogEntry | undefined {
  if (!isRecord(value) || typeof value.name !== 'string' || value.name === '') return undefined;
  if (value.reason !== undefined && typeof value.reason !== 'string') return undefined;
  if (value.avpName !== undefined && typeof value.avpName !== 'string') return undefined;
  return {
    name: value.name,
    ...(value.reason ? { reason: value.reason } : {}),
    ...(value.avpName ? { avpName: value.avpName } : {}),
  };
}

/**
 * The catalogue from `inline` (the parsed `POLICY_CATALOG`) or else the `file` (`POLICY_CATALOG_FILE`). Problems
 * go to `read`; a file that cannot be read or parsed throws.
 */
export function readCatalog(
  read: SettingsReader,
  inline: unknown,
  file: string | undefined,
): { catalog?: Map<string, PolicyExplanation>; policyNames?: Map<string, string> } {
  if (inline !== undefined) {
    // The inline form (a list of { id, name, reason }) keyed by AVP policy id: kept for stacks deployed before
    // the catalogue moved into the code asset.
    const entries = Array.isArray(inline)
      ? inline.map((item) => [item, catalogEntry(item)] as const)
      : undefined;
    if (
      entries === undefined ||
      entries.some(([item, entry]) => entry === undefined || !isRecord(item) || typeof item.id !== 'string')
    ) {
      read.problem('POLICY_CATALOG', 'must be a list of { id, name, reason } entries');
      return {};
    }
    return {
      catalog: new Map(
        entries.map(([item, entry]) => [
          String((item as Record<string, unknown>).id),
          { name: entry?.name ?? '', ...(entry?.reason ? { reason: entry.reason } : {}) },
        ]),
      ),
    };
  }
  if (file === undefined) return {};
  const json = readJsonFile('POLICY_CATALOG_FILE', file);
  const catalog = new Map<string, PolicyExplanation>();
  const policyNames = new Map<string, string>();
  if (!isRecord(json)) {
    read.problem('POLICY_CATALOG_FILE', `${file} must hold an object of { name, reason } entries`);
    return {};
  }
  for (const [id, value] of Object.entries(json)) {
    const entry = catalogEntry(value);
    if (entry === undefined) {
      read.problem('POLICY_CATALOG_FILE', `${file}: entry '${id}' must be { name, reason? }`);
      continue;
    }
    catalog.set(id, { name: entry.name, ...(entry.reason ? { reason: entry.reason } : {}) });
    if (entry.avpName !== undefined) policyNames.set(entry.avpName, id);
  }
  return { catalog, policyNames };
}
