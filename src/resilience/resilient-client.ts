/**
 * The client made for flaky Wi-Fi: one connection (src/client/connection.ts) at a time, watched by liveness,
 * reconnected by policy and jittered backoff, fed from a bounded outbox that keeps
 * telemetry while the link is down and (in at-least-once mode) until the server
 * acknowledges it.
 *
 * What happens when a connection ends:
 *  1. the outbox rewinds: everything sent but unacked becomes sendable again;
 *  2. a connection that stayed up for minUptime resets the backoff and the breaker,
 *     and arms the backoff's fleet window (every retry until open again ≥ 5 s wide;
 *     not after Wi-Fi lost: backoff.ts);
 *  3. Wi-Fi lost → the backoff freezes until the board says the link is back, then
 *     a prompt, jittered retry (no budget spent while the radio is down);
 *  4. otherwise the policy classifies the ending (src/resilience/policy.ts) and the
 *     backoff draws the delay: full jitter, after the cap.
 *
 * Every message lost is reported once as a 'dropped' event with its reason (a
 * refusal by send(), or an eviction, expiry, coalescing or session drop inside the
 * outbox), so `stats.dropped` always equals the 'dropped' events seen. Listeners
 * may call stop() from any event; no retry happens behind it.
 */
import { PicowsError } from '../errors';
import { orDefault } from '../or-default';
import { DEFAULT_MAX_MESSAGE } from '../core/types';
import type { Clock } from '../client/clock';
import { listenerThrew, type CloseEvent } from '../client/events';
import { keepable, sendable, type Runtime } from '../client/runtime';
import { Connection, type ConnectionOptions } from '../client/connection';
import { OPEN } from '../protocol/ready-state';
import { dataFrame, newSid, parseAck } from './ack-protocol';
import { Backoff, type BackoffOptions } from './backoff';
import { LivenessMonitor, type LivenessOptions } from './liveness';
import { Outbox, type OutboxOptions, type PushOptions } from './outbox';
import { Policy, type Decision, type PolicyOptions } from './policy';

/** The board's view of the Wi-Fi link. Kaluma has no link-loss event, so it is polled. */
export interface LinkMonitor {
  /** Calls back with whether the link is up (Kaluma: wifi.getConnection). */
  isUp(cb: (up: boolean) => void): void;
}

export interface ResilientOptions extends ConnectionOptions, LivenessOptions {
  backoff?: BackoffOptions;
  policy?: PolicyOptions;
  outbox?: OutboxOptions;
  /** Wrap each text message as {"seq":N,"sid":..,"data":<payload>} and resend until {"ack":N}. send() then takes JSON text. */
  atLeastOnce?: boolean;
  /** The Wi-Fi hook. */
  link?: LinkMonitor;
  /** ms between link polls. Default 1000. */
  linkPollInterval?: number;
  /** Most bytes handed to the socket and not yet written before the outbox waits. Default 1024. */
  maxBuffered?: number;
}

export type ClientState = 'idle' | 'connecting' | 'open' | 'backoff' | 'waiting-link' | 'stopped';

export interface LastClose {
  code: number;
  reason: string;
  cause: string;
  wasClean: boolean;
  errorId: string | null;
  at: number;
}

export interface ResilientStats {
  state: ClientState;
  attempts: number;
  connects: number;
  /** ms the current connection has been open (0 when not open). */
  uptimeMs: number;
  /** ms open in total. */
  totalUptimeMs: number;
  backoffMs: number;
  attempt: number;
  lastClose: LastClose | null;
  rttMs: number;
  queued: number;
  queuedBytes: number;
  inFlight: number;
  sent: number;
  acked: number;
  resent: number;
  dropped: number;
  droppedBy: { [reason: string]: number };
  closesByCause: { [cause: string]: number };
}

