/**
 * Typings for the Kaluma 1.2.1 modules picows uses. DefinitelyTyped's @types/kaluma
 * lacks net and wifi (PR #67850), so these are written from Kaluma's sources
 * (see shared/platform/kaluma.md §3). Only what picows touches is declared.
 */
export interface KalumaSocket {
  connect(options: { host: string; port: number }, cb?: () => void): KalumaSocket;
  /** Takes a binary string: one byte per char; chars >= 0x100 become 0x00. cb runs synchronously, before anything is sent. */
  write(data: string, cb?: (err?: unknown) => void): boolean;
  end(): void;
  destroy(): void;
  on(event: 'ready' | 'connect' | 'close' | 'end', fn: () => void): KalumaSocket;
  on(event: 'data', fn: (data: Uint8Array) => void): KalumaSocket;
  on(event: 'error', fn: (err: unknown) => void): KalumaSocket;
  removeAllListeners(event?: string): void;
}

export interface KalumaNet {
  Socket: new () => KalumaSocket;
}

export interface KalumaWifiConnection {
  ssid?: string;
  bssid?: string;
  [key: string]: unknown;
}

export interface KalumaScanResult {
  ssid: string;
  bssid?: string;
  security?: string;
  rssi?: number;
  channel?: number;
}

export interface KalumaWiFi {
  /** Blocks the event loop up to 30 s. Its callback's error reads as success: only `connected` shows it worked. */
  connect(options: { ssid?: string; password?: string; security?: string; enforce?: boolean }, cb?: (err: unknown, info?: unknown) => void): void;
  disconnect(cb?: (err: unknown) => void): void;
  /** While down: (null, undefined). */
  getConnection(cb: (err: unknown, info?: KalumaWifiConnection) => void): void;
  reset(cb?: (err: unknown) => void): void;
  /** Blocks the event loop about 2 s (SCAN_TIMEOUT) and calls back with the access points heard. */
  scan(cb: (err: unknown, results?: KalumaScanResult[]) => void): void;
  on(event: 'associated' | 'connected' | 'disconnected', fn: () => void): void;
}

export interface KalumaWifiModule {
  WiFi: new () => KalumaWiFi;
}

export interface KalumaRp2 {
  /** 128 bits from pico-sdk get_rand_128 (1.2.0+). */
  randomBigInt(): bigint;
}

export interface KalumaWdt {
  /**
   * `new WDT(timeoutMs)`: a NUMBER, not an options object (module_wdt.c checks
   * argument 0 with JERRYXX_CHECK_ARG_NUMBER and throws a TypeError otherwise).
   * It cannot be stopped once armed; the RP2040 caps it at about 8.3 s.
   */
  WDT: new (timeoutMs: number) => { feed(): void };
}

export interface KalumaStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface KalumaCyw43 {
  /** putGpio's value must be a boolean (JERRYXX_CHECK_ARG_BOOLEAN): 1/0 throw a TypeError. GPIO 0 is the on-board LED. */
  PicoCYW43: new () => { putGpio(gpio: number, value: boolean): void; getGpio(gpio: number): boolean };
}

/** Kaluma's process.memoryUsage(): JerryScript's heap statistics (heapPeak where the build reports it). */
export interface KalumaMemoryUsage {
  heapTotal?: number;
  heapUsed?: number;
  heapPeak?: number;
}
