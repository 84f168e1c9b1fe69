import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { CedarType } from '../core/cedar-request';
import type { PolicyCatalog, PolicyExplanation } from '../core/decision';
import { ConfigurationError } from '../core/errors';
import { avpPolicyName } from './avp-policy-definitions';
import { cedar } from './cedar-engine';
import {
  diagnosticOf,
  type PolicyDiagnostic,
  PolicyFolderError,
  SCHEMA_FILE,
  schemaError,
} from './policy-diagnostics';
import { positionAt } from './source-excerpt';
import { pinsFromSchemaJson, type ToolPinMap } from './tool-pin-store';

export interface PolicyFile {
  /** Stable id: the `@id` annotation, else the file name (with `#n` for the n-th policy of a file). */
  readonly id: string;
  readonly file: string;
  readonly text: string;
  /** Where `text` starts in its file (a UTF-16 index), to place Cedar's errors about it; absent if unknown. */
  readonly offset?: number;
  readonly reason?: string;
  /** Effect and scope as Cedar's JSON policy format has them (what decides which requests it can apply to). */
  readonly scope?: PolicyScope;
  /** The policy in Cedar's JSON format, as parsed while reading (saves the engine a second parse). */
  readonly json?: cedar.PolicyJson;
}

/** A policy's effect and its principal, action and resource constraints in Cedar's JSON policy format. */
export interface PolicyScope {
  readonly effect: 'permit' | 'forbid';
  readonly principal: unknown;
  readonly action: ActionConstraint;
  readonly resource: unknown;
}

/** The action constraint of a policy's scope (Cedar JSON policy format). */
export type ActionConstraint =
  | { readonly op: 'All' }
  | { readonly op: '=='; readonly entity: { readonly type: string; readonly id: string } }
  | { readonly op: 'in'; readonly entity: { readonly type: string; readonly id: string } }
  | { readonly op: 'in'; readonly entities: readonly { readonly type: string; readonly id: string }[] };

/** The policy folder, loaded and STRICT-validated: what both engines are given. */
export interface PolicyBundle {
  readonly schemaText: string;
  readonly policies: readonly PolicyFile[];
  readonly catalog: PolicyCatalog;
  /** `context.input` type per action id, resolved from the schema (drives typed argument conversion). */
  readonly inputTypes: Readonly<Record<string, CedarType>>;
  /** Every action id the schema declares. */
  readonly actions: ReadonlySet<string>;
  /** The schema's (top-level) Cedar namespace. */
  readonly namespace: string;
  /** Parents (action groups) of each action, as full entity references, from the schema's `in [...]`. */
  readonly actionParents: ReadonlyMap<string, readonly { readonly type: string; readonly id: string }[]>;
  /** Pinned tool definitions: tool name → digest, from the schema's `@mcp_tool_digest` annotations. */
  readonly toolPins: ToolPinMap;
}

/**
 * Every `*.cedar` file below `dir`, sorted (stable ids and messages). A symbolic link to a file is followed. A link
 * to a folder, or one that points nowhere, is refused: `readdir` does not descend into linked folders, so their
 * policies — a forbid among them — would silently not apply, and a dangling `.cedar` link is a policy that is
 * missing.
 */
export function cedarFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isSymbolicLink()) {
      const target = linkTarget(path);
      if (target === undefined) {
        if (entry.name.endsWith('.cedar'))
          throw new ConfigurationError(
            `${relative(dir, path)} is a symbolic link to nothing: fix or remove it`,
          );
        continue;
      }
      if (target.isDirectory())
        throw new ConfigurationError(
          `${relative(dir, path)} is a symbolic link to a folder, whose policies would not be read: copy the folder in, or link its files one by one`,
        );
      if (target.isFile() && entry.name.endsWith('.cedar')) files.push(path);
      continue;
    }
    if (entry.isFile() && entry.name.endsWith('.cedar')) files.push(path);
  }
  return files.sort();
}