export type ResilientEvent =
  | { type: 'state'; state: ClientState }
  | { type: 'open'; attempt: number; protocol: string }
  | { type: 'close'; code: number; reason: string; cause: string; wasClean: boolean; errorId: string | null; decision: Decision | null }
  | { type: 'reconnect-scheduled'; delayMs: number; attempt: number; class: string }
  /** A message went to the socket: seq 0 without at-least-once; `resend` after a reconnect. */
  | { type: 'sent'; seq: number; resend: boolean }
  /** The server acknowledged every seq ≤ `seq`; `count` messages were released. */
  | { type: 'acked'; seq: number; count: number }
  /** One message lost or refused, and why (the outbox's DropReason). */
  | { type: 'dropped'; reason: string }
  | { type: 'message'; data: string | ArrayBuffer | Uint8Array }
  | { type: 'stopped'; reason: string };

export class ResilientClient {
  state: ClientState = 'idle';
  readonly outbox: Outbox;
  readonly policy: Policy;
  readonly backoff: Backoff;
  /** This boot's session id (at-least-once mode). */
  readonly sid: string;
  /** Called for every event; one listener, set by the app. */
  onevent: ((ev: ResilientEvent) => void) | null = null;

  private ws: Connection | null = null;
  private liveness: LivenessMonitor | null = null;
  private readonly clock: Clock;
  private timer: unknown;
  private linkTimer: unknown;
  private flushTimer: unknown;
  private openedAt = -1;
  private totalUptime = 0;
  private attemptsMade = 0;
  private opens = 0;
  private lastEnding: LastClose | null = null;
  private readonly closeCounts: { [cause: string]: number } = {};
  private userStopped = false;
  /** The RTT last measured, kept across connections for stats (ms; -1 never). */
  private lastRttMs = -1;
  /** Messages refused by send() because the socket could not carry them (counted with the outbox's drops). */
  private tooBig = 0;
  /** Outbox drops already reported as events, per reason: every drop is emitted once. */
  private readonly dropsSeen: { [reason: string]: number } = {};

  constructor(readonly url: string, private readonly rt: Runtime, private readonly opts: ResilientOptions = {}) {
    this.clock = rt.clock;
    const random = () => rt.random32() / 4294967296;
    const now = () => this.clock.now();
    this.backoff = new Backoff(random, opts.backoff);
    this.policy = new Policy(Object.assign({ now }, opts.policy));
    this.outbox = new Outbox(Object.assign({ now, acks: !!opts.atLeastOnce }, opts.outbox));
    this.sid = newSid(random);
  }

  /** Starts connecting (and keeps coming back until stop() or a stop decision). */
  start(): void {
    if (this.state !== 'idle' && this.state !== 'stopped') return;
    this.userStopped = false;
    // Not 'stopped' while it starts again, or the link poll and its first answer (which
    // come before connect() sets and reports a state) would take it as still stopped.
    this.state = 'idle';
    if (this.opts.link) this.pollLink();
    this.connect();
  }

  /** Closes cleanly and stops reconnecting. Queued messages stay in the outbox. */
  stop(code = 1000, reason = ''): void {
    this.userStopped = true;
    this.timer = this.cancel(this.timer);
    this.linkTimer = this.cancel(this.linkTimer);
    const ws = this.ws;
    if (ws && ws.readyState <= OPEN) ws.close(code, reason); // CONNECTING or OPEN
    // Already closing (the peer's Close, a protocol error): its close event ends it as the user's stop.
    else if (!ws) this.setStopped('stopped by the application');
  }

