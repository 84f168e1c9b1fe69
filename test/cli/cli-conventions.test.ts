import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import ts from 'typescript';
import { cli, ROOT } from './helpers';

/**
 * CLI conventions that hold for every command, including ones added later: each command and subcommand's
 * `--help` ends with examples, `--version` answers, and every message that suggests a command names it as users
 * run it from a clone (`npx mcp-identity …`), never `mcp-identity …` alone, `node bin/mcp-identity.js …` or
 * `tsx bin/cli.ts …`.
 */

/** The commander tree bin/cli.ts builds, taken where it would start parsing (so nothing runs). */
function commandTree(): Command {
  let root: Command | undefined;
  const parse = jest.spyOn(Command.prototype, 'parseAsync').mockImplementation(function (this: Command) {
    root = this;
    return Promise.resolve(this);
  });
  try {
    require('../../bin/cli');
  } finally {
    parse.mockRestore();
  }
  if (root === undefined) throw new Error('bin/cli.ts did not parse its command line');
  return root;
}

function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (chunk) => (text += chunk), writeErr: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

function commands(command: Command, path: string[] = []): { path: string; command: Command }[] {
  return command.commands.flatMap((sub) => {
    const here = [...path, sub.name()];
    return [{ path: here.join(' '), command: sub }, ...commands(sub, here)];
  });
}

/**
 * Commands whose owners were still adding their examples when this test was written (grant and revoke
 * subcommands); listed so that any *other* command without examples fails. Remove a name once it has examples.
 */

describe('every command’s --help', () => {
  const tree = commandTree();
  const all = commands(tree);

  it('walks the whole tree (the walk itself is not empty)', () => {
    expect(all.map((entry) => entry.path)).toEqual(
      expect.arrayContaining([
        'dev',
        'token',
        'policies',
        'policies validate',
        'policies authorize',
        'activity',
      ]),
    );
  });

  it('ends with an Examples section of runnable `npx mcp-identity …` lines (npm start for the local stack)', () => {
    const missing: string[] = [];
    for (const { path, command } of [{ path: '(program)', command: tree }, ...all]) {
      const examples = /\nExamples:\n((?: {2}.*\n?)+)/.exec(helpOf(command))?.[1];
      const lines = (examples ?? '').split('\n').filter((line) => line.trim() !== '');
      const runnable = lines.filter((line) => /^\s+(npx mcp-identity |npm start|curl |TOKEN=)/.test(line));
      if (runnable.length === 0) missing.push(path);
    }
    expect(missing).toEqual([]);
  });

  it('reaches the subcommands of subcommands (grant and revoke), which the examples rule covers too', () => {
    const paths = new Set(all.map((entry) => entry.path));
    for (const path of ['grant list', 'grant revoke', 'revoke list', 'revoke lift'])
      expect([path, paths.has(path)]).toEqual([path, true]);
  });
});

describe('--version', () => {
  it('prints the package version and exits 0', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    const result = cli(['--version']);
    expect(result.stdout).toBe(`${version}\n`);
    expect(result.status).toBe(0);
  });
});

describe('a command group run without its subcommand', () => {
  it.each(['policies', 'schema', 'audit'])(
    '`%s` shows its help on stderr and exits 2 (usage), not 0',
    (group) => {
      const result = cli([group]);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`Usage: mcp-identity ${group}`));
    },
  );

  it.each(['help', 'help policies', 'policies --help'])('`%s` asks for help and exits 0', (line) => {
    const result = cli(line.split(' '));
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Usage: mcp-identity/);
  });
});

// --- suggestions name the command as users run it ---------------------------------------------------------

// `audit` alone is a group (and a word in log messages): its one command is `audit redrive`.
const SUBCOMMANDS = 'dev|token|policies|schema|activity|audit redrive|doctor|init|grant|revoke';
/** `mcp-identity <command>` that is not `npx mcp-identity <command>` (nor part of a longer name or path). */
const BARE = new RegExp(`(?<!npx )(?<![\\w@/.:-])mcp-identity (?:${SUBCOMMANDS})\\b`);
/** How contributors run it, not users. */
const INTERNAL = /\b(?:node|tsx|ts-node)\s+(?:\.\/)?bin\/(?:mcp-identity\.js|cli\.ts)\b/;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Every string literal and template text in a file (not comments: those are for contributors). */
function literals(file: string): { text: string; line: number }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { text: string; line: number }[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    )
      found.push({ text: node.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** A message prefix naming the program and command that speaks (`mcp-identity policies replay: …`), as git does. */
const PREFIX = new RegExp(`^mcp-identity (?:${SUBCOMMANDS})(?: [a-z-]+)*: `);

/** Whether a literal suggests a command in a form users cannot run as written. */
function badSuggestion(text: string): boolean {
  return BARE.test(text.replace(PREFIX, '')) || INTERNAL.test(text);
}

describe('messages that suggest a command', () => {
  it('the check tells the right form from the wrong ones', () => {
    expect(badSuggestion('run `npx mcp-identity policies validate`')).toBe(false);
    expect(badSuggestion('npx mcp-identity token alice')).toBe(false);
    expect(badSuggestion('run `mcp-identity policies validate`')).toBe(true);
    expect(badSuggestion('mcp-identity doctor')).toBe(true);
    expect(badSuggestion('a fresh one: node bin/mcp-identity.js token alice')).toBe(true);
    expect(badSuggestion('npx tsx bin/cli.ts dev')).toBe(true);
    // Names, not suggestions: the package, a tag, a log field.
    expect(badSuggestion('mcp-identity:managed-by')).toBe(false);
    expect(badSuggestion('@mcp-identity/verifier')).toBe(false);
    expect(badSuggestion('mcp-identity-local')).toBe(false);
    expect(badSuggestion('mcp-identity audit event')).toBe(false);
    expect(badSuggestion('run mcp-identity audit redrive')).toBe(true);
    expect(badSuggestion('mcp-identity policies replay: no events')).toBe(false);
    expect(badSuggestion('mcp-identity policies replay: run mcp-identity activity first')).toBe(true);
  });

  it('name it as `npx mcp-identity …` in every CLI, local-stack, synth and Lambda source (denial reasons too)', () => {
    const offenders: string[] = [];
    for (const dir of ['bin', 'cli', 'local', 'lib', 'lambda'])
      for (const file of sourceFiles(dir))
        for (const literal of literals(file))
          if (badSuggestion(literal.text))
            offenders.push(`${relative(ROOT, file)}:${literal.line}: ${literal.text.trim().slice(0, 120)}`);
    expect(offenders).toEqual([]);
  });
});
