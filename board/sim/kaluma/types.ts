/**
 * Shared shapes of the emulated Kaluma 1.2.1 board: options, the event log, the
 * counters, and the "realm" (the constructors of the JS world the board's values
 * are handed to: the host's by default, a vm context's when a bundle runs).
 */
import type { Radio } from './radio';

/** Constructors used to build values handed to user code, so `instanceof` works in the sandbox. */
export interface Realm {
  Uint8Array: Uint8ArrayConstructor;
  Error: ErrorConstructor;
  TypeError: TypeErrorConstructor;
  RangeError: RangeErrorConstructor;
  Object: ObjectConstructor;
  Array: ArrayConstructor;
}

export const hostRealm: Realm = { Uint8Array, Error, TypeError, RangeError, Object, Array };

export interface WifiTiming {
  /** Board time a successful join blocks the event loop. Default 0 (not measured). */
  joinMs?: number;
  /** Board time a failed join blocks: CONNECT_TIMEOUT in module_pico_cyw43.c. Default 30000. */
  failMs?: number;
  /** Board time scan() blocks: SCAN_TIMEOUT after the last result. Default 2000. */
  scanMs?: number;
}

export interface KalumaBoardOptions {
  /** Seeds rp2.randomBigInt() (with the boot number) and the board's uid. */
  seed: number;
  /** Initial flash key-value storage (kept across reboots). */
  storage?: { [key: string]: string };
  /** The access point; a private always-up radio by default. */
  radio?: Radio;
  /** JS heap in bytes. Default 184312 (TARGET_HEAPSIZE 180 on RP2040, kaluma.md §2). */
  heapLimit?: number;
  /** A label for logs (the `board.name` global stays 'pico-w'). */
  name?: string;
  /** Usable C stack for the native write's VLA, bytes. Default 2048 (kaluma.md §3). */
  cStackLimit?: number;
  /** lwIP TCP_SND_BUF. Default 8 x 1460 = 11680. */
  sndBuf?: number;
  /** Largest `data` chunk (one TCP segment). Default 1460 (TCP_MSS). */
  mss?: number;
  /** Simulated DNS: name -> IPv4. Default { localhost: '127.0.0.1' }; other names fail. */
  dns?: { [name: string]: string };
  /**
   * When the socket's `connect` event fires. 'established' (default): when the real TCP
   * handshake completes, as lwIP's tcp_connect callback does in module_pico_cyw43.c;
   * never after a refused connect. 'sync': right after `ready`, inside connect().
   */
  connectEvent?: 'established' | 'sync';
  wifiTiming?: WifiTiming;
  /** Real milliseconds between a reboot and the program starting again. Default 0. */
  bootDelayMs?: number;
  /** Most entries kept in `events` and `consoleLines` (counters are always exact). Default 5000. */
  logLimit?: number;
  /** Also print the board's console to the host's stdout/stderr, prefixed with the label. */
  echoConsole?: boolean;
  /**
   * Board time moves only when the emulation warps it (a blocking call) or the test does
   * (`session.clock.warp()`, then `session.timers.reschedule()`): a run that does not
   * depend on how fast the host is. Default false: the host's clock plus warps.
   */
  virtualTime?: boolean;
}

export type BoardState = 'running' | 'hung' | 'idle' | 'disposed';

export type BoardEventType =
  | 'boot'
  | 'reboot'
  | 'watchdog-reset'
  | 'crash'
  | 'vm-reset'
  | 'uncaught'
  | 'program-load'
  | 'blocked'
  | 'led'
  | 'wdt-armed'
  | 'wifi-join'
  | 'wifi-join-failed'
  | 'wifi-disconnect'
  | 'link-down'
  | 'socket-open'
  | 'socket-connected'
  | 'socket-close'
  | 'peer-fin'
  | 'tcp-error-unreported'
  | 'native-write'
  | 'write-dropped'
  | 'write-to-closed'
  | 'dangling-write'
  | 'cross-write'
  | 'orphan-reset';

export interface BoardEvent {
  seq: number;
  /** Boot number (1 = first power-on). */
  boot: number;
  /** Board milliseconds since that boot (millis()). */
  at: number;
  type: BoardEventType;
  detail: string;
}

export interface ConsoleLine {
  boot: number;
  at: number;
  level: 'log' | 'error';
  text: string;
}

export interface BoardCounters {
  boots: number;
  reboots: number;
  watchdogResets: number;
  crashes: number;
  vmResets: number;
  uncaughtErrors: number;
  socketsOpened: number;
  connectThrows: number;
  nativeWrites: number;
  bytesWritten: number;
  bytesReceived: number;
  writesDropped: number;
  bytesDropped: number;
  writesToClosed: number;
  danglingWrites: number;
  crossWrites: number;
  unreportedTcpErrors: number;
  ledChanges: number;
  wifiJoins: number;
  wifiJoinFailures: number;
  blockedMs: number;
}

export function zeroCounters(): BoardCounters {
  return {
    boots: 0,
    reboots: 0,
    watchdogResets: 0,
    crashes: 0,
    vmResets: 0,
    uncaughtErrors: 0,
    socketsOpened: 0,
    connectThrows: 0,
    nativeWrites: 0,
    bytesWritten: 0,
    bytesReceived: 0,
    writesDropped: 0,
    bytesDropped: 0,
    writesToClosed: 0,
    danglingWrites: 0,
    crossWrites: 0,
    unreportedTcpErrors: 0,
    ledChanges: 0,
    wifiJoins: 0,
    wifiJoinFailures: 0,
    blockedMs: 0,
  };
}

/** Kaluma's argument checks (jerryxx.h), whose messages user code may see. */
export function argRequired(realm: Realm, name: string): Error {
  return new realm.TypeError(`"${name}" argument required`);
}

export function argMustBe(realm: Realm, name: string, what: string): Error {
  return new realm.TypeError(`"${name}" argument must be a ${what}`);
}
