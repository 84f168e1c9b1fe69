import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validatePolicyFolder } from '../../cli/policies';
import {
  diagnosticOf,
  type PolicyDiagnostic,
  PolicyFolderError,
  renderDiagnostic,
  shownPath,
} from '../../lambda/adapters/policy-diagnostics';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { ConfigurationError } from '../../lambda/core/errors';

const ROOT = join(__dirname, '..', '..');
const GET_ORDER = 'McpIdentity::Action::"orders___get_order"';

/** A folder with the repository's schema and these policy files. */
function folder(files: Record<string, string>, schema?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'policy-diagnostics-'));
  if (schema === undefined)
    cpSync(join(ROOT, 'policies', 'schema.cedarschema'), join(dir, 'schema.cedarschema'));
  else writeFileSync(join(dir, 'schema.cedarschema'), schema);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function errorsOf(dir: string): PolicyDiagnostic[] {
  return validatePolicyFolder(dir).findings.filter((finding) => finding.severity === 'error');
}

/** The text a diagnostic's span covers in `text`, by line and column (code points). */
function spanText(text: string, diagnostic: PolicyDiagnostic): string {
  const lines = text.split(/\r?\n/);
  const line = [...(lines[(diagnostic.line as number) - 1] as string)];
  expect(diagnostic.endLine).toBe(diagnostic.line);
  return line.slice((diagnostic.column as number) - 1, (diagnostic.endColumn as number) - 1).join('');
}

