/**
 * The WebAssembly core (build/core.wasm, from assembly/): one instance per Core,
 * one state slot in its linear memory per validator. The input window and the
 * record buffer inside the instance are shared, which is safe because a scan is
 * synchronous. The only file under src/ that may touch `WebAssembly`.
 *
 * Per scan, the chunk is copied into the input window once (in windows when it
 * is larger) and the records are copied out into the validator's own `events`,
 * so a validator's records survive another validator's scan.
 */
import { DEFAULT_MAX_MESSAGE, RECORD_SLOTS, type Core, type FrameValidator } from './types';
import { JsFrameValidator } from './validator-js';
import { maskJs } from './mask-js';

/** What assembly/index.ts exports. */
interface CoreExports {
  readonly memory: WebAssembly.Memory;
  readonly inputAddress: WebAssembly.Global;
  readonly recordsAddress: WebAssembly.Global;
  readonly resultAddress: WebAssembly.Global;
  readonly windowSize: WebAssembly.Global;
  readonly recordCapacity: WebAssembly.Global;
  readonly slotCount: WebAssembly.Global;
  create(maxMessage: number, flags: number): number;
  dispose(slot: number): void;
  configure(slot: number, maxMessage: number, flags: number): void;
  reset(slot: number): void;
  scan(slot: number, from: number, length: number, base: number, mode: number, firstRecord: number, capacity: number): number;
  utf8(length: number, state: number): number;
  mask(length: number, key: number): void;
}

// assembly/validator.ts: scan() status (RESULT[1]) and mode bits.
const STATUS_FULL = 1;
const STATUS_DEAD = 2;
const MODE_MORE_WINDOWS = 1;
const MODE_NEXT_WINDOW = 2;

/** The largest maximum a JS number holds exactly (the contract's 2^53-1). */
const MAX_MESSAGE_LIMIT = 9007199254740991;

/**
 * Below this many bytes a plain JS loop masks faster than copying into wasm
 * memory and back (measured on Node 20, x86-64: the crossover is near 128 B).
 */
const MASK_IN_JS_BELOW = 128;

function clampMaxMessage(maxMessage: number): number {
  if (maxMessage > MAX_MESSAGE_LIMIT) return MAX_MESSAGE_LIMIT;
  return maxMessage >= 0 ? Math.floor(maxMessage) : 0;
}

/** The instance and what all its validators share. */
class WasmInstance {
  readonly x: CoreExports;
  readonly bytes: Uint8Array;
  readonly records: Int32Array;
  readonly result: Int32Array;
  readonly input: number;
  readonly windowSize: number;
  readonly recordCapacity: number;
  readonly slotCount: number;
  /** Which validator's chunk is in the input window, and which part of it. */
  windowOwner: WasmFrameValidator | null = null;
  windowChunk: Uint8Array | null = null;
  windowStart = 0;
  windowLength = 0;

  constructor(module: WebAssembly.Module) {
    this.x = new WebAssembly.Instance(module, {}).exports as unknown as CoreExports;
    // The memory's maximum is its initial size (assembly/build.mjs), so these views never detach.
    const buffer = this.x.memory.buffer;
    this.bytes = new Uint8Array(buffer);
    this.records = new Int32Array(buffer, this.x.recordsAddress.value, this.x.recordCapacity.value * RECORD_SLOTS);
    this.result = new Int32Array(buffer, this.x.resultAddress.value, 4);
    this.input = this.x.inputAddress.value;
    this.windowSize = this.x.windowSize.value;
    this.recordCapacity = this.x.recordCapacity.value;
    this.slotCount = this.x.slotCount.value;
  }

  /** Copies bytes[start, start+length) to the input window. */
  copyIn(bytes: Uint8Array, start: number, length: number): void {
    if (start === 0 && length === bytes.length) this.bytes.set(bytes, this.input);
    else if (length <= 32) {
      const mem = this.bytes;
      const to = this.input - start;
      for (let i = start; i < start + length; i++) mem[to + i] = bytes[i];
    } else this.bytes.set(bytes.subarray(start, start + length), this.input);
  }

  /** Puts chunk[start, start+window) in the input window for `owner`. */
  loadWindow(owner: WasmFrameValidator, chunk: Uint8Array, start: number): void {
    const length = Math.min(chunk.length - start, this.windowSize);
    this.copyIn(chunk, start, length);
    this.windowOwner = owner;
    this.windowChunk = chunk;
    this.windowStart = start;
    this.windowLength = length;
  }

  forgetWindow(): void {
    this.windowOwner = null;
    this.windowChunk = null;
  }
}

class WasmFrameValidator implements FrameValidator {
  readonly events: Int32Array;
  pos = 0;
  private slot: number;
  private dead = false;
  private readonly core: WasmInstance;

