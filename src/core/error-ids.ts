/**
 * The core's error ids: numbers in the core (both implementations), names and close
 * codes here. src/errors.ts builds the person-readable vocabulary on top.
 * The numbers are part of the WebAssembly ABI: never renumber.
 */
export const CORE_ERRORS = [
  // [id, name, close code]
  [1, 'RESERVED_BITS', 1002],
  [2, 'RESERVED_OPCODE', 1002],
  [3, 'MASKED_FRAME', 1002],
  [4, 'FRAGMENTED_CONTROL', 1002],
  [5, 'CONTROL_TOO_LONG', 1002],
  [6, 'LENGTH_TOP_BIT', 1002],
  [7, 'NON_MINIMAL_LENGTH', 1002],
  [8, 'UNEXPECTED_CONTINUATION', 1002],
  [9, 'EXPECTED_CONTINUATION', 1002],
  [10, 'MESSAGE_TOO_BIG', 1009],
  [11, 'INVALID_UTF8', 1007],
  [12, 'TRUNCATED_UTF8', 1007],
  [13, 'CLOSE_PAYLOAD_ONE_BYTE', 1002],
  [14, 'INVALID_CLOSE_CODE', 1002],
  [15, 'INVALID_CLOSE_REASON', 1007],
] as const;

// The ids as constants live in a file of constants only, which esbuild inlines into the device bundle.
export * from './error-numbers';

export function coreErrorName(id: number): string {
  // The table is in id order from 1; the id check keeps a gap or a reordering honest.
  const e = CORE_ERRORS[id - 1];
  return e && e[0] === id ? e[1] : 'UNKNOWN';
}
