/**
 * The Runtime on Node: the WebAssembly core, net/tls, real timers, crypto's RNG,
 * and Buffer's fast UTF-8 slicing for text the core has already validated.
 */
import { randomFillSync } from 'node:crypto';
import { systemClock } from '../../src/client/clock';
import type { Runtime } from '../../src/client/runtime';
import type { CorePreference } from '../../src/core/loader';
import { nodeCore } from './core';
import { NodeTransport, type NodeTransportOptions } from './transport';

/** Random words drawn from crypto in batches: one syscall per 256 masking keys. */
const pool = new Uint32Array(256);
let poolPos = pool.length;
export function cryptoRandom32(): number {
  if (poolPos >= pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  return pool[poolPos++];
}

// ignoreBOM: a text message may begin with U+FEFF, and it is the app's to see (fuzz case v197).
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Buffer.prototype.utf8Slice decodes without creating a view; plain Uint8Arrays go through TextDecoder. */
export function decodeText(bytes: Uint8Array, start: number, end: number): string {
  const b = bytes as Uint8Array & { utf8Slice?: (start: number, end: number) => string };
  if (typeof b.utf8Slice === 'function') return b.utf8Slice(start, end);
  return decoder.decode(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
}

export interface NodeRuntimeOptions extends NodeTransportOptions {
  core?: CorePreference;
}

export function nodeRuntime(options: NodeRuntimeOptions = {}): Runtime {
  return {
    core: nodeCore(options.core || 'auto'),
    transport: () => new NodeTransport(options),
    clock: systemClock,
    random32: cryptoRandom32,
    // Buffer.from and allocUnsafe slice Node's 8 KiB pool: a frame of 70 B is not an
    // off-heap allocation of its own, as a new Uint8Array over 64 B is (bench: echo).
    encodeText: (s) => Buffer.from(s, 'utf8'),
    allocBytes: (n) => Buffer.allocUnsafe(n),
    decodeText,
    tls: true,
  };
}
