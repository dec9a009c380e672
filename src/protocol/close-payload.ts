/**
 * The Close frame's payload (RFC 6455 5.5.1, 7.4): an optional 2-byte status code,
 * then an optional UTF-8 reason. Which codes may travel is decided in one place,
 * isSendableCloseCode (src/errors.ts), the same rule the core applies to what the
 * server sends: 1005, 1006 and 1015 are never on the wire in either direction.
 */
import { isSendableCloseCode, PicowsError } from '../errors';

/** The code reported when a Close frame carried no status code (RFC 6455 7.1.5). Local only. */
export const NO_STATUS_CODE = 1005;

/** A control frame's payload is at most 125 bytes (RFC 6455 5.5), 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Codes an application may pass to close(): 1000 or 3000-4999 (the WHATWG WebSocket API's rule). */
export function isApplicationCloseCode(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

/**
 * Why close arguments cannot be sent, or '' when they can. `code` undefined means
 * "no status code" (an empty Close payload), which then cannot carry a reason
 * (RFC 6455 5.5.1: the reason follows the code). `anyWireCode` admits every code
 * that may be on the wire (1001, 1002, 1007, 1009, 1011...) for picows' own use.
 * The device build (src/device.d.ts) says only which argument is wrong.
 */
export function closeArgsProblem(code: number | undefined, reasonBytes: number, anyWireCode?: boolean): string {
  if (code === undefined) return reasonBytes > 0 ? (PICOWS_DEVICE ? 'reason' : 'a reason needs a code') : '';
  if (code !== Math.floor(code) || !(anyWireCode ? isSendableCloseCode(code) : isApplicationCloseCode(code))) return PICOWS_DEVICE ? 'code' : 'code ' + code + ' may not be sent';
  if (reasonBytes > MAX_CLOSE_REASON_BYTES) return PICOWS_DEVICE ? 'reason' : 'the reason is ' + reasonBytes + ' UTF-8 bytes (at most ' + MAX_CLOSE_REASON_BYTES + ')';
  return '';
}

/**
 * Checks close arguments for close() and sendClose(), one rule for both: throws
 * INVALID_CLOSE_ARGS with closeArgsProblem's answer. Returns the reason's UTF-8 bytes
 * (null without a reason).
 */
export function closeReasonBytes(code: number | undefined, reason: string | undefined, anyWireCode: boolean | undefined, encodeText: (s: string) => Uint8Array): Uint8Array | null {
  const bytes = reason ? encodeText(reason) : null;
  const problem = closeArgsProblem(code, bytes ? bytes.length : 0, anyWireCode);
  if (problem) throw new PicowsError('INVALID_CLOSE_ARGS', { code, reason, problem });
  return bytes;
}

/** The payload of a Close frame: empty without a code, else the code big-endian then the reason. */
export function encodeClosePayload(code: number | undefined, reason: Uint8Array | null): Uint8Array {
  if (code === undefined || code === NO_STATUS_CODE) return new Uint8Array(0);
  const n = reason ? reason.length : 0;
  const out = new Uint8Array(2 + n);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  if (reason) out.set(reason, 2);
  return out;
}

/**
 * The status code of a received Close payload bytes[start, end): 1005 when it is
 * empty, -1 when it cannot be valid (one byte, or a code that may not be sent).
 * The core already rejects those; checking again costs one call per connection.
 */
export function parseCloseCode(bytes: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n === 0) return NO_STATUS_CODE;
  if (n === 1) return -1;
  const code = (bytes[start] << 8) | bytes[start + 1];
  return isSendableCloseCode(code) ? code : -1;
}
