/**
 * UTF-8 validation: the contract's 9-state automaton (Unicode Table 3-7) as the
 * source of truth, and a SIMD fast path (ASCII blocks plus the Keiser–Lemire
 * "lookup" algorithm, as in simdjson/simdutf) that only decides *whether* a
 * block is valid. When a block is flagged, the scalar automaton re-runs from the
 * last character boundary before it, so error offsets are exact (fail fast).
 */
import { UTF8_NEXT } from './layout';

/** Automaton states (assembly/README.md, "UTF-8 automaton"). */
export const UTF8_ACCEPT: u32 = 0;
export const UTF8_ERROR: u32 = 8;

/** State after the last utf8Run() that returned -1. */
export let utf8State: u32 = 0;

/** Fills UTF8_NEXT from the table in the contract. Runs once, at instantiation. */
export function initUtf8Table(): void {
  memory.fill(UTF8_NEXT, <u8>UTF8_ERROR, 8 * 256);
  const s0 = UTF8_NEXT;
  for (let b = 0x00; b <= 0x7f; b++) store<u8>(s0 + b, 0);
  for (let b = 0xc2; b <= 0xdf; b++) store<u8>(s0 + b, 1);
  store<u8>(s0 + 0xe0, 3);
  for (let b = 0xe1; b <= 0xef; b++) store<u8>(s0 + b, 2);
  store<u8>(s0 + 0xed, 4);
  store<u8>(s0 + 0xf0, 6);
  for (let b = 0xf1; b <= 0xf3; b++) store<u8>(s0 + b, 5);
  store<u8>(s0 + 0xf4, 7);
  continuations(1, 0x80, 0xbf, 0);
  continuations(2, 0x80, 0xbf, 1);
  continuations(3, 0xa0, 0xbf, 1);
  continuations(4, 0x80, 0x9f, 1);
  continuations(5, 0x80, 0xbf, 2);
  continuations(6, 0x90, 0xbf, 2);
  continuations(7, 0x80, 0x8f, 2);
}

function continuations(state: u32, lo: u32, hi: u32, next: u8): void {
  const row = UTF8_NEXT + (state << 8);
  for (let b = lo; b <= hi; b++) store<u8>(row + b, next);
}

@inline
export function utf8Step(state: u32, b: u32): u32 {
  return <u32>load<u8>(UTF8_NEXT + (state << 8) + b);
}

/**
 * Scalar automaton over [p, end) from `state`. Returns the address of the first
 * byte the automaton rejects, or -1 (then `utf8State` holds the final state).
 * ASCII between characters goes 8 bytes at a time.
 */
function scalarRun(p: usize, end: usize, state: u32): isize {
  while (p < end) {
    if (state == UTF8_ACCEPT) {
      while (p + 8 <= end && (load<u64>(p) & 0x8080808080808080) == 0) p += 8;
      if (p >= end) break;
    }
    state = utf8Step(state, <u32>load<u8>(p));
    if (state == UTF8_ERROR) return <isize>p;
    p++;
  }
  utf8State = state;
  return -1;
}

// Keiser–Lemire lookup tables ("Validating UTF-8 In Less Than One Instruction
// Per Byte", 2021). Each lane is a bit set of the error classes a byte pair can
// belong to; the three nibble lookups are ANDed.
const TOO_SHORT: u8 = 1 << 0; // 11______ 0_______ | 11______ 11______
const TOO_LONG: u8 = 1 << 1; // 0_______ 10______
const OVERLONG_3: u8 = 1 << 2; // 11100000 100_____
const TOO_LARGE: u8 = 1 << 3; // 11110100 1001____ ... 11111___ 101_____
const SURROGATE: u8 = 1 << 4; // 11101101 101_____
const OVERLONG_2: u8 = 1 << 5; // 1100000_ 10______
const TOO_LARGE_1000: u8 = 1 << 6; // 11110101 1000____ ... 11111___ 1000____
const OVERLONG_4: u8 = 1 << 6; // 11110000 1000____
const TWO_CONTS: u8 = 1 << 7; // 10______ 10______
const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

// prettier-ignore
const BYTE_1_HIGH: v128 = i8x16(
  TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
  TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
  TOO_SHORT | OVERLONG_2,
  TOO_SHORT,
  TOO_SHORT | OVERLONG_3 | SURROGATE,
  TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
);
// prettier-ignore
const BYTE_1_LOW: v128 = i8x16(
  CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
  CARRY | OVERLONG_2,
  CARRY,
  CARRY,
  CARRY | TOO_LARGE,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000,
);
// prettier-ignore
const BYTE_2_HIGH: v128 = i8x16(
  TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
  TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
  TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
  TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
  TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
  TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
);
/** Saturating-subtract thresholds: non-zero lanes mean the block ends inside a character. */
// prettier-ignore
const INCOMPLETE_MAX: v128 = i8x16(
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  <i8>(0xf0 - 1), <i8>(0xe0 - 1), <i8>(0xc0 - 1),
);

/**
 * Non-zero lanes where `input` (preceded by `prev`) breaks a UTF-8 rule.
 * `high`/`prevHigh` are their high nibbles. Wasm has no byte shift, so a high
 * nibble costs a 16-bit shift and a mask; prev1's are shuffled out of the two
 * vectors' instead, which measured ~3% faster on x86-64 (Node 20).
 */
