/**
 * One simulated telemetry device of `picows sim`: an emulated Pico W (board/sim/kaluma)
 * on its own Wi-Fi radio, running the REAL firmware bundle (build/firmware.js) in the
 * Kaluma sandbox, talking to the server through its own FaultProxy. It applies the
 * faults the flaky model schedules and observes the device only from outside, the way
 * a person at the serial console and at the server would:
 *  - the board's console lines (`open`, `closed <code> <cause>`, `retry <ms>`, `wifi up`),
 *  - the readings the server delivered for the device's sessions (sids),
 *  - the board's own record (hangs, reboots, watchdog resets).
 * Nothing in here reaches into the firmware: there is no sim version of its logic.
 *
 * Time: "device time" is the board's own clock (millis(), across boots), in ms since
 * the simulation started. Kaluma's blocking calls (a 2 s Wi-Fi scan) move the board's
 * clock instead of stalling Node (board/sim/kaluma/timers.ts), so device time runs
 * ahead of the wall clock by the time the board spent blocked, as the device would
 * experience it. Detection and reconnect times are device time.
 */
import { FaultProxy, type FaultMode } from '../node/fault-proxy';
import { createKalumaBoard, Radio, type BoardEvent, type ConsoleLine, type KalumaBoard } from './kaluma/index';
import { runBundle, type BundleRun } from './sandbox';
import { mulberry32, streamSeed, type FaultEvent } from './flaky-model';

export type DeviceState = 'booting' | 'connecting' | 'open' | 'backoff' | 'waiting-link' | 'stopped' | 'hung' | 'idle';

export interface SimDeviceOptions {
  index: number;
  name: string;
  /** The simulation's seed: the board's RNG and the corruption offsets derive from it. */
  seed: number;
  /** Where the proxy forwards to: the ack server, or the host:port of --url. */
  target: { host: string; port: number };
  /** The URL path (and query) the device asks for. */
  path: string;
  telemetryMs: number;
  /** The firmware bundle's source. */
  code: string;
}

export interface CloseRecord {
  t: number;
  code: number;
  cause: string;
}

/** What became of one injected fault on this device. */
export interface FaultOutcome {
  kind: FaultEvent['kind'];
  /** Scheduled time, ms after the start (wall clock). */
  at: number;
  durationMs: number;
  /** Device time when it was injected. */
  injectedAt: number;
  /** The device's state at that moment: only a fault that hits an open connection must close it. */
  stateAtInjection: DeviceState;
  /** The first close at or after the injection (device time), and its cause. */
  closedAt: number | null;
  code: number | null;
  cause: string | null;
  /** The next open after that close. */
  reopenedAt: number | null;
}

/** A reading as firmware/app.ts sends it (firmware/README.md). */
export interface Reading {
  n: number;
  up: number;
  st: string;
  cn: number;
  tx: number;
  ack: number;
  rs: number;
  drop: number;
  q: number;
  rtt: number;
  last: string | null;
  [key: string]: unknown;
}

/** One boot's session as the server saw it. */
export interface SessionRecord {
  sid: string;
  boot: number;
  /** n of every delivery, in arrival order (a repeat would be a duplicate delivered). */
  ns: number[];
  /** The distinct n delivered. */
  seen: Set<number>;
  /** The latest reading delivered (highest n). */
  last: Reading | null;
  /** Wall-clock ms (performance.now) when `last` arrived. */
  lastAt: number;
  /** Duplicates the server suppressed for this sid. */
  suppressed: number;
}

const CLOSED_LINE = /^closed (\d+) (\S+)/;
const RETRY_LINE = /^retry (\d+)/;

export class SimDevice {
  readonly index: number;
  readonly name: string;
  readonly radio: Radio;
  readonly proxy: FaultProxy;
  readonly ssid: string;
  readonly password: string;
  board!: KalumaBoard;
  run!: BundleRun;
  url = '';