describe('policy errors located in their files', () => {
  it('locates a schema mismatch in the second policy of a file at the file’s own line and column', () => {
    const text = `@id("first")\npermit (principal, action == ${GET_ORDER}, resource);\n\n// the second policy\n@id("second")\npermit (principal, action == ${GET_ORDER}, resource)\nwhen { context has input && context.input.nope == "x" };\n`;
    const [error] = errorsOf(folder({ 'two.cedar': text }));
    expect(error).toMatchObject({ file: 'two.cedar', policyId: 'second', line: 7, column: 29 });
    expect(spanText(text, error as PolicyDiagnostic)).toBe('context.input.nope');
    expect(error?.help).toMatch(/did you mean `order_id`/);
    // The policy id has its own field; Cedar's "for policy `second`, " prefix is not repeated in the message.
    expect(error?.message).toBe(
      'attribute `input.nope` in context for McpIdentity::Action::"orders___get_order" not found',
    );
  });

  it('counts columns in characters when multi-byte text comes before the error (Cedar reports UTF-8 bytes)', () => {
    const text = `// naïve café 😀 rules\n@id("emoji")\npermit (principal, action == ${GET_ORDER}, resource)\nwhen { "😀漢字" != "x" && context has input && context.input.nope == "x" };\n`;
    const [error] = errorsOf(folder({ 'unicode.cedar': text })).filter((e) => /nope/.test(e.message));
    expect(error).toMatchObject({ line: 4, column: 45 });
    expect(spanText(text, error as PolicyDiagnostic)).toBe('context.input.nope');
  });

  it('locates errors in a CRLF file, and in the later of two identical policies', () => {
    const policy = `permit (principal, action == McpIdentity::Action::"orders___nope", resource);`;
    const text = `${policy}\r\n\r\n${policy}\r\n`;
    const errors = errorsOf(folder({ 'twice.cedar': text }));
    expect(errors.map((error) => [error.policyId, error.line, error.column])).toEqual([
      ['twice#1', 1, 30],
      ['twice#2', 3, 30],
    ]);
    expect(spanText(text, errors[1] as PolicyDiagnostic)).toBe('McpIdentity::Action::"orders___nope"');
  });

  it('locates every parse error of every file, not only the first file’s', () => {
    const errors = errorsOf(
      folder({
        'a.cedar': 'permit (principal, action resource);',
        'b.cedar': '\r\n\tforbid (principal,, action, resource);',
      }),
    );
    expect(errors.map((error) => `${error.file}:${error.line}:${error.column}`)).toEqual([
      'a.cedar:1:27',
      'b.cedar:2:20',
    ]);
  });

  it('puts the unguarded-read warning under the unguarded part of the path', () => {
    const text = `@id("old-tokens")\nforbid (principal, action, resource)\nwhen { context.token.issuedAt < 1700000000 };\n`;
    const warning = validatePolicyFolder(folder({ 'tokens.cedar': text })).findings.find((finding) =>
      /without a `has` guard/.test(finding.message),
    );
    expect(warning).toMatchObject({ severity: 'warning', file: 'tokens.cedar', line: 3, column: 8 });
    expect(spanText(text, warning as PolicyDiagnostic)).toBe(
      (/forbid reads (\S+) without/.exec(warning?.message ?? '') as RegExpExecArray)[1],
    );
  });

  it('locates schema errors in schema.cedarschema', () => {
    const schema =
      'namespace X {\n  entity User;\n  action "a" appliesTo { principal: [Usr], resource: User };\n}\n';
    const [error] = errorsOf(folder({}, schema));
    expect(error).toMatchObject({ file: 'schema.cedarschema', line: 3, column: 38, endColumn: 41 });
    expect(error?.message).toMatch(/failed to resolve type: Usr/);
    expect(() => loadPolicyBundle(folder({}, schema))).toThrow(
      /schema\.cedarschema:3:38: error: failed to resolve type: Usr\n {2}\|\n3 \| .*\n {2}\| {38}\^{3}\n {2}= help: /,
    );
  });

  it('prints file and message when Cedar gives no location', () => {
    const diagnostic = diagnosticOf(
      { message: 'no location here', help: null, code: null, url: null, severity: null },
      'x.cedar',
    );
    expect(diagnostic).toEqual({ severity: 'error', file: 'x.cedar', message: 'no location here' });
    expect(renderDiagnostic(diagnostic, 'permit;')).toBe('x.cedar: error: no location here');
  });

  it('carries {file, line, column, endLine, endColumn, message, help} for --json', () => {
    const [error] = errorsOf(folder({ 'p.cedar': 'permit (principal, action resource);' }));
    expect(Object.keys(error as object)).toEqual(
      expect.arrayContaining(['file', 'line', 'column', 'endLine', 'endColumn', 'message']),
    );
    expect(error).toMatchObject({ line: 1, column: 27, endLine: 1, endColumn: 35 });
  });
});

describe('PolicyFolderError', () => {
  it('is a ConfigurationError by class and by name (what the CDK app reports), with the located message', () => {
    const dir = folder({ 'broken.cedar': 'permit (principal, action resource);' });
    let thrown: unknown;
    try {
      loadPolicyBundle(dir);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PolicyFolderError);
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as Error).name).toBe('ConfigurationError');
    expect((thrown as PolicyFolderError).diagnostics[0]).toMatchObject({ file: 'broken.cedar', line: 1 });
    expect((thrown as Error).message.split('\n')[0]).toBe(
      `${join(dir, 'broken.cedar')}:1:27: error: unexpected token \`resource\`; expected \`!=\`, \`)\`, \`,\`, \`:\`, \`<\`, \`<=\`, \`==\`, \`>\`, \`>=\`, \`in\`, or \`is\``,
    );
  });
});

describe('shownPath', () => {
  it('shows a file from the current directory when inside it, else absolute; pseudo-names as they are', () => {
    expect(shownPath('policies', 'refunds.cedar', '/repo')).toBe('policies/refunds.cedar');
    expect(shownPath('/repo/policies', 'a/b.cedar', '/repo')).toBe('policies/a/b.cedar');
    expect(shownPath('/elsewhere', 'b.cedar', '/repo')).toBe('/elsewhere/b.cedar');
    expect(shownPath('/repo', '(policy set)', '/repo')).toBe('(policy set)');
  });
});
