/**
 * The RP2040 hardware watchdog behind require('wdt') (src/modules/wdt/module_wdt.c).
 * Quirks:
 *  - the constructor takes a NUMBER of milliseconds: `new WDT(5000)`. An options
 *    object fails JERRYXX_CHECK_ARG_NUMBER and throws a TypeError;
 *  - pico-sdk's watchdog_enable clamps the load to 24 bits counted at 2 per µs on the
 *    RP2040 (erratum RP2040-E1), so the longest timeout is about 8388 ms [I];
 *  - the watchdog keeps counting while the CPU hangs, and while Kaluma blocks the loop
 *    (a failed wifi.connect blocks 30 s): not feeding it reboots the board. A reboot
 *    disarms it until the program arms it again.
 */
import type { BootClock } from './timers';
import type { Realm } from './types';
import { argMustBe } from './types';

export const WATCHDOG_MAX_MS = 8388;

export class Watchdog {
  private clock: BootClock | null = null;
  private timeoutMs = 0;
  private lastFeed = 0;
  private handle: NodeJS.Timeout | null = null;

  constructor(private readonly expire: () => void) {}

  get armed(): boolean {
    return this.clock !== null;
  }

  get timeout(): number {
    return this.timeoutMs;
  }

  arm(clock: BootClock, ms: number): number {
    this.clock = clock;
    this.timeoutMs = Math.min(Math.max(1, Math.floor(ms)), WATCHDOG_MAX_MS);
    this.feed();
    return this.timeoutMs;
  }

  feed(): void {
    if (!this.clock) return;
    this.lastFeed = this.clock.now();
    this.reschedule();
  }

  /** Board milliseconds left before it fires (Infinity when disarmed). */
  remaining(): number {
    if (!this.clock) return Infinity;
    return this.lastFeed + this.timeoutMs - this.clock.now();
  }

  reschedule(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
    if (!this.clock) return;
    this.handle = setTimeout(() => this.check(), Math.max(0, Math.ceil(this.remaining())));
  }

  disarm(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
    this.clock = null;
  }

  private check(): void {
    this.handle = null;
    if (!this.clock) return;
    if (this.remaining() > 0.5) {
      this.reschedule();
      return;
    }
    this.disarm();
    this.expire();
  }
}

/** require('wdt'): { WDT }. One class per boot, bound to that boot's liveness. */
export function createWdtModule(
  watchdog: Watchdog,
  clock: BootClock,
  realm: () => Realm,
  live: () => boolean,
  armed: (requested: number, actual: number) => void,
): { WDT: new (timeout: number) => { timeout: number; feed(): void } } {
  class WDT {
    timeout: number;

    constructor(timeout: number) {
      if (typeof timeout !== 'number') throw argMustBe(realm(), 'timeout', 'number');
      const ms = timeout >>> 0; // (uint32_t) cast
      this.timeout = ms;
      if (!live()) return;
      armed(ms, watchdog.arm(clock, ms));
    }

    feed(): void {
      if (live()) watchdog.feed();
    }
  }
  return { WDT };
}
