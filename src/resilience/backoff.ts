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
 * The fleet window (dropWindowMs, default 5000): once a STABLE connection ends, every
 * retry until the device is open again draws under max(dropWindowMs, ceiling(n)):
 * windows 5, 5, 5, 8, 16, 30 s instead of 1, 2, 4, 8, 16, 30 s. A stable connection
 * ending is what a whole fleet sees in the same instant (the server restarts or
 * crashes, a load balancer drains): every device resets its counter at once, and a
 * 1 s first window put 17–19% of a 1000-device fleet's attempts into one 100 ms
 * (board/node/storm.ts); 5 s meets the 5% target. Boot-time failures and connections
 * that never got stable keep the 1 s base: those are one device's trouble, not a
 * fleet's, and its first retry stays prompt.
 *
 * It applies to every class, whatever ended the connection and whatever ends each
 * retry: it only widens a ceiling that is narrower (transient and server-normal ×1,
 * try-later's first 4 s; broken-peer's 16 s is wider already). Transient alone would
 * miss a graceful restart (1000 is server-normal; 1001 and 1012 are transient), and a
 * proxy answering 502/503 (try-later) while its backend restarts is the same storm.
 * A connection that ends while frozen does not arm it (the client freezes before it
 * aborts for Wi-Fi lost): the radio ended it, not the server, and thaw() gives the
 * prompt retry. Jitter is still drawn after the cap, over the whole window:
 * U(floor, max(dropWindowMs, ceiling)); and the window is never wider than capMs.
 *
 * freeze()/thaw(): while Wi-Fi is down no attempt can succeed, so none is counted:
 * next() returns -1 and neither the attempt counter nor the retry budget moves. The
 * first delay after thaw() is U(floor, baseMs) and is not counted either: back at
 * once when the link returns, yet spread so a fleet behind one access point does not
 * return in one instant (anchors §4.1). It ignores the fleet window: the device knows
 * its link just came back, so a prompt retry is worth it.
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
  /** After a stable connection ends, no retry window is narrower than this until open again, ms (at most capMs). Default 5000; 0: off. */
  dropWindowMs?: number;
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
  /** A stable connection ended (not while frozen) and none has opened since: the fleet window applies. */
  afterDrop = false;
  readonly baseMs: number;
  readonly factor: number;
  readonly capMs: number;
  readonly minDelayMs: number;
  readonly minUptimeMs: number;
  readonly maxRetries: number;
  readonly dropWindowMs: number;
  private openedAt = -1;
  private thawed = false;

  constructor(private readonly random: () => number, opts: BackoffOptions = {}) {
    this.baseMs = orDefault(opts.baseMs, 1000);
    this.factor = orDefault(opts.factor, 2);
    this.capMs = orDefault(opts.capMs, 30000);
    this.minDelayMs = orDefault(opts.minDelayMs, 100);
    this.minUptimeMs = orDefault(opts.minUptimeMs, 5000);
    this.maxRetries = orDefault(opts.maxRetries, Infinity);
    // A window past the cap would make capMs a lie (a fast-retry setup's 2 s cap would wait 5 s).
    this.dropWindowMs = Math.min(orDefault(opts.dropWindowMs, 5000), this.capMs);
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
   * After a drop (afterDrop) the ceiling is at least dropWindowMs; not after thaw().
   */
  next(harder = 1, notBeforeMs = 0): number {
    if (this.frozen || this.exhausted) return -1;
    let ceiling = this.baseMs;
    if (this.thawed) this.thawed = false;
    else ceiling = Math.max(this.afterDrop ? this.dropWindowMs : 0, this.ceilingFor(this.attempt++, harder));
    const floor = Math.min(this.minDelayMs, ceiling);
    this.ceiling = ceiling;
    return (this.delay = Math.floor(notBeforeMs + floor + this.random() * (ceiling - floor)));
  }

  /** The connection opened at `now` (ms). */
  opened(now: number): void {
    this.openedAt = now;
    this.afterDrop = false;
  }

  /**
   * The connection ended at `now`. Returns true (and resets the counter) when it had
   * stayed open ≥ minUptimeMs: the link was healthy, so the policy's circuit breaker
   * should be reset too (Policy.healthy()). A stable connection also arms the fleet
   * window, unless frozen (Wi-Fi lost).
   */
  closed(now: number): boolean {
    const stable = this.openedAt >= 0 && now - this.openedAt >= this.minUptimeMs;
    this.openedAt = -1;
    if (stable) {
      this.reset();
      this.afterDrop = !this.frozen;
    }
    return stable;
  }

  /** The attempt counter starts over (the fleet window is opened()'s and closed()'s). */
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