  /**
   * Queues a message (sent at once when connected). Returns 'queued' or why it was
   * refused ('too-big', 'full', …); every refusal is counted and emitted as 'dropped'.
   */
  send(data: string | Uint8Array | ArrayBuffer, options?: PushOptions): string {
    // Plain JS on the board may pass anything: what the socket cannot send is refused
    // here, not later inside a timer.
    data = sendable(data);
    // The bytes it would be on the wire as one message: UTF-8 for text (counted, not
    // encoded: no allocation), plus the at-least-once wrapper around it (dataFrame():
    // 26 characters, the sid, and a seq of up to 16 digits).
    let n: number;
    if (typeof data !== 'string') n = data.byteLength;
    else {
      n = data.length;
      for (let i = 0; i < data.length; i++) {
        const c = data.charCodeAt(i);
        // 1 byte below U+0080, 2 below U+0800, else 3 (a lone surrogate too: it becomes
        // U+FFFD); a surrogate pair is 4: 3 for its high half, 1 for the low half that
        // follows one (charCodeAt(-1) is NaN: no high half).
        if (c >= 0x80) n += c < 0x800 ? 1 : (c & 0xfc00) === 0xdc00 && (data.charCodeAt(i - 1) & 0xfc00) === 0xd800 ? 0 : 2;
      }
      if (this.opts.atLeastOnce) n += 42 + this.sid.length;
    }
    // The socket would throw SEND_TOO_BIG for it later, inside a timer (fatal on
    // Kaluma, kaluma.md §4), or, acked past, lose it silently: refuse it now. 0 is a
    // maximum too (empty messages only), as the protocol reads it.
    if (n > orDefault(this.opts.maxMessage, DEFAULT_MAX_MESSAGE)) {
      this.tooBig++;
      this.emit({ type: 'dropped', reason: 'too-big' });
      return 'too-big';
    }
    const r = this.outbox.push(data, options);
    // A refusal, and whatever this push evicted, expired or replaced.
    this.reportDrops();
    if (r === 'queued' && this.state === 'open') this.flushIn(0);
    return r;
  }

  get stats(): ResilientStats {
    const o = this.outbox.stats;
    const droppedBy: { [reason: string]: number } = {};
    let dropped = this.tooBig;
    for (const k in o.dropped) dropped += droppedBy[k] = (o.dropped as { [k: string]: number })[k];
    droppedBy['too-big'] += this.tooBig;
    const up = this.openedAt >= 0 ? this.clock.now() - this.openedAt : 0;
    return {
      state: this.state,
      attempts: this.attemptsMade,
      connects: this.opens,
      uptimeMs: up,
      totalUptimeMs: this.totalUptime + up,
      backoffMs: this.backoff.delay,
      attempt: this.backoff.attempt,
      lastClose: this.lastEnding,
      rttMs: this.liveness && this.liveness.srtt >= 0 ? Math.round(this.liveness.srtt) : this.lastRttMs,
      queued: this.outbox.length,
      queuedBytes: this.outbox.bytes,
      inFlight: this.outbox.inFlight,
      sent: o.sent,
      acked: o.acked,
      resent: o.resent,
      dropped,
      droppedBy,
      closesByCause: this.closeCounts,
    };
  }

  // ---- connecting ----

  private connect(): void {
    this.timer = this.cancel(this.timer);
    if (this.backoff.frozen) {
      // The link is known to be down: an attempt cannot succeed, so none is made or counted.
      this.setState('waiting-link');
      return;
    }
    this.attemptsMade++;
    this.setState('connecting');
    if (this.userStopped) return; // a 'state' listener called stop()
    // The liveness monitor needs the connection and the connection reports to it: the
    // monitor comes first (it does nothing until start()), its hooks read `ws` only once
    // it runs, and the connection starts on a later turn.
    let ws: Connection;
    const live = new LivenessMonitor(this.clock, { sendPing: (p) => ws.ping(p), dead: (silentMs) => ws.abort('PONG_TIMEOUT', { silentMs }) }, this.opts);
    try {
      ws = new Connection(this.url, this.rt, this.opts, {
        activity: () => live.bytesReceived(),
        pong: (p) => live.pongReceived(p),
        // Open: count it, start the backoff's uptime clock and the liveness watch, send what waits.
        open: () => {
          this.opens++;
          this.openedAt = this.clock.now();
          this.backoff.opened(this.openedAt);
          if (ws.handshakeRtt >= 0) live.addRttSample(ws.handshakeRtt);
          live.start();
          this.setState('open');
          this.emit({ type: 'open', attempt: this.attemptsMade, protocol: ws.protocol });
          this.flush();
        },
        text: (data) => this.onMessage(data),
        binary: (data) => this.emit({ type: 'message', data: keepable(this.rt, data) }),
        closed: (ev) => {
          if (this.ws === ws) this.onClose(ev);
        },
      });
    } catch (e) {
      // A bad URL or wss:// without TLS: no retry can fix it.
      const err = e instanceof PicowsError ? e : new PicowsError('INTERNAL_ERROR', { message: String(e) });
      // 1015 for a missing TLS stack, as a WebSocket reports it (RFC 6455 7.4.1).
      this.onClose({ type: 'close', code: err.closeCode === 1015 ? 1015 : 1006, reason: '', wasClean: false, cause: 'transport-error', error: err });
      return;
    }
    this.ws = ws;
    this.liveness = live;
  }

