/**
 * The device client's runtime (board/kaluma/device-client.ts): Kaluma's net module and
 * the hardware RNG. Timers, text coding and the JS core the client takes from the
 * globals and src/core directly: it only ever runs in the device bundle.
 */
import type { KalumaNet, KalumaRp2 } from './kaluma';

export interface DeviceRuntime {
  net: KalumaNet;
  /** 32 bits from rp2.randomBigInt (128 bits a call; Math.random repeats every boot). */
  random32(): number;
}

export function kalumaRuntime(net: KalumaNet, rp2: KalumaRp2): DeviceRuntime {
  const words = new Uint32Array(4);
  let pos = 4;
  const mask = BigInt(0xffffffff);
  const shift = BigInt(32);
  return {
    net,
    random32: () => {
      if (pos >= 4) {
        let r = rp2.randomBigInt();
        for (let i = 0; i < 4; i++) {
          words[i] = Number(r & mask);
          r = r >> shift;
        }
        pos = 0;
      }
      return words[pos++];
    },
  };
}