  state: DeviceState = 'booting';
  /** Device time the current state began, and (backoff) when the retry is due. */
  stateSince = 0;
  private retryDueAt = -1;
  /** [device time, state] at every change, for the timeline. */
  readonly transitions: Array<[number, DeviceState]> = [[0, 'booting']];
  readonly closes: CloseRecord[] = [];
  readonly opens: number[] = [];
  readonly retries: Array<[number, number]> = [];
  /** [device time the reading was made, its smoothed RTT ms], one per reading delivered. */
  readonly rttSamples: Array<[number, number]> = [];
  readonly faults: FaultOutcome[] = [];
  /** Console lines at level error (uncaught errors, `stopped:`), with device time. */
  readonly errors: Array<[number, string]> = [];
  readonly sessions = new Map<string, SessionRecord>();
  /** Boots whose sid the server has not seen yet. */
  readonly unmatchedBoots: number[] = [1];

  private readonly options: SimDeviceOptions;
  private readonly corruptRandom: () => number;
  /** Device-time origin of each boot (board millis() restarts at 0 on every boot). */
  private readonly bootBase = new Map<number, number>([[1, 0]]);
  private pendingBase = 0;
  /** Absolute device time at the simulation's start. */
  private origin = 0;
  private lastLine: ConsoleLine | null = null;
  private mode: Partial<FaultMode> = {};
  private corrupting = false;
  private unsubscribe: (() => void) | null = null;

  constructor(opts: SimDeviceOptions) {
    this.options = opts;
    this.index = opts.index;
    this.name = opts.name;
    this.ssid = `picows-sim-${opts.index}`;
    this.password = `pw-${opts.index}-${opts.seed}`;
    this.radio = new Radio({ up: true, ssid: this.ssid, password: this.password });
    this.proxy = new FaultProxy({ target: opts.target, seed: streamSeed(opts.seed, 2000 + opts.index) });
    this.corruptRandom = mulberry32(streamSeed(opts.seed, 3000 + opts.index));
    this.proxy.on('connection', (conn) => {
      // A corruption burst hits every connection made while it lasts.
      if (this.corrupting) conn.corruptNext('toClient', this.corruptOffset(), 0x80);
    });
  }

  /** Listens, powers the board on and starts the firmware. */
  async start(): Promise<void> {
    const port = await this.proxy.listen();
    this.url = `ws://127.0.0.1:${port}${this.options.path}`;
    this.board = createKalumaBoard({
      seed: streamSeed(this.options.seed, 1000 + this.index),
      name: this.name,
      radio: this.radio,
      // A minute of telemetry and its socket events stays well inside this.
      logLimit: 200000,
      storage: {
        WS_URL: this.url,
        WIFI_SSID: this.ssid,
        WIFI_PASSWORD: this.password,
        TELEMETRY_MS: String(this.options.telemetryMs),
      },
    });
    this.unsubscribe = this.board.onEvent((e) => this.onBoardEvent(e));
    this.run = runBundle(this.options.code, this.board, { filename: 'build/firmware.js' });
    if (this.run.loadError) throw new Error(`${this.name}: the firmware does not load: ${this.run.loadError}`);
  }

  /** The simulation's clock starts: device time 0 is now. */
  markStart(): void {
    this.poll();
    this.origin = this.absolute(this.board.boot, this.board.millis());
    // Whatever happened before (the first join and connect) counts from 0.
    for (const tr of this.transitions) tr[0] = Math.max(0, tr[0] - this.origin);
    for (let i = 0; i < this.opens.length; i++) this.opens[i] = Math.max(0, this.opens[i] - this.origin);
    for (const c of this.closes) c.t = Math.max(0, c.t - this.origin);
    for (const r of this.retries) r[0] = Math.max(0, r[0] - this.origin);
    this.stateSince = Math.max(0, this.stateSince - this.origin);
    if (this.retryDueAt >= 0) this.retryDueAt -= this.origin;
  }

  /** Device time now (ms since the start). */
  now(): number {
    return this.time(this.board.boot, this.board.millis());
  }

  /** Device time of a board-clock reading in a given boot. */
  time(boot: number, at: number): number {
    return this.absolute(boot, at) - this.origin;
  }

  // ---- faults ----

