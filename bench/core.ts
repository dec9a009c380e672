/**
 * The core section: picows' two cores (WebAssembly and the JS twin) side by side
 * with what Node users compare them to, in one run.
 *   - UTF-8 validation: Buffer.isUtf8 (simdutf, the anchor), utf-8-validate native
 *     and its JS fallback (what ws uses), a fatal TextDecoder.
 *   - The frame validator end to end (scan + reading the records).
 *   - Masking: bufferutil native (the anchor) and its JS fallback.
 * Every implementation must give the same verdicts before anything is timed.
 * Inputs and method: bench/README.md.
 */
import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { nodeCore } from '../board/node/core';
import { EV_DATA, FLAG_LAST, RECORD_SLOTS, type Core } from '../src/core/types';
import { check, mbPerSecond, measureSideBySide, NOISY_SPREAD, noisyNote, progress, target } from './harness';
import type { BenchOptions, Call, Measurement, Row, Section, SectionResult, Target } from './harness';
import { mulberry32 as prng } from '../board/sim/prng';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- inputs

/** English prose and chat: all ASCII. */
const ASCII_PHRASES = [
  'The quick brown fox jumps over the lazy dog. ',
  'Sensor 7 reports 21.5 C and 43% humidity at 10:42:07. ',
  'Meeting moved to Thursday, please update the calendar invite. ',
  '{"type":"status","id":1842,"ok":true,"rssi":-61} ',
  'Reconnecting in 2 s after the access point dropped the link. ',
  'All work and no play makes Jack a dull boy! ',
  'Order #55210 shipped; tracking number follows in a separate mail. ',
  'Battery at 87 percent, uptime 3 days 4 hours. ',
];

/**
 * Chat-like messages mixing scripts inside a message, so that even a 64-byte
 * prefix holds every width: ASCII, 2-byte Latin/Greek/Cyrillic, 3-byte CJK and
 * punctuation, 4-byte emoji. The byte shares are measured and printed as a note.
 */
const MIXED_PHRASES = [
  'Hello Ελένη, Привет Ивану! 你好世界 🌍🚀 ',
  'Café au lait, crème brûlée — très bon 😋 ',
  'Встреча в 10:00 в кафе «Ромашка» ☕ 会議室Bで ',
  'Καλημέρα! Τι κάνεις σήμερα; 😀 おはようございます ',
  'Temperatur 23 °C, Luftfeuchte 45 % – schön! 🌞 東京は晴れ ',
  'Zażółć gęślą jaźń 🎉 Ça va? Ñandú, señor. ',
  '日本語のテキストと English words mixed 🍣🍜 ',
  'Ура! Победа 🏆 — 한국어 문장도 있습니다 ',
  '数据包已收到 ✅ id=42 状态=正常 👍 ',
  'Ο χρήστης συνδέθηκε 🔌 пользователь подключён. ',
  'Prix: 12,50 € — Größe: M — Farbe: grün 👕 ',
  'Δοκιμή ok; тест пройден; 测试通过 🎯 ',
];


/**
 * Exactly `size` bytes of valid UTF-8: phrases in a seeded random order, cut at
 * the last character boundary that fits and padded with spaces.
 */
function textOf(phrases: string[], size: number, rand: () => number): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < size) {
    const p = Buffer.from(phrases[Math.floor(rand() * phrases.length)], 'utf8');
    parts.push(p);
    length += p.length;
  }
  const joined = Buffer.concat(parts);
  let cut = size;
  while (cut > 0 && (joined[cut] & 0xc0) === 0x80) cut--; // do not split a character
  const out = Buffer.alloc(size, 0x20); // own ArrayBuffer (not the pool), 8-aligned
  joined.copy(out, 0, 0, cut);
  return out;
}

const SIZES: [string, number][] = [
  ['64 B', 64],
  ['1 KiB', 1024],
  ['64 KiB', 65536],
];

type TextKind = 'ascii' | 'mixed';
const KINDS: TextKind[] = ['ascii', 'mixed'];

/**
 * The seed picks the phrase order. 120 was chosen (out of 200) because its 64 B and
 * 1 KiB prefixes come closest to the byte shares of the 64 KiB text.
 */
const TEXT_SEED = 120;