function linkTarget(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A policy or schema file's text. A leading byte-order mark (which some Windows editors write) is dropped: Cedar
 * reads it as an invalid token at 1:1, and editors do not count it as a column.
 */
export function readSourceText(path: string): string {
  const text = readFileSync(path, 'utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A policy's stable id: its `@id` annotation, else its file name (`file#n` when a file holds several). */
export function policyIdFor(
  annotations: Readonly<Record<string, string>>,
  stem: string,
  index: number,
  count: number,
): string {
  return annotations.id ?? (count === 1 ? stem : `${stem}#${index + 1}`);
}

/** 1-based line of a character offset, for messages people can jump to (columns: source-excerpt.ts). */
export function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/** The policy files of a folder, split into policies, with what is wrong with them (not thrown). */
export interface PolicyFolderScan {
  readonly policies: PolicyFile[];
  /** Parse errors, templates and clashing ids, located in their files. */
  readonly diagnostics: PolicyDiagnostic[];
  /** Each file's text by its name relative to the folder (for excerpts). */
  readonly sources: Map<string, string>;
}

/** A policy file's path relative to the folder, and its text. */
interface SourceFile {
  readonly file: string;
  readonly text: string;
}

/** Cedar names a set's policies `policy0`, `policy1`, … and answers them sorted by name (0, 1, 10, 11, 2, …). */
function nameOrder(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index).sort((a, b) =>
    `policy${a}` < `policy${b}` ? -1 : 1,
  );
}

/** Past the spaces, line breaks and `//` comments at `at` (ASCII only: anything else stops it). */
function skipTrivia(text: string, at: number): number {
  let position = at;
  for (;;) {
    const code = text.charCodeAt(position);
    if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) position += 1;
    else if (code === 0x2f && text.charCodeAt(position + 1) === 0x2f) {
      const lineEnd = text.slice(position).search(/[\n\r]/);
      if (lineEnd < 0) return text.length;
      position += lineEnd;
    } else return position;
  }
}

/**
 * What `cedar.policySetTextToParts` answers for each file alone, from one parse of all the files joined; undefined
 * when that cannot be told exactly — a parse error or a template anywhere, or text between two policies other than
 * ASCII spaces, line breaks and `//` comments — and the caller then splits file by file (and locates each problem in
 * its file). cedar-wasm spends about 0.15 ms per call however small the file: splitting 1,000 one-policy files took
 * 150 ms of CPU one by one and 35–50 ms in one call. The joined text's policies, in source order, must tile each file
 * between such gaps, so none spans two files and each is the very slice the file's own parse returns; each file's
 * policies are then put in the order Cedar answers a set in, as if the file had been parsed alone.
 */
function splitTogether(files: readonly SourceFile[]): string[][] | undefined {
  if (files.length < 2) return undefined;
  const parts = cedar.policySetTextToParts(files.map((source) => source.text).join('\n'));
  if (parts.type === 'failure' || parts.policy_templates.length > 0) return undefined;
  const inSourceOrder: string[] = new Array(parts.policies.length);
  nameOrder(parts.policies.length).forEach((sourceIndex, answerIndex) => {
    inSourceOrder[sourceIndex] = parts.policies[answerIndex] as string;
  });
  const split: string[][] = [];
  let next = 0;
  for (const { text } of files) {
    const policies: string[] = [];
    for (let at = skipTrivia(text, 0); at < text.length; at = skipTrivia(text, at)) {
      const policy = inSourceOrder[next];
      if (policy === undefined || !text.startsWith(policy, at)) return undefined;
      policies.push(policy);
      next += 1;
      at += policy.length;
    }
    split.push(nameOrder(policies.length).map((index) => policies[index] as string));
  }
  return next === inSourceOrder.length ? split : undefined;
}

/**
 * Splits every `*.cedar` file under `dir` into policies with stable ids, recording where each starts in its
 * file, and collects every problem (all files are read, so one run shows every broken file).
 */
export function scanPolicyFiles(dir: string): PolicyFolderScan {
  const policies: PolicyFile[] = [];
  const diagnostics: PolicyDiagnostic[] = [];
  const sources = new Map<string, string>();
  const seen = new Map<string, string>();
  const files = cedarFiles(dir).map((path) => ({ file: relative(dir, path), text: readSourceText(path) }));
  const together = splitTogether(files);
  files.forEach(({ file, text }, fileIndex) => {
    sources.set(file, text);
    const split = together?.[fileIndex];
    const parts =
      split === undefined
        ? cedar.policySetTextToParts(text)
        : { type: 'success' as const, policies: split, policy_templates: [] };
    if (parts.type === 'failure') {
      for (const error of parts.errors)
        diagnostics.push(diagnosticOf(error, { file, fileText: text, offset: 0 }));
      return;
    }
    if (parts.policy_templates.length > 0)
      diagnostics.push({ severity: 'error', file, message: 'policy templates are not supported here' });
    // Cedar hands back each policy as a slice of the file, in order: find each after the previous one.
    let cursor = 0;
    parts.policies.forEach((policyText, index) => {
      const found = text.indexOf(policyText, cursor);
      const offset = found < 0 ? undefined : found;
      if (found >= 0) cursor = found + policyText.length;
      const json = cedar.policyToJson(policyText);
      const annotations = json.type === 'success' ? (json.json.annotations ?? {}) : {};
      const stem = basename(file, '.cedar');
      const id = policyIdFor(annotations, stem, index, parts.policies.length);
      const clash = seen.get(id) ?? seen.get(avpPolicyName(id));
      if (clash !== undefined) {
        const at = offset === undefined ? undefined : positionAt(text, offset);
        diagnostics.push({
          severity: 'error',
          file,
          ...(at === undefined ? {} : { line: at.line, column: at.column }),
          policyId: id,
          message: `policy id '${id}' is also used in ${clash} (ids must stay distinct as Verified Permissions names: ${avpPolicyName(id)})`,
        });
      }
      seen.set(id, file);
      seen.set(avpPolicyName(id), file);
      policies.push({
        id,
        file,
        text: policyText,
        ...(offset === undefined ? {} : { offset }),
        ...(annotations.reason ? { reason: annotations.reason } : {}),
        ...(json.type === 'success'
          ? {
              json: json.json,
              scope: {
                effect: json.json.effect,
                principal: json.json.principal,
                action: json.json.action as ActionConstraint,
                resource: json.json.resource,
              },
            }
          : {}),
      });
    });
  });
  return { policies, diagnostics, sources };
}

/** Splits the policy folder into policies with stable ids. Throws {@link PolicyFolderError}, located. */
export function readPolicyFiles(dir: string): PolicyFile[] {
  const scan = scanPolicyFiles(dir);
  if (scan.diagnostics.length > 0) throw new PolicyFolderError(scan.diagnostics, scan.sources, dir);
  return scan.policies;
}

/**
 * STRICT validation of `policies` against the schema (as Verified Permissions validates): errors and warnings,
 * each located in the policy's file. `sources` holds the files' texts ({@link PolicyFolderScan.sources}).
 */
export function validationDiagnostics(
  schemaText: string,
  policies: readonly PolicyFile[],
  sources: ReadonlyMap<string, string>,
  { errorsOnly = false }: { readonly errorsOnly?: boolean } = {},
): PolicyDiagnostic[] {
  if (policies.length === 0) return [];
  // One text of every policy validates in about three quarters of the CPU time of an id → text map, whose policies
  // cedar-wasm parses one by one; its answer names them `policy0`, `policy1`, …, so it is only taken when clean,
  // and anything to report is validated again by id to be located. (Each text is one policy, as Cedar split it.)
  const together = cedar.validate({
    schema: schemaText,
    policies: { staticPolicies: policies.map((policy) => policy.text).join('\n') },
    validationSettings: { mode: 'strict' },
  });
  if (
    together.type === 'success' &&
    together.validationErrors.length === 0 &&
    (errorsOnly || together.validationWarnings.length === 0)
  )
    return [];
  const result = cedar.validate({
    schema: schemaText,
    policies: { staticPolicies: Object.fromEntries(policies.map((policy) => [policy.id, policy.text])) },
    validationSettings: { mode: 'strict' },
  });
  // The schema already parsed on its own, so a failure here is about the set as a whole.
  if (result.type === 'failure') return result.errors.map((error) => diagnosticOf(error, '(policy set)'));
  const byId = new Map(policies.map((policy) => [policy.id, policy]));
  const located = (
    severity: 'error' | 'warning',
    { policyId, error }: { policyId: string; error: cedar.DetailedError },
  ): PolicyDiagnostic => {
    const policy = byId.get(policyId);
    const fileText = policy === undefined ? undefined : sources.get(policy.file);
    return diagnosticOf(
      error,
      policy === undefined || fileText === undefined || policy.offset === undefined
        ? (policy?.file ?? policyId)
        : { file: policy.file, fileText, offset: policy.offset, text: policy.text },
      { severity, policyId },
    );
  };
  // In file order (Cedar's order follows its own maps), errors first.
  const inFileOrder = (a: PolicyDiagnostic, b: PolicyDiagnostic) =>
    a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
  return [
    ...result.validationErrors.map((error) => located('error', error)).sort(inFileOrder),
    ...result.validationWarnings.map((warning) => located('warning', warning)).sort(inFileOrder),
  ];
}

type SchemaJson = cedar.SchemaJson<string>;
type JsonType = Record<string, unknown>;

/** Resolves common-type references so the core sees plain Cedar types. */
function resolveType(type: JsonType, namespace: string, schema: SchemaJson, depth = 0): CedarType {
  if (depth > 32) throw new ConfigurationError('schema types nest too deeply');
  const name = type.type as string;
  switch (name) {
    case 'String':
    case 'Long':
    case 'Boolean':
      return { type: name };
    case 'Set':
      return { type: 'Set', element: resolveType(type.element as JsonType, namespace, schema, depth + 1) };
    case 'Record': {
      const attributes: Record<string, CedarType & { required?: boolean }> = {};
      for (const [key, value] of Object.entries((type.attributes ?? {}) as Record<string, JsonType>)) {
        attributes[key] = {
          ...resolveType(value, namespace, schema, depth + 1),
          required: value.required !== false,
        };
      }
      return { type: 'Record', attributes };
    }
    case 'Entity':
      return { type: 'Entity', name: type.name as string };
    case 'Extension':
      return { type: 'Extension', name: type.name as string };
    // The resolved schema form names extension types directly (`{ "type": "decimal" }`).
    case 'decimal':
    case 'ipaddr':
    case 'datetime':
    case 'duration':
      return { type: 'Extension', name };
    default: {
      const [ns, common] = name.includes('::')
        ? [name.slice(0, name.lastIndexOf('::')), name.slice(name.lastIndexOf('::') + 2)]
        : [namespace, name];
      const target = schema[ns]?.commonTypes?.[common];
      if (target === undefined) throw new ConfigurationError(`schema type '${name}' is not defined`);
      return resolveType(target as unknown as JsonType, ns, schema, depth + 1);
    }
  }
}

/** Loads `schema.cedarschema` and every `*.cedar` under `dir`, and validates them STRICT (as AVP does). */
export function loadPolicyBundle(dir: string): PolicyBundle {
  let schemaText: string;
  try {
    schemaText = readSourceText(join(dir, SCHEMA_FILE));
  } catch (error) {
    throw new ConfigurationError(`cannot read ${join(dir, SCHEMA_FILE)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const resolved = cedar.schemaToJsonWithResolvedTypes(schemaText);
  if (resolved.type === 'failure') throw schemaError(resolved.errors, schemaText, dir);
  const toolPins = pinsFromSchemaJson(resolved.json, SCHEMA_FILE);
  const scan = scanPolicyFiles(dir);
  if (scan.diagnostics.length > 0) throw new PolicyFolderError(scan.diagnostics, scan.sources, dir);
  const policies = scan.policies;
  const errors = validationDiagnostics(schemaText, policies, scan.sources, { errorsOnly: true }).filter(
    (diagnostic) => diagnostic.severity === 'error',
  );
  if (errors.length > 0) throw new PolicyFolderError(errors, scan.sources, dir);

  const inputTypes: Record<string, CedarType> = {};
  const actions = new Set<string>();
  const actionParents = new Map<string, { type: string; id: string }[]>();
  for (const [namespace, definition] of Object.entries(resolved.json)) {
    const actionType = namespace === '' ? 'Action' : `${namespace}::Action`;
    for (const [actionId, action] of Object.entries(definition.actions)) {
      actions.add(actionId);
      actionParents.set(
        actionKey(actionType, actionId),
        (action.memberOf ?? []).map((parent) => ({
          type: parent.type === undefined || parent.type === 'Action' ? actionType : parent.type,
          id: parent.id,
        })),
      );
      const context = action.appliesTo?.context as JsonType | undefined;
      const input = (context?.attributes as Record<string, JsonType> | undefined)?.input;
      if (input !== undefined) inputTypes[actionId] = resolveType(input, namespace, resolved.json);
    }
  }
  const catalog = new Map<string, PolicyExplanation>(
    policies.map((policy) => [
      policy.id,
      { name: policy.id, ...(policy.reason ? { reason: policy.reason } : {}) },
    ]),
  );
  const namespace = Object.keys(resolved.json).find((name) => !name.includes('::')) ?? '';
  return { schemaText, policies, catalog, inputTypes, actions, namespace, actionParents, toolPins };
}

/** The key of an action entity in {@link PolicyBundle.actionParents}: `Namespace::Action::"id"`. */
export function actionKey(type: string, id: string): string {
  return `${type}::${JSON.stringify(id)}`;
}
