/**
 * The WebAssembly core (assembly/ -> build/core.wasm, wrapped by src/core/wasm-core.ts):
 * what is particular to it. The shared vector table and the differential fuzzing
 * against the JS twin live elsewhere; here are a few clear vectors per rule, and
 * what only the wasm build has: a pool of state slots in one instance, a shared
 * input window and record buffer, fixed memory, SIMD paths with exact offsets.
 */
import { JsFrameValidator } from '../src/core/validator-js';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWasmCore, wasmCoreMemory } from '../src/core/wasm-core';
import {
  CFG_ACCEPT_NON_MINIMAL,
  EV_DATA,
  EV_ERROR,
  FLAG_FIN,
  FLAG_FIRST,
  FLAG_LAST,
  FLAG_RSV1,
  RECORD_SLOTS,
  type Core,
  type FrameValidator,
} from '../src/core/types';
import {
  E_CLOSE_PAYLOAD_ONE_BYTE,
  E_CONTROL_TOO_LONG,
  E_EXPECTED_CONTINUATION,
  E_FRAGMENTED_CONTROL,
  E_INVALID_CLOSE_CODE,
  E_INVALID_CLOSE_REASON,
  E_INVALID_UTF8,
  E_LENGTH_TOP_BIT,
  E_MASKED_FRAME,
  E_MESSAGE_TOO_BIG,
  E_NON_MINIMAL_LENGTH,
  E_RESERVED_BITS,
  E_RESERVED_OPCODE,
  E_TRUNCATED_UTF8,
  E_UNEXPECTED_CONTINUATION,
} from '../src/core/error-ids';

const ROOT = join(__dirname, '..');
const WASM_PATH = join(ROOT, 'build', 'core.wasm');

let wasmModule: WebAssembly.Module;
let core: Core;

beforeAll(() => {
  // `npm test` builds first (pretest); a direct `npx vitest run` may not have.
  if (!existsSync(WASM_PATH)) execFileSync(process.execPath, [join(ROOT, 'assembly', 'build.mjs')], { stdio: 'inherit' });
  wasmModule = new WebAssembly.Module(readFileSync(WASM_PATH));
  core = createWasmCore(wasmModule);
});

// ------------------------------------------------------------------ helpers

type Rec = [number, number, number, number];

