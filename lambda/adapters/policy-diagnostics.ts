import { isAbsolute, relative, resolve } from 'node:path';
import { ConfigurationError } from '../core/errors';
import type { cedar } from './cedar-engine';
import { excerptLines, indexAt, indexOfUtf8Offset, positionAt } from './source-excerpt';

/**
 * Policy and schema errors located in the files people edit. Cedar reports each error against the text it was
 * given (a whole file, the schema, or one policy of a file) as UTF-8 byte offsets; this maps them back to the
 * file's own line and column (see source-excerpt.ts for how columns count) and renders them like rustc:
 *
 * ```
 * refunds.cedar:12:27: error [refund-limit]: unexpected token `==`
 *    |
 * 12 |   principal in Role::"x" == 3
 *    |                           ^^ expected `in`
 *    = help: …
 * ```
 */

/** One error or warning, as `--json` prints it. Line and columns are absent when Cedar gives no location. */
export interface PolicyDiagnostic {
  readonly severity: 'error' | 'warning';
  /** The file, relative to the policy folder (or a pseudo-name such as `(policy set)`). */
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly endLine?: number;
  /** The column just after the span's last character. */
  readonly endColumn?: number;
  readonly policyId?: string;
  readonly message: string;
  /** What Cedar suggests ("did you mean `order_id`?"), when it does. */
  readonly help?: string;
  /** Cedar's label for the span ("expected `in`"), when it has one. */
  readonly label?: string;
}

/** Where the text handed to Cedar sits: its file, the file's text, and the UTF-16 index where it starts. */
export interface SourceSlice {
  readonly file: string;
  readonly fileText: string;
  /** Index of the slice's first character in `fileText` (0 when Cedar was given the whole file). */
  readonly offset: number;
  /** The slice as Cedar saw it (the whole file when omitted). */
  readonly text?: string;
}

/** A located diagnostic from a Cedar error about `source` (or about nothing locatable, when `source` is a name). */
export function diagnosticOf(
  error: cedar.DetailedError,
  source: SourceSlice | string,
  extra: { readonly severity?: 'error' | 'warning'; readonly policyId?: string } = {},
): PolicyDiagnostic {
  const severity = extra.severity ?? 'error';
  const file = typeof source === 'string' ? source : source.file;
  // Cedar starts validation messages with "for policy `id`, "; the id has its own field (shown as `[id]`).
  const prefix = extra.policyId === undefined ? undefined : `for policy \`${extra.policyId}\`, `;
  const plain = (text: string) =>
    prefix !== undefined && text.startsWith(prefix) ? text.slice(prefix.length) : text;
  const about = {
    ...(extra.policyId === undefined ? {} : { policyId: extra.policyId }),
    message: plain(error.message),
    ...(error.help ? { help: plain(error.help) } : {}),
  };
  const at = error.sourceLocations?.[0];
  if (typeof source === 'string' || at === undefined) return { severity, file, ...about };
  const slice = source.text ?? source.fileText;
  const start = source.offset + indexOfUtf8Offset(slice, at.start);
  const end = source.offset + indexOfUtf8Offset(slice, at.end);
  const from = positionAt(source.fileText, start);
  const to = positionAt(source.fileText, Math.max(start, end));
  return {
    severity,
    file,
    line: from.line,
    column: from.column,
    endLine: to.line,
    endColumn: to.column,
    ...about,
    ...(at.label ? { label: at.label } : {}),
  };
}

/**
 * A folder's file as people can open it from where they are: relative to `cwd` when inside it, else absolute.
 * Pseudo-names (`(policy set)`) stay as they are.
 */
export function shownPath(dir: string, file: string, cwd: string = process.cwd()): string {
  if (file.startsWith('(')) return file;
  const path = resolve(cwd, dir, file);
  const fromHere = relative(cwd, path);
  return fromHere === '' || fromHere.startsWith('..') || isAbsolute(fromHere) ? path : fromHere;
}

/**
 * `file:line:column: severity [policy]: message`, the excerpt when the file's text is at hand, then the help.
 * `shownFile` replaces the diagnostic's file name in the first line (e.g. with {@link shownPath}).
 */
export function renderDiagnostic(
  diagnostic: PolicyDiagnostic,
  fileText?: string,
  shownFile?: string,
): string {
  const file = shownFile ?? diagnostic.file;
  const where =
    diagnostic.line === undefined
      ? file
      : `${file}:${diagnostic.line}${diagnostic.column === undefined ? '' : `:${diagnostic.column}`}`;
  const message = diagnostic.label ? `${diagnostic.message}; ${diagnostic.label}` : diagnostic.message;
  const lines = [
    `${where}: ${diagnostic.severity}${diagnostic.policyId ? ` [${diagnostic.policyId}]` : ''}: ${message}`,
  ];
  let margin = '';
  if (fileText !== undefined && diagnostic.line !== undefined) {
    const start = indexAt(fileText, { line: diagnostic.line, column: diagnostic.column ?? 1 });
    const end =
      diagnostic.endLine === undefined
        ? start
        : indexAt(fileText, { line: diagnostic.endLine, column: diagnostic.endColumn ?? 1 });
    const excerpt = excerptLines(fileText, start, end);
    lines.push(...excerpt);
    margin = ' '.repeat((excerpt[0] ?? ' |').length - 1);
  }
  if (diagnostic.help) lines.push(`${margin || '  '}= help: ${diagnostic.help}`);
  return lines.join('\n');
}

/**
 * Renders diagnostics, reading each file's text from `sources` (by the diagnostic's `file`); with `dir`, file
 * names are shown as paths from the current directory ({@link shownPath}).
 */
export function renderDiagnostics(
  diagnostics: readonly PolicyDiagnostic[],
  sources: ReadonlyMap<string, string> = new Map(),
  dir?: string,
): string {
  return diagnostics
    .map((diagnostic) =>
      renderDiagnostic(
        diagnostic,
        sources.get(diagnostic.file),
        dir === undefined ? undefined : shownPath(dir, diagnostic.file),
      ),
    )
    .join('\n');
}

/**
 * The policy folder cannot be used: its diagnostics, located (file names relative to the folder), and a message
 * that shows them with excerpts (paths from the current directory when the folder is given).
 * It keeps its parent's name, so whatever reports a `ConfigurationError` by name (the CDK app's entry point)
 * reports this one the same way.
 */
export class PolicyFolderError extends ConfigurationError {
  constructor(
    readonly diagnostics: readonly PolicyDiagnostic[],
    /** The texts of the files the diagnostics name, to render them again (e.g. in another layout). */
    readonly sources: ReadonlyMap<string, string>,
    /** The policy folder the file names are relative to, when known. */
    readonly dir?: string,
  ) {
    super(renderDiagnostics(diagnostics, sources, dir));
    this.name = 'ConfigurationError';
  }
}

/** The schema file in a policy folder. */
export const SCHEMA_FILE = 'schema.cedarschema';

/** The schema file's errors, located in it. */
export function schemaDiagnostics(
  errors: readonly cedar.DetailedError[],
  schemaText: string,
): PolicyDiagnostic[] {
  return errors.map((error) => diagnosticOf(error, { file: SCHEMA_FILE, fileText: schemaText, offset: 0 }));
}

/** The schema's errors as a located folder error. */
export function schemaError(
  errors: readonly cedar.DetailedError[],
  schemaText: string,
  dir?: string,
): PolicyFolderError {
  return new PolicyFolderError(
    schemaDiagnostics(errors, schemaText),
    new Map([[SCHEMA_FILE, schemaText]]),
    dir,
  );
}
