/**
 * require('pico_cyw43').PicoCYW43: the GPIOs of the CYW43 chip. GPIO 0 is the Pico W's
 * on-board LED (there is no board.LED). Quirks from module_pico_cyw43.c: `gpio` must be
 * a number and `value` a BOOLEAN (putGpio(0, 1) throws a TypeError), and a gpio above
 * 2 throws TypeError("GPIO pin is not exist"). Every LED change is recorded.
 */
import type { BootSession } from './session';
import { argMustBe } from './types';

const MAX_GPIO = 2;

export function createPicoCyw43Module(session: BootSession) {
  const checkGpio = (gpio: unknown): number => {
    if (typeof gpio !== 'number') throw argMustBe(session.realm, 'gpio', 'number');
    const n = gpio >>> 0;
    if (n > MAX_GPIO) throw new session.realm.TypeError('GPIO pin is not exist');
    return n;
  };

  class PicoCYW43 {
    getGpio(gpio: number): boolean {
      const n = checkGpio(gpio);
      return session.gpio[n];
    }

    putGpio(gpio: number, value: boolean): void {
      const n = checkGpio(gpio);
      if (typeof value !== 'boolean') throw argMustBe(session.realm, 'value', 'boolean');
      if (!session.live()) return;
      session.setGpio(n, value);
    }
  }

  return { PicoCYW43 };
}