function bytes(...parts: (number[] | Uint8Array | string)[]): Uint8Array {
  const chunks = parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A server frame (unmasked) with the minimal length form unless `form` says otherwise. */
function frame(b0: number, payload: Uint8Array | string, form?: 7 | 16 | 64): Uint8Array {
  const p = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const n = p.length;
  const f = form || (n < 126 ? 7 : n < 65536 ? 16 : 64);
  let head: number[];
  if (f === 7) head = [b0, n];
  else if (f === 16) head = [b0, 126, n >> 8, n & 0xff];
  else head = [b0, 127, 0, 0, Math.floor(n / 2 ** 40) & 0xff, Math.floor(n / 2 ** 32) & 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return bytes(head, p);
}

/** Every record of one chunk, scanning again from `pos` until the chunk is used up. */
function scanChunk(v: FrameValidator, chunk: Uint8Array): Rec[] {
  const out: Rec[] = [];
  let from = 0;
  do {
    const n = v.scan(chunk, from);
    for (let i = 0; i < n; i++) {
      const r = i * RECORD_SLOTS;
      out.push([v.events[r], v.events[r + 1], v.events[r + 2], v.events[r + 3]]);
    }
    expect(v.pos).toBeGreaterThan(from);
    from = v.pos;
  } while (from < chunk.length);
  return out;
}

function validator(max?: number, flags?: number): FrameValidator {
  return core.createValidator(max, flags);
}

function scanOnce(stream: Uint8Array, max?: number, flags?: number): Rec[] {
  const v = validator(max, flags);
  try {
    return scanChunk(v, stream);
  } finally {
    v.dispose();
  }
}

/** The verdict fed one byte at a time: [errorId, absolute offset], or null. */
function errorByteAtATime(stream: Uint8Array, max?: number, flags?: number): [number, number] | null {
  const v = validator(max, flags);
  try {
    for (let i = 0; i < stream.length; i++) {
      for (const r of scanChunk(v, stream.subarray(i, i + 1))) if (r[0] === EV_ERROR) return [r[1], i + r[3]];
    }
    return null;
  } finally {
    v.dispose();
  }
}

const TEXT = 0x1;
const BINARY = 0x2;
const FIN = 0x80;

function dataRec(flags: number, start: number, length: number): Rec {
  return [EV_DATA, flags, start, length];
}
function errorRec(id: number, code: number, offset: number): Rec {
  return [EV_ERROR, id, code, offset];
}

// ------------------------------------------------------------------ the module

describe('the module', () => {
  it('instantiates with no imports', () => {
    const instance = new WebAssembly.Instance(wasmModule, {});
    expect(instance.exports.memory).toBeInstanceOf(WebAssembly.Memory);
  });

  it('has a fixed memory that cannot grow', () => {
    const memory = new WebAssembly.Instance(wasmModule, {}).exports.memory as WebAssembly.Memory;
    expect(() => memory.grow(1)).toThrow(RangeError);
  });

  it('reports its kind', () => {
    expect(core.kind).toBe('wasm');
  });
});

// ------------------------------------------------------------------ records

describe('records', () => {
  it('a complete text frame is one FIRST|LAST record past the header', () => {
    expect(scanOnce(frame(FIN | TEXT, 'Hello'))).toEqual([dataRec(TEXT | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 2, 5)]);
  });

  it('an empty frame is one FIRST|LAST record of length 0 just past its header', () => {
    expect(scanOnce(bytes(frame(FIN | BINARY, ''), frame(FIN | 0x9, '')))).toEqual([
      dataRec(BINARY | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 2, 0),
      dataRec(0x9 | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 4, 0),
    ]);
  });

  it('a header that completes at the end of a chunk writes nothing until payload arrives', () => {
    const v = validator();
    const f = frame(FIN | BINARY, 'abc');
    expect(scanChunk(v, f.subarray(0, 2))).toEqual([]);
    expect(scanChunk(v, f.subarray(2, 4))).toEqual([dataRec(BINARY | FLAG_FIN | FLAG_FIRST, 0, 2)]);
    expect(scanChunk(v, f.subarray(4))).toEqual([dataRec(BINARY | FLAG_FIN | FLAG_LAST, 0, 1)]);
    v.dispose();
  });

  it('continuation frames carry opcode 0 and a control frame may come between fragments', () => {
    const stream = bytes(frame(TEXT, 'ab'), frame(FIN | 0x9, 'p'), frame(FIN | 0x0, 'cd'));
    expect(scanOnce(stream)).toEqual([
      dataRec(TEXT | FLAG_FIRST | FLAG_LAST, 2, 2),
      dataRec(0x9 | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 6, 1),
      dataRec(0x0 | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 9, 2),
    ]);
  });

  it('RSV1 is reported when configure allows it', () => {
    expect(scanOnce(frame(FIN | 0x40 | TEXT, bytes([0xff, 0xfe])), 8192, 0x40)).toEqual([
      dataRec(TEXT | FLAG_FIN | FLAG_FIRST | FLAG_LAST | FLAG_RSV1, 2, 2),
    ]);
  });
});

// ------------------------------------------------------------------ rules, in the contract's order

describe('header rules', () => {
  const cases: [string, Uint8Array, number, number, number?, number?][] = [
    // name, stream, error id, offset, maxMessage, flags
    ['RSV1 without an extension', bytes([0xc1, 0x00]), E_RESERVED_BITS, 0],
    ['RSV3 while only RSV1 is allowed', bytes([0x91, 0x00]), E_RESERVED_BITS, 0, 8192, 0x40],
    ['reserved data opcode 0x3', bytes([0x83, 0x00]), E_RESERVED_OPCODE, 0],
    ['reserved control opcode 0xB', bytes([0x8b, 0x00]), E_RESERVED_OPCODE, 0],
    ['reserved bits win over a reserved opcode', bytes([0xf3, 0x00]), E_RESERVED_BITS, 0],
    ['a ping without FIN', bytes([0x09, 0x00]), E_FRAGMENTED_CONTROL, 0],
    ['a continuation with no message open', bytes([0x80, 0x00]), E_UNEXPECTED_CONTINUATION, 0],
    ['a text frame inside a fragmented message', bytes(frame(TEXT, 'a'), [0x81, 0x00]), E_EXPECTED_CONTINUATION, 3],
    ['RSV1 on a continuation, even when allowed', bytes([0x41, 0x01, 0x61], [0xc0, 0x00]), E_RESERVED_BITS, 3, 8192, 0x40],
    ['a masked frame', bytes([0x81, 0x85, 1, 2, 3, 4]), E_MASKED_FRAME, 1],
    ['a ping with a 16-bit length', bytes([0x89, 0x7e, 0x00, 0x7e]), E_CONTROL_TOO_LONG, 1],
    ['a close with a 1-byte payload', bytes([0x88, 0x01, 0x03]), E_CLOSE_PAYLOAD_ONE_BYTE, 1],
    ['a 7-bit length over the maximum', bytes([0x82, 0x0b]), E_MESSAGE_TOO_BIG, 1, 10],
    ['a continuation that makes the message too big', bytes(frame(BINARY, 'abcdef'), [0x80, 0x05]), E_MESSAGE_TOO_BIG, 9, 10],
    ['a 64-bit length with the top bit set', bytes([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]), E_LENGTH_TOP_BIT, 2],
    ['a non-minimal 16-bit length', bytes([0x82, 0x7e, 0x00, 0x05]), E_NON_MINIMAL_LENGTH, 3],
    ['a 16-bit length over the maximum', bytes([0x82, 0x7e, 0x01, 0x00]), E_MESSAGE_TOO_BIG, 3, 255],
    ['a non-minimal 64-bit length', bytes([0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), E_NON_MINIMAL_LENGTH, 9],
    ['a 64-bit length over the maximum', bytes([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]), E_MESSAGE_TOO_BIG, 9],
  ];
  for (const [name, stream, id, offset, max, flags] of cases) {
    it(name, () => {
      const records = scanOnce(stream, max, flags);
      const last = records[records.length - 1];
      expect(last).toEqual(errorRec(id, id === E_MESSAGE_TOO_BIG ? 1009 : 1002, offset));
      expect(errorByteAtATime(stream, max, flags)).toEqual([id, offset]);
    });
  }

  it('CFG_ACCEPT_NON_MINIMAL tolerates long length forms', () => {
    const stream = bytes(frame(FIN | BINARY, 'abc', 16), frame(FIN | BINARY, 'de', 64));
    expect(scanOnce(stream, 8192, CFG_ACCEPT_NON_MINIMAL)).toEqual([
      dataRec(BINARY | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 4, 3),
      dataRec(BINARY | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 17, 2),
    ]);
  });

  it('a maximum of 2^53-1 admits a length of 2^53-1 and refuses 2^53', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const ok = bytes([0x82, 0x7f, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
    expect(scanOnce(ok, max)).toEqual([dataRec(BINARY | FLAG_FIN | FLAG_FIRST, 10, 1)]);
    const tooBig = bytes([0x82, 0x7f, 0x00, 0x20, 0, 0, 0, 0, 0, 0]);
    expect(scanOnce(tooBig, max)).toEqual([errorRec(E_MESSAGE_TOO_BIG, 1009, 9)]);
  });

  it('configure applies from the next frame', () => {
    const v = validator(300);
    expect(scanChunk(v, bytes([0x82, 0x7e, 0x00]))).toEqual([]);
    v.configure(10, 0); // the frame in progress keeps its maximum
    expect(scanChunk(v, bytes([0xc8], new Uint8Array(200)))).toEqual([dataRec(BINARY | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 1, 200)]);
    expect(scanChunk(v, bytes([0x82, 0x0b]))).toEqual([errorRec(E_MESSAGE_TOO_BIG, 1009, 1)]);
    v.dispose();
  });
});

describe('payload rules', () => {
  it('reports the first byte that cannot continue a character', () => {
    const payload = bytes('h\u00e9llo ', [0xe2, 0x82, 0x28], ' more text after the error');
    expect(scanOnce(frame(FIN | TEXT, payload))).toEqual([errorRec(E_INVALID_UTF8, 1007, 2 + 9)]);
  });

  it('overlongs, surrogates and code points above U+10FFFF fail at their first impossible byte', () => {
    const cases: [number[], number][] = [
      [[0xc0, 0x80], 0],
      [[0xc1, 0xbf], 0],
      [[0xe0, 0x9f, 0xbf], 1],
      [[0xed, 0xa0, 0x80], 1],
      [[0xf0, 0x8f, 0xbf, 0xbf], 1],
      [[0xf4, 0x90, 0x80, 0x80], 1],
      [[0xf5, 0x80, 0x80, 0x80], 0],
      [[0x61, 0x80], 1],
      [[0xc3, 0x61], 1],
    ];
    for (const [seq, at] of cases) {
      const stream = frame(FIN | TEXT, bytes(seq, 'tail'));
      expect(scanOnce(stream)).toEqual([errorRec(E_INVALID_UTF8, 1007, 2 + at)]);
    }
  });

  it('a text message ending mid-character fails at its last byte, or at the header of an empty final frame', () => {
    expect(scanOnce(frame(FIN | TEXT, bytes('ab', [0xe2, 0x82])))).toEqual([errorRec(E_TRUNCATED_UTF8, 1007, 5)]);
    const stream = bytes(frame(TEXT, bytes('ab', [0xe2, 0x82])), frame(FIN, ''));
    expect(scanOnce(stream)).toEqual([dataRec(TEXT | FLAG_FIRST | FLAG_LAST, 2, 4), errorRec(E_TRUNCATED_UTF8, 1007, 7)]);
  });

  it('a character split across fragments and chunks is valid', () => {
    const stream = bytes(frame(TEXT, bytes('a', [0xf0, 0x9f])), frame(FIN, bytes([0x98, 0x80], 'b')));
    expect(errorByteAtATime(stream)).toBeNull();
    expect(scanOnce(stream)).toEqual([dataRec(TEXT | FLAG_FIRST | FLAG_LAST, 2, 3), dataRec(FLAG_FIN | FLAG_FIRST | FLAG_LAST, 7, 3)]);
  });

  it('binary, compressed text, ping and pong payloads are not UTF-8-checked', () => {
    const junk = bytes([0xff, 0xc0, 0x80, 0xed, 0xa0]);
    const stream = bytes(frame(FIN | BINARY, junk), frame(FIN | 0x40 | TEXT, junk), frame(FIN | 0x9, junk), frame(FIN | 0xa, junk));
    const records = scanOnce(stream, 8192, 0x40);
    expect(records.map((r) => r[0])).toEqual([EV_DATA, EV_DATA, EV_DATA, EV_DATA]);
  });

  it('close codes: allowed ones pass, others fail at payload byte 1', () => {
    for (const code of [1000, 1003, 1007, 1014, 3000, 4999]) {
      expect(scanOnce(frame(0x88, bytes([code >> 8, code & 0xff]))).map((r) => r[0])).toEqual([EV_DATA]);
    }
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000]) {
      expect(scanOnce(frame(0x88, bytes([code >> 8, code & 0xff], 'bye')))).toEqual([errorRec(E_INVALID_CLOSE_CODE, 1002, 3)]);
    }
  });

  it('a close reason must be UTF-8: the offending byte, or the last byte when it stops mid-character', () => {
    expect(scanOnce(frame(0x88, bytes([0x03, 0xe8], 'ok', [0xff], 'x')))).toEqual([errorRec(E_INVALID_CLOSE_REASON, 1007, 6)]);
    expect(scanOnce(frame(0x88, bytes([0x03, 0xe8], 'ok', [0xc3])))).toEqual([errorRec(E_INVALID_CLOSE_REASON, 1007, 6)]);
  });

  it("a close reason's UTF-8 state is kept apart from the open message's", () => {
    const stream = bytes(frame(TEXT, bytes([0xe2])), frame(0x88, bytes([0x03, 0xe8], [0xc3, 0xa9])), frame(FIN, bytes([0x82, 0xac])));
    expect(errorByteAtATime(stream)).toBeNull();
  });
});

// ------------------------------------------------------------------ stream life

describe('a dead stream', () => {
  it('writes nothing more and sets pos to the chunk length until reset()', () => {
    const v = validator();
    expect(scanChunk(v, bytes([0x83, 0x00]))).toEqual([errorRec(E_RESERVED_OPCODE, 1002, 0)]);
    const next = frame(FIN | TEXT, 'fine');
    expect(v.scan(next, 0)).toBe(0);
    expect(v.pos).toBe(next.length);
    v.reset();
    expect(scanChunk(v, next)).toEqual([dataRec(TEXT | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 2, 4)]);
    v.dispose();
  });

  it('reset() forgets an open message but keeps the configuration', () => {
    const v = validator(10, 0x40);
    scanChunk(v, frame(TEXT, 'abc'));
    v.reset();
    expect(scanChunk(v, bytes([0x80, 0x00]))).toEqual([errorRec(E_UNEXPECTED_CONTINUATION, 1002, 0)]);
    v.reset();
    expect(scanChunk(v, bytes([0xc2, 0x01, 0x00]))).toEqual([dataRec(BINARY | FLAG_FIN | FLAG_FIRST | FLAG_LAST | FLAG_RSV1, 2, 1)]);
    expect(scanChunk(v, bytes([0x82, 0x0b]))).toEqual([errorRec(E_MESSAGE_TOO_BIG, 1009, 1)]);
    v.dispose();
  });
});

// ------------------------------------------------------------------ the slot pool

describe('many validators in one instance', () => {
  it('keep separate state when their bytes interleave', () => {
    const count = 200;
    const validators: FrameValidator[] = [];
    const streams: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      validators.push(validator());
      // Each its own fragmented text message with characters split everywhere;
      // every third one is broken at a different place.
      const text = '\u00e9\u20ac\u{1f600}'.repeat(1 + (i % 5)) + String(i);
      const t = new TextEncoder().encode(text);
      const cut = 1 + (i % (t.length - 6)); // both fragments hold at least 5 bytes
      const s = bytes(frame(TEXT, t.subarray(0, cut)), frame(FIN, t.subarray(cut)));
      if (i % 3 === 0) s[s.length - 1 - (i % 4)] = 0xff;
      streams.push(s);
    }
    const errors: ([number, number] | null)[] = validators.map(() => null);
    const payloads: number[] = validators.map(() => 0);
    const longest = Math.max(...streams.map((s) => s.length));
    for (let at = 0; at < longest; at++) {
      for (let i = 0; i < count; i++) {
        if (at >= streams[i].length) continue;
        for (const r of scanChunk(validators[i], streams[i].subarray(at, at + 1))) {
          if (r[0] === EV_ERROR) errors[i] = [r[1], at + r[3]];
          else payloads[i] += r[3];
        }
      }
    }
    for (let i = 0; i < count; i++) {
      const s = streams[i];
      if (i % 3 === 0) expect(errors[i], 'validator ' + i).toEqual([E_INVALID_UTF8, s.length - 1 - (i % 4)]);
      else {
        expect(errors[i], 'validator ' + i).toBeNull();
        expect(payloads[i]).toBe(s.length - 4);
      }
      validators[i].dispose();
    }
  });

  it('a disposed slot is reused with a clean state', () => {
    const a = validator();
    scanChunk(a, frame(TEXT, bytes([0xe2, 0x82]))); // a message open, mid-character
    a.dispose();
    const b = validator();
    expect(scanChunk(b, frame(FIN | TEXT, 'clean'))).toEqual([dataRec(TEXT | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 2, 5)]);
    b.dispose();
  });

  it('dispose() twice is harmless, and a disposed validator refuses to scan', () => {
    const a = validator();
    a.dispose();
    a.dispose();
    expect(() => a.scan(bytes([0x81, 0x00]), 0)).toThrow(/disposed/);
  });

  it('falls back to the JS twin when every slot is in use, and uses slots again after dispose()', () => {
    const many: FrameValidator[] = [];
    for (let i = 0; i < 4096; i++) many.push(validator());
    const extra = validator();
    expect(extra).toBeInstanceOf(JsFrameValidator);
    expect(scanChunk(extra, frame(FIN | BINARY, 'x')).length).toBe(1);
    expect(many.filter((v) => v instanceof JsFrameValidator).length).toBe(0);
    many.pop()!.dispose();
    const again = validator();
    expect(again).not.toBeInstanceOf(JsFrameValidator);
    expect(scanChunk(again, frame(FIN | BINARY, 'x')).length).toBe(1);
    again.dispose();
    extra.dispose();
    for (const v of many) v.dispose();
  });

  it('memory does not grow across 10,000 create/dispose cycles', () => {
    const memory = wasmCoreMemory(core)!;
    const size = memory.buffer.byteLength;
    for (let i = 0; i < 10000; i++) {
      const v = validator(1000 + i, i & CFG_ACCEPT_NON_MINIMAL);
      scanChunk(v, frame(FIN | TEXT, 'cycle'));
      v.dispose();
    }
    expect(memory.buffer.byteLength).toBe(size);
  });
});

// ------------------------------------------------------------------ windows and the record buffer

describe('large chunks', () => {
  it('a payload run longer than the input window is still one record', () => {
    const payload = new Uint8Array(200000).fill(0x5a);
    const stream = frame(FIN | BINARY, payload);
    expect(scanOnce(stream, 1 << 20)).toEqual([dataRec(BINARY | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 10, 200000)]);
  });

  it('UTF-8 state and exact offsets carry across window boundaries', () => {
    // 3-byte characters from offset 10, so characters straddle every 64 KiB window edge.
    const text = new TextEncoder().encode('\u20ac'.repeat(70000));
    const stream = frame(FIN | TEXT, text);
    expect(scanOnce(stream, 1 << 20)).toEqual([dataRec(TEXT | FLAG_FIN | FLAG_FIRST | FLAG_LAST, 10, text.length)]);
    for (const at of [65535 - 10, 65536 - 10, 131071, 200000]) {
      const bad = stream.slice();
      bad[at] = 0x41; // a continuation byte replaced: the next one becomes stray, or this breaks a lead
      const expected = (at - 10) % 3 === 0 ? at + 1 : at;
      expect(scanOnce(bad, 1 << 20), 'broken at ' + at).toEqual([errorRec(E_INVALID_UTF8, 1007, expected)]);
    }
  });

  it('a chunk of more frames than the record buffer holds is finished by scanning again from pos', () => {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) frames.push(frame(FIN | BINARY, i % 2 ? 'ab' : ''));
    const stream = bytes(...frames);
    const w = validator();
    const records: Rec[] = [];
    let from = 0;
    let scans = 0;
    do {
      const n = w.scan(stream, from);
      if (scans === 0) {
        expect(n).toBeLessThan(1000);
        expect(w.pos).toBeLessThan(stream.length);
      }
      for (let i = 0; i < n; i++) records.push(Array.from(w.events.subarray(i * 4, i * 4 + 4)) as Rec);
      from = w.pos;
      scans++;
      if (scans === 2) {
        // Another validator uses the shared input window and record buffer in between.
        const intruder = validator();
        scanChunk(intruder, frame(FIN | BINARY, 'zz'));
        intruder.dispose();
      }
    } while (from < stream.length);
    w.dispose();
    expect(scans).toBeGreaterThan(2);
    expect(records.length).toBe(1000);
    let at = 0;
    for (let i = 0; i < 1000; i++) {
      const length = i % 2 ? 2 : 0;
      expect(records[i]).toEqual(dataRec(BINARY | FLAG_FIN | FLAG_FIRST | FLAG_LAST, at + 2, length));
      at += 2 + length;
    }
  });
});

