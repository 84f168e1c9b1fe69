import {
  decodeResponseMessages,
  encodeResponseMessages,
  readableMessages,
} from '../../lambda/core/response-messages';

/** Response bodies in every form, decoded and encoded to the byte (see also request-path.mutation.test.ts). */
const message = { jsonrpc: '2.0', id: 1, result: { tools: [] } };
const json = JSON.stringify(message);
const unchanged = (value: unknown) => value;
const roundTrip = (body: string) => encodeResponseMessages(decodeResponseMessages(body), unchanged, body);

describe('decodeResponseMessages', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['a number', 42],
    ['an empty string', ''],
    ['blank lines only', '\n\n \n\n'],
    ['a line that is no SSE field', 'Error: upstream failed\n\n'],
    ['an SSE event with a line that is no SSE field', `data: ${json}\nError: upstream failed\n\n`],
  ])('cannot read %s', (_label, body) => {
    expect(decodeResponseMessages(body)).toStrictEqual({ form: 'unreadable' });
  });

  it('reads JSON text after a byte-order mark or a no-break space', () => {
    expect(decodeResponseMessages(`\ufeff${json}\u00a0`)).toStrictEqual({
      form: 'json-text',
      messages: [message],
    });
  });

  it.each([
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('reads SSE with %s line endings', (_label, eol) => {
    const body = `event: message${eol}data: ${json}${eol}${eol}: ping${eol}${eol}`;

    expect(readableMessages(decodeResponseMessages(body))).toStrictEqual([message]);
    expect(encodeResponseMessages(decodeResponseMessages(body), unchanged, body)).toBe(
      `event: message\ndata: ${json}\n\n: ping\n\n`,
    );
  });

  it('takes the data after "data:" with or without one space, keeping the spaces inside it', () => {
    const decoded = decodeResponseMessages('data:{"a":"b c"}\n\ndata:  {"a":"d e"}\n\n');

    expect(readableMessages(decoded)).toStrictEqual([{ a: 'b c' }, { a: 'd e' }]);
  });

  it('joins the data lines of one event with newlines', () => {
    expect(readableMessages(decodeResponseMessages('data: [1,\ndata: 2]\n\n'))).toStrictEqual([[1, 2]]);
    expect(roundTrip('data: hello\ndata: world\n\n')).toBe('data: hello\ndata: world\n\n');
  });

  it('ignores blank blocks and a last line break without a blank line', () => {
    expect(readableMessages(decodeResponseMessages(`data: ${json}\n\n  \n\n`))).toStrictEqual([message]);
    expect(readableMessages(decodeResponseMessages(`event: message\ndata: ${json}\n`))).toStrictEqual([
      message,
    ]);
  });

  it('keeps an event without data (a keep-alive comment) as a readable-less event', () => {
    expect(decodeResponseMessages(': ping\n\n')).toStrictEqual({
      form: 'sse',
      events: [{ other: [': ping'], raw: '' }],
    });
  });
});

describe('encodeResponseMessages', () => {
  it('writes back an event whose data is not JSON as it came', () => {
    expect(roundTrip('id: 3\ndata: not json\n\n')).toBe('id: 3\ndata: not json\n\n');
  });

  it('writes no empty line inside an event', () => {
    const body = `event: message\ndata: ${json}\n`;

    expect(roundTrip(body)).toBe(`event: message\ndata: ${json}\n\n`);
  });

  it('writes a keep-alive comment back without data', () => {
    expect(roundTrip(': ping\n\nretry: 10\n\n')).toBe(': ping\n\nretry: 10\n\n');
  });
});
