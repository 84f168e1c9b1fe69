/**
 * The README, CONTRIBUTING.md and docs/ link to each other by heading anchors. This module finds every heading
 * (outside code fences), computes the anchor GitHub gives it, and lists the relative links whose file or anchor
 * does not exist; `npx tsx scripts/docs-links.ts --toc` also rewrites the README's table of contents between
 * `<!-- toc -->` and `<!-- /toc -->`. Hand-written because github-slugger (the reference implementation) is an
 * ES module that ts-jest's CommonJS run cannot load; the rule is the same: lower-case, drop everything that is
 * not a letter, mark, number, connector, hyphen or space, spaces to hyphens, repeats numbered -1, -2, ….
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface Heading {
  readonly level: number;
  readonly text: string;
  readonly anchor: string;
}

export interface BrokenLink {
  readonly file: string;
  readonly line: number;
  readonly target: string;
  readonly problem: string;
}

/** The anchor GitHub gives a heading's text (before de-duplication). */
export function slug(text: string): string {
  const plain = text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images keep their text
    .replace(/<[^>]+>/g, ''); // inline HTML
  return plain
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, index) => {
    const opener = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (opener !== undefined) {
      if (fence === undefined) fence = opener[0];
      else if (opener[0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line: index + 1, text });
  });
  return out;
}

export function headings(markdown: string): Heading[] {
  const seen = new Map<string, number>();
  const out: Heading[] = [];
  for (const { text } of proseLines(markdown)) {
    const match = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(text);
    if (match === null) continue;
    const base = slug(match[2] ?? '');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.push({
      level: match[1]?.length ?? 1,
      text: match[2] ?? '',
      anchor: count === 0 ? base : `${base}-${count}`,
    });
  }
  return out;
}

/** Relative links (`file.md`, `file.md#anchor`, `#anchor`) in `files` whose file or anchor does not exist. */
export function brokenLinks(root: string, files: readonly string[]): BrokenLink[] {
  const anchors = new Map<string, Set<string>>();
  const anchorsOf = (path: string): Set<string> => {
    let set = anchors.get(path);
    if (set === undefined) {
      set = new Set(headings(readFileSync(path, 'utf8')).map((h) => h.anchor));
      anchors.set(path, set);
    }
    return set;
  };
  const broken: BrokenLink[] = [];
  for (const file of files) {
    const path = resolve(root, file);
    for (const { line, text } of proseLines(readFileSync(path, 'utf8'))) {
      const prose = text.replace(/`[^`]*`/g, '');
      for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
        const [pathPart = '', anchor] = target.split('#', 2);
        const linked = pathPart === '' ? path : resolve(dirname(path), pathPart);
        if (!existsSync(linked)) {
          broken.push({ file, line, target, problem: `no file ${relative(root, linked)}` });
          continue;
        }
        if (anchor !== undefined && linked.endsWith('.md') && !anchorsOf(linked).has(anchor)) {
          broken.push({
            file,
            line,
            target,
            problem: `no heading with anchor #${anchor} in ${relative(root, linked)}`,
          });
        }
      }
    }
  }
  return broken;
}

const TOC_START = '<!-- toc -->';
const TOC_END = '<!-- /toc -->';

/** The README's table of contents: its `##` sections, with their `###` subsections one level in. */
export function tableOfContents(markdown: string): string {
  return headings(markdown)
    .filter((h) => h.level === 2 || h.level === 3)
    .map(
      (h) =>
        `${h.level === 3 ? '  ' : ''}- [${h.text.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')}](#${h.anchor})`,
    )
    .join('\n');
}

export function withTableOfContents(markdown: string): string {
  const start = markdown.indexOf(TOC_START);
  const end = markdown.indexOf(TOC_END);
  if (start < 0 || end < start) throw new Error(`no ${TOC_START} … ${TOC_END} markers`);
  return `${markdown.slice(0, start + TOC_START.length)}\n${tableOfContents(markdown)}\n${markdown.slice(end)}`;
}

export function documentFiles(root: string): string[] {
  const files = ['README.md', 'CONTRIBUTING.md'];
  const docs = join(root, 'docs');
  if (existsSync(docs)) {
    for (const name of readdirSync(docs)) {
      if (name.endsWith('.md')) files.push(join('docs', name));
    }
  }
  return files.sort();
}

if (require.main === module) {
  const root = resolve(__dirname, '..');
  if (process.argv.includes('--toc')) {
    const readme = join(root, 'README.md');
    writeFileSync(readme, withTableOfContents(readFileSync(readme, 'utf8')));
  }
  const broken = brokenLinks(root, documentFiles(root));
  for (const b of broken) console.error(`${b.file}:${b.line}: ${b.target}: ${b.problem}`);
  process.exitCode = broken.length === 0 ? 0 : 1;
}
