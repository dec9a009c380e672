/**
 * mulberry32: the one small seeded PRNG of the host-side tools (the simulator's fault
 * model, the fault proxy's corruption, the storm's per-client jitter, the tests'
 * virtual net). Same sequence on every platform for a given seed; not for secrets:
 * the device's keys come from rp2.randomBigInt(), Node's from crypto.
 */

/** One 32-bit unsigned word per call. */
export function mulberry32Words(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A number in [0, 1) per call. */
export function mulberry32(seed: number): () => number {
  const words = mulberry32Words(seed);
  return () => words() / 4294967296;
}
