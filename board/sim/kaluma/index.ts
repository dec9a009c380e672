/**
 * An emulated Raspberry Pi Pico W running Kaluma 1.2.1, for the host simulator and
 * the device-bundle tests. The SAME firmware bundle runs against it (board/sim/
 * sandbox.ts puts it in a vm context whose require() returns these modules); the
 * network underneath is real loopback TCP. Every quirk of shared/platform/kaluma.md §3
 * that can matter to a client is kept, and every failure the device would hide is
 * recorded (events, counters) so a test or the simulator can see it.
 *
 * Lifecycle: a board is created powered on (boot 1). reboot() (or the watchdog) starts
 * a new boot: timers, sockets, Wi-Fi association and module instances are gone, the
 * flash storage stays, and onBoot listeners (the sandbox) run the program again. crash()
 * hangs it (only the watchdog or reboot() brings it back). dispose() closes every real
 * socket and timer.
 */
import type { Socket } from 'node:net';
import type { TcpConn } from './tcp-conn';
import { Radio } from './radio';
import { SplitMix64 } from './rp2';
import { BootSession } from './session';
import { FlashStorage } from './storage';
import {
  type BoardCounters,
  type BoardEvent,
  type BoardEventType,
  type BoardState,
  type ConsoleLine,
  type KalumaBoardOptions,
  type WifiTiming,
  zeroCounters,
} from './types';
import { Watchdog } from './wdt';

export { Radio } from './radio';
export type { RadioOptions } from './radio';
export type { KalumaGlobals } from './globals';
export type { BootSession } from './session';
export * from './types';

/** TARGET_HEAPSIZE 180 on the RP2040: 184,312 usable bytes (kaluma.md §2). */
export const DEFAULT_HEAP = 184312;
/** Heap in use before user code on the host build of the engine (kaluma.md §9); a real board starts higher. */
const BASE_HEAP = 2400;
/** A 54 KB bundle parsed with a 36.5 KB peak and left 29 KB of bytecode (kaluma.md §9). */
const PARSE_PEAK_PER_SOURCE_BYTE = 36.5 / 54;
const BYTECODE_PER_SOURCE_BYTE = 29 / 54;

export interface ResolvedOptions {
  heapLimit: number;
  cStackLimit: number;
  sndBuf: number;
  mss: number;
  dns: { [name: string]: string };
  connectEvent: 'established' | 'sync';
  wifiTiming: Required<WifiTiming>;
  bootDelayMs: number;
  logLimit: number;
  echoConsole: boolean;
  virtualTime: boolean;
}

function formatError(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) {
    const e = err as { name?: unknown; message?: unknown };
    return `${String(e.name ?? 'Error')}: ${String(e.message)}`;
  }
  return String(err);
}

export class KalumaBoard {
  readonly label: string;
  readonly seed: number;
  readonly radio: Radio;
  /** The RP2040's flash unique id, as `board.uid` shows it. */
  readonly uid: string;
  readonly options: ResolvedOptions;
  readonly flash: FlashStorage;
  readonly watchdog: Watchdog;
  readonly counters: BoardCounters = zeroCounters();
  /** The last `logLimit` events, oldest first. */
  readonly events: BoardEvent[] = [];
  /** The board's console (log and error), the last `logLimit` lines. */
  readonly consoleLines: ConsoleLine[] = [];
  state: BoardState = 'running';
  /** Why the board hangs, while it does. */
  hang: { reason: string; boot: number; at: number } | null = null;
  /** The error that reset the VM last (a top-level throw, a load failure). */
  lastVmReset: { error: string; boot: number } | null = null;
  session: BootSession;
  private bootCount = 0;
  private seq = 0;
  private programBytes = 0;
  private readonly bootListeners = new Set<(boot: number) => void>();
  private readonly eventListeners = new Set<(event: BoardEvent) => void>();
  private readonly conns = new Set<TcpConn>();
  private bootTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribeRadio: () => void;

