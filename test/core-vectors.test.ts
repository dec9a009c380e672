/**
 * Every shared vector (test/vectors/frames.ts) through both cores, under every
 * chunking that matters: whole, cut at every single point, byte at a time, and
 * (for short vectors) cut at every pair of points. The normalized result must equal
 * the vector's expectation each time, and the raw record stream must be exactly the
 * one the contract prescribes for that chunking (assembly/README.md, "When DATA
 * records are written").
 */
import { describe, expect, it } from 'vitest';
import { nodeCore } from '../board/node/core';
import { E_INVALID_UTF8, E_MESSAGE_TOO_BIG, E_TRUNCATED_UTF8 } from '../src/core/error-ids';
import { CFG_ACCEPT_NON_MINIMAL, DEFAULT_MAX_MESSAGE, type Core, type FrameValidator } from '../src/core/types';
import {
  byteAtATime,
  expectedNormalized,
  normalized,
  referenceRecords,
  runValidator,
  splitAt,
  type Normalized,
  type StreamRun,
} from './helpers/records';
import { RSV1, hex, stream } from './vectors/build';
import { VECTORS, type Vector } from './vectors/frames';

const KINDS = ['wasm', 'js'] as const;

/** Vectors shorter than this are also cut at every pair of points. */
const PAIR_LIMIT = 40;
/**
 * Vectors are cut at every single point while bytes x frames stays under this; past it
 * (64 KiB payloads, hundreds of frames) at a chosen set: the first and last bytes,
 * around the first and last frame boundaries and the failing byte, and a stride.
 */
const EVERY_POINT_COST = 12_000;

function createFor(core: Core, v: Vector): FrameValidator {
  if (v.maxMessage === undefined && v.flags === undefined) return core.createValidator();
  return core.createValidator(v.maxMessage === undefined ? DEFAULT_MAX_MESSAGE : v.maxMessage, v.flags || 0);
}

/** Frame boundaries (header starts and payload starts) from a header walk. */
function frameBoundaries(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    out.push(at);
    const len7 = bytes[at + 1] & 0x7f;
    let length = len7;
    let headerLength = 2;
    if (len7 === 126) {
      headerLength = 4;
      length = (bytes[at + 2] << 8) | bytes[at + 3];
    } else if (len7 === 127) {
      headerLength = 10;
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + (bytes[at + i] || 0);
    }
    if (bytes[at + 1] & 0x80) headerLength += 4;
    out.push(at + headerLength);
    at += headerLength + length;
  }
  return out;
}

