/**
 * The plain-JS core (src/core/js-core.ts), on its own: a few clear vectors per rule
 * of assembly/README.md, the record buffer filling up, reset(), chunking, masking,
 * and the twin as Kaluma gets it: bundled by esbuild for es2019 and run in a bare
 * context without Node's or newer engines' globals.
 * The big shared table and the differential fuzzing against the WebAssembly core
 * are in core-vectors.test.ts and core-differential.test.ts.
 */
import { runInContext, createContext } from 'node:vm';
import { build } from 'esbuild';
import { parse } from 'acorn';
import { describe, expect, it } from 'vitest';
import { createJsCore } from '../src/core/js-core';
import { maskJs } from '../src/core/mask-js';
import { utf8ErrorOffset, utf8Scan } from '../src/core/utf8-js';
import { JsFrameValidator } from '../src/core/validator-js';
import { CORE_ERRORS } from '../src/core/error-ids';
import {
  CFG_ACCEPT_NON_MINIMAL, DEFAULT_MAX_MESSAGE, EV_DATA, EV_ERROR, FLAG_FIN, FLAG_FIRST, FLAG_LAST, FLAG_RSV1,
  RECORD_SLOTS, type FrameValidator,
} from '../src/core/types';

const FL = FLAG_FIRST | FLAG_LAST;
const MAX_SAFE = 2 ** 53 - 1;

/** All records of one whole-chunk scan (scanning again from `pos` while the buffer fills). */
function recordsOf(v: FrameValidator, chunk: Uint8Array): number[][] {
  const out: number[][] = [];
  let from = 0;
  do {
    const n = v.scan(chunk, from);
    for (let r = 0; r < n; r++) out.push(Array.from(v.events.subarray(r * RECORD_SLOTS, (r + 1) * RECORD_SLOTS)));
    from = v.pos;
  } while (from < chunk.length);
  return out;
}

function check(bytes: number[], maxMessage = DEFAULT_MAX_MESSAGE, flags = 0): number[][] {
  return recordsOf(new JsFrameValidator(maxMessage, flags), Uint8Array.from(bytes));
}

/** The ERROR record of a stream as [id, code, offset], or null. */
function errorOf(bytes: number[], maxMessage = DEFAULT_MAX_MESSAGE, flags = 0): number[] | null {
  const rec = check(bytes, maxMessage, flags);
  const e = rec.find((r) => r[0] === EV_ERROR);
  return e ? e.slice(1) : null;
}

/**
 * What a chunking cannot change: each completed frame's flags and payload, and the
 * error with its offset in the stream. (A frame cut short by the error is dropped: how
 * much of it was reported before the error depends on where the chunks end.)
 */
function normalized(v: FrameValidator, chunks: Uint8Array[]): string[] {
  const out: string[] = [];
  let base = 0;
  let open = -1;
  for (const chunk of chunks) {
    let from = 0;
    do {
      const n = v.scan(chunk, from);
      for (let r = 0; r < n; r++) {
        const [kind, a, b, c] = v.events.subarray(r * RECORD_SLOTS, (r + 1) * RECORD_SLOTS);
        if (kind === EV_ERROR) {
          if (open >= 0 && !out[open].endsWith(' .')) out.length = open;
          out.push(`error ${a} ${b} @${base + c}`);
          continue;
        }
        const bytes = Buffer.from(chunk.subarray(b, b + c)).toString('hex');
        if (a & FLAG_FIRST) open = out.push(`frame ${a & ~FL}: ${bytes}`) - 1;
        else out[open] += bytes;
        if (a & FLAG_LAST) out[open] += ' .';
      }
      from = v.pos;
    } while (from < chunk.length);
    base += chunk.length;
  }
  return out;
}

const text = (s: string) => Array.from(new TextEncoder().encode(s));

