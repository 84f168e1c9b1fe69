import {
  auditArguments,
  DEFAULT_REDACTED_KEYS,
  DEFAULT_REDACTION,
  DEFAULT_VALUE_PATTERNS,
  REDACTED,
  type RedactionConfig,
  redactString,
  redactValue,
} from '../../lambda/core/redaction';

const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

describe('redaction by key', () => {
  it('replaces a secret with a visible marker', () => {
    const redacted = redactValue({ password: 'hunter2' }, DEFAULT_REDACTION);

    expect(redacted).toStrictEqual({ password: '[REDACTED]' });
  });

  it.each([
    'password',
    'passwd',
    'secret',
    'token',
    'access_token',
    'refresh_token',
    'id_token',
    'api_key',
    'authorization',
    'cookie',
    'private_key',
    'client_secret',
  ])('replaces the value under the default key %s', (key) => {
    // Arrange
    const args = { [key]: 'hunter2', note: 'kept' };

    // Act
    const redacted = redactValue(args, DEFAULT_REDACTION);

    // Assert
    expect(redacted).toStrictEqual({ [key]: REDACTED, note: 'kept' });
  });

  it('redacts every default key, and only those, in one object', () => {
    const args = Object.fromEntries(DEFAULT_REDACTED_KEYS.map((key) => [key, { nested: 'value' }]));

    const redacted = redactValue({ ...args, username: 'alice' }, DEFAULT_REDACTION);

    expect(redacted).toStrictEqual({
      ...Object.fromEntries(DEFAULT_REDACTED_KEYS.map((key) => [key, REDACTED])),
      username: 'alice',
    });
  });

  it.each([
    ['clientSecret', 'camel case'],
    ['ClientSecret', 'pascal case'],
    ['CLIENT_SECRET', 'upper case'],
    ['client-secret', 'a hyphen'],
    ['private-key', 'a hyphen'],
    ['client.secret', 'a dot'],
    ['client secret', 'a space'],
    ['client\tsecret', 'a tab'],
    ['refresh__token', 'two underscores'],
    ['Id-Token.', 'a hyphen and a trailing dot'],
    ['p-r-i-v-a-t-e_k.e y', 'a separator between every letter'],
    ['ＡＰＩ＿ＫＥＹ', 'full-width compatibility forms'],
    ['clıent_secret', 'a dotless i, which a tool upper-casing names reads as I'],
  ])('matches %j (%s) to a default key', (key) => {
    const redacted = redactValue({ [key]: 'hunter2' }, DEFAULT_REDACTION);

    expect(redacted).toStrictEqual({ [key]: REDACTED });
  });

  it('folds configured keys the same way as argument keys', () => {
    const config: RedactionConfig = { ...DEFAULT_REDACTION, keys: ['Card-Number'], valuePatterns: [] };

    const redacted = redactValue({ card_number: '4111', cardNumberHint: 'visa' }, config);

    expect(redacted).toStrictEqual({ card_number: REDACTED, cardNumberHint: 'visa' });
  });

  it('does not redact a key that merely contains a secret word', () => {
    const redacted = redactValue({ password_hint: 'pet', tokens_used: 3 }, DEFAULT_REDACTION);

    expect(redacted).toStrictEqual({ password_hint: 'pet', tokens_used: 3 });
  });

  it('redacts secret keys inside arrays of objects', () => {
    const redacted = redactValue({ items: [{ cookie: 'c', id: 1 }, 'plain', 7] }, DEFAULT_REDACTION);

    expect(redacted).toStrictEqual({ items: [{ cookie: REDACTED, id: 1 }, 'plain', 7] });
  });
});

