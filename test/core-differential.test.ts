/**
 * Differential fuzzing of picows' two cores: the WebAssembly build and the plain-JS
 * twin must give the same records, verdict, error id and offset for every input and
 * every chunking (assembly/README.md). Where a model exists the cores are also held
 * to it: generated legal streams must pass with exactly the frames generated, every
 * record stream must be the one the contract prescribes, and UTF-8 verdicts must
 * match Node's buffer.isUtf8 and a reference automaton written from the contract's table.
 *
 * Reproducible: the seed is fixed (override with PICOWS_FC_SEED); on a failure
 * fast-check prints the seed and the shrunk counterexample.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeCore } from '../board/node/core';
import { E_INVALID_UTF8, E_TRUNCATED_UTF8 } from '../src/core/error-ids';
import { CFG_ACCEPT_NON_MINIMAL, DEFAULT_MAX_MESSAGE, type Core } from '../src/core/types';
import {
  expectedNormalized,
  normalized,
  referenceRecords,
  runValidator,
  splitAt,
  type Normalized,
  type StreamRun,
} from './helpers/records';
import { RSV1, RSV2, RSV3, concat, closePayload, stream, utf8, xorMask, type Stream } from './vectors/build';

const SEED = Number(process.env.PICOWS_FC_SEED || 0x5eed);
/** Runs per property: a few thousand, sized so the file stays well under a minute on a loaded 2-core machine. */
const RUNS = Number(process.env.PICOWS_FC_RUNS || 4000);

const wasm = () => nodeCore('wasm');
const js = () => nodeCore('js');

// ---------------------------------------------------------------- references

