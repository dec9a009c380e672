/**
 * 32-bit random words from the RP2040's hardware RNG: rp2.randomBigInt() (Kaluma
 * 1.2.0+) gives 128 bits, four words a call. Math.random repeats every boot (an
 * unseeded libc rand(), kaluma.md §3): masks and keys never come from it.
 */
import type { KalumaRp2 } from './kaluma';

export function rp2Random32(rp2: KalumaRp2): () => number {
  const words = new Uint32Array(4);
  let pos = 4;
  const mask = BigInt(0xffffffff);
  const shift = BigInt(32);
  return () => {
    if (pos >= 4) {
      let r = rp2.randomBigInt();
      for (let i = 0; i < 4; i++) {
        words[i] = Number(r & mask);
        r = r >> shift;
      }
      pos = 0;
    }
    return words[pos++];
  };
}