  private onMessage(data: string): void {
    if (this.opts.atLeastOnce) {
      const n = parseAck(data);
      if (n >= 0) {
        const released = this.outbox.ack(n);
        if (released > 0) this.emit({ type: 'acked', seq: n, count: released });
        this.flush();
        return;
      }
    }
    this.emit({ type: 'message', data });
  }

  private onClose(ev: CloseEvent): void {
    this.ws = null;
    if (this.liveness) {
      this.liveness.stop();
      if (this.liveness.srtt >= 0) this.lastRttMs = Math.round(this.liveness.srtt);
    }
    this.liveness = null;
    this.flushTimer = this.cancel(this.flushTimer);
    this.outbox.rewind();
    this.reportDrops();
    const now = this.clock.now();
    if (this.openedAt >= 0) {
      this.totalUptime += now - this.openedAt;
      this.openedAt = -1;
      if (this.backoff.closed(now)) this.policy.healthy();
    }
    const errorId = ev.error ? ev.error.id : null;
    this.lastEnding = { code: ev.code, reason: ev.reason, cause: ev.cause, wasClean: ev.wasClean, errorId, at: now };
    this.closeCounts[ev.cause] = (this.closeCounts[ev.cause] || 0) + 1;
    // The user's stop wins over whatever the close looked like (a close-timeout after close() is still the user's).
    const ending = this.userStopped ? { cause: 'local-close' as const, code: ev.code, error: ev.error } : ev;
    const decision = ev.cause === 'wifi-lost' && !this.userStopped ? null : this.policy.decide(ending);
    const stoppedBefore = this.userStopped;
    this.emit({ type: 'close', code: ev.code, reason: ev.reason, cause: ev.cause, wasClean: ev.wasClean, errorId, decision });
    // A listener that called stop() has already stopped the client: no retry behind its back.
    if (this.userStopped && !stoppedBefore) return;
    if (!decision) {
      this.backoff.freeze();
      this.setState('waiting-link');
      return;
    }
    if (decision.action === 'stop') {
      this.setStopped(decision.reason);
      return;
    }
    this.scheduleReconnect(decision.class, decision.harder, decision.delayMs);
  }

  /** Backs off and connects again; `harder` and `notBeforeMs` are Backoff.next()'s (both default there). */
  private scheduleReconnect(cls: string, harder?: number, notBeforeMs?: number): void {
    const wait = this.backoff.next(harder, notBeforeMs);
    if (wait < 0) {
      if (this.backoff.frozen) this.setState('waiting-link');
      else this.setStopped('retry budget spent');
      return;
    }
    // The timer first: a listener below may call stop(), which must find it to cancel it.
    this.timer = this.clock.after(wait, () => {
      this.timer = undefined;
      this.connect();
    });
    this.setState('backoff');
    this.emit({ type: 'reconnect-scheduled', delayMs: wait, attempt: this.backoff.attempt, class: cls });
  }

