/**
 * require('wifi') on the Pico W: wifi.js over the PicoCYW43WIFI driver
 * (src/modules/wifi/wifi.js, pico_cyw43/module_pico_cyw43.c). Quirks kept:
 *  - connect() BLOCKS the event loop: the board's clock jumps by the join time (30 s
 *    when it fails: CONNECT_TIMEOUT), so timers come due all at once afterwards, and an
 *    armed watchdog that expires meanwhile reboots the board;
 *  - `associated` then `connected` fire synchronously inside connect(), only when the
 *    join worked; the callback gets (null, info) either way (errno -1 reads as 0);
 *  - without enforce, connect() first asks get_connection(): already up means the
 *    callback runs with the current info and NO event fires;
 *  - a missing SSID falls back to storage WIFI_SSID / WIFI_PASSWORD; still missing, the
 *    driver throws TypeError("SSID error");
 *  - `disconnected` fires only from an explicit disconnect(): nothing watches the link;
 *  - getConnection() while down calls back (null, undefined);
 *  - the driver is one object: each new WiFi() rebinds its callbacks, so only the newest
 *    WiFi object hears the events.
 */
import { EventEmitter } from './events';
import type { BootSession } from './session';

type DevCb = (errno: number, info?: unknown) => void;

/** PicoCYW43WIFI and the CYW43 link state, one per boot (.load resets CYW43). */
export class WifiDevice {
  errno = 0;
  joined = false;
  currentSsid = '';
  /** The address DHCP would give; only shown in socket records. */
  readonly ip: string;
  assoc_cb: (() => void) | null = null;
  connect_cb: (() => void) | null = null;
  disconnect_cb: (() => void) | null = null;

  constructor(private readonly session: BootSession) {
    this.ip = `192.168.4.${10 + (Math.abs(session.board.seed | 0) % 200)}`;
  }

  /** cyw43_tcpip_link_status(STA) == CYW43_LINK_UP. */
  linkUp(): boolean {
    return this.joined && this.session.board.radio.up;
  }

  /** The radio dropped (or we left): the chip reports link down; nothing tells JS. */
  linkLost(why: string): void {
    if (!this.joined) return;
    this.joined = false;
    this.session.record('link-down', why);
    this.session.net.blackholeAll();
  }

  connect(info: { ssid?: unknown; password?: unknown }, cb?: DevCb): void {
    const session = this.session;
    const realm = session.realm;
    const ssid = info.ssid;
    if (typeof ssid !== 'string') throw new realm.TypeError('SSID error');
    const password = typeof info.password === 'string' ? info.password : null;
    this.currentSsid = ssid.slice(0, 32);
    const timing = session.board.options.wifiTiming;
    const ok = session.board.radio.accepts(this.currentSsid, password);
    if (!session.block(ok ? timing.joinMs : timing.failMs, ok ? 'wifi.connect' : 'a failed wifi.connect')) return;
    if (ok) {
      this.errno = 0;
      this.joined = true;
      session.board.counters.wifiJoins++;
      session.record('wifi-join', `joined "${this.currentSsid}"`);
      session.net.resetBlackholed();
      session.invoke(this.assoc_cb, undefined, [], 'wifi associated', 'swallow');
      session.invoke(this.connect_cb, undefined, [], 'wifi connected', 'swallow');
    } else {
      this.errno = -1;
      session.board.counters.wifiJoinFailures++;
      session.record('wifi-join-failed', `"${this.currentSsid}": ${session.board.radio.up ? 'rejected' : 'no access point'}`);
    }
    if (cb) session.invoke(cb, undefined, [0], 'wifi connect callback', 'swallow');
  }

  disconnect(cb?: DevCb): void {
    const session = this.session;
    const wasJoined = this.joined;
    this.joined = false;
    if (wasJoined) session.net.blackholeAll();
    this.errno = 0;
    session.record('wifi-disconnect', 'explicit disconnect()');
    session.invoke(this.disconnect_cb, undefined, [], 'wifi disconnected', 'swallow');
    if (cb) session.invoke(cb, undefined, [0], 'wifi disconnect callback', 'swallow');
  }

