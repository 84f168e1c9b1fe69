import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseStackConfig, type StackConfig } from '../lib/config';
import {
  CONFIG_FILE,
  cdkJsonContext,
  configBase,
  isObject,
  type JsonObject,
  parseMerged,
} from '../lib/config-source';
import type { Answers, AuditStore } from './init-fields';
import { type IdpId, PRESETS } from './init-presets';

/**
 * What `mcp-identity init` writes: the configuration file's content from the answers, checked by the loader the
 * CDK app uses — alone, and merged over the project's cdk.json context — before anything is written.
 */

export { AUDIT_STORES, type AuditStore } from './init-fields';

export interface InitAnswers {
  readonly idp: IdpId;
  /** The provider's answers, with `subjectClaim` and `rolesClaim`. */
  readonly provider: Answers;
  readonly auditStore: AuditStore;
  /** Raw `gateway.targets` entries (lib/target-config.ts validates them). */
  readonly targets: readonly Record<string, unknown>[];
}

/**
 * The file's content. Identity is the provider's alone: an `identity` key cdk.json context sets and the
 * preset does not (an old `jwksUri`, `allowedClients`…) is written as `null`, which removes it from the merged
 * view (JSON Merge Patch), so no setting for another provider survives underneath.
 */
export function configFileContent(answers: InitAnswers, base: unknown): JsonObject {
  const identity: JsonObject = { ...PRESETS[answers.idp].identity(answers.provider) };
  const baseIdentity = isObject(base) && isObject(base.identity) ? base.identity : {};
  for (const key of Object.keys(baseIdentity)) if (!(key in identity)) identity[key] = null;
  const baseGateway = isObject(base) && isObject(base.gateway) ? base.gateway : {};
  return {
    identity,
    audit: { store: answers.auditStore },
    gateway: {
      targets: [...answers.targets],
      // `demoTarget` (before `targets` existed) is refused next to `targets`.
      ...('demoTarget' in baseGateway ? { demoTarget: null } : {}),
    },
  };
}

export interface ProjectBase {
  readonly base: unknown;
  readonly baseLabel: string;
  /** Whether the folder has a cdk.json (init is meant to run where it is). */
  readonly hasCdkJson: boolean;
}

/** The base the file will merge over, as the CDK app in `projectDir` sees it. */
export function projectBase(projectDir: string): ProjectBase {
  const cdkJson = join(projectDir, 'cdk.json');
  if (!existsSync(cdkJson)) return { base: undefined, baseLabel: 'cdk.json context', hasCdkJson: false };
  return { ...configBase({ projectDir, context: cdkJsonContext(cdkJson) }), hasCdkJson: true };
}

/**
 * Validates the content alone (a project whose cdk.json has no `mcpIdentity`) and merged over the base, as
 * the CDK app will read it. Throws StackConfigError naming the file and key.
 */
export function checkConfigFile(content: JsonObject, project: ProjectBase, label = CONFIG_FILE): StackConfig {
  const alone = Object.fromEntries(Object.entries(content).map(([key, value]) => [key, withoutNulls(value)]));
  parseStackConfig(alone, () => label);
  return parseMerged({ base: project.base, baseLabel: project.baseLabel, patch: content, label });
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, item]) => item !== null)
      .map(([key, item]) => [key, withoutNulls(item)]),
  );
}
