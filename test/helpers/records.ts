/**
 * Runs a core's frame validator over a list of chunks and turns its records into
 * something that does not depend on the chunking: DATA records re-based to absolute
 * stream offsets and merged per frame, the verdict with an absolute offset, and the
 * payload of each frame. Anything the contract (assembly/README.md) forbids in the
 * record stream itself is collected in `violations`, so a test that compares whole
 * results also catches a core that gets the right answer the wrong way.
 */
import { CORE_ERRORS, coreErrorName } from '../../src/core/error-ids';
import {
  EV_DATA,
  EV_ERROR,
  FLAG_FIN,
  FLAG_FIRST,
  FLAG_LAST,
  FLAG_OPCODE_MASK,
  FLAG_RSV1,
  RECORD_SLOTS,
  type Core,
  type FrameValidator,
} from '../../src/core/types';
import { concat, toHex, type ExpectedFrame } from '../vectors/build';

export interface FrameResult {
  opcode: number;
  fin: boolean;
  rsv1: boolean;
  /** Absolute stream offset of the frame's first payload byte. */
  start: number;
  /** The delivered payload, hex (readable in a failing diff). */
  payload: string;
  /** The LAST record arrived. */
  complete: boolean;
}

export interface ErrorVerdict {
  id: number;
  name: string;
  code: number;
  /** Absolute stream offset of the byte that made the stream invalid. */
  offset: number;
}

export type Verdict = 'ok' | ErrorVerdict;

export interface Normalized {
  /**
   * Frames in stream order. After an error, a frame whose payload was not complete is
   * left out: how much of it was delivered before the failing run depends on the chunking.
   */
  frames: FrameResult[];
  verdict: Verdict;
  /** Breaches of the record-stream rules; always [] for a core that keeps the contract. */
  violations: string[];
}

/**
 * Every record with absolute offsets, in order, across scans:
 * DATA [1, flags, start, length], ERROR [2, id, code, offset].
 */
export type AbsRecord = [number, number, number, number];

export interface StreamRun extends Normalized {
  records: AbsRecord[];
}

interface OpenFrame {
  flags: number;
  start: number;
  end: number;
  /** Copies of the delivered runs (the chunks may be reused by the caller). */
  parts: Uint8Array[];
  complete: boolean;
}

const KNOWN_OPCODES = [0x0, 0x1, 0x2, 0x8, 0x9, 0xa];

function closeCodeOf(id: number): number {
  for (let i = 0; i < CORE_ERRORS.length; i++) if (CORE_ERRORS[i][0] === id) return CORE_ERRORS[i][2];
  return -1;
}

/**
 * Scans every chunk to its end (scanning again where `pos` stopped early) and collects
 * the records. `beforeChunk(i)` runs before chunk i is scanned (to configure() mid-stream).
 */
