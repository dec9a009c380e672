/**
 * The streaming RFC 6455 server-to-client frame validator (assembly/README.md,
 * "The core's contract"). Each validator's state lives in a 64-byte slot of the
 * pool in linear memory, so one instance serves every connection; the input
 * window and the record buffer are shared, because a scan is synchronous.
 */
import { INPUT, RECORDS, RESULT, SLOTS, SLOT_SIZE, SLOT_COUNT, FREE_STACK } from './layout';
import { utf8Run, utf8State, utf8Step, UTF8_ERROR } from './utf8';

// Error ids: the numbers are the ABI (src/core/error-ids.ts). Never renumber.
const E_RESERVED_BITS: i32 = 1;
const E_RESERVED_OPCODE: i32 = 2;
const E_MASKED_FRAME: i32 = 3;
const E_FRAGMENTED_CONTROL: i32 = 4;
const E_CONTROL_TOO_LONG: i32 = 5;
const E_LENGTH_TOP_BIT: i32 = 6;
const E_NON_MINIMAL_LENGTH: i32 = 7;
const E_UNEXPECTED_CONTINUATION: i32 = 8;
const E_EXPECTED_CONTINUATION: i32 = 9;
const E_MESSAGE_TOO_BIG: i32 = 10;
const E_INVALID_UTF8: i32 = 11;
const E_TRUNCATED_UTF8: i32 = 12;
const E_CLOSE_PAYLOAD_ONE_BYTE: i32 = 13;
const E_INVALID_CLOSE_CODE: i32 = 14;
const E_INVALID_CLOSE_REASON: i32 = 15;

const EV_DATA: i32 = 1;
const EV_ERROR: i32 = 2;
const FLAG_FIN: u32 = 0x10;
const FLAG_FIRST: u32 = 0x20;
const FLAG_LAST: u32 = 0x40;
const FLAG_RSV1: u32 = 0x80;
const CFG_RSV_MASK: u32 = 0x70;
const CFG_ACCEPT_NON_MINIMAL: u32 = 0x100;

/** scan() status, RESULT[1]. */
export const STATUS_CONSUMED: i32 = 0;
export const STATUS_FULL: i32 = 1;
export const STATUS_DEAD: i32 = 2;

/** scan() mode bits. */
export const MODE_MORE_WINDOWS: i32 = 1;
/** This call continues the chunk window the previous call ended (a held-back run may go on). */
export const MODE_NEXT_WINDOW: i32 = 2;

// Slot fields (byte offsets inside a slot).
const S_MAX: usize = 0; // u64 configured largest message
const S_FRAME_MAX: usize = 8; // u64 the maximum latched at this frame's byte 0
const S_MSG_SIZE: usize = 16; // u64 the open message's frame lengths so far
const S_REMAINING: usize = 24; // u64 payload bytes of this frame still to come
const S_LENGTH: usize = 32; // u64 payload length being read from the header
const S_CFG: usize = 40; // u32 configured CFG_* flags
const S_FRAME_CFG: usize = 44; // u32 flags latched at this frame's byte 0
const S_PHASE: usize = 48; // u8 PHASE_*
const S_HDR_INDEX: usize = 49; // u8 header bytes received
const S_HDR_LENGTH: usize = 50; // u8 2, 4 or 10 once byte 1 is in
const S_OPCODE: usize = 51; // u8
const S_REC_FLAGS: usize = 52; // u8 opcode | FIN | RSV1, as written in records
const S_FIRST: usize = 53; // u8 1 until this frame's first record is written
const S_KIND: usize = 54; // u8 KIND_*: how this frame's payload is checked
const S_MSG_OPEN: usize = 55; // u8 a fragmented message is open
const S_MSG_TEXT: usize = 56; // u8 the open message is UTF-8-checked text
const S_MSG_STATE: usize = 57; // u8 the message's UTF-8 automaton state
const S_CLOSE_INDEX: usize = 58; // u8 close payload bytes seen (capped at 2)
const S_CLOSE_HIGH: usize = 59; // u8 the close code's first byte
const S_CLOSE_STATE: usize = 60; // u8 the close reason's UTF-8 automaton state
const S_IN_USE: usize = 61; // u8

const PHASE_HEADER: u8 = 0;
const PHASE_PAYLOAD: u8 = 1;
const PHASE_DEAD: u8 = 2;

const KIND_PLAIN: u8 = 0; // binary, compressed text, ping, pong: not looked at
const KIND_TEXT: u8 = 1;
const KIND_CLOSE: u8 = 2;

