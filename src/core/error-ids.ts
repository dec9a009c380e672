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

export const E_RESERVED_BITS = 1;
export const E_RESERVED_OPCODE = 2;
export const E_MASKED_FRAME = 3;
export const E_FRAGMENTED_CONTROL = 4;
export const E_CONTROL_TOO_LONG = 5;
export const E_LENGTH_TOP_BIT = 6;
export const E_NON_MINIMAL_LENGTH = 7;
export const E_UNEXPECTED_CONTINUATION = 8;
export const E_EXPECTED_CONTINUATION = 9;
export const E_MESSAGE_TOO_BIG = 10;
export const E_INVALID_UTF8 = 11;
export const E_TRUNCATED_UTF8 = 12;
export const E_CLOSE_PAYLOAD_ONE_BYTE = 13;
export const E_INVALID_CLOSE_CODE = 14;
export const E_INVALID_CLOSE_REASON = 15;

export function coreErrorName(id: number): string {
  for (let i = 0; i < CORE_ERRORS.length; i++) if (CORE_ERRORS[i][0] === id) return CORE_ERRORS[i][1];
  return 'UNKNOWN';
}
