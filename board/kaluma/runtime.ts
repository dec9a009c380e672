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
import { rp2Random32 } from './rp2-random';
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
  return {
    core: createJsCore(),
    transport: () => new KalumaTransport(net),
    clock: kalumaClock,
    random32: rp2Random32(rp2),
    encodeText: (s) => encoder.encode(s),
    // Kaluma's decode accepts only a Uint8Array (a subarray view costs 32 B).
    decodeText: (b, start, end) => decoder.decode(start === 0 && end === b.length ? b : b.subarray(start, end)),
    tls: false,
    volatileChunks: true,
  };
}
