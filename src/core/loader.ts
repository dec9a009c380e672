/**
 * One loader, one interface: the WebAssembly core where the engine has
 * WebAssembly, the plain-JS twin where it does not (Kaluma). Tests force either.
 */
import type { Core } from './types';
import { createJsCore } from './js-core';
import { createWasmCore } from './wasm-core';

export type CorePreference = 'auto' | 'wasm' | 'js';

/**
 * `wasm` is the compiled module or its bytes (the board adapter knows where they live).
 * With 'auto', a missing WebAssembly or missing bytes falls back to the twin.
 */
export function loadCore(prefer: CorePreference, wasm?: Uint8Array | WebAssembly.Module): Core {
  const hasWasm = typeof WebAssembly === 'object' && wasm !== undefined;
  if (prefer === 'js' || (prefer === 'auto' && !hasWasm)) return createJsCore();
  if (!hasWasm) throw new Error('picows: the WebAssembly core was asked for, but ' + (typeof WebAssembly !== 'object' ? 'this engine has no WebAssembly' : 'no module was given'));
  return createWasmCore(wasm as Uint8Array | WebAssembly.Module);
}