describe('redaction by value pattern', () => {
  it('replaces every match of a configured pattern that has no g flag, not only the first', () => {
    const value = 'cards 4111-1111 and 5500-0000 and 3400-0000';

    const redacted = redactString(value, [/\d{4}-\d{4}/]);

    expect(redacted).toBe(`cards ${REDACTED} and ${REDACTED} and ${REDACTED}`);
  });

  it('keeps the other flags of a pattern without g', () => {
    const redacted = redactString('Secret-A and SECRET-B', [/secret-[a-z]/i]);

    expect(redacted).toBe(`${REDACTED} and ${REDACTED}`);
  });

  it('replaces every match of a global pattern', () => {
    const redacted = redactString('x1 x2 x3', [/x\d/g]);

    expect(redacted).toBe(`${REDACTED} ${REDACTED} ${REDACTED}`);
  });

  it('applies every pattern in turn', () => {
    const redacted = redactString('a1 b2', [/a\d/, /b\d/g]);

    expect(redacted).toBe(`${REDACTED} ${REDACTED}`);
  });

  it.each([
    ['a whole JWT', `token ${jwt} here`, `token ${REDACTED} here`],
    ['two JWTs', `${jwt},${jwt}`, `${REDACTED},${REDACTED}`],
    [
      'an unsecured JWT with an empty signature',
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0. next',
      `${REDACTED} next`,
    ],
    ['a JWT with minimal header and payload', 'eyJabcde.fghij.k', REDACTED],
    ['a bearer credential', 'Authorization: Bearer abcdefghijklmnop0123', `Authorization: ${REDACTED}`],
    ['a lower-case bearer credential', 'bearer abcdefghijklmnop', REDACTED],
    ['a bearer credential after two spaces', 'Bearer  abcdefghijklmnop', REDACTED],
    ['a bearer credential after a tab', 'Bearer\tabc.def_ghi~jkl+mno/p=-', REDACTED],
    [
      'two bearer credentials',
      'Bearer aaaaaaaaaaaaaaaa; Bearer bbbbbbbbbbbbbbbb',
      `${REDACTED}; ${REDACTED}`,
    ],
    ['an AWS access key id', 'key AKIAABCDEFGHIJKLMNOP used', `key ${REDACTED} used`],
    ['an AWS session key id', 'ASIA0123456789ABCDEF', REDACTED],
    ['two AWS key ids', 'AKIAABCDEFGHIJKLMNOP/ASIAABCDEFGHIJKLMNOP', `${REDACTED}/${REDACTED}`],
  ])('redacts %s', (_label, value, expected) => {
    const redacted = redactString(value, DEFAULT_VALUE_PATTERNS);

    expect(redacted).toBe(expected);
  });

  it.each([
    ['a short eyJ word', 'eyJabc.def.ghi'],
    ['a JWT-like text without a second dot', 'eyJabcdefgh.ijklmnop'],
    ['a short bearer value', 'Bearer abcdefghijklmno'],
    ['a bearer word inside another word', 'xBearer abcdefghijklmnopqrst'],
    ['bearer with no space', 'Bearerabcdefghijklmnopqrst'],
    ['a key-id prefix that is too short', 'AKIAABCDEFGHIJKLMNO'],
    ['a key-id inside a longer word', 'AKIAABCDEFGHIJKLMNOPQ'],
    ['a key-id prefix glued to a word', 'xAKIAABCDEFGHIJKLMNOP'],
    ['a lower-case key-id', 'akiaabcdefghijklmnop'],
    ['another four-letter prefix', 'AKIBABCDEFGHIJKLMNOP'],
  ])('leaves %s alone', (_label, value) => {
    const redacted = redactString(value, DEFAULT_VALUE_PATTERNS);

    expect(redacted).toBe(value);
  });
});

describe('redactValue', () => {
  it('redacts token-shaped text in keys as well as values', () => {
    const redacted = redactValue({ [jwt]: 'v', nested: { [`k ${jwt}`]: jwt } }, DEFAULT_REDACTION);

    expect(redacted).toStrictEqual({ [REDACTED]: 'v', nested: { [`k ${REDACTED}`]: REDACTED } });
  });

  it('passes numbers, booleans and null through unchanged', () => {
    const redacted = redactValue({ n: 1, b: false, z: null, list: [null, 0, true] }, DEFAULT_REDACTION);

    expect(redacted).toStrictEqual({ n: 1, b: false, z: null, list: [null, 0, true] });
  });

  it('returns copies, never the input objects', () => {
    const inner = { a: 'x' };
    const list = [inner];
    const input = { inner, list };

    const redacted = redactValue(input, DEFAULT_REDACTION) as typeof input;

    expect(redacted).toStrictEqual(input);
    expect(redacted).not.toBe(input);
    expect(redacted.inner).not.toBe(inner);
    expect(redacted.list).not.toBe(list);
  });

  it('walks 32 levels below the root and cuts off the level below', () => {
    // Arrange: the object at depth 32 is still walked; the one at depth 33 is replaced.
    let walked: unknown = { password: 'p', deeper: { x: 1 } };
    for (let depth = 0; depth < 32; depth += 1) walked = { d: walked };

    // Act
    let node = redactValue(walked, DEFAULT_REDACTION) as Record<string, unknown>;
    for (let depth = 0; depth < 32; depth += 1) node = node.d as Record<string, unknown>;

    // Assert
    expect(node).toStrictEqual({ password: REDACTED, deeper: '[TOO DEEP]' });
  });

  it('cuts off arrays below the depth limit as well', () => {
    let nested: unknown = ['x'];
    for (let depth = 0; depth < 33; depth += 1) nested = [nested];

    let node = redactValue(nested, DEFAULT_REDACTION) as unknown[];
    for (let depth = 0; depth < 32; depth += 1) node = node[0] as unknown[];

    expect(node).toStrictEqual(['[TOO DEEP]']);
  });

  it('redacts a bare string', () => {
    expect(redactValue(`x ${jwt}`, DEFAULT_REDACTION)).toBe(`x ${REDACTED}`);
  });
});

describe('auditArguments', () => {
  it('records values with redactions in values mode', () => {
    const recorded = auditArguments({ password: 'p', q: jwt, n: 1 }, DEFAULT_REDACTION);

    expect(recorded).toStrictEqual({ password: REDACTED, q: REDACTED, n: 1 });
  });

  it('records only the argument names in names mode, redacting token-shaped names', () => {
    const recorded = auditArguments(
      { password: 'p', [jwt]: 1, q: 'x' },
      { ...DEFAULT_REDACTION, arguments: 'names' },
    );

    expect(recorded).toStrictEqual(['password', REDACTED, 'q']);
  });

  it('records nothing in none mode', () => {
    const recorded = auditArguments({ password: 'p' }, { ...DEFAULT_REDACTION, arguments: 'none' });

    expect(recorded).toBeUndefined();
  });
});
