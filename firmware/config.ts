/**
 * The telemetry app's settings. Each comes from Kaluma's flash key-value `storage`
 * first (set from the REPL: `storage.setItem('WS_URL', 'ws://192.168.1.10:8080/')`),
 * then from the default baked in at build time (firmware/build.mjs `define`s, which
 * `picows flash --url/--ssid/--password` fills in). WIFI_SSID and WIFI_PASSWORD are
 * Kaluma's own names: its wifi module falls back to the same keys.
 *
 * Storage holds strings only, key + value at most 253 bytes (kaluma.md §3).
 */
import type { KalumaStorage } from '../board/kaluma/kaluma';

// Replaced by esbuild `define` (string literals). `typeof` keeps this file loadable unbundled, in tests.
declare const PICOWS_DEFAULT_URL: string;
declare const PICOWS_DEFAULT_SSID: string;
declare const PICOWS_DEFAULT_PASSWORD: string;

export interface FirmwareConfig {
  url: string;
  /** '' lets Kaluma's wifi module use its own storage keys. */
  ssid: string;
  password: string;
  /** ms between readings. */
  telemetryMs: number;
}

export const DEFAULT_TELEMETRY_MS = 5000;
/** Below this the outbox (32 messages) would turn over faster than a reconnect takes. */
export const MIN_TELEMETRY_MS = 50;

export function loadConfig(store: KalumaStorage | null): FirmwareConfig {
  const get = (key: string, fallback: string): string => {
    const v = store ? store.getItem(key) : null;
    return typeof v === 'string' && v !== '' ? v : fallback;
  };
  const ms = parseInt(get('TELEMETRY_MS', ''), 10);
  return {
    url: get('WS_URL', typeof PICOWS_DEFAULT_URL === 'string' ? PICOWS_DEFAULT_URL : ''),
    ssid: get('WIFI_SSID', typeof PICOWS_DEFAULT_SSID === 'string' ? PICOWS_DEFAULT_SSID : ''),
    password: get('WIFI_PASSWORD', typeof PICOWS_DEFAULT_PASSWORD === 'string' ? PICOWS_DEFAULT_PASSWORD : ''),
    telemetryMs: ms >= MIN_TELEMETRY_MS ? ms : DEFAULT_TELEMETRY_MS,
  };
}