/** The contract's 9-state UTF-8 automaton, transcribed from its table: -1, the failing index, or `end` when cut mid-sequence. */
function referenceUtf8ErrorOffset(b: Uint8Array, start: number, end: number): number {
  let state = 0;
  for (let i = start; i < end; i++) {
    const x = b[i];
    let next = -1;
    switch (state) {
      case 0:
        if (x <= 0x7f) next = 0;
        else if (x >= 0xc2 && x <= 0xdf) next = 1;
        else if (x === 0xe0) next = 3;
        else if ((x >= 0xe1 && x <= 0xec) || x === 0xee || x === 0xef) next = 2;
        else if (x === 0xed) next = 4;
        else if (x === 0xf0) next = 6;
        else if (x >= 0xf1 && x <= 0xf3) next = 5;
        else if (x === 0xf4) next = 7;
        break;
      case 1:
        if (x >= 0x80 && x <= 0xbf) next = 0;
        break;
      case 2:
        if (x >= 0x80 && x <= 0xbf) next = 1;
        break;
      case 3:
        if (x >= 0xa0 && x <= 0xbf) next = 1;
        break;
      case 4:
        if (x >= 0x80 && x <= 0x9f) next = 1;
        break;
      case 5:
        if (x >= 0x80 && x <= 0xbf) next = 2;
        break;
      case 6:
        if (x >= 0x90 && x <= 0xbf) next = 2;
        break;
      case 7:
        if (x >= 0x80 && x <= 0x8f) next = 2;
        break;
    }
    if (next < 0) return i;
    state = next;
  }
  return state === 0 ? -1 : end;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

interface Config {
  /** undefined: createValidator() with its defaults. */
  maxMessage?: number;
  flags: number;
}

function run(core: Core, cfg: Config, bytes: Uint8Array, cuts: number[]): StreamRun {
  const v = cfg.maxMessage === undefined && cfg.flags === 0 ? core.createValidator() : core.createValidator(cfg.maxMessage === undefined ? DEFAULT_MAX_MESSAGE : cfg.maxMessage, cfg.flags);
  try {
    return runValidator(v, splitAt(bytes, cuts));
  } finally {
    v.dispose();
  }
}

/** Sorted distinct cut points strictly inside (0, length): no empty chunks. */
function cutsFrom(raw: number[], length: number): number[] {
  if (length < 2) return [];
  const set = new Set<number>();
  for (const r of raw) set.add(1 + (r % (length - 1)));
  return Array.from(set).sort((a, b) => a - b);
}

type Chunking = { mode: 'whole' } | { mode: 'bytes' } | { mode: 'cuts'; raw: number[] };

const chunkingArb: fc.Arbitrary<Chunking> = fc.oneof(
  { arbitrary: fc.record({ mode: fc.constant('cuts' as const), raw: fc.array(fc.nat(), { minLength: 1, maxLength: 12 }) }), weight: 8 },
  { arbitrary: fc.constant({ mode: 'bytes' as const }), weight: 1 },
  { arbitrary: fc.constant({ mode: 'whole' as const }), weight: 1 },
);

function cutsFor(c: Chunking, length: number): number[] {
  if (c.mode === 'whole') return [];
  if (c.mode === 'bytes') {
    const all: number[] = [];
    for (let i = 1; i < length; i++) all.push(i);
    return all;
  }
  return cutsFrom(c.raw, length);
}

/**
 * Runs both cores whole and with `cuts`, and asserts everything the contract lets us
 * assert without a model: no record-stream violations, the exact prescribed records
 * for each chunking, the same normalized result whatever the chunking, and the two
 * cores identical. Returns the (agreed) normalized result.
 */
function agree(cfg: Config, bytes: Uint8Array, cuts: number[]): Normalized {
  const ws = run(wasm(), cfg, bytes, []);
  const js0 = run(js(), cfg, bytes, []);
  const wc = run(wasm(), cfg, bytes, cuts);
  const jc = run(js(), cfg, bytes, cuts);
  const label = ' (' + bytes.length + ' bytes, cuts [' + cuts.join(',') + '])';
  if (!same(ws, js0)) expect(ws, 'wasm (received) vs js (expected), whole' + label).toEqual(js0);
  if (!same(wc, jc)) expect(wc, 'wasm (received) vs js (expected), chunked' + label).toEqual(jc);
  expect(ws.violations, 'record-stream violations, whole' + label).toEqual([]);
  expect(wc.violations, 'record-stream violations, chunked' + label).toEqual([]);
  const nw = normalized(ws);
  if (!same(normalized(wc), nw)) expect(normalized(wc), 'chunked vs whole' + label).toEqual(nw);
  const refWhole = referenceRecords(bytes, [], ws.verdict);
  if (!same(ws.records, refWhole)) expect(ws.records, 'records, whole' + label).toEqual(refWhole);
  const refCut = referenceRecords(bytes, cuts, ws.verdict);
  if (!same(wc.records, refCut)) expect(wc.records, 'records, chunked' + label).toEqual(refCut);
  return nw;
}

// ---------------------------------------------------------------- generators

/** Code points weighted toward the UTF-8 length boundaries and 4-byte characters. */
const codePointArb = fc.oneof(
  { arbitrary: fc.integer({ min: 0x20, max: 0x7e }), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 0x7f }), weight: 1 },
  { arbitrary: fc.integer({ min: 0x80, max: 0x7ff }), weight: 2 },
  { arbitrary: fc.integer({ min: 0x800, max: 0xd7ff }), weight: 1 },
  { arbitrary: fc.integer({ min: 0xe000, max: 0xffff }), weight: 1 },
  { arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }), weight: 3 },
  { arbitrary: fc.constantFrom(0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfeff, 0xffff, 0x10000, 0x10ffff), weight: 1 },
);

/** Valid UTF-8 of up to maxChars characters (lengths spread evenly: size 'max'). */
const textArb = (maxChars: number) =>
  fc.array(codePointArb, { maxLength: maxChars, size: 'max' }).map((cps) => utf8(String.fromCodePoint(...cps)));

