import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { derToJose } from '../../lambda/core/ecdsa-signature';
import { AssertionSigningError } from '../../lambda/core/errors';

/** DER INTEGER of an unsigned big-endian value: minimal, with a 0x00 in front when the high bit is set. */
function derInteger(value: Uint8Array): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start += 1;
  const trimmed = Buffer.from(value.subarray(start));
  const body = (trimmed[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

function derSignature(r: Uint8Array, s: Uint8Array): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

const fill = (byte: number, length = 32) => new Uint8Array(length).fill(byte);
const rejects = (der: Uint8Array, why: string) =>
  expect(() => derToJose(der)).toThrow(new AssertionSigningError(`ECDSA signature is not valid DER: ${why}`));

describe('derToJose', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  it('turns node:crypto DER signatures into R||S that node:crypto verifies as ieee-p1363', () => {
    // 400 signatures: about 1 in 128 has an r or s shorter than 32 bytes, so short integers are met too.
    for (let index = 0; index < 400; index += 1) {
      const message = Buffer.from(`message ${index}`);
      const der = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
      const jose = derToJose(der);
      expect(jose).toHaveLength(64);
      expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose)).toBe(true);
      expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
    }
  });

  it('round-trips any r and s of up to 32 bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (r, s) => {
          expect(derToJose(derSignature(r, s))).toStrictEqual(Buffer.concat([r, s]));
        },
      ),
    );
  });

  it('pads short integers on the left and strips the sign byte', () => {
    const r = new Uint8Array(32);
    r[31] = 1; // r = 1: one byte in DER
    const s = fill(0xff); // high bit: 33 bytes in DER
    const der = derSignature(r, s);
    expect(der.toString('hex')).toBe(`3026020101022100${'ff'.repeat(32)}`);
    expect(derToJose(der).toString('hex')).toBe(`${'00'.repeat(31)}01${'ff'.repeat(32)}`);
  });

  it('takes a signature of exactly 8 bytes (two one-byte integers)', () => {
    expect(derToJose(Buffer.from('3006020101020102', 'hex')).toString('hex')).toBe(
      `${'00'.repeat(31)}01${'00'.repeat(31)}02`,
    );
  });

  it('honours another size (P-384: 48 bytes each)', () => {
    const r = fill(0x11, 48);
    const s = fill(0x22, 48);
    expect(derToJose(derSignature(r, s), 48)).toStrictEqual(Buffer.concat([r, s]));
    rejects(derSignature(r, s), 'r is longer than 32 bytes');
  });

  it.each([
    ['too short', '30050201010201', 'not a SEQUENCE'],
    ['not a SEQUENCE', '3106020101020101', 'not a SEQUENCE'],
    ['SEQUENCE longer than the bytes', '3007020101020101', 'SEQUENCE length does not match'],
    ['SEQUENCE shorter than the bytes', '300502010102010100', 'SEQUENCE length does not match'],
    ['r not an INTEGER', '3006030101020101', 'r is not an INTEGER'],
    ['s not an INTEGER', '3006020101030101', 's is not an INTEGER'],
    ['r of length 0', '3006020002020101', 'r length is out of range'],
    ['s running past the end', '3006020101020201', 's length is out of range'],
    ['s with no length byte', '3006020301020302', 's length is out of range'],
    ['r negative', '3006020181020101', 'r is negative'],
    ['s negative', '3006020101020180', 's is negative'],
    ['r with a needless leading zero', '300702020001020101', 'r is not minimally encoded'],
    ['bytes after s', '30080201010201010000', 'bytes after the SEQUENCE'],
  ])('refuses %s', (_, hex, why) => {
    rejects(Buffer.from(hex, 'hex'), why);
  });

  it('refuses content after s even when the SEQUENCE length counts it', () => {
    rejects(Buffer.from('3008020101020101ffff', 'hex'), 'bytes after the SEQUENCE');
  });

  it('accepts a single zero byte as an integer (the verify step refuses r = 0 later)', () => {
    expect(derToJose(Buffer.from('3006020100020101', 'hex')).toString('hex')).toBe(
      `${'00'.repeat(32)}${'00'.repeat(31)}01`,
    );
  });

  it('refuses a 33-byte value even when its high bit is clear', () => {
    const body = Buffer.concat([Buffer.from([0x02, 33, 0x01]), Buffer.alloc(32, 0)]);
    const s = Buffer.from('020101', 'hex');
    const der = Buffer.concat([Buffer.from([0x30, body.length + s.length]), body, s]);
    rejects(der, 'r is longer than 32 bytes');
  });

  it('refuses a 33-byte value after its sign byte', () => {
    const body = Buffer.concat([Buffer.from([0x02, 34, 0x00]), Buffer.alloc(33, 0x80)]);
    const s = Buffer.from('020101', 'hex');
    rejects(
      Buffer.concat([Buffer.from([0x30, body.length + s.length]), body, s]),
      'r is longer than 32 bytes',
    );
  });
});