describe('DATA records', () => {
  it('a frame whole in one chunk is one FIRST|LAST record over its payload', () => {
    expect(check([0x82, 3, 7, 8, 9])).toEqual([[EV_DATA, FLAG_FIN | FL | 2, 2, 3]]);
  });

  it('a frame split across chunks gives FIRST, then middle runs, then LAST', () => {
    const v = new JsFrameValidator();
    expect(recordsOf(v, Uint8Array.from([0x81, 4, 0x61]))).toEqual([[EV_DATA, FLAG_FIN | FLAG_FIRST | 1, 2, 1]]);
    expect(recordsOf(v, Uint8Array.from([0x62]))).toEqual([[EV_DATA, FLAG_FIN | 1, 0, 1]]);
    expect(recordsOf(v, Uint8Array.from([0x63, 0x64, 0x89, 0]))).toEqual([
      [EV_DATA, FLAG_FIN | FLAG_LAST | 1, 0, 2],
      [EV_DATA, FLAG_FIN | FL | 9, 4, 0],
    ]);
  });

  it('a header ending a chunk writes nothing until its payload arrives', () => {
    const v = new JsFrameValidator();
    expect(v.scan(Uint8Array.from([0x82, 0x7e, 0x01]), 0)).toBe(0);
    expect(v.scan(Uint8Array.from([0x00]), 0)).toBe(0);
    expect(v.pos).toBe(1);
    const payloadThenPing = new Uint8Array(258);
    payloadThenPing.set([0x89, 0], 256);
    expect(recordsOf(v, payloadThenPing)).toEqual([
      [EV_DATA, FLAG_FIN | FL | 2, 0, 256],
      [EV_DATA, FLAG_FIN | FL | 9, 258, 0],
    ]);
  });

  it('an empty payload is one FIRST|LAST record just past the header', () => {
    expect(check([0x89, 0, 0x8a, 0, 0x88, 0])).toEqual([
      [EV_DATA, FLAG_FIN | FL | 9, 2, 0],
      [EV_DATA, FLAG_FIN | FL | 0xa, 4, 0],
      [EV_DATA, FLAG_FIN | FL | 8, 6, 0],
    ]);
  });

  it('continuation frames carry opcode 0 and FIN only on the last', () => {
    expect(check([0x01, 1, 0x61, 0x00, 1, 0x62, 0x80, 1, 0x63])).toEqual([
      [EV_DATA, FL | 1, 2, 1],
      [EV_DATA, FL, 5, 1],
      [EV_DATA, FLAG_FIN | FL, 8, 1],
    ]);
  });

  it('RSV1, when allowed, is flagged on the frame that has it', () => {
    expect(check([0xc1, 1, 0xff], DEFAULT_MAX_MESSAGE, 0x40)).toEqual([[EV_DATA, FLAG_RSV1 | FLAG_FIN | FL | 1, 2, 1]]);
  });

  it('control frames between fragments keep the message open', () => {
    // "€" = e2 82 ac split over two fragments, a ping and a close with a reason between them.
    const r = check([0x01, 1, 0xe2, 0x89, 0, 0x88, 3, 0x03, 0xe8, 0x41, 0x80, 2, 0x82, 0xac]);
    expect(r.map((x) => x[0])).toEqual([EV_DATA, EV_DATA, EV_DATA, EV_DATA]);
    expect(r[3]).toEqual([EV_DATA, FLAG_FIN | FL, 12, 2]);
  });
});