export function runValidator(v: FrameValidator, chunks: Uint8Array[], beforeChunk?: (index: number) => void): StreamRun {
  const records: AbsRecord[] = [];
  const violations: string[] = [];
  const frames: OpenFrame[] = [];
  let verdict: Verdict = 'ok';
  let base = 0;
  const violate = (what: string) => {
    if (violations.length < 8) violations.push(what + ' (chunk at stream offset ' + base + ')');
  };

  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c];
    if (beforeChunk) beforeChunk(c);
    let from = 0;
    for (let scans = 0; ; scans++) {
      const deadBefore = verdict !== 'ok';
      const n = v.scan(chunk, from);
      const ev = v.events;
      if (!(n >= 0) || n * RECORD_SLOTS > ev.length) {
        violate('scan() returned ' + n + ' with an events buffer of ' + ev.length + ' slots');
        return finish(records, frames, verdict, violations);
      }
      if (deadBefore && n > 0) violate('scan() wrote ' + n + ' records after the stream was dead');
      for (let i = 0; i < n; i++) {
        const kind = ev[RECORD_SLOTS * i];
        const a = ev[RECORD_SLOTS * i + 1];
        const b = ev[RECORD_SLOTS * i + 2];
        const d = ev[RECORD_SLOTS * i + 3];
        if (kind === EV_DATA) {
          records.push([EV_DATA, a, base + b, d]);
          if (verdict !== 'ok') violate('DATA record after the ERROR record');
          if (b < from || d < 0 || b + d > chunk.length) {
            violate('DATA record [' + b + ', +' + d + ') outside chunk[' + from + ', ' + chunk.length + ')');
            continue;
          }
          addData(frames, a, base + b, chunk.subarray(b, b + d), violate);
        } else if (kind === EV_ERROR) {
          records.push([EV_ERROR, a, b, base + d]);
          if (verdict !== 'ok') violate('a second ERROR record');
          if (i !== n - 1) violate('ERROR record is not the last record of its scan');
          if (d < from || d >= chunk.length) violate('ERROR offset ' + d + ' outside chunk[' + from + ', ' + chunk.length + ')');
          if (closeCodeOf(a) !== b) violate('ERROR id ' + a + ' with close code ' + b + ' (error-ids.ts says ' + closeCodeOf(a) + ')');
          verdict = { id: a, name: coreErrorName(a), code: b, offset: base + d };
        } else {
          records.push([kind, a, b, d]);
          violate('unknown record kind ' + kind);
        }
      }
      const pos = v.pos;
      if (!(pos >= from && pos <= chunk.length)) {
        violate('pos ' + pos + ' outside [' + from + ', ' + chunk.length + ']');
        break;
      }
      if (deadBefore && pos !== chunk.length) violate('a dead stream left pos at ' + pos + ' of ' + chunk.length);
      if (pos === chunk.length) break;
      if (n === 0 && pos === from) {
        violate('scan() made no progress at pos ' + pos);
        break;
      }
      if (scans > chunk.length + 4) {
        violate('more scans than bytes in one chunk');
        break;
      }
      from = pos;
    }
    base += chunk.length;
  }
  return finish(records, frames, verdict, violations);
}

function addData(frames: OpenFrame[], flags: number, start: number, bytes: Uint8Array, violate: (w: string) => void): void {
  if ((flags & ~0xff) !== 0 || KNOWN_OPCODES.indexOf(flags & FLAG_OPCODE_MASK) < 0) violate('DATA flags 0x' + flags.toString(16));
  const last = frames.length > 0 ? frames[frames.length - 1] : undefined;
  if (bytes.length === 0 && (flags & (FLAG_FIRST | FLAG_LAST)) !== (FLAG_FIRST | FLAG_LAST)) {
    violate('empty DATA record at ' + start + ' that is not FIRST|LAST (only an empty frame writes one)');
  }
  const frameFlags = flags & ~(FLAG_FIRST | FLAG_LAST);
  if (flags & FLAG_FIRST) {
    if (last && !last.complete) violate('FIRST record at ' + start + ' while the frame at ' + last.start + ' has no LAST');
    if (last && start < last.end + 2) {
      // A new frame's payload starts after its own header (2 bytes at least).
      violate('FIRST record at ' + start + ' does not follow the previous frame (ends at ' + last.end + ')');
    }
    const f: OpenFrame = { flags: frameFlags, start, end: start, parts: [], complete: false };
    frames.push(f);
    append(f, bytes, flags);
    return;
  }
  if (!last || last.complete) {
    violate('DATA record at ' + start + ' without FIRST and no frame open');
    const f: OpenFrame = { flags: frameFlags, start, end: start, parts: [], complete: false };
    frames.push(f);
    append(f, bytes, flags);
    return;
  }
  if (last.flags !== frameFlags) violate('flags changed inside a frame: 0x' + last.flags.toString(16) + ' then 0x' + frameFlags.toString(16));
  if (start !== last.end) violate('DATA record at ' + start + ' does not continue its frame (ends at ' + last.end + ')');
  append(last, bytes, flags);
}

function append(f: OpenFrame, bytes: Uint8Array, flags: number): void {
  if (bytes.length > 0) f.parts.push(bytes.slice());
  f.end += bytes.length;
  if (flags & FLAG_LAST) f.complete = true;
}

function finish(records: AbsRecord[], open: OpenFrame[], verdict: Verdict, violations: string[]): StreamRun {
  const frames: FrameResult[] = [];
  for (const f of open) {
    if (verdict !== 'ok' && !f.complete) continue;
    frames.push({
      opcode: f.flags & FLAG_OPCODE_MASK,
      fin: (f.flags & FLAG_FIN) !== 0,
      rsv1: (f.flags & FLAG_RSV1) !== 0,
      start: f.start,
      payload: toHex(concat(f.parts)),
      complete: f.complete,
    });
  }
  return { frames, verdict, violations, records };
}

