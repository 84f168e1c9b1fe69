/**
 * Positions and caret excerpts in source text, for policy and schema errors people can jump to:
 *
 * ```
 * refunds.cedar:12:27: error: unexpected token `==`
 *    |
 * 12 |   principal in Role::"x" == 3
 *    |                           ^^ expected `in`
 * ```
 *
 * Pure and total: no input makes these throw; out-of-range offsets clamp to the text.
 *
 * Conventions (what an editor's "go to line:column" expects):
 * - lines are 1-based and end at `\n`; a `\r` before it (CRLF files) belongs to the line break, not the line;
 * - columns are 1-based and count Unicode code points, as rustc and Cedar's own CLI do (an emoji or `é` is one
 *   column, a tab is one column); `endColumn` is the column just after the last character of a span (SARIF);
 * - in the excerpt, tabs are shown as four spaces and the carets are placed by display width (East Asian wide
 *   characters and emoji take two cells, combining marks none), so they stand under the right characters.
 *
 * Written here rather than taken from a package: `@babel/code-frame` counts UTF-16 units, keeps tabs and draws
 * Babel's layout, and the display-width packages (`string-width`, `get-east-asian-width`) are ESM-only, which
 * neither Node 20's `require` nor this project's CommonJS Jest can load.
 */

export interface SourcePosition {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, in Unicode code points. */
  readonly column: number;
}

/** Clamps any number (NaN, negative, fractional, too large) to an index in `[0, length]`. */
function clampIndex(index: number, length: number): number {
  if (!Number.isFinite(index)) return index === Number.POSITIVE_INFINITY ? length : 0;
  return Math.min(Math.max(Math.trunc(index), 0), length);
}

/** Steps back off the second half of a surrogate pair, so an index never splits a character. */
function characterStart(text: string, index: number): number {
  const code = text.charCodeAt(index);
  const before = text.charCodeAt(index - 1);
  return index > 0 && code >= 0xdc00 && code <= 0xdfff && before >= 0xd800 && before <= 0xdbff
    ? index - 1
    : index;
}

function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/**
 * The UTF-16 index (a JavaScript string index) of a UTF-8 byte offset: Cedar, written in Rust, reports byte
 * offsets. An offset inside a multi-byte character maps to that character; past the end, to the end.
 */
export function indexOfUtf8Offset(text: string, byteOffset: number): number {
  const target = clampIndex(byteOffset, Number.MAX_SAFE_INTEGER);
  let bytes = 0;
  let index = 0;
  while (index < text.length) {
    const codePoint = text.codePointAt(index) as number;
    const size = utf8Length(codePoint);
    if (bytes + size > target) return index;
    bytes += size;
    index += codePoint > 0xffff ? 2 : 1;
  }
  return text.length;
}

/** Start index of every line (after each `\n`). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', index + 1))
    starts.push(index + 1);
  return starts;
}

/** The end of a line's content: before its `\n`, and before a `\r` that precedes it. */
function lineEnd(text: string, start: number): number {
  const newline = text.indexOf('\n', start);
  if (newline < 0) return text.length;
  return newline > start && text[newline - 1] === '\r' ? newline - 1 : newline;
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Line and column of a UTF-16 index (clamped). An index inside a line break is the end of its line. */
export function positionAt(text: string, index: number): SourcePosition {
  const at = characterStart(text, clampIndex(index, text.length));
  const starts = lineStarts(text);
  let line = starts.length - 1;
  while (line > 0 && (starts[line] as number) > at) line -= 1;
  const start = starts[line] as number;
  const column = codePoints(text.slice(start, Math.min(at, lineEnd(text, start)))) + 1;
  return { line: line + 1, column };
}

/**
 * The UTF-16 index of a line and column (the inverse of {@link positionAt}); a line or column out of range
 * clamps to the text and to the line's content.
 */
export function indexAt(text: string, position: SourcePosition): number {
  const starts = lineStarts(text);
  const line = clampIndex(position.line, starts.length) || 1;
  const start = starts[line - 1] as number;
  const end = lineEnd(text, start);
  let index = start;
  let column = 1;
  const wanted = clampIndex(position.column, Number.MAX_SAFE_INTEGER);
  while (column < wanted && index < end) {
    index += (text.codePointAt(index) as number) > 0xffff ? 2 : 1;
    column += 1;
  }
  return Math.min(index, end);
}

const TAB = '    ';

/**
 * Display cells of one character. Approximate by design (see the module comment): wide CJK scripts, full-width
 * forms and emoji take two, combining marks and zero-width joiners none, everything else one.
 */
function cells(character: string): number {
  if (character === '\t') return TAB.length;
  if (/[\p{M}\u200b-\u200f\u2060\ufeff]/u.test(character)) return 0;
  if (
    /[\p{Extended_Pictographic}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uff60\uffe0-\uffe6]/u.test(
      character,
    ) &&
    (character.codePointAt(0) as number) >= 0x100 &&
    !/[\u2000-\u27bf]/.test(character)
  )
    return 2;
  return 1;
}

function width(text: string): number {
  let total = 0;
  for (const character of text) total += cells(character);
  return total;
}

/**
 * A line as it is shown: tabs as spaces, and control characters (an escape sequence in a file must not drive
 * the terminal) as U+FFFD.
 */
function shown(line: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this replaces
  return line.replace(/\t/g, TAB).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
}

function gutter(width: number, label = ''): string {
  return `${label.padStart(width)} |`;
}

/**
 * The rustc-style excerpt of `[start, end)` (UTF-16 indices, clamped): the span's first line with carets under
 * the span (to the line's end if it goes on), and, for a span over several lines, its last line too, with
 * `...` between when lines are skipped. An empty span gets one caret.
 */
export function excerptLines(text: string, start: number, end: number): string[] {
  const from = characterStart(text, clampIndex(start, text.length));
  const to = Math.max(from, characterStart(text, clampIndex(end, text.length)));
  const first = positionAt(text, from);
  const last = positionAt(text, to);
  // A span ending at a line's very start (after its `\n`) ends on the previous line.
  const lastLine = last.line > first.line && last.column === 1 ? last.line - 1 : last.line;
  const starts = lineStarts(text);
  const width_ = String(lastLine).length;
  const out = [gutter(width_)];
  const draw = (line: number, from_: number, to_: number) => {
    const lineStart = starts[line - 1] as number;
    const content = text.slice(lineStart, lineEnd(text, lineStart));
    const before = text.slice(lineStart, Math.max(lineStart, Math.min(from_, lineStart + content.length)));
    const span = text.slice(
      Math.max(lineStart, Math.min(from_, lineStart + content.length)),
      Math.max(lineStart, Math.min(to_, lineStart + content.length)),
    );
    const carets = '^'.repeat(Math.max(1, width(span)));
    out.push(`${gutter(width_, String(line))} ${shown(content)}`.trimEnd());
    out.push(`${gutter(width_)} ${' '.repeat(width(before))}${carets}`);
  };
  if (lastLine === first.line) draw(first.line, from, to);
  else {
    draw(first.line, from, Number.MAX_SAFE_INTEGER);
    if (lastLine > first.line + 1) out.push('...');
    const lastStart = starts[lastLine - 1] as number;
    const indent = /^[ \t]*/.exec(text.slice(lastStart, lineEnd(text, lastStart)))?.[0].length ?? 0;
    draw(lastLine, lastStart + indent, to);
  }
  return out;
}
