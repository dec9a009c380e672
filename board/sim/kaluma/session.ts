/**
 * One boot of the board: what a reboot, a crash or a VM reset wipes. Every Kaluma API
 * handed to user code belongs to a session and goes inert when the session ends, so
 * leftovers of a dead boot (a pending promise, a captured function) cannot touch the
 * next one. Callbacks into user code go through invoke(), which applies Kaluma's rule
 * for that call site: timers print the exception, driver callbacks drop it silently.
 */
import { types } from 'node:util';
import { EventEmitter } from './events';
import { BUILTIN_MODULES, createGlobals, type KalumaGlobals, NewlibRand } from './globals';
import type { KalumaBoard } from './index';
import { createNetModule, NetDevice } from './net';
import { createPicoCyw43Module } from './pico-cyw43';
import { Rp2Module, SplitMix64 } from './rp2';
import { createStorageModule, type StorageInstance } from './storage';
import { createStreamModule, type StreamModule } from './stream';
import { BoardTimers, BootClock } from './timers';
import { type BoardEventType, hostRealm, type Realm } from './types';
import { createWdtModule } from './wdt';
import { createWifiModule, WifiDevice } from './wifi';

/** startup.js's SystemError: the message is always `(errno:N)`. Host-realm fallback. */
export class HostSystemError extends Error {
  errno: number;
  code: string | undefined;

  constructor(errno: number, code?: string, message?: string) {
    super(message);
    this.name = 'SystemError';
    this.errno = errno;
    this.code = code;
    this.message = `(errno:${errno})`;
  }
}

export type SystemErrorConstructor = new (errno: number, code?: string, message?: string) => Error;

/** Heap one element of String.fromCharCode.apply costs at its peak (kaluma.md §2). */
const APPLY_BYTES_PER_ELEMENT = 9;

export class BootSession {
  readonly clock: BootClock;
  readonly timers: BoardTimers;
  readonly net: NetDevice;
  readonly wifi: WifiDevice;
  readonly random = new NewlibRand();
  readonly gpio: boolean[] = [false, false, true];
  realm: Realm = hostRealm;
  SystemError: SystemErrorConstructor = HostSystemError;
  alive = true;
  private readonly rng: SplitMix64;
  private readonly modules = new Map<string, unknown>();
  private globalsCache: KalumaGlobals | null = null;
  private storageClass: ReturnType<typeof createStorageModule> | null = null;
  private storageInstance: StorageInstance | null = null;
  private streamModule: StreamModule | null = null;

  constructor(
    readonly board: KalumaBoard,
    readonly boot: number,
  ) {
    this.clock = new BootClock(!board.options.virtualTime);
    this.timers = new BoardTimers(this.clock, (fn) => this.invoke(fn, undefined, [], 'timer', 'print'));
    this.net = new NetDevice(this);
    this.wifi = new WifiDevice(this);
    this.rng = new SplitMix64(board.seed, boot, 0x7270);
  }

  /** The board runs this boot's program (not rebooted, crashed, reset or disposed). */
  live(): boolean {
    return this.alive && this.board.state === 'running' && this.board.session === this;
  }

  record(type: BoardEventType, detail: string): void {
    this.board.recordFor(this, type, detail);
  }

  /**
   * Calls into user code. 'print': as set_timer_cb does (jerryxx_print_error, then the
   * caller clears the timer). 'swallow': as the drivers do (the error value is ignored,
   * nothing is printed). Both are recorded for the simulator. False when it threw.
   */
  invoke(fn: unknown, self: unknown, args: unknown[], where: string, policy: 'print' | 'swallow'): boolean {
    if (typeof fn !== 'function' || !this.live()) return true;
    try {
      fn.apply(self, args);
      return true;
    } catch (err) {
      this.board.uncaught(this, err, where, policy === 'print');
      return false;
    }
  }

  /**
   * Kaluma blocks the event loop for `ms` (a join, a scan, delay()): the board's clock
   * jumps. An armed watchdog that runs out meanwhile reboots the board: false then, and
   * the caller must not go on.
   */
  block(ms: number, why: string): boolean {
    if (!this.live()) return false;
    if (!(ms > 0)) return true;
    const left = this.board.watchdog.remaining();
    if (left <= ms) {
      this.clock.warp(Math.max(0, left));
      this.board.counters.blockedMs += Math.max(0, left);
      this.board.watchdogExpired(`the watchdog ran out while ${why} blocked the event loop`);
      return false;
    }
    this.clock.warp(ms);
    this.board.counters.blockedMs += ms;
    this.record('blocked', `${why} blocked the event loop for ${ms} ms`);
    this.timers.reschedule();
    this.board.watchdog.reschedule();
    return true;
  }