  inject(ev: FaultEvent): void {
    this.poll();
    const outcome: FaultOutcome = {
      kind: ev.kind,
      at: ev.at,
      durationMs: ev.durationMs,
      injectedAt: this.now(),
      stateAtInjection: this.liveState(),
      closedAt: null,
      code: null,
      cause: null,
      reopenedAt: null,
    };
    this.faults.push(outcome);
    switch (ev.kind) {
      case 'wifi':
        this.radio.setUp(false);
        // Seen from outside: a device between connections is now waiting for the link too.
        if (outcome.stateAtInjection === 'backoff' || outcome.stateAtInjection === 'connecting') this.setState('waiting-link', outcome.injectedAt);
        break;
      case 'blackhole':
        this.setMode({ blackhole: true });
        break;
      case 'reset':
        this.proxy.resetAll();
        break;
      case 'latency':
        this.setMode({ delayMs: ev.delayMs || 0 });
        break;
      case 'corrupt':
        this.corrupting = true;
        for (const conn of this.proxy.connections) conn.corruptNext('toClient', this.corruptOffset(), 0x80);
        break;
      default:
        break; // server-restart: the simulation restarts the server; the device only records it
    }
  }

  /** The fault's time is up. */
  lift(ev: FaultEvent): void {
    switch (ev.kind) {
      case 'wifi':
        this.radio.setUp(true);
        break;
      case 'blackhole':
        // A connection that lived through the blackhole must not resume with a hole in
        // its byte stream (see flaky-model.ts): it is reset, as a lost NAT mapping would.
        this.proxy.resetAll();
        this.setMode({ blackhole: false });
        break;
      case 'latency':
        this.setMode({ delayMs: 0 });
        break;
      case 'corrupt':
        this.corrupting = false;
        break;
      default:
        break;
    }
  }

  /** Lift everything in force (the end of the run). */
  liftAll(): void {
    this.corrupting = false;
    this.radio.setUp(true);
    if (this.mode.blackhole) this.proxy.resetAll();
    this.mode = {};
    this.proxy.setMode({});
  }

  private setMode(change: Partial<FaultMode>): void {
    this.mode = Object.assign({}, this.mode, change);
    this.proxy.setMode(this.mode);
  }

  /** Where in the next bytes to the device the bit-7 flip lands: a header byte or the payload. */
  private corruptOffset(): number {
    return Math.floor(this.corruptRandom() * 12);
  }

  // ---- observing ----

  /** Reads the console lines printed since the last look. */
  poll(): void {
    const lines = this.board.consoleLines;
    let from = 0;
    if (this.lastLine) {
      const i = lines.lastIndexOf(this.lastLine);
      from = i + 1;
    }
    for (let i = from; i < lines.length; i++) this.onLine(lines[i]);
    if (lines.length) this.lastLine = lines[lines.length - 1];
  }

  /** A reading the server delivered for one of this device's sessions. */
  onDelivery(sid: string, data: unknown, wallNow: number): void {
    const s = this.sessions.get(sid);
    if (!s) return;
    const r = data as Reading;
    const n = typeof r === 'object' && r && typeof r.n === 'number' ? r.n : NaN;
    if (!s.seen.has(n) && typeof r.rtt === 'number' && r.rtt >= 0 && typeof r.up === 'number') this.rttSamples.push([this.time(s.boot, r.up), r.rtt]);
    s.ns.push(n);
    s.seen.add(n);
    if (!s.last || n > s.last.n) {
      s.last = r;
      s.lastAt = wallNow;
    }
  }

  /** The server saw a sid for the first time and it is this device's. */
  adoptSession(sid: string): SessionRecord {
    const boot = this.unmatchedBoots.length ? (this.unmatchedBoots.shift() as number) : this.board.boot;
    const s: SessionRecord = { sid, boot, ns: [], seen: new Set(), last: null, lastAt: 0, suppressed: 0 };
    this.sessions.set(sid, s);
    return s;
  }

  /** The session of the current boot, once the server has seen it. */
  currentSession(): SessionRecord | null {
    let best: SessionRecord | null = null;
    for (const s of this.sessions.values()) if (!best || s.boot > best.boot) best = s;
    return best && best.boot === this.board.boot ? best : null;
  }

