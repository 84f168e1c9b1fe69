import fc from 'fast-check';
import { excerptLines, indexAt, indexOfUtf8Offset, positionAt } from '../../lambda/adapters/source-excerpt';

/** Text with what breaks naive code: CRLF and lone CR, tabs, multi-byte and astral characters, controls. */
const awkwardText = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.constantFrom('\n', '\r\n', '\r', '\t', 'é', '😀', '漢字', '\u0301', '\u001b[31m', ' '),
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(''));
const anyNumber = fc.oneof(
  fc.integer({ min: -5, max: 400 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5, 2 ** 53),
);

describe('positions in source text', () => {
  it('never throws and stays in range for any text and any offset', () => {
    fc.assert(
      fc.property(awkwardText, anyNumber, anyNumber, (text, a, b) => {
        const lines = text.split('\n').length;
        const position = positionAt(text, a);
        expect(position.line).toBeGreaterThanOrEqual(1);
        expect(position.line).toBeLessThanOrEqual(lines);
        expect(position.column).toBeGreaterThanOrEqual(1);
        const index = indexOfUtf8Offset(text, a);
        expect(index).toBeGreaterThanOrEqual(0);
        expect(index).toBeLessThanOrEqual(text.length);
        expect(indexAt(text, { line: a, column: b })).toBeLessThanOrEqual(text.length);
        const excerpt = excerptLines(text, a, b);
        expect(excerpt.length).toBeGreaterThanOrEqual(3);
        expect(excerpt.some((line) => /\^/.test(line))).toBe(true);
        // Nothing in an excerpt can drive the terminal or break the layout.
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not appear
        for (const line of excerpt) expect(line).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f]/);
      }),
    );
  });

  it('round-trips: the index of a position is the index it came from (at character starts, outside line breaks)', () => {
    fc.assert(
      fc.property(awkwardText, fc.nat(), (text, seed) => {
        const starts = [...text.matchAll(/[^\r\n]|$/gsu)].map((match) => match.index ?? 0);
        const index = starts[seed % starts.length] as number;
        expect(indexAt(text, positionAt(text, index))).toBe(index);
      }),
    );
  });

  it('maps UTF-8 byte offsets (as Cedar reports them) to string indices', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.string({ maxLength: 5 }),
        (before, after) => {
          const text = before + after;
          expect(indexOfUtf8Offset(text, Buffer.byteLength(before))).toBe(before.length);
        },
      ),
    );
    // Inside a multi-byte character: that character.
    expect(indexOfUtf8Offset('a😀b', 2)).toBe(1);
    expect(indexOfUtf8Offset('a😀b', 5)).toBe(3);
    expect(indexOfUtf8Offset('a😀b', 99)).toBe(4);
    expect(indexOfUtf8Offset('a😀b', -1)).toBe(0);
  });

  it('counts columns in code points, and a CRLF line break is not part of its line', () => {
    const text = 'é😀x\r\n\tsecond\r\nlast';
    expect(positionAt(text, text.indexOf('x'))).toEqual({ line: 1, column: 3 });
    expect(positionAt(text, text.indexOf('\r'))).toEqual({ line: 1, column: 4 });
    expect(positionAt(text, text.indexOf('\n'))).toEqual({ line: 1, column: 4 });
    expect(positionAt(text, text.indexOf('second'))).toEqual({ line: 2, column: 2 });
    // The last line has no newline; past the end clamps to its end.
    expect(positionAt(text, text.length + 10)).toEqual({ line: 3, column: 5 });
    expect(positionAt('', 3)).toEqual({ line: 1, column: 1 });
    // The second half of a surrogate pair is the character's start.
    expect(positionAt('😀', 1)).toEqual({ line: 1, column: 1 });
    expect(indexAt(text, { line: 2, column: 99 })).toBe(text.indexOf('\r', 5));
    expect(indexAt(text, { line: 9, column: 1 })).toBe(text.indexOf('last'));
  });
});

describe('caret excerpts', () => {
  it('puts carets under the span, like rustc', () => {
    const text = 'permit (\n  principal in Role::"x" == 3,\n  action, resource);\n';
    const start = text.indexOf('==');
    expect(excerptLines(text, start, start + 2)).toEqual([
      '  |',
      '2 |   principal in Role::"x" == 3,',
      '  |                          ^^',
    ]);
  });

  it('widens the gutter for long line numbers and gives an empty span one caret', () => {
    const text = `${'\n'.repeat(11)}permit;`;
    expect(excerptLines(text, text.length, text.length)).toEqual(['   |', '12 | permit;', '   |        ^']);
  });

  it('shows tabs as four spaces and places carets by display width (wide characters, combining marks)', () => {
    const text = '\t"漢字" == e\u0301 && x';
    const start = text.indexOf('x');
    expect(excerptLines(text, start, start + 1)).toEqual([
      '  |',
      '1 |     "漢字" == e\u0301 && x',
      `  | ${' '.repeat(4 + 6 + 4 + 1 + 4)}^`,
    ]);
  });

  it('shows the first and last line of a span over several lines, with ... for the lines between', () => {
    const text = 'a\nwhen {\n  one\n  two\n  three };\nz';
    const excerpt = excerptLines(text, text.indexOf('when'), text.indexOf(' };') + 3);
    expect(excerpt).toEqual(['  |', '2 | when {', '  | ^^^^^^', '...', '5 |   three };', '  |   ^^^^^^^^']);
  });

  it('does not let control characters from a file reach the terminal', () => {
    const excerpt = excerptLines('permit \u001b[2J;', 7, 8);
    expect(excerpt[1]).toBe('1 | permit \ufffd[2J;');
  });
});
