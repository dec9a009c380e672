/**
 * The seeded flaky-Wi-Fi model of `picows sim`: which fault hits which device when,
 * and for how long. The schedule is a pure function of (seed, profile, devices,
 * duration): the same arguments give the same faults, so a run that lost a message
 * can be replayed fault for fault.
 *
 * Each device draws from its own PRNG (seed + device index), the fleet-wide server
 * restarts from another (seed + 0), so adding a device never moves another's faults.
 * Faults arrive as a Poisson process: exponential gaps between one fault's recovery
 * and the next fault, exponential durations clamped to the profile's range.
 *
 * What each kind stands for (and why it is shaped so):
 *  - wifi: association loss, the radio down for d. Kaluma has no link-loss event
 *    (kaluma.md §3): the client must notice by polling the link.
 *  - blackhole: the access point stays associated but forwards nothing for d (a dead
 *    uplink, a NAT that lost its mapping). Nothing reports it: the device must notice
 *    by itself through ping/pong. Connections that lived through it are reset when it
 *    lifts: a real TCP would retransmit what was lost, the proxy's cannot, so the
 *    stream must never resume with a hole in it (that would hand the ack server a
 *    later seq before an earlier one: a silent loss the real network never makes).
 *  - reset: a TCP RST to both sides (a NAT reboot, an AP roaming). Kaluma's driver
 *    reports nothing on RST (tcp_err is NULL), so it too ends in a pong timeout.
 *  - latency: one-way delay for d (a congested 2.4 GHz channel). Shorter than the
 *    pong deadline: the client should ride it out without closing.
 *  - corrupt (hostile only): bit 7 flipped in bytes sent to the device, which
 *    always breaks the frame (a header bit → 1002) or its UTF-8 (→ 1007) and can never
 *    forge a plausible ack digit; a WebSocket has no checksum of its own.
 *  - server-restart (fleet-wide): the server drops every connection and is down for d.
 *
 * After each fault a device gets `settleMs` of calm before the next one, so every
 * fault's detection and reconnection can be attributed to it, and server restarts
 * keep device faults out of their window for the same reason.
 */
import { mulberry32 } from './prng';

export { mulberry32 };

export type FaultKind = 'wifi' | 'blackhole' | 'reset' | 'latency' | 'corrupt' | 'server-restart';

/** The fault kinds a single device suffers (server restarts are fleet-wide). */
export type DeviceFaultKind = Exclude<FaultKind, 'server-restart'>;

export interface FaultEvent {
  /** ms after the simulation started. */
  at: number;
  /** Device index, or -1 for a fleet-wide fault (server restart). */
  device: number;
  kind: FaultKind;
  /** How long it lasts, ms (0 for a reset). For a server restart: how long the server is down. */
  durationMs: number;
  /** latency: the one-way delay added, ms. */
  delayMs?: number;
}

export type ProfileName = 'calm' | 'flaky' | 'hostile';

/** [mean, min, max] of an exponential draw, ms. */
export type Range = [mean: number, min: number, max: number];

export interface Profile {
  name: ProfileName;
  /** No fault before this, ms: the fleet connects first. */
  warmupMs: number;
  /** Mean gap between one device fault's settling and the next one, ms. */
  meanGapMs: number;
  /** Calm after a fault ends before the next fault on that device, ms. */
  settleMs: number;
  /** How long after a device fault ends it may still be going unnoticed, ms: no server restart then. */
  noticeMs: number;
  /** Keep device faults out of server restarts' windows (false: they pile up, as in `hostile`). */
  isolateRestarts: boolean;
  /** Relative weights of the device fault kinds. */
  weights: { [K in DeviceFaultKind]: number };
  /** Durations per kind. A reset has none. */
  durations: { [K in Exclude<DeviceFaultKind, 'reset'>]: Range };
  /** One-way delay of a latency spike. */
  latencyDelay: Range;
  /** Mean gap between fleet-wide server restarts, ms (0: none). */
  restartGapMs: number;
  /** How long the server stays down. */
  restartDown: Range;
}

