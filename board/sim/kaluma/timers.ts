/**
 * The board's clock and timer table. Time is the host's monotonic clock since boot
 * plus a "warp": when Kaluma blocks the event loop (wifi.connect, scan, delay()), the
 * emulation does not stall Node; it moves the board's clock forward instead, so every
 * timer that would have come due during the block fires right after it, as on the
 * device. Node timers only wake the table up; due times are kept in board time.
 */
import { performance } from 'node:perf_hooks';

/** Node clamps longer delays to 1 ms (TimeoutOverflowWarning): wake up at most this often. */
const MAX_NODE_DELAY = 0x7fffffff;

export class BootClock {
  private readonly startedAt = performance.now();
  private warpMs = 0;

  /** realTime false: the clock moves only by warps (a test that drives board time itself). */
  constructor(private readonly realTime = true) {}

  /** Board milliseconds since boot, fractional. */
  now(): number {
    return (this.realTime ? performance.now() - this.startedAt : 0) + this.warpMs;
  }

  /** millis(): whole milliseconds since boot. */
  millis(): number {
    return Math.floor(this.now());
  }

  warp(ms: number): void {
    this.warpMs += ms;
  }
}

interface BoardTimer {
  id: number;
  fn: () => void;
  delay: number;
  repeat: boolean;
  due: number;
  handle: NodeJS.Timeout | null;
}

/**
 * Kaluma's delay is cast to uint64_t on an ARM core: NaN and negatives saturate to 0,
 * +Infinity to "never" (global.c set_timeout_fn; VCVT saturates) [I].
 */
export function kalumaDelay(delay: number): number {
  if (Number.isNaN(delay) || delay <= 0) return 0;
  return Math.floor(delay);
}

export class BoardTimers {
  // Ids come from one counter per boot, like Kaluma's io handle ids [I: start value].
  private nextId = 1;
  private readonly table = new Map<number, BoardTimer>();

  constructor(
    private readonly clock: BootClock,
    /** Runs a callback; false when it threw (Kaluma then clears the timer, interval or not). */
    private readonly run: (fn: () => void) => boolean,
  ) {}

  add(fn: () => void, delay: number, repeat: boolean): number {
    const ms = kalumaDelay(delay);
    const t: BoardTimer = { id: this.nextId++, fn, delay: ms, repeat, due: this.clock.now() + ms, handle: null };
    this.table.set(t.id, t);
    this.arm(t);
    return t.id;
  }

  remove(id: number): void {
    const t = this.table.get(id);
    if (!t) return;
    if (t.handle) clearTimeout(t.handle);
    this.table.delete(id);
  }

  get size(): number {
    return this.table.size;
  }

  clearAll(): void {
    for (const t of this.table.values()) if (t.handle) clearTimeout(t.handle);
    this.table.clear();
  }

  /** The earliest due time in the table (board ms), Infinity when it is empty. */
  nextDue(): number {
    let due = Infinity;
    for (const t of this.table.values()) if (t.due < due) due = t.due;
    return due;
  }

  /** After a warp: recompute every wake-up from the new board time. */
  reschedule(): void {
    for (const t of this.table.values()) {
      if (t.handle) clearTimeout(t.handle);
      t.handle = null;
      this.arm(t);
    }
  }

  private arm(t: BoardTimer): void {
    if (!Number.isFinite(t.due)) return;
    const wait = Math.max(0, t.due - this.clock.now());
    t.handle = setTimeout(() => this.fire(t), Math.min(Math.ceil(wait), MAX_NODE_DELAY));
  }

  private fire(t: BoardTimer): void {
    t.handle = null;
    if (this.table.get(t.id) !== t) return;
    if (t.due - this.clock.now() > 1) {
      this.arm(t); // woke early: a capped wait
      return;
    }
    if (t.repeat) {
      t.due = this.clock.now() + Math.max(t.delay, 1);
      this.arm(t);
    } else {
      this.table.delete(t.id);
    }
    // global.c set_timer_cb: an exception is printed and the timer closed, so an
    // interval whose callback throws once never runs again.
    if (!this.run(t.fn)) this.remove(t.id);
  }
}