@inline
function blockErrors(input: v128, prev: v128, high: v128, prevHigh: v128): v128 {
  const prev1 = i8x16.shuffle(prev, input, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30);
  const prev2 = i8x16.shuffle(prev, input, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29);
  const prev3 = i8x16.shuffle(prev, input, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28);
  const prev1High = i8x16.shuffle(prevHigh, high, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30);
  const special = v128.and(
    v128.and(i8x16.swizzle(BYTE_1_HIGH, prev1High), i8x16.swizzle(BYTE_1_LOW, v128.and(prev1, i8x16.splat(0x0f)))),
    i8x16.swizzle(BYTE_2_HIGH, high),
  );
  // The third and fourth bytes of 3- and 4-byte characters must be continuations
  // (TWO_CONTS marks where they are; the XOR cancels the expected ones).
  const isThird = i8x16.sub_sat_u(prev2, i8x16.splat(<i8>(0xe0 - 0x80)));
  const isFourth = i8x16.sub_sat_u(prev3, i8x16.splat(<i8>(0xf0 - 0x80)));
  const must23 = v128.and(v128.or(isThird, isFourth), i8x16.splat(<i8>0x80));
  return v128.xor(must23, special);
}

@inline
function highNibbles(v: v128): v128 {
  return v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
}

/** The OR of 64 bytes: its bitmask is 0 when they are all ASCII. */
@inline
function or64(p: usize): v128 {
  return v128.or(v128.or(v128.load(p), v128.load(p, 16)), v128.or(v128.load(p, 32), v128.load(p, 48)));
}

@inline
function isAscii64(p: usize): bool {
  return i8x16.bitmask(or64(p)) == 0;
}

@inline
function isAscii128(p: usize): bool {
  return i8x16.bitmask(v128.or(or64(p), or64(p + 64))) == 0;
}

/**
 * Validates [p, end) continuing from automaton `state`. Returns the address of the
 * first invalid byte (exact: the automaton's verdict), or -1 with the final state
 * in `utf8State`.
 *
 * 1. Scalar until the character in progress is finished (state 0).
 * 2. SIMD over whole 64- and 16-byte blocks from that boundary, stopping at the
 *    first block that is flagged (a flag lands on the offending byte or, for an
 *    invalid lead byte C0/C1/F5–FF, on the byte after it).
 * 3. Back up from where SIMD stopped to the last byte that is not a continuation
 *    (at most 3 back; everything before it is known valid, so it starts a
 *    character) and finish with the scalar automaton: it finds the exact error
 *    byte in a flagged block, or validates the tail and gives the final state.
 */
export function utf8Run(p: usize, end: usize, state: u32): isize {
  while (state != UTF8_ACCEPT) {
    if (p >= end) {
      utf8State = state;
      return -1;
    }
    state = utf8Step(state, <u32>load<u8>(p));
    if (state == UTF8_ERROR) return <isize>p;
    p++;
  }
  if (end - p < 16) return scalarRun(p, end, UTF8_ACCEPT);

  const boundary = p;
  // After ASCII, `prev` is all zero: only its last 3 bytes matter, and ASCII
  // and zero look the same to the lookup tables.
  let prev = i8x16.splat(0);
  let prevIncomplete = i8x16.splat(0);
  let prevHigh = i8x16.splat(0);
  let flagged = false;
  while (end - p >= 64) {
    if (isAscii64(p)) {
      // Only an unfinished character before the block can be wrong.
      if (v128.any_true(prevIncomplete)) {
        flagged = true;
        break;
      }
      prev = i8x16.splat(0);
      prevHigh = prev;
      prevIncomplete = prev;
      p += 64;
      // Long ASCII: 128 bytes per test, about as fast as the loads go.
      while (end - p >= 128 && isAscii128(p)) p += 128;
      continue;
    }
    // Mixed text: one vector at a time; four at once made V8 spill registers.
    const blockEnd = p + 64;
    let errors = i8x16.splat(0);
    do {
      const v = v128.load(p);
      const h = highNibbles(v);
      errors = v128.or(errors, blockErrors(v, prev, h, prevHigh));
      prev = v;
      prevHigh = h;
      p += 16;
    } while (p < blockEnd);
    if (v128.any_true(errors)) {
      p -= 64;
      flagged = true;
      break;
    }
    prevIncomplete = i8x16.sub_sat_u(prev, INCOMPLETE_MAX);
  }
  if (!flagged) {
    while (end - p >= 16) {
      const v = v128.load(p);
      if (i8x16.bitmask(v) == 0) {
        if (v128.any_true(prevIncomplete)) break;
        prevIncomplete = i8x16.splat(0);
      } else {
        if (v128.any_true(blockErrors(v, prev, highNibbles(v), highNibbles(prev)))) break;
        prevIncomplete = i8x16.sub_sat_u(v, INCOMPLETE_MAX);
      }
      prev = v;
      p += 16;
    }
  }

  // Back up to the start of the character that straddles p (if any).
  let restart = p;
  for (let back: usize = 1; back <= 3 && p - back >= boundary; back++) {
    if ((<u32>load<u8>(p - back) & 0xc0) != 0x80) {
      restart = p - back;
      break;
    }
  }
  return scalarRun(restart, end, UTF8_ACCEPT);
}