function makeText(kind: TextKind, size: number): Buffer {
  return textOf(kind === 'ascii' ? ASCII_PHRASES : MIXED_PHRASES, size, prng(TEXT_SEED));
}

/** Shares of the bytes by the width of the character they belong to. */
function composition(b: Uint8Array): string {
  const bytesOfWidth = [0, 0, 0, 0, 0];
  for (let i = 0; i < b.length; i++) {
    const x = b[i];
    if (x < 0x80) bytesOfWidth[1]++;
    else if (x >= 0xf0) bytesOfWidth[4] += 4;
    else if (x >= 0xe0) bytesOfWidth[3] += 3;
    else if (x >= 0xc0) bytesOfWidth[2] += 2;
  }
  const pct = (n: number) => Math.round((100 * n) / b.length) + '%';
  return pct(bytesOfWidth[1]) + ' ASCII, ' + pct(bytesOfWidth[2]) + ' 2-byte, ' + pct(bytesOfWidth[3]) + ' 3-byte, ' + pct(bytesOfWidth[4]) + ' 4-byte';
}

// ---------------------------------------------------------------- implementations

interface Utf8Impl {
  impl: string;
  /** The verdict, for verification. */
  valid(b: Buffer): boolean;
  /** The timed call on `b`; returns a number derived from the verdict (for the sink). */
  call(b: Buffer): Call;
}

interface MaskImpl {
  impl: string;
  /** Masks `b` in place (the verification path). */
  maskInPlace(b: Buffer, key: number): void;
  call(b: Buffer, key: number): Call;
}

/** bufferutil takes the key as 4 bytes, byte 0 first (as on the wire, RFC 6455 5.3). */
function keyBytes(key: number): Buffer {
  const k = Buffer.alloc(4);
  k.writeUInt32BE(key >>> 0, 0);
  return k;
}

function utf8Impls(wasm: Core, twin: Core): Utf8Impl[] {
  const nativeValidate = require('utf-8-validate') as (b: Buffer) => boolean;
  const fallbackValidate = require('utf-8-validate/fallback.js') as (b: Buffer) => boolean;
  check(String(nativeValidate).indexOf('[native code]') >= 0, 'utf-8-validate did not load its native build (it fell back to JS)');
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decodes = (b: Buffer): number => {
    try {
      return decoder.decode(b).length;
    } catch {
      return -1;
    }
  };
  return [
    { impl: 'wasm core', valid: (b) => wasm.utf8ErrorOffset(b, 0, b.length) < 0, call: (b) => () => wasm.utf8ErrorOffset(b, 0, b.length) },
    { impl: 'JS twin', valid: (b) => twin.utf8ErrorOffset(b, 0, b.length) < 0, call: (b) => () => twin.utf8ErrorOffset(b, 0, b.length) },
    { impl: 'Buffer.isUtf8', valid: (b) => isUtf8(b), call: (b) => () => (isUtf8(b) ? 1 : 0) },
    { impl: 'utf-8-validate', valid: (b) => nativeValidate(b), call: (b) => () => (nativeValidate(b) ? 1 : 0) },
    { impl: 'u-8-v fallback', valid: (b) => fallbackValidate(b), call: (b) => () => (fallbackValidate(b) ? 1 : 0) },
    { impl: 'TextDecoder', valid: (b) => decodes(b) >= 0, call: (b) => () => decodes(b) },
  ];
}

