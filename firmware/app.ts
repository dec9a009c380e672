/**
 * picows telemetry: the program flashed onto a Pico W running Kaluma 1.2.1.
 *
 * Boot: read the settings (firmware/config.ts), join Wi-Fi, arm the watchdog, then
 * run the device client (board/kaluma/device-client.ts: ResilientClient's size-first
 * twin; the reference build swaps the layered stack in here, firmware/layered-client.ts)
 * in at-least-once mode with the Wi-Fi hook and queue one
 * JSON reading every TELEMETRY_MS. The server acks each seq ({"ack":N}); anything
 * unacked when a connection dies is resent on the next one, so readings queued
 * while the radio is down arrive once it is back (up to the outbox's bounds, the
 * oldest reading giving way first).
 *
 * One 500 ms tick does the housekeeping: it feeds the watchdog (so a wedged event
 * loop resets the board), blinks the LED, samples the heap and rejoins Wi-Fi.
 *
 * Kaluma's require() loads built-in modules only; firmware/build.mjs leaves these
 * calls as they are and bundles everything else into one script.
 */
import type { KalumaCyw43, KalumaMemoryUsage, KalumaNet, KalumaRp2, KalumaStorage, KalumaWdt, KalumaWifiModule } from '../board/kaluma/kaluma';
import { ledPattern, StatusLed } from '../board/kaluma/status-led';
import { KalumaLink } from '../board/kaluma/wifi';
import { DeviceClient } from '../board/kaluma/device-client';
import { kalumaRuntime } from '../board/kaluma/device-runtime';
import { loadConfig } from './config';

/** Kaluma's flash key-value store is a global (its own wifi module reads it that way). */
declare const storage: KalumaStorage | undefined;
declare const millis: () => number;

// The timings are literals where they are used: a named constant would be one more
// binding in the device heap for the program's life.

const store: KalumaStorage | null =
  typeof storage !== 'undefined' && storage ? storage : null;
const cfg = loadConfig(store);

const wifi = new (require('wifi') as KalumaWifiModule).WiFi();
const link = new KalumaLink(wifi);
const led = new StatusLed(new (require('pico_cyw43') as KalumaCyw43).PicoCYW43());

let linkUp = false;
let heapHighWater = 0;
/** While Wi-Fi is down: scan at once, then after 3 s, 6 s, 12 s, ... up to every 30 s. */
let joinDelay = 3000;
let nextJoinAt = 0;
let feedWatchdog = () => {};

/** Blocks the event loop: 30 s when it fails (Kaluma's CONNECT_TIMEOUT). */
function join(): void {
  feedWatchdog();
  // No SSID set (''): KalumaLink joins with {}, and Kaluma's wifi module uses its own storage keys.
  link.join(cfg.ssid, cfg.password || undefined, (ok) => {
    linkUp = ok;
    retryLater(ok);
    console.log(ok ? 'wifi up' : 'wifi join failed');
  });
}

function retryLater(reset: boolean): void {
  if (reset) {
    joinDelay = 3000;
    nextJoinAt = 0;
    return;
  }
  nextJoinAt = millis() + joinDelay;
  joinDelay = Math.min(joinDelay * 2, 30000);
}

function sampleHeap(): number {
  const m = process.memoryUsage() as KalumaMemoryUsage;
  const used = m.heapUsed || 0;
  // JerryScript's own peak (where reported) catches spikes between samples.
  heapHighWater = Math.max(heapHighWater, used, m.heapPeak || 0);
  return used;
}

// At boot the watchdog is not armed yet: a join that blocks 30 s costs nothing but time.
join();
try {
  // 8 s: the RP2040's watchdog tops out near 8.3 s; Kaluma's WDT cannot be stopped once armed.
  const watchdog = new (require('wdt') as KalumaWdt).WDT(8000);
  feedWatchdog = () => watchdog.feed();
} catch (e) {
  console.error('no watchdog', e);
}

const client = new DeviceClient(cfg.url, kalumaRuntime(require('net') as KalumaNet, require('rp2') as KalumaRp2), {
  atLeastOnce: true,
  // The client polls the link once a second; the app reads the same answers for the LED and rejoining.
  link: {
    isUp: (cb) =>
      link.isUp((up) => {
        linkUp = up;
        cb(up);
      }),
  },
});

client.onevent = (ev) => {
  if (ev.type === 'message') {
    // An inbound message is the largest thing the program holds: sample the heap while it is live.
    sampleHeap();
  } else if (ev.type === 'state') {
    const p = ledPattern(ev.state, linkUp);
    if (p !== 'blink') led.show(p); // the tick does the blinking
  } else if (ev.type === 'open') {
    console.log('open');
  } else if (ev.type === 'close') {
    console.log('closed', ev.code, ev.cause);
  } else if (ev.type === 'reconnect-scheduled') {
    console.log('retry', ev.delayMs);
  } else if (ev.type === 'stopped') {
    console.error('stopped:', ev.reason);
    // After a stop decision (e.g. the server refused the upgrade), try again a minute later.
    setTimeout(() => client.start(), 60000);
  }
};

// The 500 ms tick of the header: watchdog, LED, heap sample, rejoining.
setInterval(() => {
  feedWatchdog();
  led.show(ledPattern(client.state, linkUp));
  sampleHeap();
  if (!linkUp && millis() >= nextJoinAt) {
    // Once the watchdog is armed, a failed 30 s join would reset the board and lose the
    // queued readings: scan first (about 2 s) and join only when the access point is heard.
    retryLater(false);
    link.hears(cfg.ssid, (heard) => {
      if (heard) join();
    });
  }
}, 500);

/**
 * One reading, flat and with short keys (every byte is kept in the outbox while the
 * link is down, and its 4 KiB then holds about 27 readings instead of 17):
 *   up ms since boot · heap / hw heap in use / high-water mark (bytes) · temp (null, see below)
 *   st client state · cn connections made · at attempts · tx sent · ack acked · rs resent
 *   drop dropped · q queued · rtt ms (-1 unknown) · last cause of the last close
 *   err the error id behind it (which rule a broken peer broke: RESERVED_OPCODE,
 *   INVALID_UTF8, HANDSHAKE_ACCEPT...; PONG_TIMEOUT, WIFI_LOST for a dead link)
 */
let readings = 0;

setInterval(() => {
  const s = client.stats;
  const last = s.lastClose;
  client.send(JSON.stringify({
    // n counts this boot's readings: a gap at the server that `drop` does not explain is a loss.
    n: ++readings,
    up: millis(),
    heap: sampleHeap(),
    hw: heapHighWater,
    // Kaluma 1.2.1 cannot read the RP2040's temperature sensor: targets/rp2/src/adc.c maps
    // only GPIO26-29 to ADC channels 0-3 and never enables the sensor (channel 4).
    temp: null,
    st: s.state,
    cn: s.connects,
    at: s.attempts,
    tx: s.sent,
    ack: s.acked,
    rs: s.resent,
    drop: s.dropped,
    q: s.queued,
    rtt: s.rttMs,
    last: last ? last.cause : null,
    // What broke, told to the server on the next connection (the policy's ring stays on the board).
    err: last ? last.errorId : null,
  }));
}, cfg.telemetryMs);

console.log('picows telemetry', cfg.url, cfg.telemetryMs);
client.start();