/** A long ASCII run with a few characters spliced in: where a vectorised ASCII path hands over. */
const asciiRunArb = (maxRun: number, inserted: fc.Arbitrary<Uint8Array>) =>
  fc.tuple(fc.integer({ min: 0, max: maxRun }), inserted, fc.nat()).map(([run, middle, at]) => {
    const ascii = new Uint8Array(run).fill(0x61);
    const cut = run === 0 ? 0 : at % (run + 1);
    return concat([ascii.subarray(0, cut), middle, ascii.subarray(cut)]);
  });

const validTextArb = fc.oneof(
  { arbitrary: textArb(12), weight: 4 },
  { arbitrary: textArb(40), weight: 2 },
  { arbitrary: textArb(120), weight: 1 },
  { arbitrary: asciiRunArb(300, textArb(4)), weight: 1 },
);

/** Bytes that sit on the automaton's edges, for building nearly-valid UTF-8. */
const EDGE_BYTES = [
  0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef,
  0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff,
];

const pieceArb = fc.oneof(
  { arbitrary: codePointArb.map((cp) => utf8(String.fromCodePoint(cp))), weight: 12 },
  { arbitrary: fc.constantFrom(...EDGE_BYTES).map((b) => Uint8Array.of(b)), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => Uint8Array.of(b)), weight: 1 },
);

/** Mostly-valid UTF-8 with edge bytes mixed in, short and long, some after long ASCII runs: about half valid. */
const nearlyUtf8Arb = (maxPieces: number) =>
  fc.oneof(
    { arbitrary: fc.array(pieceArb, { maxLength: 12 }).map(concat), weight: 3 },
    { arbitrary: fc.array(pieceArb, { maxLength: maxPieces, size: 'max' }).map(concat), weight: 1 },
    { arbitrary: asciiRunArb(200, fc.array(pieceArb, { maxLength: 3 }).map(concat)), weight: 1 },
  );

type Form = 7 | 16 | 64;
const formArb = fc.constantFrom<Form>(7, 16, 64);

interface ControlPlan {
  opcode: 0x9 | 0xa;
  payload: Uint8Array;
  rsv: number;
}

interface MessagePlan {
  opcode: 0x1 | 0x2;
  /** Valid UTF-8: the payload of an uncompressed text message. */
  text: Uint8Array;
  /** Anything: the payload of a binary or compressed message. */
  raw: Uint8Array;
  /** Fragment cut points (reduced modulo the payload length; repeats make empty fragments). */
  cuts: number[];
  /** Control frames after fragment k (only between fragments are they used). */
  between: ControlPlan[][];
  /** Length form per frame (used only where non-minimal lengths are accepted). */
  forms: Form[];
  compressed: boolean;
  rsv: number[];
}

interface StreamPlan {
  flags: number;
  /** Added to the largest message to make the maximum (0: exactly at the maximum). */
  slack: number;
  items: (MessagePlan | ControlPlan)[];
  close: { code: number; reason: Uint8Array } | null;
}

const controlArb: fc.Arbitrary<ControlPlan> = fc.record({
  opcode: fc.constantFrom<0x9 | 0xa>(0x9, 0xa),
  payload: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 125, size: 'max' })),
  rsv: fc.constantFrom(0, RSV2, RSV3, RSV2 | RSV3),
});

const messageArb: fc.Arbitrary<MessagePlan> = fc.record({
  opcode: fc.constantFrom<0x1 | 0x2>(0x1, 0x1, 0x2),
  text: validTextArb,
  raw: fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 12 }), weight: 3 }, { arbitrary: fc.uint8Array({ maxLength: 300, size: 'max' }), weight: 1 }),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
  between: fc.array(fc.array(controlArb, { maxLength: 2 }), { maxLength: 4 }),
  forms: fc.array(formArb, { minLength: 5, maxLength: 5 }),
  compressed: fc.boolean(),
  rsv: fc.array(fc.constantFrom(0, RSV2, RSV3, RSV2 | RSV3), { minLength: 5, maxLength: 5 }),
});

const VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];

