/**
 * Runs a firmware bundle the way Kaluma 1.2.1 runs the flashed program, in a Node vm
 * context that offers ONLY what Kaluma offers (kaluma.md §1, §3):
 *  - a fresh realm's intrinsics minus what JerryScript 2.4 lacks: no Buffer, process
 *    .nextTick, WebAssembly, queueMicrotask, structuredClone, setImmediate, fetch, URL,
 *    Intl, WeakRef, SharedArrayBuffer/Atomics, AggregateError; Array/TypedArray/String
 *    `.at` and the ES2023 array methods, Object.hasOwn, Promise.allSettled/any and
 *    BigInt.asUintN/asIntN deleted;
 *  - Kaluma's globals from the board (board/sim/kaluma/globals.ts), `require` returning
 *    the emulated built-ins only, `global`, SystemError; Math.random = newlib rand(),
 *    Date.now() near 0 at boot; String.fromCharCode with the engine's argument limits;
 *  - the source runs as a strict-mode SCRIPT (not a module); a raw NUL ends it (the
 *    flash copy is NUL-terminated); syntax JerryScript cannot parse fails the load
 *    (a SyntaxError: the VM resets);
 *  - a top-level throw resets the VM (recorded; nothing runs until a reboot);
 *  - at every later boot (reboot(), watchdog) the program runs again in a new context.
 * Timers, sockets and callbacks all belong to the board's current boot, so a reboot or
 * a crash cancels everything the program scheduled.
 */
import * as vm from 'node:vm';
import type { KalumaBoard } from './kaluma/index';
import type { SystemErrorConstructor } from './kaluma/session';
import { checkKalumaSyntax } from './kaluma/syntax';
import type { Realm } from './kaluma/types';

/** Flash reserved for the user program on the Pico W (kaluma.md §2). */
export const MAX_PROGRAM_BYTES = 512 * 1024;

export interface RunBundleOptions {
  filename?: string;
  /** Run the program again at every later boot, as the device does. Default true. */
  rerunOnBoot?: boolean;
  /** Skip the check for syntax JerryScript 2.4 rejects. Default false. */
  skipSyntaxCheck?: boolean;
  /** Extra globals (test probes). Not part of Kaluma: keep them out of the firmware's path. */
  extraGlobals?: { [name: string]: unknown };
}

export interface BundleRun {
  readonly board: KalumaBoard;
  /** The global object of the current boot's program (a new one after each reboot). */
  readonly context: vm.Context;
  /** How many boots the program has been started in. */
  readonly runs: number;
  /** Why the program cannot load (syntax JerryScript rejects), or null. */
  readonly loadError: string | null;
  /** What the load changed without failing (a raw NUL truncating the program). */
  readonly notes: string[];
  /** Stop running the program at later boots. */
  stop(): void;
}

/** Runs inside the new context: strips what JerryScript lacks, patches Math/Date/fromCharCode. */
const PRELUDE = `(function (hooks) {
  'use strict';
  var g = globalThis;
  function drop(obj, names) {
    for (var i = 0; i < names.length; i++) {
      try { delete obj[names[i]]; } catch (e) { /* non-configurable: leave it */ }
    }
  }
  drop(g, ['console', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'FinalizationRegistry', 'WeakRef',
    'Intl', 'AggregateError', 'Iterator', 'structuredClone', 'queueMicrotask', 'setImmediate', 'fetch', 'URL']);
  drop(Array.prototype, ['at', 'findLast', 'findLastIndex', 'toReversed', 'toSorted', 'toSpliced', 'with']);
  drop(Object.getPrototypeOf(Uint8Array.prototype), ['at', 'findLast', 'findLastIndex', 'toReversed', 'toSorted', 'with']);
  drop(String.prototype, ['at', 'isWellFormed', 'toWellFormed']);
  drop(Object, ['hasOwn', 'groupBy']);
  drop(Map, ['groupBy']);
  drop(Array, ['fromAsync']);
  drop(Promise, ['allSettled', 'any', 'withResolvers']);
  drop(BigInt, ['asUintN', 'asIntN']);
  drop(Error, ['captureStackTrace']);
  drop(ArrayBuffer.prototype, ['resize', 'transfer', 'transferToFixedLength']);

  Math.random = function random() { return hooks.random(); };

  var RealDate = Date;
  var slice = Array.prototype.slice;
  function Date_() {
    if (!new.target) return new RealDate(hooks.now()).toString();
    var args = arguments.length === 0 ? [hooks.now()] : slice.call(arguments);
    return Reflect.construct(RealDate, args, new.target);
  }
  Date_.prototype = RealDate.prototype;
  Date_.now = function now() { return hooks.now(); };
  Date_.parse = RealDate.parse;
  Date_.UTC = RealDate.UTC;
  Object.defineProperty(Date_, 'name', { value: 'Date' });
  Object.defineProperty(RealDate.prototype, 'constructor', { value: Date_, writable: true, configurable: true });
  g.Date = Date_;

  var fromCharCode = String.fromCharCode;
  String.fromCharCode = function fromCharCode_() {
    if (arguments.length > 1024) hooks.checkApply(arguments.length);
    return fromCharCode.apply(null, arguments);
  };

  // startup.js
  class SystemError extends Error {
    constructor(errno, code, message) {
      super(message);
      this.name = 'SystemError';
      this.errno = errno;
      this.code = code;
      this.message = '(errno:' + this.errno + ')';
    }
  }
  g.SystemError = SystemError;
  g.global = g;
  return { Uint8Array: Uint8Array, Error: Error, TypeError: TypeError, RangeError: RangeError,
    Object: Object, Array: Array, SystemError: SystemError };
})`;