// ------------------------------------------------------------------ one-shot UTF-8 and mask

describe('utf8ErrorOffset', () => {
  it('gives -1, the offending index, or end when the range stops mid-character', () => {
    const b = bytes('x\u00e9\u20ac\u{1f600}', [0xc3]);
    expect(core.utf8ErrorOffset(b, 0, b.length - 1)).toBe(-1);
    expect(core.utf8ErrorOffset(b, 0, b.length)).toBe(b.length);
    expect(core.utf8ErrorOffset(b, 2, b.length - 1)).toBe(2); // starts on a continuation byte
    expect(core.utf8ErrorOffset(b, 3, 4)).toBe(4);
    expect(core.utf8ErrorOffset(b, 5, 5)).toBe(-1);
  });

  it('is exact on the SIMD paths, in long ASCII and long multibyte text and across windows', () => {
    const ascii = new Uint8Array(150000).fill(0x61);
    const multi = new TextEncoder().encode('\u00e9\u20ac\u{1f600}'.repeat(17000));
    for (const base of [ascii, multi]) {
      expect(core.utf8ErrorOffset(base, 0, base.length)).toBe(-1);
      for (const at of [0, 15, 16, 63, 64, 65, 1000, 65535, 65536, 100001]) {
        if (at >= base.length) continue;
        const b = base.slice();
        b[at] = 0xff;
        expect(core.utf8ErrorOffset(b, 0, b.length), 'error at ' + at).toBe(at);
      }
    }
  });
});

