/**
 * Time, injected: the client asks a Clock for the time and for timers, so tests run
 * on virtual time and the device uses Kaluma's own timers. Timer handles are opaque;
 * cancel(undefined) must be harmless (Kaluma's clearTimeout(undefined) throws, so the
 * board's Clock guards it).
 */
export interface Clock {
  /** Milliseconds, monotonic enough for deadlines. */
  now(): number;
  /** Runs fn once after ms milliseconds; returns a handle for cancel(). */
  after(ms: number, fn: () => void): unknown;
  cancel(handle: unknown): void;
}

/** The host's timers (Node, browsers, Kaluma all have setTimeout/clearTimeout and Date.now). */
export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => setTimeout(fn, ms),
  cancel: (h) => {
    if (h !== undefined && h !== null) clearTimeout(h as ReturnType<typeof setTimeout>);
  },
};

/** A deterministic clock for tests and the simulator: time moves only when told. */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): unknown {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return timer;
  }
  cancel(handle: unknown): void {
    const i = this.timers.indexOf(handle as { at: number; seq: number; fn: () => void });
    if (i >= 0) this.timers.splice(i, 1);
  }
  /** Number of timers waiting. */
  get pending(): number {
    return this.timers.length;
  }
  /** Moves time forward by ms, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next = -1;
      for (let i = 0; i < this.timers.length; i++) {
        const c = this.timers[i];
        if (c.at <= end && (next < 0 || c.at < this.timers[next].at || (c.at === this.timers[next].at && c.seq < this.timers[next].seq))) next = i;
      }
      if (next < 0) break;
      const timer = this.timers[next];
      this.timers.splice(next, 1);
      this.t = Math.max(this.t, timer.at);
      timer.fn();
    }
    this.t = end;
  }
}