  /** The latest reading of the current boot. */
  latest(): Reading | null {
    const s = this.currentSession();
    return s ? s.last : null;
  }

  /** The state now (a retry whose delay ran out is connecting). */
  liveState(): DeviceState {
    if (this.board.state === 'hung') return 'hung';
    if (this.board.state === 'idle') return 'idle';
    if (this.state === 'backoff' && this.retryDueAt >= 0 && this.now() >= this.retryDueAt) return 'connecting';
    return this.state;
  }

  /** The timeline as segments, up to `end` (device time). */
  segments(end: number): Array<{ from: number; to: number; state: DeviceState }> {
    const out: Array<{ from: number; to: number; state: DeviceState }> = [];
    const tr = this.transitions;
    for (let i = 0; i < tr.length; i++) {
      const from = tr[i][0];
      const to = i + 1 < tr.length ? tr[i + 1][0] : end;
      if (from >= end) break;
      if (to > from) out.push({ from, to: Math.min(to, end), state: tr[i][1] });
    }
    return out;
  }

  /** Share of [0, end] spent open, 0..1. */
  uptime(end: number): number {
    if (end <= 0) return 0;
    let open = 0;
    for (const s of this.segments(end)) if (s.state === 'open') open += s.to - s.from;
    return open / end;
  }

  async dispose(): Promise<void> {
    if (this.unsubscribe) this.unsubscribe();
    if (this.run) this.run.stop();
    if (this.board) await this.board.dispose();
    await this.proxy.close();
  }

  // ---- internals ----

  private absolute(boot: number, at: number): number {
    return (this.bootBase.get(boot) || 0) + at;
  }

  private onBoardEvent(e: BoardEvent): void {
    if (e.type === 'reboot' || e.type === 'watchdog-reset') {
      this.poll();
      this.pendingBase = this.absolute(e.boot, e.at);
    } else if (e.type === 'boot' && e.boot > 1) {
      this.bootBase.set(e.boot, this.pendingBase);
      this.unmatchedBoots.push(e.boot);
      this.setState('booting', this.time(e.boot, e.at));
    } else if (e.type === 'crash') {
      this.poll();
      this.setState('hung', this.time(e.boot, e.at));
    }
  }

  private onLine(line: ConsoleLine): void {
    const t = this.absolute(line.boot, line.at) - this.origin;
    const text = line.text;
    if (line.level === 'error') this.errors.push([t, text]);
    if (text === 'open') {
      this.opens.push(t);
      this.setState('open', t);
      for (const f of this.faults) if (f.closedAt !== null && f.reopenedAt === null) f.reopenedAt = t;
      return;
    }
    const closed = CLOSED_LINE.exec(text);
    if (closed) {
      const c: CloseRecord = { t, code: Number(closed[1]), cause: closed[2] };
      this.closes.push(c);
      this.setState(c.cause === 'wifi-lost' ? 'waiting-link' : 'backoff', t);
      this.retryDueAt = -1;
      for (const f of this.faults) {
        // Only a fault that hit an open connection owns the next close; one that found
        // the device already between connections has nothing to close.
        if (f.closedAt === null && f.kind !== 'latency' && f.stateAtInjection === 'open' && t >= f.injectedAt) {
          f.closedAt = t;
          f.code = c.code;
          f.cause = c.cause;
        }
      }
      return;
    }
    const retry = RETRY_LINE.exec(text);
    if (retry) {
      const delay = Number(retry[1]);
      this.retries.push([t, delay]);
      this.setState('backoff', t);
      this.retryDueAt = t + delay;
      // The timeline shows the wait, then the attempt.
      this.transitions.push([t + delay, 'connecting']);
      return;
    }
    if (text.indexOf('stopped:') === 0) this.setState('stopped', t);
    else if (text === 'wifi up' && this.state === 'waiting-link') this.setState('connecting', t);
  }

  private setState(s: DeviceState, t: number): void {
    // A scheduled "connecting" after a retry delay that something else overtook is void.
    while (this.transitions.length && this.transitions[this.transitions.length - 1][0] > t) this.transitions.pop();
    this.state = s;
    this.stateSince = t;
    this.transitions.push([t, s]);
  }
}