  private setStopped(reason: string): void {
    this.timer = this.cancel(this.timer);
    this.linkTimer = this.cancel(this.linkTimer);
    this.setState('stopped');
    this.emit({ type: 'stopped', reason });
  }

  // ---- the Wi-Fi hook ----

  private pollLink(): void {
    const link = this.opts.link;
    if (!link || this.state === 'stopped') return;
    // The next poll first: an answer that stops the client (inside isUp on Kaluma, whose
    // getConnection answers at once) then cancels it like any other.
    this.linkTimer = this.clock.after(this.opts.linkPollInterval || 1000, () => {
      this.linkTimer = undefined;
      this.pollLink();
    });
    link.isUp((up) => this.onLink(up));
  }

  private onLink(up: boolean): void {
    if (this.userStopped || this.state === 'stopped') return;
    if (!up) {
      // Frozen before the abort: the wifi-lost close then does not arm the fleet window
      // (Backoff.closed()); the radio, not the server, ended it.
      this.backoff.freeze();
      const ws = this.ws;
      // The radio is down: the connection is dead now, whatever TCP thinks.
      if (ws) ws.abort('WIFI_LOST');
      else if (this.state === 'backoff') {
        this.timer = this.cancel(this.timer);
        this.setState('waiting-link');
      }
      return;
    }
    if (this.state === 'waiting-link') {
      this.backoff.thaw();
      this.scheduleReconnect('transient');
    }
  }

  // ---- the outbox ----

  /** Flushes in `ms` (one timer at a time). */
  private flushIn(ms: number): void {
    if (this.flushTimer === undefined) {
      this.flushTimer = this.clock.after(ms, () => {
        this.flushTimer = undefined;
        this.flush();
      });
    }
  }

  /** Hands queued messages to the socket while it has room; the socket paces the bytes. */
  private flush(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return;
    const limit = this.opts.maxBuffered || 1024;
    const stats = this.outbox.stats;
    while (ws.bufferedAmount < limit) {
      const resent = stats.resent;
      const m = this.outbox.take();
      // take() drops what expired or was superseded on its way to the next message.
      this.reportDrops();
      if (m === null) return;
      // Text is wrapped with its seq in at-least-once mode; binary goes as it is, seq 0.
      const wrap = !!this.opts.atLeastOnce && typeof m === 'string';
      const seq = wrap ? this.outbox.seq : 0;
      ws.send(wrap ? dataFrame(seq, this.sid, m as string) : m);
      this.emit({ type: 'sent', seq, resend: wrap && stats.resent !== resent });
      // A listener may have stopped the client, or the send may have failed it.
      if (this.ws !== ws || ws.readyState !== OPEN) return;
    }
    // More waits: look again once the socket has written some (one timer at a time).
    if (this.outbox.length > this.outbox.inFlight) this.flushIn(10);
  }

  /** Emits one 'dropped' event per message the outbox dropped since the last look. */
  private reportDrops(): void {
    const d = this.outbox.stats.dropped as { [reason: string]: number };
    for (const reason in d) {
      const seen = this.dropsSeen[reason] || 0;
      if (d[reason] === seen) continue;
      this.dropsSeen[reason] = d[reason];
      for (let i = seen; i < d[reason]; i++) this.emit({ type: 'dropped', reason });
    }
  }

  // ---- small things ----

  private setState(s: ClientState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit({ type: 'state', state: s });
  }

  private emit(ev: ResilientEvent): void {
    if (!this.onevent) return;
    try {
      this.onevent(ev);
    } catch (e) {
      listenerThrew(e);
    }
  }

  /** Cancels a timer, if one is set; returns undefined for the field: `this.timer = this.cancel(this.timer)`. */
  private cancel(h: unknown): undefined {
    if (h !== undefined) this.clock.cancel(h);
    return undefined;
  }
}
