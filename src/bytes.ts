/**
 * Writes a 32-bit word big-endian (network order: RFC 6455 5.2 lengths and masking
 * key, SHA-1's digest, the liveness ping's sequence number). A Uint8Array store keeps
 * the low 8 bits, so no `& 0xff` is needed.
 */
export function putUint32(out: Uint8Array, at: number, word: number): void {
  out[at] = word >>> 24;
  out[at + 1] = word >>> 16;
  out[at + 2] = word >>> 8;
  out[at + 3] = word;
}