function maskImpls(wasm: Core, twin: Core): MaskImpl[] {
  const native = require('bufferutil') as { mask: Function; unmask: Function };
  const fallback = require('bufferutil/fallback.js') as { mask: Function; unmask: Function };
  check(String(native.mask).indexOf('[native code]') >= 0, 'bufferutil did not load its native build (it fell back to JS)');
  // bufferutil.mask writes source ^ key to a separate output (ws builds the frame
  // that way); the timed calls mask a buffer onto itself or into a second buffer.
  const viaOutput = (mask: Function) => (b: Buffer, key: number): Call => {
    const k = keyBytes(key);
    const out = Buffer.alloc(b.length);
    const n = b.length;
    return () => {
      mask(b, k, out, 0, n);
      return out[n - 1];
    };
  };
  return [
    {
      impl: 'wasm core',
      maskInPlace: (b, key) => wasm.mask(b, 0, b.length, key),
      call: (b, key) => () => {
        wasm.mask(b, 0, b.length, key);
        return b[b.length - 1];
      },
    },
    {
      impl: 'JS twin',
      maskInPlace: (b, key) => twin.mask(b, 0, b.length, key),
      call: (b, key) => () => {
        twin.mask(b, 0, b.length, key);
        return b[b.length - 1];
      },
    },
    { impl: 'bufferutil', maskInPlace: (b, key) => native.mask(b, keyBytes(key), b, 0, b.length), call: viaOutput(native.mask) },
    { impl: 'bufferutil fallback', maskInPlace: (b, key) => fallback.mask(b, keyBytes(key), b, 0, b.length), call: viaOutput(fallback.mask) },
    {
      impl: 'bufferutil unmask',
      maskInPlace: (b, key) => native.unmask(b, keyBytes(key)),
      call: (b, key) => {
        const k = keyBytes(key);
        return () => {
          native.unmask(b, k);
          return b[b.length - 1];
        };
      },
    },
  ];
}

// ---------------------------------------------------------------- verification

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** Before timing: every UTF-8 implementation agrees on every input; the two cores on the offset too. */
function verifyUtf8(impls: Utf8Impl[], wasm: Core, twin: Core): void {
  const cases: { what: string; bytes: Buffer; offset: number }[] = [];
  for (const kind of KINDS) {
    for (const [label, size] of SIZES) cases.push({ what: kind + ' ' + label, bytes: makeText(kind, size), offset: -1 });
  }
  const invalid: [string, string, number][] = [
    ['overlong C0 80', 'c0 80', 0],
    ['overlong E0 80 80', 'e0 80 80', 1],
    ['overlong F0 80 80 80', 'f0 80 80 80', 1],
    ['surrogate ED A0 80', 'ed a0 80', 1],
    ['above U+10FFFF F4 90 80 80', 'f4 90 80 80', 1],
    ['F5', '41 f5 80 80 80', 1],
    ['FF', 'ff', 0],
    ['stray continuation', '41 42 80', 2],
    ['lead byte where a continuation was due', 'e2 82 41', 2],
    ['truncated 3-byte', '41 e2 82', 3],
    ['truncated 4-byte', 'f0 9f 98', 3],
  ];
  for (const [what, bytes, offset] of invalid) cases.push({ what, bytes: hex(bytes), offset });
  // Errors deep inside long input, where SIMD or word-at-a-time paths run.
  for (const at of [63, 1000, 40000, 65535]) {
    const b = makeText('mixed', 65536);
    b[at] = 0xff;
    cases.push({ what: 'FF at ' + at + ' of 64 KiB mixed', bytes: b, offset: at });
  }
  const cutMixed = makeText('mixed', 65536);
  let end = cutMixed.length;
  while ((cutMixed[end - 1] & 0xc0) !== 0xc0) end--; // just past a lead byte: ends mid-character
  cases.push({ what: '64 KiB mixed ending mid-character', bytes: cutMixed.subarray(0, end), offset: end });
  for (const c of cases) {
    for (const impl of impls) {
      check(impl.valid(c.bytes) === (c.offset < 0), impl.impl + ' says ' + (c.offset < 0 ? 'invalid' : 'valid') + ' on ' + c.what);
    }
    for (const core of [wasm, twin]) {
      const got = core.utf8ErrorOffset(c.bytes, 0, c.bytes.length);
      check(got === c.offset, core.kind + ' core utf8ErrorOffset = ' + got + ', expected ' + c.offset + ' on ' + c.what);
    }
  }
  // A sub-range: both cores must read only [start, end) and agree.
  const b = makeText('mixed', 1024);
  b[10] = 0xff;
  b[1000] = 0xff;
  check(wasm.utf8ErrorOffset(b, 11, 999) === twin.utf8ErrorOffset(b, 11, 999), 'the cores disagree on a sub-range');
}

const MASK_KEY = 0x9e3779b9;

function referenceMask(b: Uint8Array, key: number): Uint8Array {
  const k = keyBytes(key);
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[i] ^ k[i & 3];
  return out;
}

