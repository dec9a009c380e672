/**
 * Reconnect delays: exponential growth, a cap, then FULL jitter drawn inside the cap.
 *
 *   ceiling(n) = harder × min(capMs, baseMs × factor^n)      n = attempt
 *   delay      = notBeforeMs + U(floor, ceiling)            floor = min(minDelayMs, ceiling)
 *
 * Why the jitter comes after the cap: Socket.IO (contrib/backo2.ts) jitters first and
 * caps after, so from its 5th retry every client waits exactly the cap and a fleet
 * comes back in lockstep (socket.io#2998, anchors §3). Here the window at the cap is
 * as wide as the cap itself.
 *
 * Why full jitter, U(floor, ceiling), and not "equal jitter" (ceiling/2 + U(0, ceiling/2)):
 * it spreads a fleet over the whole window, the fewest collisions and the least total
 * work (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015). The floor
 * (default 100 ms) only guards against a loop that spins (arduinoWebSockets#135: one
 * retry per ms); it is not "equal jitter": the window still starts near zero.
 *
 * `harder` is the policy class's multiplier (policy.ts): it scales the cap too, so a
 * broken peer stays far slower than a transient drop even once both reach the cap.
 *
 * The attempt counter resets only after a stable connection: opened(), then closed()
 * at least minUptimeMs later (the `minUptime` of RWS and partysocket). A server that
 * accepts and then drops at once therefore still backs off.
 *
 * freeze()/thaw(): while Wi-Fi is down no attempt can succeed, so none is counted:
 * next() returns -1 and neither the attempt counter nor the retry budget moves. The
 * first delay after thaw() is U(floor, baseMs) and is not counted either: back at
 * once when the link returns, yet spread so a fleet behind one access point does not
 * return in one instant (anchors §4.1).
 *
 * Randomness is injected (`random(): number in [0, 1)`): Kaluma's Math.random is
 * unseeded and repeats every boot (kaluma.md §3), so the board passes the hardware RNG.
 */
import { orDefault } from '../or-default';

export interface BackoffOptions {
  /** The first window's ceiling, ms. Default 1000. */
  baseMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Largest ceiling (before `harder`), ms. Default 30000. */
  capMs?: number;
  /** Smallest delay, ms. Default 100. */
  minDelayMs?: number;
  /** A connection open this long resets the attempt counter, ms. Default 5000. */
  minUptimeMs?: number;
  /** Retries allowed between stable connections. Default Infinity (a telemetry device keeps coming back). */
  maxRetries?: number;
}

export class Backoff {
  /** Counted retries since the last reset: the n of factor^n, and the budget's use. */
  attempt = 0;
  /** The last delay next() gave, ms; -1 before any. */
  delay = -1;
  /** The window's ceiling that delay was drawn under, ms. */
  ceiling = 0;
  /** Set by freeze(), cleared by thaw(). */
  frozen = false;
  readonly baseMs: number;
  readonly factor: number;
  readonly capMs: number;
  readonly minDelayMs: number;
  readonly minUptimeMs: number;
  readonly maxRetries: number;
  private openedAt = -1;
  private thawed = false;

  constructor(private readonly random: () => number, opts: BackoffOptions = {}) {
    this.baseMs = orDefault(opts.baseMs, 1000);
    this.factor = orDefault(opts.factor, 2);
    this.capMs = orDefault(opts.capMs, 30000);
    this.minDelayMs = orDefault(opts.minDelayMs, 100);
    this.minUptimeMs = orDefault(opts.minUptimeMs, 5000);
    this.maxRetries = orDefault(opts.maxRetries, Infinity);
  }

  /** The retry budget is spent: the client should stop. */
  get exhausted(): boolean {
    return this.attempt >= this.maxRetries;
  }

  /** The ceiling for attempt n (no jitter), ms. The exponent is clamped so a long outage cannot overflow to NaN. */
  ceilingFor(n: number, harder = 1): number {
    return harder * Math.min(this.capMs, this.baseMs * Math.pow(this.factor, Math.min(n, 64)));
  }

  /**
   * The delay before the next attempt, ms, and counts the attempt. `notBeforeMs`
   * (a Retry-After) is added under the jitter, so a fleet told "in 60 s" spreads out
   * after 60 s instead of returning together. Returns -1 while frozen or when the
   * budget is spent (check `frozen` / `exhausted` for which); -1 changes nothing.
   */
  next(harder = 1, notBeforeMs = 0): number {
    if (this.frozen || this.exhausted) return -1;
    let ceiling = this.baseMs;
    if (this.thawed) this.thawed = false;
    else ceiling = this.ceilingFor(this.attempt++, harder);
    const floor = Math.min(this.minDelayMs, ceiling);
    this.ceiling = ceiling;
    return (this.delay = Math.floor(notBeforeMs + floor + this.random() * (ceiling - floor)));
  }

  /** The connection opened at `now` (ms). */
  opened(now: number): void {
    this.openedAt = now;
  }

  /**
   * The connection ended at `now`. Returns true (and resets the counter) when it had
   * stayed open ≥ minUptimeMs: the link was healthy, so the policy's circuit breaker
   * should be reset too (Policy.healthy()).
   */
  closed(now: number): boolean {
    const stable = this.openedAt >= 0 && now - this.openedAt >= this.minUptimeMs;
    this.openedAt = -1;
    if (stable) this.reset();
    return stable;
  }

  reset(): void {
    this.attempt = 0;
    this.thawed = false;
  }

  /** The link is down: stop counting. Cancel any pending retry timer alongside. */
  freeze(): void {
    this.frozen = true;
  }

  /** The link is back: the next delay is a short uncounted one (U(floor, baseMs)). */
  thaw(): void {
    if (this.frozen) this.thawed = true;
    this.frozen = false;
  }
}
