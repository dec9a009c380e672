/**
 * require('rp2').randomBigInt() (1.2.0+): 128 bits from pico-sdk get_rand_128, which
 * seeds itself from hardware entropy, so every board and every boot differs. Here a
 * splitmix64 stream seeded from (board seed, boot number) stands in: distinct per
 * board and per boot, yet reproducible for a given seed.
 */
const MASK64 = (BigInt(1) << BigInt(64)) - BigInt(1);

export class SplitMix64 {
  private state: bigint;

  constructor(...seeds: number[]) {
    let s = BigInt('0x9e3779b97f4a7c15');
    for (const x of seeds) s = (s * BigInt(0x100000001b3) + BigInt(Math.floor(x)) + BigInt('0x632be59bd9b4e019')) & MASK64;
    this.state = s;
  }

  next64(): bigint {
    this.state = (this.state + BigInt('0x9e3779b97f4a7c15')) & MASK64;
    let z = this.state;
    z = ((z ^ (z >> BigInt(30))) * BigInt('0xbf58476d1ce4e5b9')) & MASK64;
    z = ((z ^ (z >> BigInt(27))) * BigInt('0x94d049bb133111eb')) & MASK64;
    return z ^ (z >> BigInt(31));
  }
}

export class Rp2Module {
  constructor(
    private readonly rng: SplitMix64,
    private readonly live: () => boolean,
  ) {}

  randomBigInt(): bigint {
    if (!this.live()) return BigInt(0);
    return (this.rng.next64() << BigInt(64)) | this.rng.next64();
  }
}
