/**
 * The fixed linear-memory layout. Every region is reserved statically with
 * memory.data, so the module never allocates: memory does not grow per
 * validator or per scan (the host runs up to 1000 connections on one instance).
 */

/** Bytes of the input window: the host copies a chunk (or a window of it) here. */
export const WINDOW_SIZE: i32 = 65536;
/** Records the shared record buffer holds (4 int32 slots each). */
export const RECORD_CAPACITY: i32 = 256;
/** Validator state slots in the pool. */
export const SLOT_COUNT: i32 = 4096;
/** Bytes per validator state slot (see validator.ts for the fields). */
export const SLOT_SIZE: i32 = 64;

/** The input window (16-byte aligned for v128 loads). */
export const INPUT: usize = memory.data(WINDOW_SIZE, 16);
/** The shared record buffer: RECORD_CAPACITY records of 4 int32. */
export const RECORDS: usize = memory.data(RECORD_CAPACITY * 16, 16);
/** Results of the last call: [0] pos, [1] status, [2] UTF-8 state. */
export const RESULT: usize = memory.data(16, 16);
/** The validator state pool. */
export const SLOTS: usize = memory.data(SLOT_COUNT * SLOT_SIZE, 16);
/** Stack of free slot indexes (u16 each). */
export const FREE_STACK: usize = memory.data(SLOT_COUNT * 2, 16);
/** The scalar UTF-8 automaton: next state = UTF8_NEXT[state * 256 + byte]; 8 = error. */
export const UTF8_NEXT: usize = memory.data(8 * 256, 16);
