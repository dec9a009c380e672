/**
 * The plain-JS core: what picows uses where there is no WebAssembly (Kaluma's
 * JerryScript 2.4). Same interface and verdicts as the WebAssembly core (src/core/types.ts).
 */
import type { Core, FrameValidator } from './types';
import { maskJs } from './mask-js';
import { utf8ErrorOffset } from './utf8-js';
import { DEFAULT_RECORD_CAPACITY, JsFrameValidator } from './validator-js';

/**
 * `recordCapacity`: records each validator's `events` holds (RECORD_SLOTS int32s each).
 * Small by default: a full buffer only makes scan() stop early, to be called again from `pos`.
 */
export function createJsCore(recordCapacity: number = DEFAULT_RECORD_CAPACITY): Core {
  return {
    kind: 'js',
    createValidator(maxMessage?: number, flags?: number): FrameValidator {
      return new JsFrameValidator(maxMessage, flags, recordCapacity);
    },
    utf8ErrorOffset,
    mask: maskJs,
  };
}
