/**
 * What the client needs from the runtime it runs on, injected so one client serves
 * Node, the Pico W and virtual-time tests. Board adapters build one of these.
 */
import { putUint32 } from '../bytes';
import type { Core } from '../core/types';
import type { Clock } from './clock';
import type { TransportFactory } from './transport';

export interface Runtime {
  core: Core;
  transport: TransportFactory;
  clock: Clock;
  /** 32 bits from a strong RNG: masking keys and Sec-WebSocket-Key (Kaluma: rp2.randomBigInt, never Math.random). */
  random32(): number;
  encodeText(s: string): Uint8Array;
  /** Where outgoing frames are built (optional; Node hands out pooled Buffer memory). */
  allocBytes?(n: number): Uint8Array;
  /** Decodes bytes the core has already validated as UTF-8. */
  decodeText(bytes: Uint8Array, start: number, end: number): string;
  /** Whether wss:// is possible here (Kaluma: no TLS). */
  tls: boolean;
  /** Received chunks are freed after the data callback (Kaluma's live in the C heap): binary views handed to the app are copied. */
  volatileChunks?: boolean;
}

/** `n` random bytes from the runtime's strong RNG, 32 bits at a time (a Uint8Array ignores the writes past its end). */
export function randomBytes(rt: Runtime, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) putUint32(out, i, rt.random32());
  return out;
}

/** A received binary view the app may keep: copied when the runtime frees its chunks (new Uint8Array(view) copies; view.slice() would not for a Node Buffer). */
export function keepable(rt: Runtime, data: Uint8Array): Uint8Array {
  return rt.volatileChunks ? new Uint8Array(data) : data;
}

/** What send() takes from plain JS: text, or bytes (an ArrayBuffer as its bytes); anything else is a TypeError. */
export function sendable(data: string | Uint8Array | ArrayBuffer): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(PICOWS_DEVICE ? 'send()' : 'picows: send() takes a string, a Uint8Array or an ArrayBuffer');
}