/** A fresh validator, configured as given (undefined: the core's defaults), run and disposed. */
export function runCore(core: Core, chunks: Uint8Array[], maxMessage?: number, flags?: number): StreamRun {
  const v = maxMessage === undefined && flags === undefined ? core.createValidator() : core.createValidator(maxMessage, flags);
  try {
    return runValidator(v, chunks);
  } finally {
    v.dispose();
  }
}

/** The chunking-independent part of a run. */
export function normalized(run: StreamRun): Normalized {
  return { frames: run.frames, verdict: run.verdict, violations: run.violations };
}

/** Views (not copies, as a socket's buffers are) of bytes cut at the given sorted offsets. */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of cuts) {
    out.push(bytes.subarray(at, c));
    at = c;
  }
  out.push(bytes.subarray(at));
  return out;
}

export function byteAtATime(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1));
  return out;
}

/** What a vector's expectation looks like once normalized. */
export function expectedNormalized(
  frames: ExpectedFrame[] | undefined,
  error: { id: number; code: number; offset: number } | undefined,
): Normalized {
  return {
    frames: (frames || []).map((f) => ({
      opcode: f.opcode,
      fin: f.fin,
      rsv1: f.rsv1,
      start: f.start,
      payload: toHex(f.payload),
      complete: f.complete,
    })),
    verdict: error ? { id: error.id, name: coreErrorName(error.id), code: error.code, offset: error.offset } : 'ok',
    violations: [],
  };
}

/**
 * The exact record stream the contract prescribes for these bytes cut at `cuts`,
 * given where (if anywhere) the stream fails: one DATA record per maximal run of a
 * frame's payload inside a chunk, one FIRST|LAST record per empty frame, nothing for
 * a run that holds the failing byte nor for anything after it, then the ERROR record.
 * Frame boundaries come from a plain header walk that checks nothing: the verdict
 * decides where the walk must stop.
 */
export function referenceRecords(bytes: Uint8Array, cuts: number[], verdict: Verdict): AbsRecord[] {
  const failAt = verdict === 'ok' ? Infinity : verdict.offset;
  const bounds = [0].concat(cuts, [bytes.length]);
  const out: AbsRecord[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const b0 = bytes[at];
    const b1 = bytes[at + 1];
    const len7 = b1 & 0x7f;
    const lengthBytes = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headerLength = 2 + lengthBytes + (b1 & 0x80 ? 4 : 0);
    if (at + headerLength > bytes.length) break;
    const start = at + headerLength;
    // The header's last byte is start - 1: a frame whose header completes at or after
    // the failing byte never gets a record, and neither does anything behind it.
    if (start - 1 >= failAt) break;
    let length = len7;
    if (lengthBytes > 0) {
      let n = BigInt(0);
      for (let i = 0; i < lengthBytes; i++) n = (n << BigInt(8)) | BigInt(bytes[at + 2 + i]);
      length = n > BigInt(bytes.length) ? bytes.length + 1 : Number(n);
    }
    const flags = (b0 & FLAG_OPCODE_MASK) | (b0 & 0x80 ? FLAG_FIN : 0) | (b0 & 0x40 ? FLAG_RSV1 : 0);
    if (length === 0) {
      out.push([EV_DATA, flags | FLAG_FIRST | FLAG_LAST, start, 0]);
    } else {
      const end = start + length;
      const arrived = Math.min(end, bytes.length);
      for (let c = 0; c + 1 < bounds.length; c++) {
        const a = Math.max(start, bounds[c]);
        const b = Math.min(arrived, bounds[c + 1]);
        if (a >= b || b > failAt) continue;
        out.push([EV_DATA, flags | (a === start ? FLAG_FIRST : 0) | (b === end ? FLAG_LAST : 0), a, b - a]);
      }
    }
    at = start + length;
  }
  if (verdict !== 'ok') out.push([EV_ERROR, verdict.id, verdict.code, verdict.offset]);
  return out;
}