let freeTop: i32 = 0;

export function initSlots(): void {
  for (let i = SLOT_COUNT - 1; i >= 0; i--) store<u16>(FREE_STACK + <usize>(freeTop++ << 1), <u16>i);
}

@inline
function slotAddress(slot: i32): usize {
  return SLOTS + <usize>slot * <usize>SLOT_SIZE;
}

/** Takes a slot from the pool; -1 when all are in use. */
export function allocSlot(maxMessage: f64, flags: u32): i32 {
  if (freeTop == 0) return -1;
  const slot = <i32>load<u16>(FREE_STACK + <usize>(--freeTop << 1));
  const s = slotAddress(slot);
  memory.fill(s, 0, SLOT_SIZE);
  store<u8>(s + S_IN_USE, 1);
  configureSlot(slot, maxMessage, flags);
  return slot;
}

export function freeSlot(slot: i32): void {
  if (slot < 0 || slot >= SLOT_COUNT) return;
  const s = slotAddress(slot);
  if (load<u8>(s + S_IN_USE) == 0) return;
  store<u8>(s + S_IN_USE, 0);
  store<u16>(FREE_STACK + <usize>(freeTop++ << 1), <u16>slot);
}

/** maxMessage is a JS number (the host clamps it to 0..2^53-1). Applies from the next frame's byte 0. */
export function configureSlot(slot: i32, maxMessage: f64, flags: u32): void {
  const s = slotAddress(slot);
  store<u64>(s + S_MAX, <u64>maxMessage);
  store<u32>(s + S_CFG, flags);
}

/** Forgets the stream (a new connection); keeps the configuration. */
export function resetSlot(slot: i32): void {
  const s = slotAddress(slot);
  const max = load<u64>(s + S_MAX);
  const cfg = load<u32>(s + S_CFG);
  memory.fill(s, 0, SLOT_SIZE);
  store<u64>(s + S_MAX, max);
  store<u32>(s + S_CFG, cfg);
  store<u8>(s + S_IN_USE, 1);
}

// --- records --------------------------------------------------------------

let recordCount: i32 = 0;
/** A payload run that reached the end of a window with more windows to come. */
let pendingRun: bool = false;
let pendingStart: i32 = 0;

@inline
function writeRecord(kind: i32, a: i32, b: i32, c: i32): void {
  const r = RECORDS + (<usize>recordCount << 4);
  store<i32>(r, kind);
  store<i32>(r, a, 4);
  store<i32>(r, b, 8);
  store<i32>(r, c, 12);
  recordCount++;
}

function closeCodeOf(errorId: i32): i32 {
  if (errorId == E_MESSAGE_TOO_BIG) return 1009;
  if (errorId == E_INVALID_UTF8 || errorId == E_TRUNCATED_UTF8 || errorId == E_INVALID_CLOSE_REASON) return 1007;
  return 1002;
}

/** Writes the ERROR record and kills the stream. */
function fail(s: usize, errorId: i32, offset: i32): i32 {
  writeRecord(EV_ERROR, errorId, closeCodeOf(errorId), offset);
  store<u8>(s + S_PHASE, PHASE_DEAD);
  store<i32>(RESULT, offset + 1);
  store<i32>(RESULT, STATUS_DEAD, 4);
  return recordCount;
}

// --- the header -------------------------------------------------------------

/** Payload bytes the open message already has, when this data frame continues it. */
@inline
function messageSoFar(s: usize, opcode: u32): u64 {
  return opcode == 0 ? load<u64>(s + S_MSG_SIZE) : 0;
}

/**
 * Byte 0, checked in the contract's order. Latches the configuration (it applies
 * from the next frame) and keeps the opcode and record flags. Returns an error id or 0.
 */
function checkByte0(s: usize, b: u32): i32 {
  const cfg = load<u32>(s + S_CFG);
  store<u64>(s + S_FRAME_MAX, load<u64>(s + S_MAX));
  store<u32>(s + S_FRAME_CFG, cfg);
  const opcode = b & 0x0f;
  const open = load<u8>(s + S_MSG_OPEN) != 0;
  if ((b & 0x70 & ~(cfg & CFG_RSV_MASK)) != 0) return E_RESERVED_BITS;
  if ((opcode >= 0x3 && opcode <= 0x7) || opcode >= 0xb) return E_RESERVED_OPCODE;
  if (opcode >= 0x8 && (b & 0x80) == 0) return E_FRAGMENTED_CONTROL;
  if (opcode == 0 && !open) return E_UNEXPECTED_CONTINUATION;
  if ((opcode == 1 || opcode == 2) && open) return E_EXPECTED_CONTINUATION;
  // RFC 7692 6.1: RSV1 marks a whole message, only on its first frame.
  if (opcode == 0 && (b & 0x40) != 0) return E_RESERVED_BITS;
  store<u8>(s + S_OPCODE, <u8>opcode);
  store<u8>(s + S_REC_FLAGS, <u8>(opcode | ((b & 0x80) != 0 ? FLAG_FIN : 0) | ((b & 0x40) != 0 ? FLAG_RSV1 : 0)));
  return 0;
}