describe('mask', () => {
  function xorInJs(b: Uint8Array, start: number, end: number, key: number): void {
    for (let i = start; i < end; i++) b[i] ^= (key >>> (24 - 8 * ((i - start) & 3))) & 0xff;
  }

  it('matches a plain JS XOR for every length, offset and key', () => {
    const keys = [0x00000000, 0xffffffff, 0x12345678, 0xdeadbeef, -1, 0x80000001];
    const source = Uint8Array.from({ length: 70000 }, (_, i) => (i * 31 + 7) & 0xff);
    for (const key of keys) {
      for (const [start, end] of [[0, 0], [0, 1], [3, 7], [1, 127], [0, 128], [5, 300], [2, 4099], [0, 70000], [7, 69999]]) {
        const a = source.slice();
        const b = source.slice();
        core.mask(a, start, end, key);
        xorInJs(b, start, end, key);
        expect(Buffer.compare(a, b), `key ${key} [${start}, ${end})`).toBe(0);
      }
    }
  });

  it('masking twice restores the bytes', () => {
    const a = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    const b = a.slice();
    core.mask(b, 0, 1000, 0xcafebabe);
    expect(Buffer.compare(a, b)).not.toBe(0);
    core.mask(b, 0, 1000, 0xcafebabe);
    expect(Buffer.compare(a, b)).toBe(0);
  });
});
