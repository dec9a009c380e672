/**
 * Streaming UTF-8 validation for the plain-JS core (assembly/README.md, "UTF-8 automaton").
 *
 * The state is the 9-state automaton of the contract (Unicode Table 3-7): 0 is ACCEPT,
 * 1-7 say which continuation bytes are still due, and "error" is reported as the index
 * of the failing byte. Three loops share the work:
 * - an ASCII skip, four bytes per step (on V8 about twice utf-8-validate's JS fallback;
 *   on JerryScript fewer bytecodes per byte);
 * - a loop in ACCEPT state that takes whole well-formed sequences at once. It is kept
 *   free of inner loops and calls: on V8 either one made mixed text 20-35% slower
 *   (measured), so the ASCII skip runs once, before it;
 * - a byte-at-a-time loop for what the others do not take: a sequence split across
 *   chunks or frames, and ill-formed bytes, where it names the exact failing byte.
 * All take and return plain numbers: nothing is allocated (JerryScript, 180 KiB heap).
 */

/**
 * Validates bytes[start, end) continuing from `state` (0 at the start of a text).
 * Returns the state after the last byte (0 when no sequence is open), or, when a byte
 * cannot start or continue a valid sequence, `~index` of that byte (always negative).
 */
export function utf8Scan(bytes: Uint8Array, start: number, end: number, state: number): number {
  if (state !== 0) return utf8Bytewise(bytes, start, end, state, true);
  // Math.min lets V8 see that the index stays below bytes.length (fewer bounds checks, measured).
  const len = Math.min(end, bytes.length);
  let i = start;
  while (i + 4 <= len && ((bytes[i] | bytes[i + 1] | bytes[i + 2] | bytes[i + 3]) & 0x80) === 0) i += 4;
  return utf8Sequences(bytes, i, len);
}

/** Whole sequences from ACCEPT state; hands anything else to the byte-at-a-time loop. */
function utf8Sequences(bytes: Uint8Array, i: number, len: number): number {
  while (i < len) {
    const c = bytes[i];
    if (c < 0x80) {
      i++;
    } else if (c < 0xe0) {
      if (c < 0xc2 || i + 1 >= len || (bytes[i + 1] & 0xc0) !== 0x80) break;
      i += 2;
    } else if (c < 0xf0) {
      const c1 = bytes[i + 1];
      // Both continuation bytes 10xxxxxx in one compare; E0 needs A0-BF (no overlongs), ED 80-9F (no surrogates).
      if (i + 2 >= len || ((c1 & 0xc0) | ((bytes[i + 2] & 0xc0) >> 2)) !== 0xa0 || (c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) break;
      i += 3;
    } else {
      const c1 = bytes[i + 1];
      // F0 needs 90-BF (no overlongs), F4 80-8F (nothing above U+10FFFF), F5-FF never.
      if (i + 3 >= len || c > 0xf4 || ((c1 & 0xc0) | ((bytes[i + 2] & 0xc0) >> 2) | ((bytes[i + 3] & 0xc0) >> 4)) !== 0xa8 || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) break;
      i += 4;
    }
  }
  // Only a sequence cut by `len` or an ill-formed one gets here: at most 4 bytes to go.
  return i < len ? utf8Bytewise(bytes, i, len, 0, false) : 0;
}

/**
 * The contract's automaton, one byte at a time. With `resume`, it returns to the fast
 * loop as soon as the open sequence is complete (one level deep: no recursion past that).
 */
function utf8Bytewise(bytes: Uint8Array, i: number, end: number, s: number, resume: boolean): number {
  for (; i < end; i++) {
    const c = bytes[i];
    if (s === 0) {
      if (resume) return utf8Scan(bytes, i, end, 0);
      if (c < 0x80) continue;
      if (c < 0xc2 || c > 0xf4) return ~i;
      // C2-DF -> 1; E0 -> 3; E1-EC, EE-EF -> 2; ED -> 4; F0 -> 6; F1-F3 -> 5; F4 -> 7
      s = c < 0xe0 ? 1 : c === 0xe0 ? 3 : c === 0xed ? 4 : c < 0xf0 ? 2 : c === 0xf0 ? 6 : c === 0xf4 ? 7 : 5;
    } else {
      // 3: A0-BF, 6: 90-BF, 4: 80-9F, 7: 80-8F, others 80-BF
      if (c < (s === 3 ? 0xa0 : s === 6 ? 0x90 : 0x80) || c > (s === 4 ? 0x9f : s === 7 ? 0x8f : 0xbf)) return ~i;
      // 1 -> 0; 2, 3, 4 -> 1; 5, 6, 7 -> 2
      s = s === 1 ? 0 : s < 5 ? 1 : 2;
    }
  }
  return s;
}

/**
 * One-shot check: -1 when bytes[start, end) is complete valid UTF-8, else the index of
 * the first byte that cannot start or continue a valid sequence, or `end` when the
 * text stops mid-sequence.
 */
export function utf8ErrorOffset(bytes: Uint8Array, start: number, end: number): number {
  const r = utf8Scan(bytes, start, end, 0);
  return r < 0 ? ~r : r === 0 ? -1 : end;
}