function verifyMask(impls: MaskImpl[], wasm: Core, twin: Core): void {
  const rand = prng(7);
  // The key as a uint32 above 2^31, as the same int32, and a small one.
  const keys = [MASK_KEY, MASK_KEY | 0, 0x37fa213d];
  for (const n of [1, 3, 4, 7, 64, 1023, 65536]) {
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = Math.floor(rand() * 256);
    for (const key of keys) {
      const want = referenceMask(data, key);
      for (const impl of impls) {
        const b = Buffer.from(data);
        impl.maskInPlace(b, key);
        check(Buffer.compare(b, want) === 0, impl.impl + ' masks ' + n + ' bytes wrongly with key ' + key);
      }
      if (n < 8) continue;
      // Key phase 0 at `start`; bytes outside [start, end) untouched.
      const part = referenceMask(data.subarray(3, n - 2), key);
      for (const core of [wasm, twin]) {
        const b = Buffer.from(data);
        core.mask(b, 3, n - 2, key);
        const outside = b[0] === data[0] && b[2] === data[2] && b[n - 2] === data[n - 2] && b[n - 1] === data[n - 1];
        check(outside && Buffer.compare(b.subarray(3, n - 2), part) === 0, core.kind + ' core mask(bytes, 3, ' + (n - 2) + ') is wrong with key ' + key);
      }
    }
  }
}

// ---------------------------------------------------------------- frame validator

/** One chunk of unmasked server text frames (RFC 6455 5.2), each payload valid UTF-8 on its own. */
function textFrames(payloadSize: number, count: number, kind: TextKind): Buffer {
  const header = payloadSize < 126 ? 2 : payloadSize < 65536 ? 4 : 10;
  const out = Buffer.alloc(count * (header + payloadSize));
  const rand = prng(3);
  let at = 0;
  for (let i = 0; i < count; i++) {
    out[at] = 0x81; // FIN | text
    if (header === 2) out[at + 1] = payloadSize;
    else if (header === 4) {
      out[at + 1] = 126;
      out.writeUInt16BE(payloadSize, at + 2);
    } else {
      out[at + 1] = 127;
      out.writeUInt32BE(0, at + 2);
      out.writeUInt32BE(payloadSize, at + 6);
    }
    at += header;
    textOf(kind === 'ascii' ? ASCII_PHRASES : MIXED_PHRASES, payloadSize, rand).copy(out, at);
    at += payloadSize;
  }
  return out;
}

/**
 * What a consumer does with a chunk: scan until it is consumed, read every record.
 * `scan` returns the number of frames completed, or -1 on an ERROR record.
 */
function chunkScanner(core: Core, maxMessage: number): { scan: (chunk: Uint8Array) => number; dispose: () => void } {
  const v = core.createValidator(maxMessage, 0);
  const scan = (chunk: Uint8Array): number => {
    let from = 0;
    let frames = 0;
    do {
      const n = v.scan(chunk, from);
      const ev = v.events;
      for (let r = 0; r < n * RECORD_SLOTS; r += RECORD_SLOTS) {
        if (ev[r] !== EV_DATA) return -1;
        if (ev[r + 1] & FLAG_LAST) frames++;
      }
      from = v.pos;
    } while (from < chunk.length);
    return frames;
  };
  return { scan, dispose: () => v.dispose() };
}

/** The record streams of both cores, compared record by record (chunked like the timed runs). */
function verifyValidator(wasm: Core, twin: Core, chunk: Buffer, frames: number, payloadBytes: number, maxMessage: number): void {
  const streams: number[][] = [];
  for (const core of [wasm, twin]) {
    const v = core.createValidator(maxMessage, 0);
    const records: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      let from = 0;
      do {
        const n = v.scan(chunk, from);
        for (let i = 0; i < n * RECORD_SLOTS; i++) records.push(v.events[i]);
        from = v.pos;
      } while (from < chunk.length);
    }
    v.dispose();
    let done = 0;
    let bytes = 0;
    for (let r = 0; r < records.length; r += RECORD_SLOTS) {
      check(records[r] === EV_DATA, core.kind + ' core reports error ' + records[r + 1] + ' at ' + records[r + 3] + ' on valid frames');
      if (records[r + 1] & FLAG_LAST) done++;
      bytes += records[r + 3];
    }
    check(done === 2 * frames && bytes === 2 * payloadBytes, core.kind + ' core completes ' + done + ' frames / ' + bytes + ' bytes, expected ' + 2 * frames + ' / ' + 2 * payloadBytes);
    streams.push(records);
  }
  check(streams[0].length === streams[1].length && streams[0].every((x, i) => x === streams[1][i]), 'the two cores write different records for the same chunk');
}

