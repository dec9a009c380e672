/**
 * RFC 6455 5.3 masking for the plain-JS core: XOR bytes[start, end) in place with the
 * 4-byte key, starting at key phase 0. Key byte 0 is the most significant byte of `key`
 * (the order the key has on the wire). Unrolled by four: one key byte per lane, no
 * phase arithmetic per byte.
 */
export function maskJs(bytes: Uint8Array, start: number, end: number, key: number): void {
  const k0 = key >>> 24;
  const k1 = (key >>> 16) & 0xff;
  const k2 = (key >>> 8) & 0xff;
  const k3 = key & 0xff;
  let i = start;
  for (const last = end - 3; i < last; i += 4) {
    bytes[i] ^= k0;
    bytes[i + 1] ^= k1;
    bytes[i + 2] ^= k2;
    bytes[i + 3] ^= k3;
  }
  if (i < end) bytes[i++] ^= k0;
  if (i < end) bytes[i++] ^= k1;
  if (i < end) bytes[i] ^= k2;
}
