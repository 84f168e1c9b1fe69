import { AssertionSigningError } from './errors';

/**
 * KMS returns ECDSA signatures DER-encoded (ANSI X9.62, RFC 3279 §2.2.3: `SEQUENCE { INTEGER r, INTEGER s }`);
 * JWS wants the two integers as fixed-width big-endian bytes, R||S (RFC 7518 §3.4).
 *
 * Hand-written because node:crypto has no re-encoder: it can sign or verify in either encoding
 * (`dsaEncoding: 'der' | 'ieee-p1363'`) but never turn one into the other, and neither jose nor
 * aws-jwt-verify exports theirs. It is strict DER (one short-form SEQUENCE, two minimal positive INTEGERs
 * that fit the curve, nothing after), and the KMS signer still verifies every converted signature with
 * node:crypto in `ieee-p1363` mode against the published key before using it, so a conversion error can only
 * fail closed.
 */
export function derToJose(der: Uint8Array, size = 32): Buffer {
  const fail = (why: string): never => {
    throw new AssertionSigningError(`ECDSA signature is not valid DER: ${why}`);
  };
  // SEQUENCE tag, then a short-form length (a P-256 signature is at most 2 + 2 × (2 + 33) = 72 bytes).
  if (der.length < 8 || der[0] !== 0x30) fail('not a SEQUENCE');
  if (der[1] !== der.length - 2) fail('SEQUENCE length does not match');
  let offset = 2;
  const integer = (name: string): Buffer => {
    if (der[offset] !== 0x02) fail(`${name} is not an INTEGER`);
    const length = der[offset + 1] ?? 0;
    const start = offset + 2;
    const end = start + length;
    if (length === 0 || end > der.length) fail(`${name} length is out of range`);
    const bytes = Buffer.from(der.subarray(start, end));
    if ((bytes[0] as number) & 0x80) fail(`${name} is negative`);
    if (bytes[0] === 0 && length > 1 && !((bytes[1] as number) & 0x80))
      fail(`${name} is not minimally encoded`);
    const value = bytes[0] === 0 ? bytes.subarray(1) : bytes;
    if (value.length > size) fail(`${name} is longer than ${size} bytes`);
    offset = end;
    return Buffer.concat([Buffer.alloc(size - value.length), value]);
  };
  const r = integer('r');
  const s = integer('s');
  if (offset !== der.length) fail('bytes after the SEQUENCE');
  return Buffer.concat([r, s]);
}
