/**
 * The protocol's building blocks: masked frames (RFC 6455 5.2, 5.3) and Close
 * payloads (5.5.1, 7.4), on both cores. Expected frames come from the shared
 * server-side builders in test/vectors/build.ts, an independent encoding.
 */
import { describe, expect, it } from 'vitest';
import { nodeCore } from '../board/node/core';
import { isSendableCloseCode } from '../src/errors';
import { E_INVALID_CLOSE_CODE, E_CLOSE_PAYLOAD_ONE_BYTE } from '../src/core/error-ids';
import { EV_ERROR } from '../src/core/types';
import { buildMaskedFrame, FIN, maskedHeaderSize } from '../src/protocol/frame-writer';
import {
  closeArgsProblem, encodeClosePayload, isApplicationCloseCode, MAX_CLOSE_REASON_BYTES, NO_STATUS_CODE, parseCloseCode,
} from '../src/protocol/close-payload';
import { closePayload, concat, frame, header, utf8, xorMask } from './vectors/build';

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

describe('maskedHeaderSize', () => {
  it.each([
    [0, 6], [125, 6], [126, 8], [65535, 8], [65536, 14], [2 ** 32, 14],
  ])('a %d-byte payload needs a %d-byte header (minimal length form + 4-byte key)', (length, size) => {
    expect(maskedHeaderSize(length)).toBe(size);
  });
});

describe.each(['js', 'wasm'] as const)('buildMaskedFrame on the %s core', (kind) => {
  const core = nodeCore(kind);

  it.each([0, 1, 5, 125, 126, 127, 504, 65535, 65536, 70001])('a %d-byte payload: minimal header, key, payload XORed from phase 0', (n) => {
    const payload = pattern(n);
    const key = 0x9abcdef0;
    const built = buildMaskedFrame(FIN | 0x2, payload, 0, n, key, core);
    expect(built).toEqual(concat([header({ opcode: 0x2, length: n, maskKey: key }), xorMask(payload, key)]));
  });

  it('frames a slice of a larger message without touching the message', () => {
    const message = pattern(300);
    const copy = message.slice();
    const built = buildMaskedFrame(0x0, message, 100, 250, 0x01020304, core);
    expect(built).toEqual(concat([header({ opcode: 0x0, fin: false, length: 150, maskKey: 0x01020304 }), xorMask(message.subarray(100, 250), 0x01020304)]));
    expect(message).toEqual(copy);
  });

  it.each([0, 0xffffffff, -1, -0x7fffffff, 0x80000000])('writes key %d as its 32 bits, most significant byte first', (key) => {
    const payload = utf8('masked!');
    const built = buildMaskedFrame(FIN | 0x1, payload, 0, payload.length, key, core);
    expect(built).toEqual(frame(0x1, payload, { maskKey: key >>> 0 }));
  });
});

describe('Close payloads', () => {
  it('has no payload without a code, and never carries 1005', () => {
    expect(encodeClosePayload(undefined, null)).toEqual(new Uint8Array(0));
    expect(encodeClosePayload(NO_STATUS_CODE, null)).toEqual(new Uint8Array(0));
  });

  it('puts the code big-endian before the reason', () => {
    expect(encodeClosePayload(1000, null)).toEqual(closePayload(1000));
    expect(encodeClosePayload(4999, utf8('bye é'))).toEqual(closePayload(4999, 'bye é'));
  });

  it('parses an empty payload as 1005, and rejects one byte and codes that may not be sent', () => {
    expect(parseCloseCode(new Uint8Array(0), 0, 0)).toBe(1005);
    expect(parseCloseCode(Uint8Array.of(0x03), 0, 1)).toBe(-1);
    expect(parseCloseCode(Uint8Array.of(9, 9, 0x03, 0xe8, 0x68, 0x69), 2, 6)).toBe(1000);
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
      expect(parseCloseCode(closePayload(code), 0, 2)).toBe(-1);
    }
  });

  it('agrees with the core on every code the server might send', () => {
    // One rule both directions: parseCloseCode and the core's INVALID_CLOSE_CODE must never disagree.
    for (const kind of ['js', 'wasm'] as const) {
      const v = nodeCore(kind).createValidator();
      for (let code = 0; code < 65536; code += code < 5200 ? 1 : 97) {
        v.reset();
        const bytes = frame(0x8, closePayload(code));
        const n = v.scan(bytes, 0);
        const coreRejects = n > 0 && v.events[(n - 1) * 4] === EV_ERROR;
        if (coreRejects) expect(v.events[(n - 1) * 4 + 1]).toBe(E_INVALID_CLOSE_CODE);
        expect([kind, code, parseCloseCode(bytes, 2, 4) < 0]).toEqual([kind, code, coreRejects]);
      }
      v.reset();
      const one = frame(0x8, Uint8Array.of(3));
      const n = v.scan(one, 0);
      expect(v.events[(n - 1) * 4 + 1]).toBe(E_CLOSE_PAYLOAD_ONE_BYTE);
      expect(parseCloseCode(one, 2, 3)).toBe(-1);
      v.dispose();
    }
  });

  it('lets the application use 1000 and 3000-4999 only (the WHATWG rule)', () => {
    for (let code = 0; code < 6000; code++) {
      expect([code, isApplicationCloseCode(code)]).toEqual([code, code === 1000 || (code >= 3000 && code <= 4999)]);
      // Everything an application may send may be on the wire.
      if (isApplicationCloseCode(code)) expect(isSendableCloseCode(code)).toBe(true);
    }
  });

  it.each([
    [1000, 0, false, ''],
    [undefined, 0, false, ''],
    [4999, MAX_CLOSE_REASON_BYTES, false, ''],
    [undefined, 1, false, 'a reason needs a code'],
    [1000, MAX_CLOSE_REASON_BYTES + 1, false, 'the reason is 124 UTF-8 bytes (at most 123)'],
    [1001, 0, false, 'code 1001 may not be sent'],
    [1001, 0, true, ''],
    [1011, 0, true, ''],
    [1005, 0, true, 'code 1005 may not be sent'],
    [1006, 0, true, 'code 1006 may not be sent'],
    [1015, 0, true, 'code 1015 may not be sent'],
    [2999, 0, false, 'code 2999 may not be sent'],
    [5000, 0, false, 'code 5000 may not be sent'],
    [1000.5, 0, false, 'code 1000.5 may not be sent'],
    [NaN, 0, true, 'code NaN may not be sent'],
  ])('closeArgsProblem(%s, %d reason bytes, any wire code %s) = %j', (code, reasonBytes, anyWireCode, problem) => {
    expect(closeArgsProblem(code, reasonBytes, anyWireCode)).toBe(problem);
  });
});