  get_connection(cb?: DevCb): void {
    const session = this.session;
    if (!cb) return;
    if (this.linkUp()) {
      const info = session.makeObject({ ssid: this.currentSsid, bssid: '' });
      session.invoke(cb, undefined, [0, info], 'wifi getConnection callback', 'swallow');
    } else {
      session.invoke(cb, undefined, [0], 'wifi getConnection callback', 'swallow');
    }
  }

  scan(cb?: DevCb): void {
    const session = this.session;
    if (!cb) return;
    if (!session.block(session.board.options.wifiTiming.scanMs, 'wifi.scan')) return;
    const radio = session.board.radio;
    const found = radio.up
      ? [session.makeObject({ ssid: radio.ssid ?? 'picows-sim', bssid: '02:00:00:00:00:01', security: 'WPA2_PSK', rssi: -52, channel: 6 })]
      : [];
    session.invoke(cb, undefined, [0, session.realm.Array.from(found)], 'wifi scan callback', 'swallow');
  }

  reset(cb?: DevCb): void {
    this.linkLost('CYW43 reset');
    this.joined = false;
    if (cb) this.session.invoke(cb, undefined, [0], 'wifi reset callback', 'swallow');
  }
}

type UserCb = (err: unknown, info?: unknown) => void;

/** require('wifi'): { WiFi }, wifi.js per boot. */
export function createWifiModule(session: BootSession) {
  class WiFi extends EventEmitter {
    _dev: WifiDevice | null = null;

    constructor() {
      super();
      this._bindDev();
    }

    _bindDev(): void {
      if (!this._dev) {
        this._dev = session.wifi;
        this._dev.assoc_cb = () => {
          this.emit('associated');
        };
        this._dev.connect_cb = () => {
          this.emit('connected');
        };
        this._dev.disconnect_cb = () => {
          this.emit('disconnected');
        };
      }
    }

    reset(cb?: UserCb): void {
      if (!session.live()) return;
      this._bindDev();
      (this._dev as WifiDevice).reset((err) => {
        if (err) {
          if (cb) cb(session.systemError((this._dev as WifiDevice).errno));
        } else if (cb) cb(null);
      });
    }

    scan(cb?: UserCb): void {
      if (!session.live()) return;
      this._bindDev();
      (this._dev as WifiDevice).scan((err, results) => {
        if (err) {
          if (cb) cb(session.systemError((this._dev as WifiDevice).errno));
        } else if (cb) cb(null, results);
      });
    }

    connect(connectInfo?: unknown, cb?: UserCb): void {
      if (!session.live()) return;
      this._bindDev();
      const dev = this._dev as WifiDevice;
      if (typeof connectInfo === 'function') {
        cb = connectInfo as UserCb;
        connectInfo = null;
      }
      let info = connectInfo as { ssid?: unknown; password?: unknown; enforce?: boolean } | null;
      if (!info) info = session.makeObject({ enforce: false }) as { enforce: boolean };
      const storage = session.storageGlobal();
      if (!info.ssid) info.ssid = storage ? storage.getItem('WIFI_SSID') : null;
      if (!info.password) info.password = storage ? storage.getItem('WIFI_PASSWORD') : null;
      const target = info;
      if (target.enforce) {
        dev.connect(target, (err) => {
          if (err) {
            if (cb) cb(session.systemError(dev.errno));
          } else if (cb) cb(null, target);
        });
      } else {
        dev.get_connection((err, connectionInfo) => {
          if (err) {
            if (cb) cb(session.systemError(dev.errno));
          } else if (!connectionInfo) {
            dev.connect(target, (err2) => {
              if (err2) {
                if (cb) cb(session.systemError(dev.errno));
              } else if (cb) cb(null, target);
            });
          } else if (cb) {
            cb(null, connectionInfo);
          }
        });
      }
    }

    disconnect(cb?: (err?: unknown) => void): void {
      if (!session.live()) return;
      this._bindDev();
      (this._dev as WifiDevice).disconnect((err) => {
        if (err) {
          if (cb) cb(session.systemError((this._dev as WifiDevice).errno));
        } else if (cb) cb();
      });
    }

    getConnection(cb?: UserCb): void {
      if (!session.live()) return;
      this._bindDev();
      (this._dev as WifiDevice).get_connection((err, connectionInfo) => {
        if (err) {
          if (cb) cb(session.systemError((this._dev as WifiDevice).errno));
        } else if (cb) cb(null, connectionInfo);
      });
    }
  }

  return { WiFi };
}