  constructor(opts: KalumaBoardOptions) {
    this.seed = opts.seed;
    this.label = opts.name ?? `pico-${opts.seed}`;
    this.radio = opts.radio ?? new Radio({ up: true });
    const uidRng = new SplitMix64(opts.seed, 0x756964);
    this.uid = uidRng.next64().toString(16).toUpperCase().padStart(16, '0');
    const timing = opts.wifiTiming ?? {};
    this.options = {
      heapLimit: opts.heapLimit ?? DEFAULT_HEAP,
      cStackLimit: opts.cStackLimit ?? 2048,
      sndBuf: opts.sndBuf ?? 8 * 1460,
      mss: opts.mss ?? 1460,
      dns: opts.dns ?? { localhost: '127.0.0.1' },
      connectEvent: opts.connectEvent ?? 'established',
      wifiTiming: { joinMs: timing.joinMs ?? 0, failMs: timing.failMs ?? 30000, scanMs: timing.scanMs ?? 2000 },
      bootDelayMs: opts.bootDelayMs ?? 0,
      logLimit: opts.logLimit ?? 5000,
      echoConsole: opts.echoConsole ?? false,
      virtualTime: opts.virtualTime ?? false,
    };
    this.flash = new FlashStorage(opts.storage);
    this.watchdog = new Watchdog(() => this.watchdogExpired('the watchdog was not fed in time'));
    this.session = this.startSession();
    this.unsubscribeRadio = this.radio.subscribe((up) => {
      if (!up && this.state !== 'disposed') this.session.wifi.linkLost('the radio went down');
    });
  }

  /** Boot number: 1 at power-on, +1 per reboot. */
  get boot(): number {
    return this.bootCount;
  }

  /** Kaluma's require() for this boot. */
  require(name: string): unknown {
    return this.session.require(name);
  }

  /** The globals of this boot (what the sandbox installs). */
  get globals() {
    return this.session.globals;
  }

  millis(): number {
    return this.session.clock.millis();
  }

  /** The on-board LED (CYW43 GPIO 0). */
  get led(): boolean {
    return this.session.gpio[0];
  }

  /** Socket numbers in use in this boot. */
  socketNumbers(): number[] {
    return this.session.net.inUse();
  }

  /** Power-cycle or reset: a new boot; the program runs again (onBoot) after bootDelayMs. */
  reboot(reason = 'reset'): void {
    this.restart('reboot', reason);
  }

  /** Hang the board (a hard fault, a fatal error): nothing runs until the watchdog or reboot(). */
  crash(reason: string): void {
    if (this.state !== 'running') return;
    this.state = 'hung';
    this.hang = { reason, boot: this.bootCount, at: this.session.clock.millis() };
    this.counters.crashes++;
    this.record('crash', reason);
    this.session.teardown('hang');
  }

  /** A throw at the program's top level: Kaluma resets the VM and sits at the REPL. */
  vmReset(err: unknown): void {
    if (this.state !== 'running') return;
    const text = formatError(err);
    this.state = 'idle';
    this.lastVmReset = { error: text, boot: this.bootCount };
    this.counters.vmResets++;
    this.consoleLine(this.session, 'error', text, true);
    this.record('vm-reset', text);
    this.session.teardown('vm-reset');
  }

  /** Called by the watchdog (or a block that outlasted it). */
  watchdogExpired(reason: string): void {
    this.restart('watchdog', reason);
  }

  /** Heap left for the program, by the estimate memoryUsage() reports. */
  heapFree(): number {
    const u = this.memoryUsage();
    return u.heapTotal - u.heapUsed;
  }

  /**
   * process.memoryUsage(), estimated: the engine's baseline plus the program's bytecode
   * (bytecode lives in the heap). It does not see the program's own objects, so it is a
   * lower bound of the real figure.
   */
  memoryUsage(): { heapTotal: number; heapUsed: number; heapPeak: number } {
    const used = BASE_HEAP + Math.round(this.programBytes * BYTECODE_PER_SOURCE_BYTE);
    const peak = BASE_HEAP + Math.round(this.programBytes * PARSE_PEAK_PER_SOURCE_BYTE);
    return { heapTotal: this.options.heapLimit, heapUsed: used, heapPeak: Math.max(used, peak) };
  }

  /** The sandbox loads a program of this many bytes: false (and a hang) when parsing it would exhaust the heap. */
  loadProgram(sourceBytes: number, notes: string[] = []): boolean {
    this.programBytes = sourceBytes;
    const u = this.memoryUsage();
    const extra = notes.length > 0 ? `; ${notes.join('; ')}` : '';
    this.record('program-load', `${sourceBytes} B of source, ~${u.heapUsed} B of heap after parsing (peak ~${u.heapPeak} B)${extra}`);
    if (u.heapPeak > u.heapTotal) {
      this.crash(`heap exhausted (fatal) while parsing a ${sourceBytes}-byte program`);
      return false;
    }
    return true;
  }