const streamPlanArb: fc.Arbitrary<StreamPlan> = fc.record({
  flags: fc.constantFrom(0, 0, CFG_ACCEPT_NON_MINIMAL, RSV1, RSV1 | CFG_ACCEPT_NON_MINIMAL, RSV2 | RSV3, RSV1 | RSV2 | RSV3 | CFG_ACCEPT_NON_MINIMAL),
  slack: fc.oneof(fc.constant(0), fc.nat(50), fc.constant(DEFAULT_MAX_MESSAGE)),
  items: fc.array(fc.oneof({ arbitrary: messageArb, weight: 3 }, { arbitrary: controlArb, weight: 1 }), { maxLength: 5 }),
  close: fc.option(
    fc.record({ code: fc.constantFrom(...VALID_CLOSE_CODES), reason: fc.oneof(textArb(8), textArb(40)).map((r) => r.subarray(0, 123)) }),
    { freq: 3 },
  ),
});

function formFor(length: number, wanted: Form, flags: number): Form | undefined {
  if (!(flags & CFG_ACCEPT_NON_MINIMAL)) return undefined; // minimal
  if (wanted === 7 && length > 125) return undefined;
  if (wanted === 16 && length > 0xffff) return 64;
  return wanted;
}

/** Cuts a UTF-8 reason at 123 bytes without leaving half a character (so the close stays legal). */
function legalReason(r: Uint8Array): Uint8Array {
  let end = r.length;
  while (end > 0 && referenceUtf8ErrorOffset(r, 0, end) !== -1) end--;
  return r.subarray(0, end);
}

interface Built {
  cfg: Config;
  stream: Stream;
  bytes: Uint8Array;
}

/** Lays a plan out as frames. Every stream built here is legal under its config. */
function buildStream(plan: StreamPlan): Built {
  const s = stream();
  const rsvAllowed = plan.flags & 0x70;
  let largest = 0;
  const control = (c: ControlPlan) => s.frame(c.opcode, c.payload, { rsv: c.rsv & rsvAllowed });
  for (const item of plan.items) {
    if (item.opcode === 0x9 || item.opcode === 0xa) {
      control(item as ControlPlan);
      continue;
    }
    const m = item as MessagePlan;
    const compressed = m.compressed && (rsvAllowed & RSV1) !== 0;
    // An uncompressed text message gets valid UTF-8; binary and compressed payloads
    // are not UTF-8-checked (README: "text message (not RSV1-compressed)"), so anything.
    const payload = m.opcode === 0x1 && !compressed ? m.text : m.raw;
    largest = Math.max(largest, payload.length);
    const points = m.cuts.map((c) => (payload.length === 0 ? 0 : c % (payload.length + 1))).sort((a, b) => a - b);
    const bounds = [0].concat(points, [payload.length]);
    const n = bounds.length - 1;
    for (let k = 0; k < n; k++) {
      const part = payload.subarray(bounds[k], bounds[k + 1]);
      let rsv = m.rsv[k] & rsvAllowed & ~RSV1;
      if (k === 0 && compressed) rsv |= RSV1;
      s.frame(k === 0 ? m.opcode : 0x0, part, { fin: k === n - 1, rsv, form: formFor(part.length, m.forms[k], plan.flags) });
      if (k < n - 1 && m.between[k]) for (const c of m.between[k]) control(c);
    }
  }
  if (plan.close) s.close(plan.close.code, legalReason(plan.close.reason));
  const maxMessage = plan.slack === DEFAULT_MAX_MESSAGE && largest <= DEFAULT_MAX_MESSAGE && plan.flags === 0 ? undefined : largest + plan.slack;
  return { cfg: { maxMessage, flags: plan.flags }, stream: s, bytes: s.bytes() };
}

/** Any frames at all: every byte-0 value, masks now and then, all three length forms, odd declared lengths. */
interface SoupFrame {
  b0: number;
  masked: boolean;
  form: Form;
  payload: Uint8Array;
  /** A declared length that differs from the payload (the stream then runs on into the next frame's bytes). */
  declared: bigint | null;
}