/**
 * Byte 1. Stores the header's length (2, 4 or 10) and, for the 7-bit form, the
 * payload length. Returns an error id or 0.
 */
function checkByte1(s: usize, b: u32): i32 {
  const opcode = <u32>load<u8>(s + S_OPCODE);
  // RFC 6455 5.1: a server must not mask.
  if ((b & 0x80) != 0) return E_MASKED_FRAME;
  const length7 = b & 0x7f;
  if (opcode >= 0x8) {
    // RFC 6455 5.5: control payloads are at most 125 bytes; 7.1.5: a close body is empty or has a code.
    if (length7 > 125) return E_CONTROL_TOO_LONG;
    if (opcode == 0x8 && length7 == 1) return E_CLOSE_PAYLOAD_ONE_BYTE;
  }
  if (length7 < 126) {
    if (opcode < 0x8 && messageSoFar(s, opcode) + <u64>length7 > load<u64>(s + S_FRAME_MAX)) return E_MESSAGE_TOO_BIG;
    store<u8>(s + S_HDR_LENGTH, 2);
    store<u64>(s + S_LENGTH, <u64>length7);
    return 0;
  }
  store<u8>(s + S_HDR_LENGTH, length7 == 126 ? 4 : 10);
  store<u64>(s + S_LENGTH, 0);
  return 0;
}

/** The last byte of a 16- or 64-bit length: the whole length is known. Returns an error id or 0. */
function checkExtendedLength(s: usize, length: u64, headerLength: u32): i32 {
  // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
  const minimal: u64 = headerLength == 4 ? 126 : 65536;
  if (length < minimal && (load<u32>(s + S_FRAME_CFG) & CFG_ACCEPT_NON_MINIMAL) == 0) return E_NON_MINIMAL_LENGTH;
  // Lengths are < 2^63 and the message so far <= max <= 2^53-1: the sum cannot overflow.
  if (messageSoFar(s, <u32>load<u8>(s + S_OPCODE)) + length > load<u64>(s + S_FRAME_MAX)) return E_MESSAGE_TOO_BIG;
  store<u64>(s + S_LENGTH, length);
  return 0;
}

/** headerByte() result when the header is complete (errors are negated ids, 0 = more to come). */
const HEADER_DONE: i32 = 1;

/** One header byte, for headers that arrive split across chunks. */
function headerByte(s: usize, b: u32): i32 {
  const index = <u32>load<u8>(s + S_HDR_INDEX);
  let error = 0;
  if (index == 0) error = checkByte0(s, b);
  else if (index == 1) {
    error = checkByte1(s, b);
    if (error == 0 && load<u8>(s + S_HDR_LENGTH) == 2) return HEADER_DONE;
  } else {
    const headerLength = <u32>load<u8>(s + S_HDR_LENGTH);
    // RFC 6455 5.2: the most significant bit of a 64-bit length must be 0.
    if (index == 2 && headerLength == 10 && (b & 0x80) != 0) return -E_LENGTH_TOP_BIT;
    const length = (load<u64>(s + S_LENGTH) << 8) | <u64>b;
    store<u64>(s + S_LENGTH, length);
    if (index + 1 == headerLength) {
      error = checkExtendedLength(s, length, headerLength);
      if (error == 0) return HEADER_DONE;
    }
  }
  if (error != 0) return -error;
  store<u8>(s + S_HDR_INDEX, <u8>(index + 1));
  return 0;
}

/**
 * A whole header at window index p (the caller made sure 10 bytes are there):
 * the same checks without the per-byte bookkeeping. Returns the index past the
 * header, or -1 after writing the ERROR record.
 */
