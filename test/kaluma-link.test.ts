/**
 * KalumaLink (board/kaluma/wifi.ts) on a scripted Kaluma WiFi object: what hears()
 * makes of a scan's results with and without an SSID (undefined and '' alike: the
 * firmware passes its config's '' for "none"), and what join() hands connect().
 */
import { describe, expect, it } from 'vitest';
import { KalumaLink } from '../board/kaluma/wifi';
import type { KalumaWiFi } from '../board/kaluma/kaluma';

function wifi(script: { scan?: unknown; throwScan?: boolean; info?: unknown; fireConnected?: boolean }) {
  const calls: unknown[] = [];
  const listeners: { [e: string]: (() => void)[] } = {};
  const w = {
    scan(cb: (err: unknown, results?: unknown) => void) {
      if (script.throwScan) throw new Error('radio');
      cb(null, script.scan);
    },
    getConnection(cb: (err: unknown, info?: unknown) => void) {
      cb(null, script.info);
    },
    connect(opts: unknown, cb: () => void) {
      calls.push(opts);
      if (script.fireConnected) for (const f of listeners.connected || []) f();
      cb();
    },
    on(e: string, f: () => void) {
      (listeners[e] = listeners[e] || []).push(f);
    },
  };
  return { w: w as unknown as KalumaWiFi, calls };
}

function hears(scan: unknown, ssid: string | undefined): boolean {
  let heard: boolean | null = null;
  new KalumaLink(wifi({ scan }).w).hears(ssid, (h) => (heard = h));
  return heard as unknown as boolean;
}

describe('KalumaLink.hears', () => {
  const ap = (ssid: string) => ({ ssid, bssid: '00:00:00:00:00:00', security: 'WPA2', rssi: -50, channel: 1 });
  it.each([undefined, ''])('without an SSID (%j): any result at all', (none) => {
    expect(hears([ap('x')], none)).toBe(true);
    expect(hears([null], none)).toBe(true);
    expect(hears([], none)).toBe(false);
    expect(hears(undefined, none)).toBe(false);
    expect(hears(null, none)).toBe(false);
    expect(hears({}, none)).toBe(false);
  });
  it('with an SSID: that network only', () => {
    expect(hears([ap('a'), null, ap('home')], 'home')).toBe(true);
    expect(hears([ap('a'), null], 'home')).toBe(false);
    expect(hears([], 'home')).toBe(false);
    expect(hears(undefined, 'home')).toBe(false);
  });
  it('a scan that throws before answering: not heard', () => {
    let heard: boolean | null = null;
    new KalumaLink(wifi({ throwScan: true }).w).hears('home', (h) => (heard = h));
    expect(heard).toBe(false);
  });
});

describe('KalumaLink.join', () => {
  it.each([undefined, ''])('without an SSID (%j): connect({})', (none) => {
    const { w, calls } = wifi({ fireConnected: true });
    let ok: boolean | null = null;
    new KalumaLink(w).join(none, undefined, (up) => (ok = up));
    expect(calls).toEqual([{}]);
    expect(ok).toBe(true);
  });
  it('with an SSID: connect({ ssid, password }); the verdict falls back to getConnection', () => {
    const { w, calls } = wifi({ info: undefined });
    let ok: boolean | null = null;
    new KalumaLink(w).join('home', 'secret', (up) => (ok = up));
    expect(calls).toEqual([{ ssid: 'home', password: 'secret' }]);
    expect(ok).toBe(false);
  });
});
