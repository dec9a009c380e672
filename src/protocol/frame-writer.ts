/**
 * Client-to-server frames (RFC 6455 5.2): header, masking key and masked payload
 * built in one Uint8Array, so the I/O layer writes each frame with one call and
 * nothing else is allocated for it.
 */
import { putUint32 } from '../bytes';
import type { Core } from '../core/types';

/** FIN bit of a frame's first byte. */
export const FIN = 0x80;

/** Bytes of header (including the 4-byte masking key) before a payload of `length` bytes. */
export function maskedHeaderSize(length: number): number {
  // RFC 6455 5.2: the minimal length encoding; a client always adds the 4-byte key.
  return length < 126 ? 6 : length < 65536 ? 8 : 14;
}

/**
 * One masked frame carrying payload[start, end). `firstByte` is FIN | opcode.
 * `key` is a fresh 32-bit masking key (RFC 6455 5.3: unpredictable, one per frame);
 * its most significant byte is the first key byte on the wire, as core.mask expects.
 */
export function buildMaskedFrame(firstByte: number, payload: Uint8Array, start: number, end: number, key: number, core: Core, alloc?: (n: number) => Uint8Array): Uint8Array {
  const length = end - start;
  const header = maskedHeaderSize(length);
  // Every byte is written below, so a runtime may hand out uninitialised pooled memory.
  const frame = alloc ? alloc(header + length) : new Uint8Array(header + length);
  frame[0] = firstByte;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    // 64-bit length, top bit clear (RFC 6455 5.2); JS lengths stay below 2^53.
    frame[1] = 0x80 | 127;
    putUint32(frame, 2, Math.floor(length / 0x100000000));
    putUint32(frame, 6, length);
  }
  putUint32(frame, header - 4, key);
  if (length > 0) {
    // set() is a native copy; a view is only made for a fragment of a larger message.
    frame.set(start === 0 && end === payload.length ? payload : payload.subarray(start, end), header);
    core.mask(frame, header, header + length, key);
  }
  return frame;
}
