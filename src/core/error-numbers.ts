/**
 * The core's error ids as named constants (the table with names and close codes is
 * error-ids.ts, which re-exports these). A file of constants only: esbuild inlines
 * such constants where they are used, so the device bundle carries no variable for them.
 */
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
