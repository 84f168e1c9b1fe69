/**
 * `dev --target name=URL` and `dev --target name=stdio:<command …>`: the operator's own MCP servers behind the
 * local gateway. This module only reads and checks the option's text; local/target-bridge.ts connects them.
 */

export class TargetSpecError extends Error {}

export type TargetSpec =
  | { readonly name: string; readonly kind: 'http'; readonly url: URL }
  | {
      readonly name: string;
      readonly kind: 'stdio';
      readonly command: string;
      readonly args: readonly string[];
    };

/**
 * AgentCore's gateway target name rule (`([0-9a-zA-Z][-]?){1,100}`, CONTRACTS.md §8): letters, digits and single
 * hyphens between them. It can never contain `___`, so `name___tool` always splits back on the first `___`.
 */
const TARGET_NAME = /^(?:[0-9a-zA-Z]-?){1,100}$/;

export function checkTargetName(name: string): string | undefined {
  if (name.length === 0) return 'the target name is empty';
  if (!TARGET_NAME.test(name))
    return `target name '${name.slice(0, 120)}' must be 1–100 letters or digits, optionally joined by single hyphens (AgentCore's rule)`;
  return undefined;
}

/**
 * Splits a command line into words, honouring single and double quotes and backslash escapes. Written by hand
 * because no shell is ever involved (the words go to `spawn` without one): a package that also expands
 * variables or globs would do more than we want, and the rules fit in one small loop.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    const next = text[i + 1];
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '\\' && (next === '"' || next === '\\')) {
        word += next;
        i++;
      } else word += char;
    } else if (char === '\\' && next !== undefined) {
      word += next;
      inWord = true;
      i++;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote !== undefined)
    throw new TargetSpecError(`unclosed ${quote} quote in the command: ${text.slice(0, 200)}`);
  if (inWord) words.push(word);
  return words;
}

/** Reads one `--target` value. Throws {@link TargetSpecError} with a message that says what to write instead. */
export function parseTargetSpec(text: string): TargetSpec {
  const usage = 'write --target NAME=http://host:port/mcp or --target NAME=stdio:"command arg …"';
  const at = text.indexOf('=');
  if (at < 0) throw new TargetSpecError(`--target '${text.slice(0, 200)}' has no '=': ${usage}`);
  const name = text.slice(0, at).trim();
  const value = text.slice(at + 1).trim();
  const nameProblem = checkTargetName(name);
  if (nameProblem !== undefined) throw new TargetSpecError(`--target ${text.slice(0, 200)}: ${nameProblem}`);
  if (value.startsWith('stdio:')) {
    const words = splitCommandLine(value.slice('stdio:'.length));
    const [command, ...args] = words;
    if (command === undefined || command.length === 0)
      throw new TargetSpecError(`--target ${name}: stdio: needs a command to start the server; ${usage}`);
    return { name, kind: 'stdio', command, args };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TargetSpecError(
      `--target ${name}: '${value.slice(0, 200)}' is neither a URL nor stdio:…; ${usage}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TargetSpecError(
      `--target ${name}: only http(s) URLs and stdio: are supported, not ${url.protocol}`,
    );
  if (url.username !== '' || url.password !== '')
    throw new TargetSpecError(
      `--target ${name}: put no credentials in the URL (they would be logged); the local gateway sends the identity assertion instead`,
    );
  return { name, kind: 'http', url };
}

/** Reads every `--target` value and checks that names are unique. */
export function parseTargetSpecs(texts: readonly string[]): TargetSpec[] {
  const specs = texts.map(parseTargetSpec);
  const seen = new Set<string>();
  for (const spec of specs) {
    const key = spec.name.toLowerCase();
    if (seen.has(key))
      throw new TargetSpecError(`--target ${spec.name} is given twice: target names must be unique`);
    seen.add(key);
  }
  return specs;
}