  /** A VLA of `bytes` on the ~2 KiB C stack: over the limit, the board crashes. */
  checkStack(bytes: number, what: string): boolean {
    if (!this.live()) return false;
    const limit = this.board.options.cStackLimit;
    if (bytes <= limit) return true;
    this.board.crash(`C stack overflow: ${what} needs a ${bytes}-byte VLA (stack ~${limit} B)`);
    return false;
  }

  /** String.fromCharCode.apply(null, bytes) with JerryScript's limits (kaluma.md §9). */
  binaryString(bytes: Uint8Array): string {
    this.checkApply(bytes.length);
    if (!this.live()) return '';
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }

  /** >= 65535 arguments throw RangeError; ~9 B of heap per argument, out of heap is fatal. */
  checkApply(count: number): void {
    if (count >= 65535) throw new this.realm.RangeError('Maximum call stack size exceeded');
    const free = this.board.heapFree();
    if (count * APPLY_BYTES_PER_ELEMENT > free) {
      this.board.crash(`heap exhausted (fatal): an apply over ${count} elements needs ~${count * APPLY_BYTES_PER_ELEMENT} B, ~${free} B free`);
    }
  }

  isUint8Array(value: unknown): value is Uint8Array {
    return types.isUint8Array(value);
  }

  makeObject<T extends object>(props: T): T {
    return Object.assign(new this.realm.Object(), props) as T;
  }

  systemError(errno: number, code?: string): Error {
    return new this.SystemError(errno, code);
  }

  setGpio(n: number, value: boolean): void {
    if (this.gpio[n] === value) return;
    this.gpio[n] = value;
    if (n === 0) {
      this.board.counters.ledChanges++;
      this.record('led', value ? 'on' : 'off');
    }
  }

  /** The sandbox hands over its realm before the program runs. */
  adoptRealm(realm: Realm, SystemError: SystemErrorConstructor): void {
    this.realm = realm;
    this.SystemError = SystemError;
    this.globalsCache = null;
  }

  get globals(): KalumaGlobals {
    if (!this.globalsCache) this.globalsCache = createGlobals(this);
    return this.globalsCache;
  }

  /** require('storage'): { Storage }. */
  storageExports(): ReturnType<typeof createStorageModule> {
    if (!this.storageClass) {
      this.storageClass = createStorageModule(
        this.board.flash,
        () => this.realm,
        () => this.live(),
      );
    }
    return this.storageClass;
  }

  /** The `storage` global: startup.js's `new Storage()`. */
  storageGlobal(): StorageInstance {
    if (!this.storageInstance) this.storageInstance = new (this.storageExports().Storage)();
    return this.storageInstance;
  }

  private stream(): StreamModule {
    if (!this.streamModule) {
      this.streamModule = createStreamModule({
        setTimeout: (fn, ms) => (this.live() ? this.timers.add(fn, ms, false) : 0),
        binaryString: (bytes) => this.binaryString(bytes),
        isUint8Array: (v): v is Uint8Array => this.isUint8Array(v),
      });
    }
    return this.streamModule;
  }

  /** Kaluma's require: built-in modules only, one instance per boot. */
  require(name: string): unknown {
    if (typeof name !== 'string') throw new this.realm.TypeError('"id" argument must be a string');
    const cached = this.modules.get(name);
    if (cached) return cached;
    let mod: unknown;
    switch (name) {
      case 'events':
        mod = { EventEmitter };
        break;
      case 'stream':
        mod = this.stream();
        break;
      case 'net':
        mod = createNetModule(this, this.stream());
        break;
      case 'wifi':
        mod = createWifiModule(this);
        break;
      case 'storage':
        mod = this.storageExports();
        break;
      case 'rp2':
        mod = new Rp2Module(this.rng, () => this.live());
        break;
      case 'wdt':
        mod = createWdtModule(
          this.board.watchdog,
          this.clock,
          () => this.realm,
          () => this.live(),
          (requested, actual) =>
            this.record('wdt-armed', requested === actual ? `${actual} ms` : `${requested} ms requested, clamped to ${actual} ms`),
        );
        break;
      case 'pico_cyw43':
        mod = createPicoCyw43Module(this);
        break;
      default:
        if (BUILTIN_MODULES.indexOf(name) >= 0) throw new this.realm.Error(`emulation: built-in module "${name}" is not emulated`);
        // startup.js Module.require
        throw new this.realm.Error(`Failed to load module: ${name}`);
    }
    this.modules.set(name, mod);
    return mod;
  }

  /** The boot is over. 'hang' keeps the sockets silent (the board may be rebooted later). */
  teardown(kind: 'reboot' | 'hang' | 'vm-reset' | 'dispose'): void {
    this.alive = false;
    this.timers.clearAll();
    if (kind === 'hang') {
      this.net.blackholeAll();
      return;
    }
    // A VM reset runs km_cyw43_deinit(): every pcb closed (FIN), the chip powered down [I].
    this.net.teardown(kind === 'vm-reset' ? 'close' : 'orphan');
    this.wifi.joined = false;
    this.gpio[0] = false;
  }
}