const big = (n: number) => BigInt(n);
const ODD_LENGTHS = [
  big(0), big(1), big(125), big(126), big(65535), big(65536), big(2) ** big(32), big(2) ** big(32) + big(5),
  big(2) ** big(53), big(2) ** big(63) - big(1), big(2) ** big(63), big(2) ** big(64) - big(1),
];

const soupFrameArb: fc.Arbitrary<SoupFrame> = fc.record({
  b0: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 2 },
    { arbitrary: fc.constantFrom(0x81, 0x01, 0x80, 0x82, 0x02, 0x88, 0x89, 0x8a, 0x09, 0xc1), weight: 5 },
  ),
  masked: fc.oneof({ arbitrary: fc.constant(false), weight: 15 }, { arbitrary: fc.constant(true), weight: 1 }),
  form: fc.oneof({ arbitrary: fc.constant<Form>(7), weight: 6 }, { arbitrary: fc.constantFrom<Form>(16, 64), weight: 1 }),
  payload: fc.oneof(
    { arbitrary: nearlyUtf8Arb(60), weight: 6 },
    { arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xffff }), nearlyUtf8Arb(10)).map(([code, reason]) => closePayload(code, reason)), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 140, size: 'max' }), weight: 1 },
  ),
  declared: fc.option(fc.constantFrom(...ODD_LENGTHS), { freq: 12 }),
});

function buildSoup(frames: SoupFrame[]): Uint8Array {
  const s = stream();
  for (const f of frames) {
    const length = f.declared === null ? f.payload.length : f.declared;
    let form = f.form;
    if (form === 7 && BigInt(length) > big(125)) form = 16;
    if (form === 16 && BigInt(length) > big(0xffff)) form = 64;
    s.frame(f.b0 & 0x0f, f.payload, {
      fin: (f.b0 & 0x80) !== 0,
      rsv: f.b0 & 0x70,
      form,
      length,
      maskKey: f.masked ? 0x5a5aa5a5 : undefined,
    });
  }
  return s.bytes();
}

interface Mutation {
  kind: 'flip' | 'set' | 'insert' | 'delete' | 'truncate';
  at: number;
  value: number;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('flip', 'flip', 'set', 'insert', 'delete', 'truncate'),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
});

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Array.from(bytes);
  for (const m of mutations) {
    if (b.length === 0 && m.kind !== 'insert') continue;
    const at = m.at % (b.length + (m.kind === 'insert' ? 1 : 0));
    if (m.kind === 'flip') b[at] ^= 1 << (m.value & 7);
    else if (m.kind === 'set') b[at] = m.value;
    else if (m.kind === 'insert') b.splice(at, 0, m.value);
    else if (m.kind === 'delete') b.splice(at, 1);
    else b = b.slice(0, at);
  }
  return Uint8Array.from(b);
}

const configArb: fc.Arbitrary<Config> = fc.record({
  maxMessage: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 2 },
    { arbitrary: fc.nat(300), weight: 2 },
    { arbitrary: fc.constant(Number.MAX_SAFE_INTEGER), weight: 1 },
  ),
  flags: fc.constantFrom(0, CFG_ACCEPT_NON_MINIMAL, RSV1, RSV2, RSV1 | RSV2 | RSV3, RSV1 | CFG_ACCEPT_NON_MINIMAL),
});

// ---------------------------------------------------------------- properties