function wholeHeader(s: usize, p: i32, base: i32): i32 {
  const at = INPUT + <usize>p;
  let error = checkByte0(s, <u32>load<u8>(at));
  if (error != 0) return failHeader(s, error, base + p);
  error = checkByte1(s, <u32>load<u8>(at, 1));
  if (error != 0) return failHeader(s, error, base + p + 1);
  const headerLength = <u32>load<u8>(s + S_HDR_LENGTH);
  if (headerLength == 2) return p + 2;
  if (headerLength == 4) {
    error = checkExtendedLength(s, <u64>bswap<u16>(load<u16>(at, 2)), 4);
    return error != 0 ? failHeader(s, error, base + p + 3) : p + 4;
  }
  if ((load<u8>(at, 2) & 0x80) != 0) return failHeader(s, E_LENGTH_TOP_BIT, base + p + 2);
  error = checkExtendedLength(s, bswap<u64>(load<u64>(at, 2)), 10);
  return error != 0 ? failHeader(s, error, base + p + 9) : p + 10;
}

function failHeader(s: usize, errorId: i32, offset: i32): i32 {
  fail(s, errorId, offset);
  return -1;
}

/**
 * The header is complete; `next` is the chunk index just past its last byte.
 * Sets up the payload, or handles an empty one. Returns false when the stream died.
 */
function headerDone(s: usize, next: i32): bool {
  const opcode = <u32>load<u8>(s + S_OPCODE);
  const recFlags = <u32>load<u8>(s + S_REC_FLAGS);
  const length = load<u64>(s + S_LENGTH);
  store<u8>(s + S_HDR_INDEX, 0);
  store<u8>(s + S_FIRST, 1);
  let kind = KIND_PLAIN;
  if (opcode < 0x8) {
    if (opcode != 0) {
      // A new message. Compressed text (RSV1) is checked after inflation, not here.
      store<u8>(s + S_MSG_TEXT, opcode == 1 && (recFlags & FLAG_RSV1) == 0 ? 1 : 0);
      store<u8>(s + S_MSG_STATE, 0);
      store<u64>(s + S_MSG_SIZE, 0);
    }
    store<u64>(s + S_MSG_SIZE, load<u64>(s + S_MSG_SIZE) + length);
    store<u8>(s + S_MSG_OPEN, (recFlags & FLAG_FIN) != 0 ? 0 : 1);
    if (load<u8>(s + S_MSG_TEXT) != 0) kind = KIND_TEXT;
  } else if (opcode == 0x8) {
    kind = KIND_CLOSE;
    store<u8>(s + S_CLOSE_INDEX, 0);
    store<u8>(s + S_CLOSE_STATE, 0);
  }
  store<u8>(s + S_KIND, kind);
  if (length == 0) {
    if (kind == KIND_TEXT && (recFlags & FLAG_FIN) != 0 && load<u8>(s + S_MSG_STATE) != 0) {
      fail(s, E_TRUNCATED_UTF8, next - 1);
      return false;
    }
    writeRecord(EV_DATA, <i32>(recFlags | FLAG_FIRST | FLAG_LAST), next, 0);
    return true;
  }
  store<u64>(s + S_REMAINING, length);
  store<u8>(s + S_PHASE, PHASE_PAYLOAD);
  return true;
}

// --- close payloads ---------------------------------------------------------

