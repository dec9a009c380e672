/**
 * Payload masking (RFC 6455 5.3): XOR with the 4-byte key, key byte 0 first.
 * The key arrives as a 32-bit number whose most significant byte is key byte 0
 * (as on the wire); wasm memory is little-endian, so it is byte-swapped once.
 */
export function maskBytes(p: usize, len: i32, key: u32): void {
  const word = bswap<u32>(key);
  const end = p + <usize>len;
  const keyVector = i32x4.splat(word);
  while (end - p >= 64) {
    v128.store(p, v128.xor(v128.load(p), keyVector));
    v128.store(p, v128.xor(v128.load(p, 16), keyVector), 16);
    v128.store(p, v128.xor(v128.load(p, 32), keyVector), 32);
    v128.store(p, v128.xor(v128.load(p, 48), keyVector), 48);
    p += 64;
  }
  while (end - p >= 16) {
    v128.store(p, v128.xor(v128.load(p), keyVector));
    p += 16;
  }
  while (end - p >= 4) {
    store<u32>(p, load<u32>(p) ^ word);
    p += 4;
  }
  // Fewer than 4 bytes left, at key phase 0: key bytes 0, 1, 2.
  let shifted = word;
  while (p < end) {
    store<u8>(p, load<u8>(p) ^ <u8>shifted);
    shifted >>>= 8;
    p++;
  }
}
