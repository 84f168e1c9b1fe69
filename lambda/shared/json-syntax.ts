/**
 * Where a JSON text stops being JSON, said without quoting it. V8's JSON.parse messages quote the text around the
 * error (Node 20: `Unexpected token 'A', "AWS_SECRET"... is not valid JSON`), so a configuration path that points
 * at a secrets file by mistake would print the start of the secret. Messages about user files use
 * {@link jsonSyntaxPlace} instead: line and column only, computed here, the same on every Node version.
 */

/** Thrown inside the scanner with the offset of the first character that is not valid JSON there. */
class Stop {
  constructor(readonly offset: number) {}
}

const isDigit = (char: string | undefined): boolean => char !== undefined && char >= '0' && char <= '9';
const isHex = (char: string | undefined): boolean => char !== undefined && /^[0-9A-Fa-f]$/.test(char);

/** The offset of the first character that makes `text` invalid JSON (RFC 8259), or undefined when it is valid. */
export function jsonSyntaxOffset(text: string): number | undefined {
  let at = 0;
  const space = () => {
    while (at < text.length && ' \t\n\r'.includes(text[at] as string)) at += 1;
  };
  const expect = (char: string) => {
    if (text[at] !== char) throw new Stop(at);
    at += 1;
  };
  const digits = () => {
    if (!isDigit(text[at])) throw new Stop(at);
    while (isDigit(text[at])) at += 1;
  };
  const string = () => {
    expect('"');
    for (;;) {
      const char = text[at];
      if (char === undefined || char < ' ') throw new Stop(at);
      at += 1;
      if (char === '"') return;
      if (char !== '\\') continue;
      const escaped = text[at];
      if (escaped !== undefined && '"\\/bfnrt'.includes(escaped)) at += 1;
      else if (escaped === 'u') {
        at += 1;
        for (let index = 0; index < 4; index += 1) {
          if (!isHex(text[at])) throw new Stop(at);
          at += 1;
        }
      } else throw new Stop(at);
    }
  };
  const number = () => {
    if (text[at] === '-') at += 1;
    if (text[at] === '0') at += 1;
    else digits();
    if (text[at] === '.') {
      at += 1;
      digits();
    }
    if (text[at] === 'e' || text[at] === 'E') {
      at += 1;
      if (text[at] === '+' || text[at] === '-') at += 1;
      digits();
    }
  };
  const value = (): void => {
    space();
    const char = text[at];
    if (char === '{' || char === '[') {
      const close = char === '{' ? '}' : ']';
      at += 1;
      space();
      if (text[at] === close) {
        at += 1;
        return;
      }
      for (;;) {
        if (close === '}') {
          space();
          string();
          space();
          expect(':');
        }
        value();
        space();
        if (text[at] !== ',') {
          expect(close);
          return;
        }
        at += 1;
      }
    }
    if (char === '"') {
      string();
      return;
    }
    if (char === '-' || isDigit(char)) {
      number();
      return;
    }
    for (const word of ['true', 'false', 'null'])
      if (text.startsWith(word, at)) {
        at += word.length;
        return;
      }
    throw new Stop(at);
  };
  try {
    value();
    space();
    return at < text.length ? at : undefined;
  } catch (error) {
    if (error instanceof Stop) return error.offset;
    return undefined; // nested too deep for this scanner (RangeError): say nothing rather than guess
  }
}

/**
 * `line 2, column 37` (1-based; columns count UTF-16 code units, as editors mostly do), `the end (line 3,
 * column 1)` when the text stops early, or `unknown position` when the scanner finds nothing wrong. Never any
 * of the text.
 */
export function jsonSyntaxPlace(text: string): string {
  const offset = jsonSyntaxOffset(text);
  if (offset === undefined) return 'unknown position';
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  const place = `line ${line}, column ${column}`;
  return offset >= text.length ? `it ends early, at ${place}` : place;
}

/** JSON.parse's value, or where it failed ({@link jsonSyntaxPlace}); the engine's message (which quotes) is dropped. */
export function parseJsonText(
  text: string,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly place: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, place: jsonSyntaxPlace(text) };
  }
}