function singleCuts(v: Vector): number[] {
  const n = v.bytes.length;
  const cuts: number[] = [];
  const bounds = frameBoundaries(v.bytes);
  if (n * (bounds.length / 2 + 1) <= EVERY_POINT_COST) {
    for (let i = 1; i < n; i++) cuts.push(i);
    return cuts;
  }
  const chosen = new Set<number>();
  for (let i = 1; i <= 40; i++) chosen.add(i).add(n - i);
  const ends = bounds.slice(0, 12).concat(bounds.slice(-12));
  for (const b of ends) for (let d = -6; d <= 6; d++) chosen.add(b + d);
  if (v.expect.error) for (let d = -6; d <= 6; d++) chosen.add(v.expect.error.offset + d);
  for (let i = 8191; i < n; i += 8191) chosen.add(i);
  for (let i = 97; i < Math.min(n, 2000); i += 97) chosen.add(i);
  chosen.forEach((c) => {
    if (c > 0 && c < n) cuts.push(c);
  });
  return cuts.sort((a, b) => a - b);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Checks one run; calls expect() only on a mismatch so the 100k passing runs stay cheap. */
function checkRun(run: StreamRun, v: Vector, cuts: number[], want: Normalized, label: string): void {
  const got = normalized(run);
  if (!same(got, want)) expect(got, label + ', cut at [' + cuts.join(',') + ']').toEqual(want);
  const records = referenceRecords(v.bytes, cuts, want.verdict);
  if (!same(run.records, records)) {
    expect(run.records, label + ', cut at [' + cuts.join(',') + ']: the record stream').toEqual(records);
  }
}

for (const kind of KINDS) {
  describe(kind + ' core: shared vectors', () => {
    for (const v of VECTORS) {
      it(v.rule + ': ' + v.name, () => {
        const core = nodeCore(kind);
        const want = expectedNormalized(v.expect.frames, v.expect.error);

        // (a) whole, on a fresh validator
        const fresh = createFor(core, v);
        try {
          checkRun(runValidator(fresh, [v.bytes]), v, [], want, kind + ' whole');
        } finally {
          fresh.dispose();
        }

        // (c) byte at a time, on a fresh validator
        const bytewise = createFor(core, v);
        try {
          const cuts: number[] = [];
          for (let i = 1; i < v.bytes.length; i++) cuts.push(i);
          checkRun(runValidator(bytewise, byteAtATime(v.bytes)), v, cuts, want, kind + ' byte at a time');
        } finally {
          bytewise.dispose();
        }

        // (b) every single cut and (d) every pair of cuts, on one validator reset() between runs
        const reused = createFor(core, v);
        try {
          for (const c of singleCuts(v)) {
            reused.reset();
            checkRun(runValidator(reused, splitAt(v.bytes, [c])), v, [c], want, kind + ' after reset()');
          }
          if (v.bytes.length < PAIR_LIMIT) {
            for (let i = 1; i < v.bytes.length; i++) {
              for (let j = i + 1; j < v.bytes.length; j++) {
                reused.reset();
                checkRun(runValidator(reused, splitAt(v.bytes, [i, j])), v, [i, j], want, kind + ' after reset()');
              }
            }
          }
        } finally {
          reused.dispose();
        }
      });
    }
  });
}

describe('both cores give identical records for every vector', () => {
  for (const v of VECTORS) {
    it(v.rule + ': ' + v.name, () => {
      const wasm = nodeCore('wasm');
      const js = nodeCore('js');
      const n = v.bytes.length;
      // Each core is already held to the exact record stream for every chunking above; here
      // the two are compared directly: whole, byte at a time (up to 8 KiB), and at every cut
      // for short vectors or around the first frame edges for long ones.
      const chunkings: number[][] = [[]];
      if (n <= 8192) chunkings.push(Array.from(v.bytes.keys()).slice(1));
      if (n <= 512) {
        for (const c of singleCuts(v)) chunkings.push([c]);
      } else {
        for (const edge of frameBoundaries(v.bytes).slice(0, 40)) {
          for (let c = edge - 2; c <= edge + 2; c++) if (c > 0 && c < n) chunkings.push([c]);
        }
      }
      const a = createFor(wasm, v);
      const b = createFor(js, v);
      try {
        for (const cuts of chunkings) {
          a.reset();
          b.reset();
          const ra = runValidator(a, splitAt(v.bytes, cuts));
          const rb = runValidator(b, splitAt(v.bytes, cuts));
          if (!same(ra, rb)) expect(ra, 'wasm (received) vs js (expected), cut at [' + cuts.join(',') + ']').toEqual(rb);
        }
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }
});

/** The one text frame a vector holds, when it holds exactly one plain (unmasked, RSV-free, FIN) text frame. */
function singleTextPayload(v: Vector): { start: number; end: number } | undefined {
  const b = v.bytes;
  if (b.length < 2 || b[0] !== 0x81 || b[1] & 0x80) return undefined;
  const len7 = b[1] & 0x7f;
  let start = 2;
  let length = len7;
  if (len7 === 126) {
    start = 4;
    length = (b[2] << 8) | b[3];
  } else if (len7 === 127) {
    return undefined;
  }
  if (start + length !== b.length) return undefined;
  return { start, end: b.length };
}

for (const kind of KINDS) {
  describe(kind + ' core: utf8ErrorOffset() on the single-frame text vectors', () => {
    const cases = VECTORS.filter((v) => {
      const e = v.expect.error;
      return singleTextPayload(v) && (!e || e.id === E_INVALID_UTF8 || e.id === E_TRUNCATED_UTF8);
    });

    it('has enough cases to mean something', () => {
      expect(cases.length).toBeGreaterThan(80);
    });

    for (const v of cases) {
      it(v.name, () => {
        const core = nodeCore(kind);
        const { start, end } = singleTextPayload(v) as { start: number; end: number };
        const e = v.expect.error;
        const want = !e ? -1 : e.id === E_TRUNCATED_UTF8 ? end : e.offset;
        expect(core.utf8ErrorOffset(v.bytes, start, end)).toBe(want);
        // The same bytes at another place in a larger array: offsets index the array.
        const shifted = new Uint8Array(end - start + 7);
        shifted.set(v.bytes.subarray(start, end), 3);
        expect(core.utf8ErrorOffset(shifted, 3, 3 + end - start)).toBe(want < 0 ? -1 : want - start + 3);
      });
    }
  });
}

for (const kind of KINDS) {
  describe(kind + ' core: validator life cycle', () => {
    const freshStream = stream().text('fresh');
    const fresh = freshStream.bytes();
    const freshWant = expectedNormalized(freshStream.frames, undefined);

    const leftovers: [string, Uint8Array][] = [
      ['a header in progress', hex('81 7e 00')],
      ['an open fragmented message', stream().text('a', { fin: false }).bytes()],
      ['a text message mid-character', stream().text(hex('e2 82'), { fin: false }).bytes()],
      ['a payload in progress', stream().binary('abcdef', { sent: 2 }).bytes()],
      ['a close code in progress', stream().close(1000, 'bye', { sent: 1 }).bytes()],
      ['a dead stream', hex('83 00')],
    ];
    for (const [what, prefix] of leftovers) {
      it('reset() forgets ' + what, () => {
        const v = nodeCore(kind).createValidator();
        try {
          runValidator(v, [prefix]);
          v.reset();
          expect(normalized(runValidator(v, [fresh]))).toEqual(freshWant);
        } finally {
          v.dispose();
        }
      });
    }

    it('reset() keeps the configuration', () => {
      const v = nodeCore(kind).createValidator(10, CFG_ACCEPT_NON_MINIMAL | RSV1);
      const accepted = stream().binary('12345', { form: 16 }).text('z', { rsv: RSV1 });
      const tooBig = stream().binary('12345678901');
      try {
        runValidator(v, [hex('83')]);
        v.reset();
        expect(normalized(runValidator(v, [accepted.bytes()]))).toEqual(expectedNormalized(accepted.frames, undefined));
        v.reset();
        expect(normalized(runValidator(v, [tooBig.bytes()])).verdict).toEqual({
          id: E_MESSAGE_TOO_BIG,
          name: 'MESSAGE_TOO_BIG',
          code: 1009,
          offset: 1,
        });
      } finally {
        v.dispose();
      }
    });

    it('configure() applies from the next frame', () => {
      const v = nodeCore(kind).createValidator();
      const s = stream().binary('abcd').text('x', { rsv: RSV1 }).binary('abc');
      const bytes = s.bytes();
      try {
        // The new limits arrive after frame 0's byte 0: frame 0 is under way, so it keeps the old ones.
        const run = runValidator(v, [bytes.subarray(0, 1), bytes.subarray(1)], (i) => {
          if (i === 1) v.configure(2, RSV1);
        });
        // Frame 0 (4 bytes) passes under the old maximum; frame 1 (RSV1, 1 byte) passes
        // the new rules; frame 2 (3 bytes > 2) fails at its header byte 1.
        expect(normalized(run)).toEqual(
          expectedNormalized(s.frames.slice(0, 2), { id: E_MESSAGE_TOO_BIG, code: 1009, offset: s.at(2, 1) }),
        );
      } finally {
        v.dispose();
      }
    });

    it('an empty chunk changes nothing', () => {
      const s = stream().text(hex('e2 82 ac'), { fin: false }).cont('b');
      const bytes = s.bytes();
      const v = nodeCore(kind).createValidator();
      try {
        const run = runValidator(v, [bytes.subarray(0, 3), new Uint8Array(0), bytes.subarray(3, 3), bytes.subarray(3)]);
        expect(v.pos).toBe(bytes.length - 3);
        expect(normalized(run)).toEqual(expectedNormalized(s.frames, undefined));
      } finally {
        v.dispose();
      }
    });

    it('validators do not share stream state', () => {
      const core = nodeCore(kind);
      const a = core.createValidator();
      const b = core.createValidator();
      const ba = stream().text(hex('e2'), { fin: false }).cont(hex('82 ac')).bytes();
      const bb = stream().binary(hex('ff ff ff'), { fin: false }).cont(hex('fe')).bytes();
      const shift = (r: number[], by: number) => (r[0] === 1 ? [r[0], r[1], r[2] + by, r[3]] : [r[0], r[1], r[2], r[3] + by]);
      try {
        // Interleave the two streams' scans byte by byte: the one instance serves both.
        const recA: number[][] = [];
        const recB: number[][] = [];
        for (let i = 0; i < Math.max(ba.length, bb.length); i++) {
          if (i < ba.length) for (const r of runValidator(a, [ba.subarray(i, i + 1)]).records) recA.push(shift(r, i));
          if (i < bb.length) for (const r of runValidator(b, [bb.subarray(i, i + 1)]).records) recB.push(shift(r, i));
        }
        expect(recA).toEqual(referenceRecords(ba, Array.from(ba.keys()).slice(1), 'ok'));
        expect(recB).toEqual(referenceRecords(bb, Array.from(bb.keys()).slice(1), 'ok'));
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  });
}