// ---------------------------------------------------------------- the section

/** What the three parts of the section add to. */
class Collected {
  readonly rows: Row[] = [];
  readonly targets: Target[] = [];
  readonly noisy: { what: string; spread: number }[] = [];

  constructor(private readonly opts: BenchOptions) {}

  /** Times the implementations of one case side by side, with a progress line and noise records. */
  time(name: string, cases: { impl: string; call: Call }[]): Measurement[] {
    progress('  ' + name + ': ' + cases.map((c) => c.impl).join(', '));
    const ms = measureSideBySide(cases.map((c) => c.call), this.opts);
    ms.forEach((m, i) => {
      if (m.spread > NOISY_SPREAD) this.noisy.push({ what: name + ' ' + cases[i].impl, spread: m.spread });
    });
    return ms;
  }

  /** One row per implementation, each with its ratio to the anchor's value. */
  addRows(name: string, metric: string, unit: string, values: { impl: string; value: number }[], anchorImpl: string): void {
    const anchor = values.find((v) => v.impl === anchorImpl);
    check(anchor !== undefined, 'no ' + anchorImpl + ' row for ' + name);
    for (const v of values) this.rows.push({ name, impl: v.impl, metric, value: v.value, unit, ratio: v.value / anchor!.value, ratioTo: anchorImpl });
  }
}


function benchUtf8(wasm: Core, twin: Core, out: Collected): void {
  const impls = utf8Impls(wasm, twin);
  verifyUtf8(impls, wasm, twin);
  const figures = new Map<string, { mbs: number; ns: number }>();
  for (const kind of KINDS) {
    for (const [label, size] of SIZES) {
      const name = 'utf8 ' + kind + ' ' + label;
      const text = makeText(kind, size);
      const ms = out.time(name, impls.map((impl) => ({ impl: impl.impl, call: impl.call(text) })));
      const measured = impls.map((impl, i) => {
        const f = { impl: impl.impl, mbs: mbPerSecond(size, ms[i]), ns: ms[i].ns };
        figures.set(kind + '|' + size + '|' + impl.impl, f);
        return f;
      });
      out.addRows(name, 'throughput', 'MB/s', measured.map((f) => ({ impl: f.impl, value: f.mbs })), 'Buffer.isUtf8');
      out.addRows(name, 'time', 'ns/call', measured.map((f) => ({ impl: f.impl, value: f.ns })), 'Buffer.isUtf8');
    }
  }
  const mbs = (kind: TextKind, impl: string) => figures.get(kind + '|65536|' + impl)!.mbs;
  const ns64 = (kind: TextKind, impl: string) => figures.get(kind + '|64|' + impl)!.ns;
  // The targets, in its order.
  out.targets.push(target('wasm core / Buffer.isUtf8, 64 KiB mixed (MB/s)', mbs('mixed', 'wasm core') / mbs('mixed', 'Buffer.isUtf8'), '>=', 0.25, 'x'));
  out.targets.push(target('wasm core / Buffer.isUtf8, 64 KiB ascii (MB/s)', mbs('ascii', 'wasm core') / mbs('ascii', 'Buffer.isUtf8'), '>=', 0.5, 'x'));
  for (const kind of ['mixed', 'ascii'] as TextKind[]) {
    out.targets.push(target('wasm core / utf-8-validate fallback, 64 KiB ' + kind + ' (MB/s)', mbs(kind, 'wasm core') / mbs(kind, 'u-8-v fallback'), '>=', 10, 'x'));
  }
  for (const kind of ['mixed', 'ascii'] as TextKind[]) {
    out.targets.push(target('wasm core time / Buffer.isUtf8 time, 64 B ' + kind + ' (ns/call)', ns64(kind, 'wasm core') / ns64(kind, 'Buffer.isUtf8'), '<=', 2, 'x'));
  }
  for (const kind of ['mixed', 'ascii'] as TextKind[]) {
    out.targets.push(target('JS twin / utf-8-validate fallback, 64 KiB ' + kind + ' (MB/s)', mbs(kind, 'JS twin') / mbs(kind, 'u-8-v fallback'), '>=', 1, 'x'));
  }
}

