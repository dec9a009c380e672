/**
 * Wi-Fi on the Pico W. Kaluma fires `disconnected` only on an explicit disconnect(),
 * and connect()'s error reads as success, so: join() trusts only the `connected`
 * event (or an info object from getConnection), and the link is polled with
 * getConnection (down = no info object). kaluma.md §3.
 */
import type { LinkMonitor } from '../../src/resilience/resilient-client';
import type { KalumaWiFi } from './kaluma';

export class KalumaLink implements LinkMonitor {
  /** Set by the `connected` event; one listener for the object's life (a listener per join() would leak). */
  private sawConnected = false;
  private listening = false;

  constructor(private readonly wifi: KalumaWiFi) {}

  isUp(cb: (up: boolean) => void): void {
    let answered = false;
    try {
      this.wifi.getConnection((_err, info) => {
        answered = true;
        cb(!!info && typeof info === 'object');
      });
    } catch (e) {
      if (!answered) cb(false);
    }
  }

  /**
   * Whether the access point is on the air (any, when no SSID is given: undefined or ''). A scan
   * blocks about 2 s, a join that fails 30 s (CONNECT_TIMEOUT): longer than the
   * RP2040's watchdog allows (about 8.3 s), so while the watchdog is armed the app
   * scans first and joins only an access point it can hear.
   */
  hears(ssid: string | undefined, cb: (heard: boolean) => void): void {
    let answered = false;
    try {
      this.wifi.scan((_err, results) => {
        answered = true;
        let heard = false;
        if (results) for (let i = 0; i < results.length; i++) if (!ssid || (results[i] && results[i].ssid === ssid)) heard = true;
        cb(heard);
      });
    } catch (e) {
      if (!answered) cb(false);
    }
  }

  /**
   * Joins the network (blocks up to 30 s: Kaluma's connect is synchronous) and calls
   * back with whether the link is up afterwards. connect()'s callback cannot say
   * (its error reads as success), so the verdict is the `connected` event or, when
   * the radio was already joined (Kaluma then skips the join and fires nothing),
   * getConnection returning an info object. Without an SSID (undefined or '') it joins
   * with {}: Kaluma's wifi module then reads its own storage keys.
   */
  join(ssid: string | undefined, password: string | undefined, cb: (ok: boolean) => void): void {
    if (!this.listening) {
      this.listening = true;
      this.wifi.on('connected', () => {
        this.sawConnected = true;
      });
    }
    this.sawConnected = false;
    let called = false;
    const done = () => {
      if (called) return;
      called = true;
      if (this.sawConnected) cb(true);
      else this.isUp(cb);
    };
    try {
      this.wifi.connect(ssid ? { ssid, password } : {}, done);
    } catch (e) {
      // A non-string SSID throws a TypeError; so may a wedged radio.
      done();
    }
  }
}
