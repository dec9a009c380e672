/**
 * picows' fast core, the WebAssembly ABI. Used by src/core/wasm-core.ts; the
 * contract is assembly/README.md. All addresses are byte offsets into the
 * exported memory; nothing here allocates after instantiation.
 */
import { INPUT, RECORDS, RESULT, WINDOW_SIZE, RECORD_CAPACITY, SLOT_COUNT } from './layout';
import { initUtf8Table, utf8Run, utf8State } from './utf8';
import { initSlots, allocSlot, freeSlot, configureSlot, resetSlot, scan } from './validator';
import { maskBytes } from './mask';

initUtf8Table();
initSlots();

export const inputAddress: usize = INPUT;
export const recordsAddress: usize = RECORDS;
export const resultAddress: usize = RESULT;
export const windowSize: i32 = WINDOW_SIZE;
export const recordCapacity: i32 = RECORD_CAPACITY;
export const slotCount: i32 = SLOT_COUNT;

export { allocSlot as create, freeSlot as dispose, configureSlot as configure, resetSlot as reset, scan };

/**
 * UTF-8 check of input bytes [0, length) continuing from automaton `state`.
 * Returns the index of the first invalid byte, or -1 with the final state in RESULT[2].
 */
export function utf8(length: i32, state: u32): i32 {
  const bad = utf8Run(INPUT, INPUT + <usize>length, state);
  if (bad >= 0) return <i32>(<usize>bad - INPUT);
  store<i32>(RESULT, <i32>utf8State, 8);
  return -1;
}

/** XORs input bytes [0, length) with `key` (key byte 0 = its most significant byte), from key phase 0. */
export function mask(length: i32, key: u32): void {
  maskBytes(INPUT, length, key);
}