describe('legal streams: both cores deliver exactly the generated frames', () => {
  it('random fragmentation, interleaved control frames, multibyte text, 7/16/64-bit lengths, any chunking', () => {
    fc.assert(
      fc.property(streamPlanArb, chunkingArb, (plan, chunking) => {
        const { cfg, stream: s, bytes } = buildStream(plan);
        const got = agree(cfg, bytes, cutsFor(chunking, bytes.length));
        const want = expectedNormalized(s.frames, undefined);
        if (!same(got, want)) expect(got).toEqual(want);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('broken streams: both cores agree on records, verdict, error id and offset', () => {
  it('legal streams with flipped, set, inserted and deleted bytes, or truncated', () => {
    fc.assert(
      fc.property(streamPlanArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), configArb, fc.boolean(), chunkingArb, (plan, mutations, other, keep, chunking) => {
        const built = buildStream(plan);
        const bytes = mutate(built.bytes, mutations);
        // Half the time the stream's own config, half a random one (small maxima: 1009s).
        agree(keep ? built.cfg : other, bytes, cutsFor(chunking, bytes.length));
      }),
      { seed: SEED + 1, numRuns: RUNS },
    );
  });

  it('frame soup: any byte 0, masks, every length form, nearly-UTF-8 payloads, then mutated', () => {
    fc.assert(
      fc.property(
        fc.array(soupFrameArb, { minLength: 1, maxLength: 6 }),
        fc.array(mutationArb, { maxLength: 2 }),
        configArb,
        chunkingArb,
        (frames, mutations, cfg, chunking) => {
          const bytes = mutate(buildSoup(frames), mutations);
          agree(cfg, bytes, cutsFor(chunking, bytes.length));
        },
      ),
      { seed: SEED + 2, numRuns: RUNS },
    );
  });

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64, size: 'max' }), configArb, chunkingArb, (bytes, cfg, chunking) => {
        agree(cfg, bytes, cutsFor(chunking, bytes.length));
      }),
      { seed: SEED + 3, numRuns: RUNS },
    );
  });
});

describe('UTF-8 verdicts match isUtf8 (node:buffer) and the reference automaton', () => {
  it('the reference automaton agrees with isUtf8 (node:buffer)', () => {
    fc.assert(
      fc.property(nearlyUtf8Arb(40), (bytes) => {
        expect(referenceUtf8ErrorOffset(bytes, 0, bytes.length) === -1).toBe(isUtf8(bytes));
      }),
      { seed: SEED + 4, numRuns: RUNS * 2 },
    );
  });

  it('a text message of random bytes, fragmented with pings between: INVALID/TRUNCATED exactly when isUtf8 (node:buffer) is false', () => {
    fc.assert(
      fc.property(
        nearlyUtf8Arb(40),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        chunkingArb,
        (payload, rawCuts, pings, chunking) => {
          const points = rawCuts.map((c) => c % (payload.length + 1)).sort((a, b) => a - b);
          const bounds = [0].concat(points, [payload.length]);
          const s = stream();
          const frameOf: number[] = [];
          for (let k = 0; k + 1 < bounds.length; k++) {
            frameOf.push(s.frames.length);
            s.frame(k === 0 ? 0x1 : 0x0, payload.subarray(bounds[k], bounds[k + 1]), { fin: k + 2 === bounds.length });
            if (k + 2 < bounds.length && pings[k]) s.ping(Uint8Array.of(0xff, 0xc0));
          }
          const bytes = s.bytes();
          const got = agree({ flags: 0 }, bytes, cutsFor(chunking, bytes.length));
          const valid = isUtf8(payload);
          expect(got.verdict === 'ok', 'verdict ok exactly when isUtf8 (node:buffer)').toBe(valid);
          if (valid) return;
          const bad = referenceUtf8ErrorOffset(payload, 0, payload.length);
          let want: { id: number; code: number; offset: number };
          if (bad === payload.length) {
            want = { id: E_TRUNCATED_UTF8, code: 1007, offset: s.lastByte(frameOf[frameOf.length - 1]) };
          } else {
            let k = 0;
            while (bounds[k + 1] <= bad) k++;
            want = { id: E_INVALID_UTF8, code: 1007, offset: s.payloadAt(frameOf[k], bad - bounds[k]) };
          }
          expect(got.verdict).toEqual(expectedNormalized([], want).verdict);
        },
      ),
      { seed: SEED + 5, numRuns: RUNS },
    );
  });

  for (const [kind, core] of [
    ['wasm', wasm],
    ['js', js],
  ] as const) {
    it(kind + ' core: utf8ErrorOffset() is -1 exactly when isUtf8 (node:buffer), else the reference offset', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 8 }),
          nearlyUtf8Arb(60),
          fc.uint8Array({ maxLength: 8 }),
          (before, bytes, after) => {
            const all = concat([before, bytes, after]);
            const start = before.length;
            const end = start + bytes.length;
            const got = core().utf8ErrorOffset(all, start, end);
            expect(got === -1).toBe(isUtf8(bytes));
            expect(got).toBe(referenceUtf8ErrorOffset(all, start, end));
          },
        ),
        { seed: SEED + 6, numRuns: RUNS * 2 },
      );
    });
  }

  it('utf8ErrorOffset() on long inputs, around 64 KiB', () => {
    const base = new Uint8Array(70000).fill(0x61);
    for (const at of [65532, 65533, 65534, 65535, 65536, 65537]) {
      for (const seq of [
        [0xf0, 0x9f, 0x98, 0x80],
        [0xe2, 0x82, 0xac],
        [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
        [0xc2],
      ]) {
        const b = base.slice();
        b.set(seq, at);
        for (const start of [0, 1, 3]) {
          for (const end of [b.length, at + seq.length - 1, at + seq.length]) {
            const want = referenceUtf8ErrorOffset(b, start, end);
            expect(wasm().utf8ErrorOffset(b, start, end), 'wasm ' + [at, seq, start, end]).toBe(want);
            expect(js().utf8ErrorOffset(b, start, end), 'js ' + [at, seq, start, end]).toBe(want);
          }
        }
      }
    }
  });
});