describe('errors, in the order of the contract', () => {
  const cases: [string, number[], number[], number?, number?][] = [
    // [rule, stream, [id, code, offset], maxMessage, flags]
    ['RSV1 not negotiated', [0xc2, 0], [1, 1002, 0]],
    ['RSV2', [0xa2, 0], [1, 1002, 0]],
    ['RSV3 when only RSV1 is allowed', [0x92, 0], [1, 1002, 0], DEFAULT_MAX_MESSAGE, 0x40],
    ['reserved bits win over a reserved opcode', [0xf3, 0], [1, 1002, 0]],
    ['reserved data opcode', [0x83, 0], [2, 1002, 0]],
    ['reserved control opcode', [0x8f, 0], [2, 1002, 0]],
    ['reserved opcode wins over missing FIN', [0x0b, 0], [2, 1002, 0]],
    ['fragmented ping', [0x09, 0], [4, 1002, 0]],
    ['continuation with no message open', [0x80, 0], [8, 1002, 0]],
    ['text while a message is open', [0x01, 0, 0x81, 0], [9, 1002, 2]],
    ['RSV1 on a continuation even when allowed', [0x41, 0, 0xc0, 0], [1, 1002, 2], DEFAULT_MAX_MESSAGE, 0x40],
    ['masked frame', [0x82, 0x81, 1, 2, 3, 4, 5], [3, 1002, 1]],
    ['masked wins over a too-long control', [0x89, 0xfe], [3, 1002, 1]],
    ['control length 126', [0x89, 126], [5, 1002, 1]],
    ['control length 127', [0x8a, 127], [5, 1002, 1]],
    ['close with a 1-byte payload', [0x88, 1, 0x03], [13, 1002, 1]],
    ['7-bit length over the maximum', [0x82, 11], [10, 1009, 1], 10],
    ['the message size sums its frames', [0x02, 6, 0, 0, 0, 0, 0, 0, 0x80, 5], [10, 1009, 9], 10],
    ['64-bit length with the top bit', [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0], [6, 1002, 2]],
    ['non-minimal 16-bit length', [0x82, 126, 0, 125], [7, 1002, 3]],
    ['16-bit length over the maximum', [0x82, 126, 0x03, 0xe9], [10, 1009, 3], 1000],
    ['non-minimal 64-bit length', [0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff], [7, 1002, 9]],
    ['64-bit length over the maximum', [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 1], [10, 1009, 9], 65536],
    ['64-bit length of 2^53 is over any maximum', [0x82, 127, 0, 0x20, 0, 0, 0, 0, 0, 0], [10, 1009, 9], MAX_SAFE],
    ['overlong C0 80', [0x81, 2, 0xc0, 0x80], [11, 1007, 2]],
    ['overlong E0 9F', [0x81, 3, 0xe0, 0x9f, 0xbf], [11, 1007, 3]],
    ['surrogate ED A0', [0x81, 3, 0xed, 0xa0, 0x80], [11, 1007, 3]],
    ['above U+10FFFF', [0x81, 4, 0xf4, 0x90, 0x80, 0x80], [11, 1007, 3]],
    ['F5', [0x81, 1, 0xf5], [11, 1007, 2]],
    ['a stray continuation', [0x81, 2, 0x61, 0x80], [11, 1007, 3]],
    ['a lead byte where a continuation is due', [0x81, 3, 0xe2, 0x82, 0x41], [11, 1007, 4]],
    ['the error byte in a later fragment', [0x01, 1, 0xe2, 0x80, 1, 0x41], [11, 1007, 5]],
    ['text ending mid-character', [0x81, 2, 0xe2, 0x82], [12, 1007, 3]],
    ['truncation at an empty final fragment is its header byte', [0x01, 1, 0xe2, 0x80, 0], [12, 1007, 4]],
    ['close code 1004', [0x88, 2, 0x03, 0xec], [14, 1002, 3]],
    ['close code 1005', [0x88, 2, 0x03, 0xed], [14, 1002, 3]],
    ['close code 1015', [0x88, 2, 0x03, 0xf7], [14, 1002, 3]],
    ['close code 5000', [0x88, 2, 0x13, 0x88], [14, 1002, 3]],
    ['close reason byte FF', [0x88, 4, 0x03, 0xe8, 0x41, 0xff], [15, 1007, 5]],
    ['close reason ending mid-character', [0x88, 3, 0x03, 0xe8, 0xc3], [15, 1007, 4]],
  ];
  for (const [rule, bytes, expected, maxMessage, flags] of cases) {
    it(rule, () => {
      expect(errorOf(bytes, maxMessage, flags)).toEqual(expected);
    });
  }

  it('close codes 1000-1003, 1007-1014 and 3000-4999 are accepted', () => {
    for (const code of [1000, 1003, 1007, 1014, 3000, 4999]) {
      expect(errorOf([0x88, 2, code >> 8, code & 0xff])).toBeNull();
    }
  });

  it('covers every error id, each with the close code of the vocabulary', () => {
    const seen = new Set(cases.map((c) => c[2][0]));
    for (const [id, , code] of CORE_ERRORS) {
      expect(seen.has(id)).toBe(true);
      for (const c of cases) if (c[2][0] === id) expect(c[2][1]).toBe(code);
    }
  });

  it('accepts what is allowed: ping payloads are not UTF-8, compressed text is not checked, non-minimal on request', () => {
    expect(errorOf([0x89, 2, 0xff, 0xfe])).toBeNull();
    expect(errorOf([0xc1, 1, 0xff], DEFAULT_MAX_MESSAGE, 0x40)).toBeNull();
    expect(errorOf([0x82, 126, 0, 1, 0x41], DEFAULT_MAX_MESSAGE, CFG_ACCEPT_NON_MINIMAL)).toBeNull();
    expect(errorOf([0x82, 127, 0, 0, 0, 0, 0, 0, 0, 1, 0x41], DEFAULT_MAX_MESSAGE, CFG_ACCEPT_NON_MINIMAL)).toBeNull();
    expect(errorOf([0x82, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 10)).toBeNull();
    const hello = text('héllo € 😀');
    expect(errorOf([0x81, hello.length, ...hello])).toBeNull();
  });

  it('a 64-bit length of 2^53-1 passes a maximum of 2^53-1 and waits for payload', () => {
    const v = new JsFrameValidator(MAX_SAFE, 0);
    expect(v.scan(Uint8Array.from([0x82, 127, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2]), 0)).toBe(1);
    expect(Array.from(v.events.subarray(0, 4))).toEqual([EV_DATA, FLAG_FIN | FLAG_FIRST | 2, 10, 2]);
  });

  it('no DATA record is written for the run that holds an error', () => {
    expect(check([0x82, 1, 0, 0x81, 3, 0x61, 0x62, 0xff])).toEqual([
      [EV_DATA, FLAG_FIN | FL | 2, 2, 1],
      [EV_ERROR, 11, 1007, 7],
    ]);
  });

  it('the stream is dead after an error: nothing more, pos at the chunk end', () => {
    const v = new JsFrameValidator();
    expect(v.scan(Uint8Array.from([0x83, 0, 0x89, 0]), 0)).toBe(1);
    expect(v.pos).toBe(4);
    expect(v.scan(Uint8Array.from([0x89, 0, 0x89]), 0)).toBe(0);
    expect(v.pos).toBe(3);
  });
});

describe('state', () => {
  it('scan stops when the record buffer is full and resumes from pos', () => {
    const v = new JsFrameValidator(DEFAULT_MAX_MESSAGE, 0, 2);
    expect(v.events.length).toBe(2 * RECORD_SLOTS);
    const chunk = Uint8Array.from([0x89, 0, 0x8a, 1, 0x41, 0x82, 2, 1, 2, 0x89, 0, 0x80]);
    expect(v.scan(chunk, 0)).toBe(2);
    expect(v.pos).toBe(5);
    expect(v.scan(chunk, v.pos)).toBe(2);
    expect(Array.from(v.events.subarray(0, 8))).toEqual([EV_DATA, FLAG_FIN | FL | 2, 7, 2, EV_DATA, FLAG_FIN | FL | 9, 11, 0]);
    expect(v.pos).toBe(11);
    expect(v.scan(chunk, v.pos)).toBe(1);
    expect(Array.from(v.events.subarray(0, 4))).toEqual([EV_ERROR, 8, 1002, 11]);
  });

  it('a full buffer mid-payload leaves the rest for the next scan, which is not FIRST', () => {
    const v = new JsFrameValidator(DEFAULT_MAX_MESSAGE, 0, 1);
    const a = Uint8Array.from([0x82, 4, 1, 2]);
    expect(v.scan(a, 0)).toBe(1);
    expect(v.pos).toBe(4);
    expect(recordsOf(v, Uint8Array.from([3, 4, 0x89, 0]))).toEqual([
      [EV_DATA, FLAG_FIN | FLAG_LAST | 2, 0, 2],
      [EV_DATA, FLAG_FIN | FL | 9, 4, 0],
    ]);
  });

  it('reset() forgets the stream, revives a dead one and keeps the configuration', () => {
    const v = new JsFrameValidator(DEFAULT_MAX_MESSAGE, 0);
    v.configure(4, 0x40);
    v.scan(Uint8Array.from([0x01, 1, 0xe2]), 0); // an open message with an open character
    v.reset();
    expect(v.pos).toBe(0);
    expect(recordsOf(v, Uint8Array.from([0xc1, 1, 0x41]))).toEqual([[EV_DATA, FLAG_RSV1 | FLAG_FIN | FL | 1, 2, 1]]);
    expect(recordsOf(v, Uint8Array.from([0x82, 5]))).toEqual([[EV_ERROR, 10, 1009, 1]]);
    expect(v.scan(Uint8Array.from([0x89, 0]), 0)).toBe(0);
    v.reset();
    expect(recordsOf(v, Uint8Array.from([0x89, 0]))).toEqual([[EV_DATA, FLAG_FIN | FL | 9, 2, 0]]);
  });

  it('configure() clamps the maximum to a whole number in 0..2^53-1', () => {
    expect(errorOf([0x82, 1, 0], -5)).toEqual([10, 1009, 1]);
    expect(errorOf([0x82, 1, 0], NaN)).toEqual([10, 1009, 1]);
    expect(errorOf([0x82, 3, 0, 0, 0], 2.9)).toEqual([10, 1009, 1]);
    expect(errorOf([0x82, 2, 0, 0], 2.9)).toBeNull();
    expect(errorOf([0x82, 2, 0, 0], 2)).toBeNull();
  });

  it('configure() applies from the next frame', () => {
    const v = new JsFrameValidator(8, 0);
    v.scan(Uint8Array.from([0x82]), 0);
    v.configure(1, 0);
    expect(recordsOf(v, Uint8Array.from([4, 1, 2, 3, 4]))[0][0]).toBe(EV_DATA);
    expect(recordsOf(v, Uint8Array.from([0x82, 2]))).toEqual([[EV_ERROR, 10, 1009, 1]]);
  });

  it('byte at a time gives what one chunk gives', () => {
    const streams: [number[], number, number][] = [
      [[0x01, 2, ...text('h€').slice(0, 2), 0x89, 1, 0xff, 0x80, 2, 0x82, 0xac, 0x82, 126, 0, 130, ...new Array(130).fill(7)], DEFAULT_MAX_MESSAGE, 0],
      [[0x88, 5, 0x03, 0xe8, 0xf0, 0x9f, 0x98], DEFAULT_MAX_MESSAGE, 0],
      [[0xc1, 3, 0xff, 0xfe, 0xfd, 0x01, 4, ...text('añ'), 0x80, 2, ...text('ß'), 0x81, 1, 0xc3], DEFAULT_MAX_MESSAGE, 0x40],
      [[0x02, 127, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 0x80, 126, 0, 4, 1, 2, 3, 4], 100, CFG_ACCEPT_NON_MINIMAL],
      [[0x81, 4, 0xf0, 0x9f, 0x98, 0x80, 0x81, 3, 0xed, 0x9f, 0xbf, 0x81, 2, 0xe0, 0x80], DEFAULT_MAX_MESSAGE, 0],
    ];
    for (const [bytes, max, flags] of streams) {
      const whole = normalized(new JsFrameValidator(max, flags), [Uint8Array.from(bytes)]);
      const single = normalized(new JsFrameValidator(max, flags, 1), bytes.map((b) => Uint8Array.of(b)));
      expect(single).toEqual(whole);
      expect(whole[whole.length - 1]).toMatch(/^error|\.$/);
      for (let cut = 1; cut < bytes.length; cut++) {
        const two = normalized(new JsFrameValidator(max, flags, 2), [Uint8Array.from(bytes.slice(0, cut)), Uint8Array.from(bytes.slice(cut))]);
        expect(two).toEqual(whole);
      }
    }
  });
});

describe('UTF-8', () => {
  /** The contract's table, transcribed literally: [state][byte] -> next state, 8 = error. */
  function referenceStep(s: number, c: number): number {
    const rows: [number, number, number][][] = [
      [[0x00, 0x7f, 0], [0xc2, 0xdf, 1], [0xe0, 0xe0, 3], [0xe1, 0xec, 2], [0xee, 0xef, 2], [0xed, 0xed, 4], [0xf0, 0xf0, 6], [0xf1, 0xf3, 5], [0xf4, 0xf4, 7]],
      [[0x80, 0xbf, 0]], [[0x80, 0xbf, 1]], [[0xa0, 0xbf, 1]], [[0x80, 0x9f, 1]], [[0x80, 0xbf, 2]], [[0x90, 0xbf, 2]], [[0x80, 0x8f, 2]],
    ];
    for (const [lo, hi, to] of rows[s]) if (c >= lo && c <= hi) return to;
    return 8;
  }
  function referenceOffset(b: Uint8Array): number {
    let s = 0;
    for (let i = 0; i < b.length; i++) if ((s = referenceStep(s, b[i])) === 8) return i;
    return s === 0 ? -1 : b.length;
  }

  it('every state and byte steps as the contract says', () => {
    for (let s = 0; s < 8; s++) {
      for (let c = 0; c < 256; c++) {
        const r = utf8Scan(Uint8Array.of(c), 0, 1, s);
        expect(r < 0 ? 8 : r).toBe(referenceStep(s, c));
      }
    }
  });

  it('agrees with the reference and with a fatal TextDecoder on random mostly-UTF-8 bytes, whole and split', () => {
    let seed = 12345;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const pieces = [[0x41], [0x7f], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xed, 0x9f, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf]];
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let t = 0; t < 3000; t++) {
      const bytes: number[] = [];
      const n = rand(24);
      for (let k = 0; k < n; k++) bytes.push(...(rand(8) === 0 ? [rand(256)] : pieces[rand(pieces.length)]));
      if (rand(4) === 0 && bytes.length) bytes.length -= 1;
      const b = Uint8Array.from(bytes);
      const want = referenceOffset(b);
      expect(utf8ErrorOffset(b, 0, b.length)).toBe(want);
      let valid = true;
      try { decoder.decode(b); } catch { valid = false; }
      expect(want === -1).toBe(valid);
      const cut = rand(b.length + 1);
      const r1 = utf8Scan(b, 0, cut, 0);
      const r = r1 < 0 ? r1 : utf8Scan(b, cut, b.length, r1);
      expect(r < 0 ? ~r : r === 0 ? -1 : b.length).toBe(want);
    }
  });

  it('the whole-sequence fast path fails on exactly the reference byte, for every lead and second byte', () => {
    const mismatches: string[] = [];
    const b = new Uint8Array(7);
    for (let lead = 0x80; lead < 0x100; lead++) {
      for (let second = 0; second < 0x100; second++) {
        for (const rest of [0x80, 0xbf, 0x41, 0xc3]) {
          // ASCII first so the sequence starts past the 4-byte ASCII skip, then room for 4-byte sequences.
          b.set([0x41, lead, second, rest, rest, 0x41, 0x41]);
          const want = referenceOffset(b);
          const got = utf8ErrorOffset(b, 0, b.length);
          if (got !== want) mismatches.push(`${[lead, second, rest].map((x) => x.toString(16))}: ${got} != ${want}`);
        }
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('checks only bytes[start, end)', () => {
    const b = Uint8Array.from([0xff, 0x41, 0xc3, 0xa9, 0xff]);
    expect(utf8ErrorOffset(b, 1, 4)).toBe(-1);
    expect(utf8ErrorOffset(b, 1, 3)).toBe(3);
    expect(utf8ErrorOffset(b, 0, 4)).toBe(0);
    expect(utf8ErrorOffset(b, 1, 5)).toBe(4);
  });

  it('long ASCII runs with one bad byte at every alignment', () => {
    for (let at = 0; at < 40; at++) {
      const b = new Uint8Array(40).fill(0x61);
      b[at] = 0x80;
      expect(utf8ErrorOffset(b, 0, 40)).toBe(at);
    }
  });
});

describe('mask', () => {
  it('XORs with key byte 0 = the most significant byte, phase 0 at start', () => {
    const b = new Uint8Array(9);
    maskJs(b, 1, 8, 0x11223344);
    expect(Array.from(b)).toEqual([0, 0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0x33, 0]);
  });

  it('matches a byte-wise reference for every length and start, and undoes itself', () => {
    for (let start = 0; start < 4; start++) {
      for (let len = 0; len < 13; len++) {
        const b = Uint8Array.from({ length: 20 }, (_, i) => i * 37);
        const want = Uint8Array.from(b);
        const key = 0xdeadbeef | 0; // negative as an int32: must not matter
        for (let i = 0; i < len; i++) want[start + i] ^= (key >>> (24 - 8 * (i & 3))) & 0xff;
        maskJs(b, start, start + len, key);
        expect(b).toEqual(want);
        maskJs(b, start, start + len, key);
        for (let i = 0; i < 20; i++) expect(b[i]).toBe((i * 37) & 0xff);
      }
    }
  });
});

describe('the bundled twin, as Kaluma runs it', () => {
  async function bundle(): Promise<string> {
    const out = await build({
      entryPoints: [new URL('../src/core/js-core.ts', import.meta.url).pathname],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'picowsCore',
      target: 'es2019',
      charset: 'ascii',
      minify: true,
      logLevel: 'silent',
      define: { PICOWS_DEVICE: 'true' }, // as the device build (src/device.d.ts)
    });
    return out.outputFiles[0].text;
  }

  const streams: [number[], number, number][] = [
    [[0x81, 5, ...text('héé').slice(0, 5), 0x89, 1, 0xff, 0x01, 1, 0xe2, 0x80, 2, 0x82, 0xac], DEFAULT_MAX_MESSAGE, 0],
    [[0xc1, 2, 0xff, 0xfe, 0x88, 4, 0x03, 0xe8, 0x4f, 0x4b], DEFAULT_MAX_MESSAGE, 0x40],
    [[0x82, 126, 0x01, 0x00, ...new Array(256).fill(1), 0x02, 3, 1, 2, 3, 0x80, 127, 0, 0, 0, 0, 0, 0, 0, 8], 260, 0],
    [[0x82, 127, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9, 9], MAX_SAFE, 0],
    [[0x81, 3, 0xed, 0xa0, 0x80], DEFAULT_MAX_MESSAGE, 0],
    [[0x88, 2, 0x03, 0xed], DEFAULT_MAX_MESSAGE, 0],
  ];
  const chunkings = [(b: number[]) => [b], (b: number[]) => b.map((x) => [x]), (b: number[]) => [b.slice(0, 3), b.slice(3, 7), b.slice(7)]];

  it('is ASCII-only es2019 without NUL bytes, and gives the same records as the source in a bare context', async () => {
    const code = await bundle();
    expect(code.length).toBeLessThan(8 * 1024);
    for (let i = 0; i < code.length; i++) expect(code.charCodeAt(i) > 0 && code.charCodeAt(i) < 0x80).toBe(true);
    expect(() => parse(code, { ecmaVersion: 2019, sourceType: 'script' })).not.toThrow();

    const context = createContext({});
    runInContext(
      'delete globalThis.WebAssembly; delete globalThis.queueMicrotask; delete globalThis.structuredClone;' +
        'delete globalThis.SharedArrayBuffer; delete globalThis.WeakRef; delete globalThis.Intl;' +
        'delete Array.prototype.at; delete Object.hasOwn; delete Promise.allSettled; delete Promise.any;',
      context,
    );
    const absent = runInContext(
      "['Buffer','process','WebAssembly','queueMicrotask','structuredClone','require','module','Intl'].filter(function (n) { return typeof globalThis[n] !== 'undefined'; })" +
        ".concat(typeof [].at === 'function' ? ['at'] : [], typeof Object.hasOwn === 'function' ? ['hasOwn'] : [])",
      context,
    );
    expect(Array.from(absent)).toEqual([]);
    runInContext('"use strict";\n' + code, context);
    // The driver runs inside the context so every typed array is the context's own.
    runInContext(
      'globalThis.drive = function (max, flags, chunks) {' +
        '  var v = picowsCore.createJsCore(2).createValidator(max, flags), out = [];' +
        '  for (var c = 0; c < chunks.length; c++) {' +
        '    var chunk = new Uint8Array(chunks[c]), from = 0;' +
        '    do { var n = v.scan(chunk, from); for (var k = 0; k < n * 4; k++) out.push(v.events[k]); out.push(-1); from = v.pos; } while (from < chunk.length);' +
        '  }' +
        '  var core = picowsCore.createJsCore(), b = new Uint8Array([0x61, 0xe2, 0x82, 0xac, 0xc3]);' +
        '  core.mask(b, 0, 5, 0x01020304);' +
        '  return JSON.stringify({ records: out, kind: core.kind, utf8: [core.utf8ErrorOffset(b, 0, 5), core.utf8ErrorOffset(new Uint8Array([0xe2, 0x82, 0xac]), 0, 3)], masked: Array.prototype.slice.call(b) });' +
        '};',
      context,
    );
    const drive = context.drive as (max: number, flags: number, chunks: number[][]) => string;

    for (const [bytes, max, flags] of streams) {
      for (const chunking of chunkings) {
        const chunks = chunking(bytes);
        const fromBundle = JSON.parse(drive(max, flags, chunks));
        const v = createJsCore(2).createValidator(max, flags);
        const records: number[] = [];
        for (const c of chunks) {
          const chunk = Uint8Array.from(c);
          let from = 0;
          do {
            const n = v.scan(chunk, from);
            records.push(...Array.from(v.events.subarray(0, n * RECORD_SLOTS)), -1);
            from = v.pos;
          } while (from < chunk.length);
        }
        expect(fromBundle.records).toEqual(records);
        expect(records.length).toBeGreaterThan(chunks.length);
        expect(fromBundle.kind).toBe('js');
        expect(fromBundle.utf8).toEqual([2, -1]); // masked: 60 e0 81 .. (E0 needs A0-BF)
        expect(fromBundle.masked).toEqual([0x61 ^ 1, 0xe2 ^ 2, 0x82 ^ 3, 0xac ^ 4, 0xc3 ^ 1]);
      }
    }
  });
});