/** A fresh context holding Kaluma's globals for the board's current boot. */
export function createKalumaContext(board: KalumaBoard, extraGlobals: { [name: string]: unknown } = {}): vm.Context {
  const session = board.session;
  const context = vm.createContext({}, { name: `kaluma ${board.label} boot ${session.boot}`, codeGeneration: { strings: true, wasm: false } });
  const prelude = vm.runInContext(PRELUDE, context) as (hooks: unknown) => Realm & { SystemError: SystemErrorConstructor };
  const realm = prelude({
    random: () => session.globals.random(),
    now: () => session.globals.dateNow(),
    checkApply: (n: number) => session.checkApply(n),
  });
  session.adoptRealm(realm, realm.SystemError);
  const values = session.globals.values;
  for (const name of Object.keys(values)) context[name] = values[name];
  for (const name of Object.keys(extraGlobals)) context[name] = extraGlobals[name];
  return context;
}

/** Runs `code` on `board` now (if it is running) and at every later boot. */
export function runBundle(code: string, board: KalumaBoard, opts: RunBundleOptions = {}): BundleRun {
  const filename = opts.filename ?? 'firmware.js';
  if (Buffer.byteLength(code, 'utf8') > MAX_PROGRAM_BYTES) {
    throw new Error(`${filename}: ${Buffer.byteLength(code, 'utf8')} B does not fit the 512 KB program flash`);
  }
  let loadError: string | null = null;
  const notes: string[] = [];
  // prog.c stores the program NUL-terminated: a raw 0x00 ends it there.
  const nul = code.indexOf('\u0000');
  const source = nul >= 0 ? code.slice(0, nul) : code;
  if (nul >= 0) notes.push(`a raw NUL at offset ${nul} ends the program there (Kaluma stores it NUL-terminated)`);
  if (!opts.skipSyntaxCheck) {
    const problems = checkKalumaSyntax(source);
    if (problems.length > 0) loadError = `SyntaxError (JerryScript 2.4 cannot parse): ${problems.join('; ')}`;
  }
  let script: vm.Script | null = null;
  if (!loadError) {
    try {
      // Kaluma parses the user program as a strict-mode script; same line numbers.
      script = new vm.Script(`'use strict';${source}`, { filename });
    } catch (err) {
      loadError = `SyntaxError: ${(err as Error).message}`;
    }
  }

  let context: vm.Context = vm.createContext({});
  let runs = 0;

  const start = () => {
    if (board.state !== 'running') return;
    runs++;
    if (!script) {
      board.vmReset(new SyntaxError(loadError ?? 'the program failed to load'));
      return;
    }
    context = createKalumaContext(board, opts.extraGlobals);
    if (!board.loadProgram(Buffer.byteLength(source, 'utf8'), notes)) return;
    const session = board.session;
    try {
      script.runInContext(context);
    } catch (err) {
      // A top-level throw resets the VM (kaluma.md §4); a dead boot's leftovers do not.
      if (session.live()) board.vmReset(err);
    }
  };

  const unsubscribe = opts.rerunOnBoot === false ? () => undefined : board.onBoot(() => start());
  start();

  return {
    board,
    get context() {
      return context;
    },
    get runs() {
      return runs;
    },
    loadError,
    notes,
    stop: () => {
      unsubscribe();
    },
  };
}
