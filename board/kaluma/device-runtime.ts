/**
 * The device client's runtime (board/kaluma/device-client.ts): Kaluma's net module and
 * the hardware RNG. Timers, text coding and the JS core the client takes from the
 * globals and src/core directly: it only ever runs in the device bundle.
 */
import type { KalumaNet, KalumaRp2 } from './kaluma';
import { rp2Random32 } from './rp2-random';

export interface DeviceRuntime {
  net: KalumaNet;
  /** 32 bits from rp2.randomBigInt (128 bits a call; Math.random repeats every boot). */
  random32(): number;
}

export function kalumaRuntime(net: KalumaNet, rp2: KalumaRp2): DeviceRuntime {
  return { net, random32: rp2Random32(rp2) };
}