describe('mask(): XOR with the 4-byte key from phase 0, in place', () => {
  for (const [kind, core] of [
    ['wasm', wasm],
    ['js', js],
  ] as const) {
    it(kind + ' core: matches a plain XOR, touches nothing outside [start, end), and twice is the identity', () => {
      fc.assert(
        fc.property(
          fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 40, size: 'max' }), weight: 3 }, { arbitrary: fc.uint8Array({ maxLength: 700, size: 'max' }), weight: 1 }),
          fc.nat(),
          fc.nat(),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.boolean(),
          (bytes, a, b, key, signed) => {
            const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
            const end = start + (bytes.length === start ? 0 : b % (bytes.length - start + 1));
            const k = signed ? key | 0 : key;
            const buf = bytes.slice();
            core().mask(buf, start, end, k);
            const want = bytes.slice();
            want.set(xorMask(bytes.subarray(start, end), key >>> 0), start);
            expect(Array.from(buf)).toEqual(Array.from(want));
            core().mask(buf, start, end, k);
            expect(Array.from(buf)).toEqual(Array.from(bytes));
          },
        ),
        { seed: SEED + 7, numRuns: RUNS },
      );
    });

    it(kind + ' core: mask() on payloads around and past 64 KiB', () => {
      for (const length of [65535, 65536, 65537, 131075]) {
        for (const start of [0, 1, 3]) {
          const bytes = new Uint8Array(length + 8);
          for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
          const buf = bytes.slice();
          core().mask(buf, start, start + length, 0x81c3e5f7);
          const want = bytes.slice();
          want.set(xorMask(bytes.subarray(start, start + length), 0x81c3e5f7), start);
          let diff = -1;
          for (let i = 0; i < buf.length && diff < 0; i++) if (buf[i] !== want[i]) diff = i;
          expect(diff, 'first differing byte, length ' + length + ' from ' + start).toBe(-1);
        }
      }
    });
  }

  it('closePayload and xorMask build what the fuzzers need (the helpers are right)', () => {
    expect(Array.from(closePayload(1000, 'a'))).toEqual([0x03, 0xe8, 0x61]);
    expect(Array.from(xorMask(Uint8Array.of(0, 0, 0, 0, 0xff), 0x01020304))).toEqual([1, 2, 3, 4, 0xfe]);
  });
});
