/**
 * The Runtime on the Pico W under Kaluma 1.2.1: the JS twin of the core (no
 * WebAssembly), net.Socket, Kaluma's timers with a guarded clearTimeout, the
 * hardware RNG, and Kaluma's TextEncoder/TextDecoder (the decoder does not validate:
 * the core already has).
 */
import { createJsCore } from '../../src/core/js-core';
import type { Clock } from '../../src/client/clock';
import type { Runtime } from '../../src/client/runtime';
import type { KalumaNet, KalumaRp2 } from './kaluma';
import { KalumaTransport } from './transport';

declare const millis: (() => number) | undefined;

/** millis() counts from boot; Date.now() follows an AON timer that may be set later. */
export const kalumaClock: Clock = {
  now: () => (typeof millis === 'function' ? millis() : Date.now()),
  after: (ms, fn) => setTimeout(fn, ms),
  // Kaluma's clearTimeout(undefined) throws a TypeError.
  cancel: (h) => {
    if (h !== undefined && h !== null) clearTimeout(h as ReturnType<typeof setTimeout>);
  },
};

export function kalumaRuntime(net: KalumaNet, rp2: KalumaRp2): Runtime {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder('utf-8');
  // random32: the hardware RNG, four 32-bit words per randomBigInt() call (128 bits).
  // Math.random repeats every boot: never used. (Here, not in a function of its own: its
  // state shares the environment the other closures below keep alive anyway.)
  const words = new Uint32Array(4);
  let pos = 4;
  const mask = BigInt(0xffffffff);
  const shift = BigInt(32);
  return {
    core: createJsCore(),
    transport: () => new KalumaTransport(net),
    clock: kalumaClock,
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
    encodeText: (s) => encoder.encode(s),
    // Kaluma's decode accepts only a Uint8Array (a subarray view costs 32 B).
    decodeText: (b, start, end) => decoder.decode(start === 0 && end === b.length ? b : b.subarray(start, end)),
    tls: false,
    volatileChunks: true,
  };
}