/**
 * The profiles. The figures are tuned against the client's own bounds: with one
 * reading a second the outbox (32 messages, 4 KiB: about 27 readings) rides out an
 * outage of about 25 s. In `flaky` the worst case stays inside it:
 *  - a 9 s blackhole is noticed after ~7 s (5 s ping interval + 2 s pong floor), and
 *    a reconnect made while it still lasts waits out the 10 s handshake timeout: ~19 s;
 *  - the firmware scans for the access point at once, then 3 s, 6 s, 12 s ... later
 *    (2 s each), so a radio down for up to ~9 s is heard by the third scan, ~12 s in;
 *  - a restart whose down time catches a reconnect costs that device the 10 s
 *    handshake timeout (Kaluma reports the proxy's RST to no one): ~12 s.
 * Durations are device time (see board/node/sim.ts).
 */
export const PROFILES: { [P in ProfileName]: Profile } = {
  calm: {
    name: 'calm',
    warmupMs: 5000,
    meanGapMs: 30000,
    settleMs: 12000,
    noticeMs: 8000,
    isolateRestarts: true,
    weights: { wifi: 4, blackhole: 2, reset: 2, latency: 2, corrupt: 0 },
    durations: { wifi: [1500, 500, 3000], blackhole: [3000, 2000, 5000], latency: [2000, 1000, 3000], corrupt: [0, 0, 0] },
    latencyDelay: [150, 50, 300],
    restartGapMs: 120000,
    restartDown: [500, 200, 800],
  },
  flaky: {
    name: 'flaky',
    warmupMs: 5000,
    meanGapMs: 3000,
    settleMs: 10000,
    noticeMs: 8000,
    isolateRestarts: true,
    weights: { wifi: 3, blackhole: 2.5, reset: 2, latency: 2.5, corrupt: 0 },
    durations: { wifi: [3000, 1000, 8000], blackhole: [5000, 2000, 9000], latency: [3000, 2000, 6000], corrupt: [0, 0, 0] },
    latencyDelay: [500, 200, 1200],
    restartGapMs: 45000,
    restartDown: [800, 300, 2000],
  },
  hostile: {
    name: 'hostile',
    warmupMs: 5000,
    meanGapMs: 2000,
    settleMs: 5000,
    noticeMs: 8000,
    isolateRestarts: false,
    weights: { wifi: 3, blackhole: 3, reset: 2, latency: 2, corrupt: 1.5 },
    durations: { wifi: [8000, 2000, 20000], blackhole: [10000, 3000, 20000], latency: [5000, 2000, 10000], corrupt: [2000, 1000, 4000] },
    latencyDelay: [1200, 300, 2500],
    restartGapMs: 25000,
    restartDown: [2000, 500, 5000],
  },
};

export function isProfileName(name: string): name is ProfileName {
  return name === 'calm' || name === 'flaky' || name === 'hostile';
}