/** RFC 6455 7.4.1 and the IANA registry: codes a peer may put in a Close frame. */
@inline
function closeCodeAllowed(code: u32): bool {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** The error closeBytes() found (INVALID_CLOSE_CODE or INVALID_CLOSE_REASON). */
let closeError: i32 = 0;

/** Checks close payload bytes [p, end) (window indexes). Returns the failing window index (see closeError) or -1. */
function closeBytes(s: usize, p: i32, end: i32): i32 {
  let index = <u32>load<u8>(s + S_CLOSE_INDEX);
  let state = <u32>load<u8>(s + S_CLOSE_STATE);
  let error = -1;
  for (; p < end; p++) {
    const b = <u32>load<u8>(INPUT + <usize>p);
    if (index == 0) {
      store<u8>(s + S_CLOSE_HIGH, <u8>b);
      index = 1;
    } else if (index == 1) {
      if (!closeCodeAllowed((<u32>load<u8>(s + S_CLOSE_HIGH) << 8) | b)) {
        error = E_INVALID_CLOSE_CODE;
        break;
      }
      index = 2;
    } else {
      state = utf8Step(state, b);
      if (state == UTF8_ERROR) {
        error = E_INVALID_CLOSE_REASON;
        break;
      }
    }
  }
  store<u8>(s + S_CLOSE_INDEX, <u8>index);
  store<u8>(s + S_CLOSE_STATE, <u8>state);
  if (error < 0) return -1;
  closeError = error;
  return p;
}

// --- scan -------------------------------------------------------------------

/**
 * Scans window bytes [from, length) of a chunk whose window starts at chunk
 * index `base`. Records hold chunk indexes. Appends to the record buffer from
 * record `firstRecord`, stops once `capacity` records are written. With
 * MODE_MORE_WINDOWS, a payload run reaching the window's end is held back and
 * continued by the next call (so a run inside one chunk is one record).
 * RESULT[0] = chunk index where scanning stopped, RESULT[1] = status.
 * Returns the record count.
 */
export function scan(slot: i32, from: i32, length: i32, base: i32, mode: i32, firstRecord: i32, capacity: i32): i32 {
  const s = slotAddress(slot);
  recordCount = firstRecord;
  if ((mode & MODE_NEXT_WINDOW) == 0) pendingRun = false;
  if (load<u8>(s + S_PHASE) == PHASE_DEAD) {
    store<i32>(RESULT, base + length);
    store<i32>(RESULT, STATUS_DEAD, 4);
    return recordCount;
  }
  const moreWindows = (mode & MODE_MORE_WINDOWS) != 0;
  let p = from;
  while (p < length) {
    if (load<u8>(s + S_PHASE) == PHASE_HEADER) {
      if (length - p >= 10 && load<u8>(s + S_HDR_INDEX) == 0) {
        p = wholeHeader(s, p, base);
        if (p < 0) return recordCount;
      } else {
        const verdict = headerByte(s, <u32>load<u8>(INPUT + <usize>p));
        p++;
        if (verdict == 0) continue;
        if (verdict < 0) return fail(s, -verdict, base + p - 1);
      }
      if (!headerDone(s, base + p)) return recordCount;
      if (recordCount >= capacity) {
        store<i32>(RESULT, base + p);
        store<i32>(RESULT, STATUS_FULL, 4);
        return recordCount;
      }
      continue;
    }

    // PHASE_PAYLOAD: one run of this frame's payload, as much as the window holds.
    const remaining = load<u64>(s + S_REMAINING);
    const available = length - p;
    const run: i32 = remaining < <u64>available ? <i32>remaining : available;
    const runStart = pendingRun ? pendingStart : base + p;
    pendingRun = false;
    const kind = load<u8>(s + S_KIND);
    const runEnd = p + run;
    if (kind == KIND_TEXT) {
      const bad = utf8Run(INPUT + <usize>p, INPUT + <usize>runEnd, <u32>load<u8>(s + S_MSG_STATE));
      if (bad >= 0) return fail(s, E_INVALID_UTF8, base + <i32>(<usize>bad - INPUT));
      store<u8>(s + S_MSG_STATE, <u8>utf8State);
    } else if (kind == KIND_CLOSE) {
      const bad = closeBytes(s, p, runEnd);
      if (bad >= 0) return fail(s, closeError, base + bad);
    }
    p = runEnd;
    const left = remaining - <u64>run;
    store<u64>(s + S_REMAINING, left);
    let flags = <u32>load<u8>(s + S_REC_FLAGS);
    if (load<u8>(s + S_FIRST) != 0) flags |= FLAG_FIRST;
    if (left == 0) {
      // The frame's payload is complete.
      if (kind == KIND_TEXT && (flags & FLAG_FIN) != 0 && load<u8>(s + S_MSG_STATE) != 0) {
        return fail(s, E_TRUNCATED_UTF8, base + p - 1);
      }
      if (kind == KIND_CLOSE && load<u8>(s + S_CLOSE_STATE) != 0) {
        return fail(s, E_INVALID_CLOSE_REASON, base + p - 1);
      }
      writeRecord(EV_DATA, <i32>(flags | FLAG_LAST), runStart, base + p - runStart);
      store<u8>(s + S_FIRST, 0);
      store<u8>(s + S_PHASE, PHASE_HEADER);
    } else if (moreWindows) {
      // p == length: the run goes on in the next window of this chunk.
      pendingRun = true;
      pendingStart = runStart;
      break;
    } else {
      writeRecord(EV_DATA, <i32>flags, runStart, base + p - runStart);
      store<u8>(s + S_FIRST, 0);
    }
    if (recordCount >= capacity) {
      store<i32>(RESULT, base + p);
      store<i32>(RESULT, STATUS_FULL, 4);
      return recordCount;
    }
  }
  store<i32>(RESULT, base + length);
  store<i32>(RESULT, STATUS_CONSUMED, 4);
  return recordCount;
}