/** 128-byte payloads take the 16-bit length form (125 is the 7-bit limit): 4-byte headers. */
const SMALL_FRAMES = Math.floor(65536 / (4 + 128));

function benchValidator(wasm: Core, twin: Core, out: Collected): void {
  const maxMessage = 1 << 20; // above the 64 KiB frame; the default 8 KiB would answer 1009
  const layouts = [
    { label: '64 KiB of 128 B frames', payload: 128, count: SMALL_FRAMES },
    { label: 'one 64 KiB frame', payload: 65536, count: 1 },
  ];
  for (const layout of layouts) {
    for (const kind of KINDS) {
      const name = 'validator ' + layout.label + ', ' + kind;
      const chunk = textFrames(layout.payload, layout.count, kind);
      verifyValidator(wasm, twin, chunk, layout.count, layout.payload * layout.count, maxMessage);
      const cases = [wasm, twin].map((core) => {
        const impl = core.kind === 'wasm' ? 'wasm core' : 'JS twin';
        const scanner = chunkScanner(core, maxMessage);
        const scan = scanner.scan;
        check(scan(chunk) === layout.count, impl + ' validator lost frames');
        return { impl, call: () => scan(chunk), dispose: scanner.dispose };
      });
      const ms = out.time(name, cases);
      for (const c of cases) c.dispose(); // the wasm core has a fixed number of validator slots
      const measured = cases.map((c, i) => ({ impl: c.impl, fps: (layout.count / ms[i].ns) * 1e9, mbs: mbPerSecond(chunk.length, ms[i]) }));
      out.addRows(name, 'throughput', 'MB/s', measured.map((f) => ({ impl: f.impl, value: f.mbs })), 'wasm core');
      out.addRows(name, 'frames', 'frames/s', measured.map((f) => ({ impl: f.impl, value: f.fps })), 'wasm core');
    }
  }
}

function benchMask(wasm: Core, twin: Core, out: Collected): void {
  const impls = maskImpls(wasm, twin);
  verifyMask(impls, wasm, twin);
  for (const [label, size] of SIZES) {
    const name = 'mask ' + label;
    const ms = out.time(name, impls.map((impl) => ({ impl: impl.impl, call: impl.call(makeText('mixed', size), MASK_KEY) })));
    const measured = impls.map((impl, i) => ({ impl: impl.impl, mbs: mbPerSecond(size, ms[i]), ns: ms[i].ns }));
    out.addRows(name, 'throughput', 'MB/s', measured.map((f) => ({ impl: f.impl, value: f.mbs })), 'bufferutil');
    out.addRows(name, 'time', 'ns/call', measured.map((f) => ({ impl: f.impl, value: f.ns })), 'bufferutil');
  }
}

function runCore(opts: BenchOptions): SectionResult {
  const wasm = nodeCore('wasm');
  const twin = nodeCore('js');
  check(wasm.kind === 'wasm' && twin.kind === 'js', 'nodeCore gave kinds ' + wasm.kind + ' and ' + twin.kind);
  const out = new Collected(opts);
  benchUtf8(wasm, twin, out);
  benchValidator(wasm, twin, out);
  benchMask(wasm, twin, out);
  progress('');
  const notes = [
    'MB/s = 10^6 bytes/s; ratios are value / anchor for the same case and metric (throughput: higher is better, time: lower is better)',
    'mixed text, 64 KiB: ' + composition(makeText('mixed', 65536)) + '; 1 KiB: ' + composition(makeText('mixed', 1024)) + '; 64 B: ' + composition(makeText('mixed', 64)),
    'validator rows: MB/s counts wire bytes (headers included); 128 B frames carry 128-byte payloads (4-byte headers), ' + SMALL_FRAMES + ' per chunk',
    'mask: the cores and bufferutil unmask mask in place; bufferutil mask and its fallback write to a second buffer (as ws does)',
  ];
  return { rows: out.rows, targets: out.targets, notes: notes.concat(noisyNote(out.noisy)) };
}

export const coreSection: Section = {
  name: 'core',
  title: 'the core: UTF-8 validation, the frame validator, masking (WebAssembly core vs JS twin vs Node anchors)',
  run: runCore,
};
