/**
 * SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept (RFC 6455 4.1): Kaluma has
 * no crypto module (platform/kaluma.md §5). Not for anything security-bearing.
 *
 * JerryScript-friendly: 32-bit arithmetic with `| 0` and `>>> 0`, no Math.imul,
 * and one preallocated 80-word message schedule, so a call allocates only its
 * 20-byte result. The padding is computed byte by byte instead of being copied.
 */
import { putUint32 } from '../bytes';

/** The message schedule, shared by every call (hashing is synchronous). */
const W = new Int32Array(80);

export function sha1(bytes: Uint8Array): Uint8Array {
  // Room for the data, the 0x80 byte and the 8-byte length, rounded up to 64-byte blocks.
  const n = bytes.length;
  const paddedLength = (((n + 8) >> 6) + 1) << 6;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;

  for (let block = 0; block < paddedLength; block += 64) {
    for (let i = block; i < block + 64; i++) {
      // Byte i of the padded message: data, then 0x80, zeros, and the 64-bit big-endian bit
      // length (fromEnd 0: its least significant byte), n * 8 split so that lengths beyond
      // 2^29 bytes stay exact.
      const fromEnd = paddedLength - 1 - i;
      const byte =
        i < n ? bytes[i]
        : i === n ? 0x80
        : fromEnd >= 8 ? 0
        : fromEnd < 4 ? (n << 3) >>> (fromEnd << 3)
        : Math.floor(n / 0x20000000) >>> ((fromEnd - 4) << 3);
      // Big-endian words: four shifts of 8 push whatever the word held before out of its 32 bits.
      W[(i & 63) >> 2] = (W[(i & 63) >> 2] << 8) | (byte & 0xff);
    }
    for (let t = 16; t < 80; t++) {
      const x = W[t - 3] ^ W[t - 8] ^ W[t - 14] ^ W[t - 16];
      W[t] = (x << 1) | (x >>> 31);
    }

    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      // Rounds 0-19: Ch; 20-39 and 60-79: Parity; 40-59: Maj. Each with its constant.
      const f = t < 20 ? (b & c) | (~b & d) : t < 40 || t >= 60 ? b ^ c ^ d : (b & c) | (b & d) | (c & d);
      const k = t < 20 ? 0x5a827999 : t < 40 ? 0x6ed9eba1 : t < 60 ? 0x8f1bbcdc | 0 : 0xca62c1d6 | 0;
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + W[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }

  const out = new Uint8Array(20);
  putUint32(out, 0, h0);
  putUint32(out, 4, h1);
  putUint32(out, 8, h2);
  putUint32(out, 12, h3);
  putUint32(out, 16, h4);
  return out;
}