/** One 32-bit stream seed per (seed, stream): a seed and its neighbour give unrelated streams. */
export function streamSeed(seed: number, stream: number): number {
  // splitmix32-style finaliser over the pair.
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A seed from the command line: an integer as is, any other text hashed (FNV-1a). */
export function parseSeed(text: string): number {
  if (/^-?\d+$/.test(text)) return Number(text) >>> 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** min + an exponential draw of mean (mean - min), cut at max: the mean stays near `mean`. */
function exponential(random: () => number, [mean, min, max]: Range): number {
  const x = min - (mean - min) * Math.log(1 - random());
  return Math.round(Math.min(max, x));
}

function pickKind(random: () => number, weights: Profile['weights']): DeviceFaultKind {
  const kinds = Object.keys(weights) as DeviceFaultKind[];
  let total = 0;
  for (const k of kinds) total += weights[k];
  let x = random() * total;
  for (const k of kinds) {
    x -= weights[k];
    if (x < 0 && weights[k] > 0) return k;
  }
  return kinds.filter((k) => weights[k] > 0).pop() as DeviceFaultKind;
}

export interface ScheduleOptions {
  seed: number;
  profile: ProfileName | Profile;
  devices: number;
  durationMs: number;
  /** Leave server restarts out (a real server behind --url cannot be restarted). Default true. */
  serverRestarts?: boolean;
}

/**
 * The whole fault schedule, sorted by time (then device). Every fault ends by
 * `durationMs`, so a run that stops injecting then has nothing left in force.
 */
export function buildSchedule(opts: ScheduleOptions): FaultEvent[] {
  const p = typeof opts.profile === 'string' ? PROFILES[opts.profile] : opts.profile;
  if (!p) throw new RangeError(`unknown profile ${String(opts.profile)}`);
  const end = opts.durationMs;
  const events: FaultEvent[] = [];

  // Fleet-wide restarts first: device faults keep out of their windows.
  const windows: Array<[number, number]> = [];
  if (opts.serverRestarts !== false && p.restartGapMs > 0) {
    const random = mulberry32(streamSeed(opts.seed, 0));
    let t = p.warmupMs + exponential(random, [p.restartGapMs, 0, Infinity]);
    for (;;) {
      const down = exponential(random, p.restartDown);
      if (t + down > end) break;
      events.push({ at: t, device: -1, kind: 'server-restart', durationMs: down });
      windows.push([t, t + down + p.settleMs]);
      t += down + p.settleMs + exponential(random, [p.restartGapMs, 0, Infinity]);
    }
  }

  for (let d = 0; d < opts.devices; d++) {
    const random = mulberry32(streamSeed(opts.seed, d + 1));
    let t = p.warmupMs + exponential(random, [p.meanGapMs, 0, Infinity]);
    for (;;) {
      const kind = pickKind(random, p.weights);
      const durationMs = kind === 'reset' ? 0 : exponential(random, p.durations[kind]);
      const delayMs = kind === 'latency' ? exponential(random, p.latencyDelay) : undefined;
      const gap = exponential(random, [p.meanGapMs, 0, Infinity]);
      // The fault and its settling must not overlap a restart's window: start after it instead.
      const clash = p.isolateRestarts && windows.find(([from, to]) => t < to && t + durationMs + p.noticeMs > from);
      if (clash) {
        t = clash[1] + gap;
        continue;
      }
      if (t + durationMs > end) break;
      const ev: FaultEvent = { at: t, device: d, kind, durationMs };
      if (delayMs !== undefined) ev.delayMs = delayMs;
      events.push(ev);
      t += durationMs + p.settleMs + gap;
    }
  }
  return events.sort((a, b) => a.at - b.at || a.device - b.device);
}

/** One line per fault, for the log: "12.3s pico-1 blackhole 4.0s". */
export function describeFault(ev: FaultEvent, deviceName: (i: number) => string): string {
  const who = ev.device < 0 ? 'fleet' : deviceName(ev.device);
  const what =
    ev.kind === 'wifi'
      ? `association lost for ${(ev.durationMs / 1000).toFixed(1)}s`
      : ev.kind === 'blackhole'
        ? `silent blackhole for ${(ev.durationMs / 1000).toFixed(1)}s`
        : ev.kind === 'reset'
          ? 'TCP reset'
          : ev.kind === 'latency'
            ? `latency spike +${ev.delayMs}ms one-way for ${(ev.durationMs / 1000).toFixed(1)}s`
            : ev.kind === 'corrupt'
              ? `corruption burst for ${(ev.durationMs / 1000).toFixed(1)}s`
              : `server restart, down ${(ev.durationMs / 1000).toFixed(1)}s`;
  return `${(ev.at / 1000).toFixed(1).padStart(5)}s  ${who.padEnd(7)} ${what}`;
}