  /** Listen to every recorded event. Returns the unsubscribe function. */
  onEvent(fn: (event: BoardEvent) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  /** Run fn at the start of every later boot (the sandbox reruns the program here). */
  onBoot(fn: (boot: number) => void): () => void {
    this.bootListeners.add(fn);
    return () => this.bootListeners.delete(fn);
  }

  /** Events of one type (from the kept log). */
  eventsOf(type: BoardEventType): BoardEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Console text of the kept log, one line each. */
  consoleText(): string[] {
    return this.consoleLines.map((l) => l.text);
  }

  /** Close every real socket and timer. The board is unusable afterwards. */
  async dispose(): Promise<void> {
    if (this.state === 'disposed') return;
    this.state = 'disposed';
    this.session.teardown('dispose');
    this.watchdog.disarm();
    if (this.bootTimer) clearTimeout(this.bootTimer);
    this.bootTimer = null;
    this.unsubscribeRadio();
    this.bootListeners.clear();
    const closing: Promise<void>[] = [];
    for (const conn of this.conns) {
      if (conn.mode === 'gone' && conn.node.destroyed) continue;
      closing.push(new Promise<void>((resolve) => conn.node.once('close', () => resolve())));
      conn.node.destroy();
    }
    this.conns.clear();
    await Promise.all(closing);
  }

  // ---- used by the emulated modules ----

  /** The host sockets behind the board's TCP connections now (for a test that waits for bytes in flight). */
  hostSockets(): Socket[] {
    return [...this.conns].map((c) => c.node);
  }

  trackConn(conn: TcpConn): void {
    this.conns.add(conn);
  }

  untrackConn(conn: TcpConn): void {
    this.conns.delete(conn);
  }

  record(type: BoardEventType, detail: string): void {
    this.recordFor(this.session, type, detail);
  }

  recordFor(session: BootSession, type: BoardEventType, detail: string): void {
    const event: BoardEvent = { seq: ++this.seq, boot: session.boot, at: session.clock.millis(), type, detail };
    this.events.push(event);
    if (this.events.length > this.options.logLimit) this.events.splice(0, this.events.length - this.options.logLimit);
    for (const fn of [...this.eventListeners]) fn(event);
  }

  consoleLine(session: BootSession, level: 'log' | 'error', text: string, force = false): void {
    if (!force && !session.live()) return;
    this.consoleLines.push({ boot: session.boot, at: session.clock.millis(), level, text });
    if (this.consoleLines.length > this.options.logLimit) this.consoleLines.splice(0, this.consoleLines.length - this.options.logLimit);
    if (this.options.echoConsole) (level === 'error' ? process.stderr : process.stdout).write(`[${this.label}] ${text}\n`);
  }

  uncaught(session: BootSession, err: unknown, where: string, print: boolean): void {
    this.counters.uncaughtErrors++;
    const text = formatError(err);
    this.recordFor(session, 'uncaught', `${where}: ${text}${print ? '' : ' (dropped silently by the driver)'}`);
    if (print) this.consoleLine(session, 'error', text);
  }

  private startSession(): BootSession {
    this.bootCount++;
    this.counters.boots++;
    this.state = 'running';
    this.hang = null;
    this.session = new BootSession(this, this.bootCount);
    this.record('boot', `boot ${this.bootCount}`);
    return this.session;
  }

  private restart(kind: 'reboot' | 'watchdog', reason: string): void {
    if (this.state === 'disposed') return;
    this.counters.reboots++;
    if (kind === 'watchdog') this.counters.watchdogResets++;
    this.record(kind === 'watchdog' ? 'watchdog-reset' : 'reboot', reason);
    this.watchdog.disarm();
    this.session.teardown('reboot');
    const session = this.startSession();
    if (this.bootTimer) clearTimeout(this.bootTimer);
    this.bootTimer = setTimeout(() => {
      this.bootTimer = null;
      if (this.session !== session || !session.live()) return;
      for (const fn of [...this.bootListeners]) fn(session.boot);
    }, this.options.bootDelayMs);
  }
}

/** A powered-on Pico W under Kaluma 1.2.1. */
export function createKalumaBoard(opts: KalumaBoardOptions): KalumaBoard {
  return new KalumaBoard(opts);
}