  constructor(core: WasmInstance, slot: number) {
    this.core = core;
    this.slot = slot;
    this.events = new Int32Array(core.recordCapacity * RECORD_SLOTS);
  }

  scan(chunk: Uint8Array, from: number): number {
    const core = this.core;
    const length = chunk.length;
    if (this.slot < 0) throw new Error('picows: scan() on a disposed validator');
    if (this.dead || from >= length) {
      this.pos = length;
      return 0;
    }
    // A scan that resumes from `pos` finds its window still in place, unless
    // another validator (or mask) used the input window in between.
    if (
      core.windowOwner !== this ||
      core.windowChunk !== chunk ||
      from < core.windowStart ||
      from >= core.windowStart + core.windowLength
    ) {
      core.loadWindow(this, chunk, from);
    }
    const x = core.x;
    const result = core.result;
    let count = 0;
    let mode = 0;
    let relative = from - core.windowStart;
    for (;;) {
      const windowEnd = core.windowStart + core.windowLength;
      const more = windowEnd < length;
      count = x.scan(this.slot, relative, core.windowLength, core.windowStart, more ? mode | MODE_MORE_WINDOWS : mode, count, core.recordCapacity);
      const status = result[1];
      if (status === STATUS_DEAD) {
        this.dead = true;
        this.pos = length;
        break;
      }
      if (status === STATUS_FULL || !more) {
        this.pos = result[0];
        break;
      }
      core.loadWindow(this, chunk, windowEnd);
      relative = 0;
      mode = MODE_NEXT_WINDOW;
    }
    // Done with this chunk: do not keep it alive through the window bookkeeping.
    if (this.pos >= length) core.forgetWindow();
    const events = this.events;
    const records = core.records;
    for (let i = 0, n = count * RECORD_SLOTS; i < n; i++) events[i] = records[i];
    return count;
  }

  configure(maxMessage: number, flags: number): void {
    if (this.slot < 0) throw new Error('picows: configure() on a disposed validator');
    this.core.x.configure(this.slot, clampMaxMessage(maxMessage), flags | 0);
  }

  reset(): void {
    if (this.slot < 0) throw new Error('picows: reset() on a disposed validator');
    this.core.x.reset(this.slot);
    if (this.core.windowOwner === this) this.core.forgetWindow();
    this.dead = false;
    this.pos = 0;
  }

  dispose(): void {
    if (this.slot < 0) return;
    this.core.x.dispose(this.slot);
    if (this.core.windowOwner === this) this.core.forgetWindow();
    this.slot = -1;
  }
}

class WasmCore implements Core {
  readonly kind = 'wasm' as const;
  readonly core: WasmInstance;

  constructor(module: WebAssembly.Module) {
    this.core = new WasmInstance(module);
  }

  createValidator(maxMessage: number = DEFAULT_MAX_MESSAGE, flags: number = 0): FrameValidator {
    const core = this.core;
    const slot = core.x.create(clampMaxMessage(maxMessage), flags | 0);
    // Every slot in use (over 4096 live connections in one process): the JS twin gives
    // the same records (the shared vectors and differential tests prove it), so the
    // connection carries on, a little slower, instead of failing.
    if (slot < 0) return new JsFrameValidator(maxMessage, flags, core.recordCapacity);
    return new WasmFrameValidator(core, slot);
  }

  utf8ErrorOffset(bytes: Uint8Array, start: number, end: number): number {
    const core = this.core;
    core.forgetWindow();
    let state = 0;
    for (let p = start; p < end; ) {
      const length = Math.min(end - p, core.windowSize);
      core.copyIn(bytes, p, length);
      const bad = core.x.utf8(length, state);
      if (bad >= 0) return p + bad;
      state = core.result[2];
      p += length;
    }
    return state === 0 ? -1 : end;
  }

  mask(bytes: Uint8Array, start: number, end: number, key: number): void {
    if (end - start < MASK_IN_JS_BELOW) {
      maskJs(bytes, start, end, key);
      return;
    }
    const core = this.core;
    core.forgetWindow();
    // The window size is a multiple of 4, so every window starts at key phase 0.
    for (let p = start; p < end; ) {
      const length = Math.min(end - p, core.windowSize);
      core.copyIn(bytes, p, length);
      core.x.mask(length, key);
      bytes.set(core.bytes.subarray(core.input, core.input + length), p);
      p += length;
    }
  }
}


/** The WebAssembly core from build/core.wasm's bytes or its compiled module (instantiated synchronously). */
export function createWasmCore(wasm: Uint8Array | WebAssembly.Module): Core {
  const module = wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm);
  return new WasmCore(module);
}

/** The instance's memory, for tests and diagnostics (its size is fixed); null for another kind of core. */
export function wasmCoreMemory(core: Core): WebAssembly.Memory | null {
  return core instanceof WasmCore ? core.core.x.memory : null;
}
