/**
 * The connection state on the Pico W's LED. The LED hangs off the CYW43 radio
 * (its GPIO 0), not the RP2040, so there is no board.LED: it is driven through
 * `new PicoCYW43().putGpio(0, on)`, whose value must be a boolean (kaluma.md §3).
 * Each putGpio is a bus transaction to the radio, so only changes are written.
 */
import type { ClientState } from '../../src/resilience/resilient-client';

/** on: connected; off: Wi-Fi down; blink: connecting or backing off. */
export type LedPattern = 'on' | 'off' | 'blink';

export function ledPattern(state: ClientState, linkUp: boolean): LedPattern {
  if (!linkUp || state === 'waiting-link') return 'off';
  return state === 'open' ? 'on' : 'blink';
}

export class StatusLed {
  private lit = false;

  constructor(private readonly chip: { putGpio(gpio: number, value: boolean): void }) {
    this.write(false);
  }

  /** Called on every tick and on every state change: 'blink' toggles. */
  show(p: LedPattern): void {
    const on = p === 'on' ? true : p === 'off' ? false : !this.lit;
    if (on !== this.lit) this.write(on);
  }

  private write(on: boolean): void {
    this.lit = on;
    try {
      this.chip.putGpio(0, on);
    } catch (e) {
      // The radio is being reset: the next change retries.
    }
  }
}
