/**
 * Liveness: noticing a dead link that nothing reports. On Kaluma a peer reset fires
 * no close or error and Wi-Fi loss fires no event (kaluma.md §3), and behind NAT a
 * blackholed link looks exactly like a quiet one. So:
 *
 *  - every inbound byte is proof of life: the deadline runs from the last byte
 *    received, so a large frame arriving slowly never trips it (python-websockets#1005);
 *  - after `pingInterval` ms with nothing received, a ping goes out;
 *  - if nothing at all arrives within the pong deadline after that, the link is dead
 *    (PONG_TIMEOUT → 1006, cause 'pong-timeout').
 *
 * The deadline adapts to the measured round-trip time: 4 x the smoothed RTT (the
 * handshake gives the first sample), kept within [pongTimeoutFloor, pongTimeout].
 * With the defaults (5 s idle, 5 s ceiling, 2 s floor) a blackholed link on a
 * normal network is declared dead about 7 s after its last byte, and never later
 * than 10 s — against ~130 s for esp_websocket_client, 50 s for libwebsockets and
 * 40 s for python-websockets (shared/anchors.md).
 *
 * The monitor owns no socket: it reads the clock, asks for pings and reports death
 * through callbacks, so tests drive it on virtual time.
 */
import { putUint32 } from '../bytes';
import type { Clock } from '../client/clock';
import { orDefault } from '../or-default';

export interface LivenessOptions {
  /** ms of inbound silence before a ping. Default 5000. 0 turns liveness off. */
  pingInterval?: number;
  /** The pong deadline's ceiling (and its value before any RTT is known), ms. Default 5000. */
  pongTimeout?: number;
  /** The pong deadline's floor, ms. Default 2000, and never above pongTimeout. */
  pongTimeoutFloor?: number;
}

export interface LivenessHooks {
  sendPing(payload: Uint8Array): void;
  /** Nothing arrived in time: the link is dead. `silentMs` is how long it had been quiet. */
  dead(silentMs: number): void;
}

export class LivenessMonitor {
  /** The options, resolved: pingInterval, and pongTimeout / pongTimeoutFloor that bound the deadline. */
  private readonly intervalMs: number;
  private readonly deadlineMaxMs: number;
  private readonly deadlineMinMs: number;
  /** Smoothed RTT (RFC 6298 style), ms; -1 until measured. */
  srtt = -1;
  /** Last RTT sample, ms. */
  lastRtt = -1;
  private lastRx = 0;
  private pingSentAt = -1;
  private pingSeq = 0;
  private readonly payload = new Uint8Array(4);
  private timer: unknown;
  private running = false;

  constructor(private readonly clock: Clock, private readonly hooks: LivenessHooks, opts: LivenessOptions = {}) {
    this.intervalMs = orDefault(opts.pingInterval, 5000);
    this.deadlineMaxMs = orDefault(opts.pongTimeout, 5000);
    // The floor never exceeds the ceiling, the default floor included: pongTimeout 1000 alone means at most 1 s.
    this.deadlineMinMs = Math.min(orDefault(opts.pongTimeoutFloor, 2000), this.deadlineMaxMs);
  }

  /** The pong deadline in force now, ms. */
  get deadline(): number {
    if (this.srtt < 0) return this.deadlineMaxMs;
    return Math.max(this.deadlineMinMs, Math.min(this.deadlineMaxMs, Math.ceil(4 * this.srtt)));
  }

  /** Starts watching (the connection just opened). */
  start(): void {
    if (this.intervalMs <= 0) return;
    this.running = true;
    this.lastRx = this.clock.now();
    this.pingSentAt = -1;
    this.schedule(this.intervalMs);
  }

  stop(): void {
    this.running = false;
    this.schedule();
  }

  /** Any inbound bytes. Cheap: called once per received chunk. */
  bytesReceived(): void {
    this.lastRx = this.clock.now();
  }

  /** An RTT sample from outside (the opening handshake's request → 101). */
  addRttSample(ms: number): void {
    this.lastRtt = ms;
    this.srtt = this.srtt < 0 ? ms : 0.875 * this.srtt + 0.125 * ms;
  }

  /** A pong arrived: if it answers our ping, it is an RTT sample. */
  pongReceived(payload: Uint8Array): void {
    this.lastRx = this.clock.now();
    if (this.pingSentAt < 0 || payload.length !== 4) return;
    const seq = ((payload[0] << 24) | (payload[1] << 16) | (payload[2] << 8) | payload[3]) >>> 0;
    if (seq !== this.pingSeq) return;
    this.addRttSample(this.lastRx - this.pingSentAt);
    this.pingSentAt = -1;
    // The answer is in: the next ping is due pingInterval of silence from now. Left to
    // the timer armed for the pong deadline, pings would go every pingInterval +
    // deadline (7 s with the defaults), too rare for an idle timeout the interval was
    // chosen to beat (nginx proxy_read_timeout, NAT: ws#1598, ws#2283).
    if (this.running) this.schedule(this.intervalMs);
  }

  /** Runs tick() in `ms` (at least 1) instead of any earlier plan; without `ms`, only cancels (stop()). */
  private schedule(ms?: number): void {
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer =
      ms === undefined
        ? undefined
        : this.clock.after(Math.max(1, ms), () => {
            this.timer = undefined;
            this.tick();
          });
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.clock.now();
    const silent = now - this.lastRx;
    if (this.pingSentAt >= 0) {
      // A ping is out: dead when nothing at all arrived for `deadline` since the later of the ping and the last byte.
      const since = now - Math.max(this.pingSentAt, this.lastRx);
      if (since >= this.deadline) {
        this.running = false;
        this.hooks.dead(silent);
        return;
      }
      if (silent < this.intervalMs) this.pingSentAt = -1; // traffic resumed; the ping's answer is no longer awaited
      else {
        this.schedule(this.deadline - since);
        return;
      }
    }
    if (silent >= this.intervalMs) {
      this.pingSeq = (this.pingSeq + 1) >>> 0;
      putUint32(this.payload, 0, this.pingSeq);
      this.pingSentAt = now;
      this.hooks.sendPing(this.payload);
      this.schedule(this.deadline);
    } else {
      this.schedule(this.intervalMs - silent);
    }
  }
}
