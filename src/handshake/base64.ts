/**
 * Standard base64 (RFC 4648 section 4) for the handshake's short values
 * (a 16-byte key, a 20-byte digest). Kaluma's btoa cannot be used: it inserts a
 * newline every 72 characters and returns undefined for empty input
 * (platform/kaluma.md §5). Strings are built by concatenation, which is fine for
 * these sizes; do not use this for bulk data.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Padded, no line breaks. */
export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  const n = bytes.length;
  for (let i = 0; i < n; i += 3) {
    // Past the end a Uint8Array reads undefined, which << and | take as 0.
    const triple = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out +=
      ALPHABET[triple >> 18] +
      ALPHABET[(triple >> 12) & 63] +
      (i + 1 < n ? ALPHABET[(triple >> 6) & 63] : '=') +
      (i + 2 < n ? ALPHABET[triple & 63] : '=');
  }
  return out;
}

/** The 6-bit value of a base64 character code, or -1. */
function sextet(c: number): number {
  if (c >= 65 && c <= 90) return c - 65; // A-Z
  if (c >= 97 && c <= 122) return c - 71; // a-z
  if (c >= 48 && c <= 57) return c + 4; // 0-9
  if (c === 43) return 62; // +
  if (c === 47) return 63; // /
  return -1;
}

/**
 * Strict: accepts only the canonical padded encoding (what base64Encode makes).
 * Throws a TypeError on a length that is not a multiple of 4, any character
 * outside the alphabet (whitespace and the URL-safe '-' '_' included), '=' other
 * than as the last one or two characters, or non-zero bits in the last
 * character's unused low bits (RFC 4648 3.5 lets decoders reject those).
 */
export function base64Decode(s: string): Uint8Array {
  const len = s.length;
  if (len & 3) throw new TypeError('base64: length is not a multiple of 4');
  const pad = len === 0 ? 0 : s.charCodeAt(len - 1) !== 61 ? 0 : s.charCodeAt(len - 2) !== 61 ? 1 : 2;
  const out = new Uint8Array((len >> 2) * 3 - pad);
  let o = 0;
  for (let i = 0; i < len; i += 4) {
    let quad = 0;
    // In the last group, the padding characters count as zero bits.
    const digits = i + 4 === len ? 4 - pad : 4;
    for (let j = 0; j < 4; j++) {
      let v = 0;
      if (j < digits) {
        v = sextet(s.charCodeAt(i + j));
        if (v < 0) throw new TypeError('base64: invalid character at ' + (i + j));
      }
      quad = (quad << 6) | v;
    }
    // The bits that padding stands for must be zero (3 digits: 8 bits, 2 digits: 16).
    if (quad & (digits === 4 ? 0 : digits === 3 ? 0xff : 0xffff)) {
      throw new TypeError('base64: non-zero bits after the last byte');
    }
    out[o++] = quad >> 16;
    if (o < out.length) out[o++] = quad >> 8;
    if (o < out.length) out[o++] = quad;
  }
  return out;
}
