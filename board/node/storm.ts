/**
 * A reconnect storm on one machine: N real ResilientClients (Node runtime, loopback
 * TCP, WebAssembly core) in this process send telemetry to one ack server; mid-run
 * the server restarts (sockets killed without a Close: every client sees 1006 at the
 * same instant, then the port refuses for `downMs`). What a fleet operator fears is
 * what happens next (socket.io#2998, anchors §3): do the devices come back quickly,
 * and without all hitting the server in the same instant?
 *
 * The clients run with the library's defaults, backoff's fleet window included (after
 * a stable connection drops, every retry until back draws from ≥ 5 s:
 * src/resilience/backoff.ts), unless `backoff` or `dropWindowMs` say otherwise.
 *
 * Measured, from the restart on:
 *  - every reconnect attempt, client side ('state' → 'connecting', refused ones
 *    included), and every upgrade the server accepted (the ack server's 'connection');
 *  - per device, the time from the restart until it is open again;
 *  - messages generated, delivered uniquely (checked by payload, not just by seq),
 *    lost (generated − delivered, after a drain) and duplicates delivered.
 *
 * Randomness: every client gets its own Runtime whose random32 is a seeded PRNG
 * (mulberry32; ResilientClient derives its backoff jitter and its session id from
 * rt.random32), so a run is repeatable in its draws. The masking keys and
 * Sec-WebSocket-Key come from the same PRNG: not crypto quality, which is fine for a
 * loopback simulation and nothing else. With `jitter: false` the PRNG gives way to
 * a constant (0xffffffff, so random() ≈ 1) once the client is built: each session
 * id is still distinct (it is drawn in the constructor), and every backoff delay is
 * exactly its window's ceiling: lockstep, the Socket.IO-at-the-cap failure mode.
 *
 * Timelines and aggregates are kept in absolute time and shifted at the end so that
 * t = 0 is the restart.
 *
 * Everything shares one event loop (clients, server, bookkeeping), so under load the
 * timings include this process's own CPU contention: a real server on its own cores
 * would accept faster, real devices would not share a loop.
 */
import { execFileSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Runtime } from '../../src/client/runtime';
import type { CorePreference } from '../../src/core/loader';
import { Backoff, type BackoffOptions } from '../../src/resilience/backoff';
import type { PolicyOptions } from '../../src/resilience/policy';
import { ResilientClient, type ClientState, type ResilientEvent } from '../../src/resilience/resilient-client';
import { startAckServer } from './ack-server';
import type { DeviceTimeline, ReportData, SummaryRow } from './report-html';
import { nodeRuntime } from './runtime';
import { mulberry32Words } from '../sim/prng';

export interface StormOptions {
  /** Clients in this process. Default 1000. */
  devices?: number;
  /** Seeds every client's PRNG (jitter, session ids). Default 1. */
  seed?: number;
  /** false: every backoff draw is its window's ceiling (lockstep). Default true. */
  jitter?: boolean;
  /**
   * When the server restarts, ms after the first client started. Default startSpreadMs
   * + 7000: every device has then been up longer than minUptime (5 s), as a fleet that
   * has run for a while has; a device up for less keeps its backoff's short windows.
   */
  restartAtMs?: number;
  /** How long the port refuses connections during the restart, ms. Default 2000. */
  downMs?: number;
  /** Longest the telemetry phase lasts, ms from the start. Default restartAtMs + 40000. */
  durationMs?: number;
  /** The telemetry phase ends this long after the last device is back (or at durationMs). Default 3000. */
  settleMs?: number;
  /** Longest wait, after the telemetry phase, for every outbox to empty, ms. Default 10000. */
  drainMs?: number;
  /** Resend until acked. Default true. */
  atLeastOnce?: boolean;
  /**
   * The server holds each ack this long, ms (default 0). With acks immediate on
   * loopback almost nothing is in flight when the server dies; a delay leaves readings
   * unacked at the restart, so the clients resend them and the server's dedup is tested.
   */
  ackDelayMs?: number;
  /** ms between one device's readings; each device starts at a random phase. Default 1000. */
  intervalMs?: number;
  /** Initial connects are spread over this long, ms (the boot storm is not the one measured). Default 3000. */
  startSpreadMs?: number;
  /** Passed to every client's Backoff (ResilientClient's defaults otherwise). */
  backoff?: BackoffOptions;
  /**
   * The fleet window (Backoff's dropWindowMs): once a STABLE connection (open ≥
   * minUptime) has ended, every retry until the device is open again draws from a
   * window at least this wide: U(minDelay, max(dropWindowMs, the usual ceiling)).
   * Boot-time failures and unstable connections keep the backoff's own windows.
   * Shorthand for `backoff.dropWindowMs` (and wins over it); default: the backoff's
   * (5000); 0: off, the plain exponential backoff.
   */
  dropWindowMs?: number;
  /** Passed to every client's Policy. */
  policy?: PolicyOptions;
  /** Devices whose full timeline is kept for the report. Default 20. */
  sampleDevices?: number;
  core?: CorePreference;
  /** Progress lines (stderr in a script). */
  log?: (line: string) => void;
}

export interface WindowedCount {
  /** Events from the restart on. */
  total: number;
  /** Most events in any 100 ms sliding window. */
  peak100: number;
  /** peak100 as a share of the fleet, %. */
  peak100Pct: number;
  /** Per 100 ms bin, bin 0 starting at the restart. */
  counts100: number[];
}

export interface StormResult {
  /** The options the run used; dropWindowMs is the window the clients' backoff applied. */
  options: Required<Omit<StormOptions, 'log' | 'policy' | 'backoff'>> & { backoff: BackoffOptions };
  devices: number;
  jitter: boolean;
  /** Devices open just before the restart. */
  openBeforeRestart: number;
  /** Devices that saw their connection end after the restart. */
  droppedByRestart: number;
  /** Close codes of those first endings: { "1006": n }. */
  dropCodes: { [code: string]: number };
  /** Devices open again by the end. */
  back: number;
  /** Client-side attempts as they fired in this process (refused ones included). */
  attempts: WindowedCount;
  /**
   * The same attempts at the time each device's backoff scheduled them: what a fleet of
   * independent devices would do. They differ from `attempts` only where this process's
   * shared event loop stalled and fired overdue timers together.
   */
  scheduled: WindowedCount;
  /**
   * Upgrades the server accepted, the same way, plus per 1 s bin from the restart:
   * peakPerSec is the busiest bin, meanPerSec the accepts until the last device was
   * back divided by that time.
   */
  accepts: WindowedCount & { perSecond: number[]; peakPerSec: number; meanPerSec: number };
  /** ms from the restart until this share of the fleet was open again; null if never. */
  recovery: { p50Ms: number | null; p99Ms: number | null; p100Ms: number | null };
  /** When the devices saw the restart: ms from the restart to the first and the last drop noticed. */
  dropSeenMs: { first: number; last: number };
  /** ms from the restart until each device was back, in device order (-1: never). */
  backMs: number[];
  /** The first backoff delay each device drew after the restart: min, mean, max, ms. */
  firstDelay: { min: number; mean: number; max: number };
  /** Connection endings after the restart, by cause (transport-error: 1006 / refused). */
  closesByCause: { [cause: string]: number };
  messages: {
    generated: number;
    /** Distinct readings the server delivered to its application. */
    delivered: number;
    lost: number;
    /** Readings delivered to the application more than once. */
    duplicatesDelivered: number;
    /** Resends the server recognised and suppressed (at-least-once doing its job). */
    suppressedResends: number;
    /** Refused or evicted by the outbox. */
    outboxDropped: number;
    /** Whether every outbox was empty when the drain ended. */
    drained: boolean;
  };
  /** Timelines of the sampled devices, ms relative to the restart. */
  timelines: DeviceTimeline[];
  /** Devices per state every 100 ms, bin 0 at `aggregateStartMs` (relative to the restart). */
  aggregate: { binMs: number; startMs: number; series: { [state: string]: number[] } };
  host: { fdLimit: number; wallMs: number; cpuMs: number; loopDelayMaxMs: number; loopDelayP99Ms: number };
}

/** One device in the storm. */
interface Device {
  index: number;
  client: ResilientClient;
  generated: number;
  /** Distinct readings the server delivered for this device. */
  seen: Set<number>;
  droppedAt: number;
  backAt: number;
  firstDelay: number;
  /** When the pending reconnect is due (absolute ms; -1 none). */
  dueAt: number;
  timeline: { state: ClientState; since: number; segments: [number, number, string][]; rtt: [number, number][]; backoff: [number, number][] } | null;
  ticker: ReturnType<typeof setInterval> | undefined;
}

const BIN = 100;
/** random32 for lockstep: random() = 0xffffffff / 2^32 ≈ 1, so every delay is its window's ceiling. */
const LOCKSTEP_WORD = 0xffffffff;


/** The soft RLIMIT_NOFILE (a child shell inherits ours; Node cannot read or raise it). */
function fdLimit(): number {
  try {
    const n = parseInt(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim(), 10);
    return isFinite(n) ? n : Infinity;
  } catch {
    return Infinity;
  }
}

/** Most of `times` (sorted) inside any half-open window [t, t + width). */
export function slidingPeak(times: number[], width: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi] - times[lo] >= width) lo++;
    if (hi - lo + 1 > best) best = hi - lo + 1;
  }
  return best;
}

/** Counts per bin of `width` ms, bin 0 at 0, over `bins` bins (times beyond the last land in it). */
export function binCounts(times: number[], width: number, bins: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < bins; i++) out.push(0);
  for (const t of times) if (t >= 0) out[Math.min(bins - 1, Math.floor(t / width))]++;
  return out;
}

/** The value below which `share` of `values` lie (values sorted, -1 = never): null if not reached. */
function quantile(sortedBack: number[], n: number, share: number): number | null {
  const k = Math.ceil(share * n);
  return k >= 1 && k <= sortedBack.length ? sortedBack[k - 1] : null;
}

function windowed(rel: number[], devices: number, bins: number): WindowedCount {
  const peak = slidingPeak(rel, BIN);
  return { total: rel.length, peak100: peak, peak100Pct: round1((100 * peak) / devices), counts100: binCounts(rel, BIN, bins) };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runStorm(opts: StormOptions = {}): Promise<StormResult> {
  const startSpreadMs = opts.startSpreadMs === undefined ? 3000 : opts.startSpreadMs;
  const restartAtMs = opts.restartAtMs === undefined ? startSpreadMs + 7000 : opts.restartAtMs;
  const backoff: BackoffOptions = opts.dropWindowMs === undefined ? opts.backoff || {} : Object.assign({}, opts.backoff, { dropWindowMs: opts.dropWindowMs });
  const o = {
    devices: opts.devices === undefined ? 1000 : opts.devices,
    seed: opts.seed === undefined ? 1 : opts.seed,
    jitter: opts.jitter === undefined ? true : opts.jitter,
    restartAtMs,
    downMs: opts.downMs === undefined ? 2000 : opts.downMs,
    durationMs: opts.durationMs === undefined ? restartAtMs + 40000 : opts.durationMs,
    settleMs: opts.settleMs === undefined ? 3000 : opts.settleMs,
    drainMs: opts.drainMs === undefined ? 10000 : opts.drainMs,
    atLeastOnce: opts.atLeastOnce === undefined ? true : opts.atLeastOnce,
    intervalMs: opts.intervalMs === undefined ? 1000 : opts.intervalMs,
    ackDelayMs: opts.ackDelayMs || 0,
    startSpreadMs,
    // The window every client's Backoff applies (its default unless set).
    dropWindowMs: new Backoff(Math.random, backoff).dropWindowMs,
    sampleDevices: opts.sampleDevices === undefined ? 20 : opts.sampleDevices,
    core: opts.core || ('wasm' as CorePreference),
    backoff,
  };
  const log = opts.log || (() => {});
  const N = o.devices;

  // Each device holds two descriptors here: its socket and the server's end of it.
  const limit = fdLimit();
  if (2 * N + 64 > limit) {
    throw new Error('picows storm: ' + N + ' devices need about ' + (2 * N + 64) + ' file descriptors, and `ulimit -n` is ' + limit + '; raise it in the shell that starts this process (Node cannot)');
  }

  const wallStart = Date.now();
  const cpuStart = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const server = await startAckServer({ ackDelayMs: o.ackDelayMs });
  const acceptsAt: number[] = [];
  let restartAt = -1;
  server.on('connection', () => {
    if (restartAt >= 0) acceptsAt.push(Date.now() - restartAt);
  });

  const attemptsAt: number[] = [];
  const scheduledAt: number[] = [];
  const closesByCause: { [cause: string]: number } = {};
  const dropCodes: { [code: string]: number } = {};
  let outboxDropped = 0;
  let duplicatesDelivered = 0;
  let back = 0;
  let generating = true;
  /** Set before the clients are stopped: their own closes are not the storm's. */
  let stopping = false;

  const devices: Device[] = [];
  /** One reading reached the server's application: count it once per (device, n). */
  const record = (data: unknown): void => {
    const r = data as { d?: unknown; n?: unknown } | null;
    if (!r || typeof r.d !== 'number' || typeof r.n !== 'number' || !devices[r.d]) return;
    const seen = devices[r.d].seen;
    if (seen.has(r.n)) duplicatesDelivered++;
    else seen.add(r.n);
  };
  // The ack server delivers wrapped readings; plain ones (at-most-once) arrive as "malformed".
  server.on('message', (_sid: string, _seq: number, data: unknown) => record(data));
  server.on('malformed', (text: string | null) => {
    if (text === null) return;
    try {
      record(JSON.parse(text));
    } catch {
      /* not a reading */
    }
  });

  const base = nodeRuntime({ core: o.core });
  const t0 = Date.now();
  // Sampled devices evenly spread over the fleet.
  const sampleEvery = o.sampleDevices > 0 ? Math.max(1, Math.floor(N / o.sampleDevices)) : Infinity;
  const sids = new Set<string>();

  for (let i = 0; i < N; i++) {
    const prng = mulberry32Words(Math.imul(o.seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b));
    let lockstep = false;
    const rt: Runtime = Object.assign({}, base, { random32: () => (lockstep ? LOCKSTEP_WORD : prng()) });
    const client = new ResilientClient(server.url, rt, { atLeastOnce: o.atLeastOnce, backoff: o.backoff, policy: opts.policy });
    if (!o.jitter) lockstep = true;
    if (sids.has(client.sid)) throw new Error('picows storm: two devices drew session id ' + client.sid + '; use another seed');
    sids.add(client.sid);
    const dev: Device = {
      index: i,
      client,
      generated: 0,
      seen: new Set(),
      droppedAt: -1,
      backAt: -1,
      firstDelay: -1,
      dueAt: -1,
      timeline: i % sampleEvery === 0 && i / sampleEvery < o.sampleDevices ? { state: 'idle', since: Date.now(), segments: [], rtt: [], backoff: [] } : null,
      ticker: undefined,
    };
    devices.push(dev);
    client.onevent = (ev: ResilientEvent) => {
      const now = Date.now();
      const tl = dev.timeline;
      switch (ev.type) {
        case 'state':
          if (tl) {
            if (now > tl.since) tl.segments.push([tl.since, now, tl.state]);
            tl.state = ev.state;
            tl.since = now;
          }
          if (ev.state === 'connecting' && restartAt >= 0) {
            attemptsAt.push(now - restartAt);
            scheduledAt.push((dev.dueAt >= 0 ? dev.dueAt : now) - restartAt);
          }
          if (ev.state === 'connecting') dev.dueAt = -1;
          break;
        case 'open':
          if (restartAt >= 0 && dev.droppedAt >= 0 && dev.backAt < 0) {
            dev.backAt = now;
            back++;
          }
          break;
        case 'close':
          if (restartAt >= 0 && !stopping) {
            closesByCause[ev.cause] = (closesByCause[ev.cause] || 0) + 1;
            if (dev.droppedAt < 0) {
              dev.droppedAt = now;
              dropCodes[ev.code] = (dropCodes[ev.code] || 0) + 1;
            }
          }
          break;
        case 'reconnect-scheduled':
          dev.dueAt = now + ev.delayMs;
          if (restartAt >= 0 && dev.firstDelay < 0) dev.firstDelay = ev.delayMs;
          if (tl) tl.backoff.push([now, ev.delayMs]);
          break;
        case 'dropped':
          outboxDropped++;
          break;
      }
    };
    const startIn = Math.floor((prng() / 4294967296) * o.startSpreadMs);
    const phase = Math.floor((prng() / 4294967296) * o.intervalMs);
    setTimeout(() => {
      client.start();
      setTimeout(() => {
        const tick = () => {
          if (!generating) return;
          dev.generated++;
          client.send(JSON.stringify({ d: i, n: dev.generated }));
        };
        tick();
        dev.ticker = setInterval(tick, o.intervalMs);
      }, phase);
    }, startIn);
  }

  // Every 100 ms: how many devices are in each state, and RTT samples for the timelines.
  const aggregate: { [state: string]: number[] } = { open: [], connecting: [], backoff: [], other: [] };
  // Binned by the time each sample was taken: a stalled loop skips bins (filled with
  // the counts it then sees) instead of sliding the whole series earlier.
  const aggregateStart = Date.now();
  let aggregateBins = 0;
  let rttTick = 0;
  const sampler = setInterval(() => {
    const now = Date.now();
    const c: { [state: string]: number } = { open: 0, connecting: 0, backoff: 0, other: 0 };
    const sampleRtt = rttTick++ % 5 === 0;
    for (const dev of devices) {
      const s = dev.client.state;
      c[s in c ? s : 'other']++;
      const tl = dev.timeline;
      if (tl && s === 'open' && sampleRtt) {
        const rtt = dev.client.stats.rttMs;
        if (rtt >= 0) tl.rtt.push([now, rtt]);
      }
    }
    const upTo = Math.floor((now - aggregateStart) / BIN);
    while (aggregateBins <= upTo) {
      for (const k in c) aggregate[k].push(c[k]);
      aggregateBins++;
    }
  }, BIN);

  // Up, then the restart.
  await sleep(Math.max(0, t0 + o.restartAtMs - Date.now()));
  const openBeforeRestart = devices.filter((d) => d.client.state === 'open').length;
  log('storm: ' + openBeforeRestart + '/' + N + ' open; restarting the server (down ' + o.downMs + ' ms), jitter ' + o.jitter);
  restartAt = Date.now();
  await server.restart(o.downMs);

  // The telemetry phase ends settleMs after the last device is back, or at durationMs.
  const hardEnd = t0 + o.durationMs;
  let end = hardEnd;
  while (Date.now() < end) {
    await sleep(50);
    if (back === N && end === hardEnd) end = Math.min(hardEnd, Date.now() + o.settleMs);
  }
  generating = false;
  for (const d of devices) clearInterval(d.ticker);
  log('storm: ' + back + '/' + N + ' back; draining');

  // Drain: every reading generated should reach the server (at-least-once: and be acked).
  const drainEnd = Date.now() + (o.atLeastOnce ? o.drainMs : Math.min(o.drainMs, 1000));
  let drained = false;
  while (Date.now() < drainEnd) {
    drained = devices.every((d) => d.client.outbox.length === 0);
    if (drained) break;
    await sleep(50);
  }
  if (!o.atLeastOnce) await sleep(200); // the last plain readings in flight
  clearInterval(sampler);

  stopping = true;
  for (const d of devices) d.client.stop();
  const stopEnd = Date.now() + 3000;
  while (Date.now() < stopEnd && !devices.every((d) => d.client.state === 'stopped')) await sleep(20);
  await server.close();
  loopDelay.disable();

  // ---- the figures ----
  const endRel = Date.now() - restartAt;
  attemptsAt.sort((a, b) => a - b);
  scheduledAt.sort((a, b) => a - b);
  acceptsAt.sort((a, b) => a - b);
  const backMs = devices.map((d) => (d.backAt >= 0 ? d.backAt - restartAt : -1));
  const sortedBack = backMs.filter((x) => x >= 0).sort((a, b) => a - b);
  const lastEvent = Math.max(sortedBack.length ? sortedBack[sortedBack.length - 1] : 0, attemptsAt.length ? attemptsAt[attemptsAt.length - 1] : 0, acceptsAt.length ? acceptsAt[acceptsAt.length - 1] : 0);
  const bins = Math.floor(lastEvent / BIN) + 2;
  const acceptsWindowed = windowed(acceptsAt, N, bins);
  const perSecond = binCounts(acceptsAt, 1000, Math.floor(lastEvent / 1000) + 1);
  const lastBack = sortedBack.length ? sortedBack[sortedBack.length - 1] : endRel;
  const drops = devices.filter((d) => d.droppedAt >= 0).map((d) => d.droppedAt - restartAt).sort((a, b) => a - b);
  const delays = devices.map((d) => d.firstDelay).filter((x) => x >= 0);

  let generated = 0;
  let delivered = 0;
  for (const d of devices) {
    generated += d.generated;
    delivered += d.seen.size;
  }

  const timelines: DeviceTimeline[] = [];
  for (const d of devices) {
    const tl = d.timeline;
    if (!tl) continue;
    const segments = tl.segments.map(([from, to, state]) => ({ from: from - restartAt, to: to - restartAt, state }));
    segments.push({ from: tl.since - restartAt, to: Math.max(tl.since - restartAt, endRel), state: tl.state });
    const shift = (points: [number, number][]) => points.map(([t, v]): [number, number] => [t - restartAt, v]);
    timelines.push({ id: 'device ' + d.index, segments, rtt: shift(tl.rtt), backoff: shift(tl.backoff) });
  }

  const cpu = process.cpuUsage(cpuStart);
  return {
    options: o,
    devices: N,
    jitter: o.jitter,
    openBeforeRestart,
    droppedByRestart: devices.filter((d) => d.droppedAt >= 0).length,
    dropCodes,
    back,
    attempts: windowed(attemptsAt, N, bins),
    scheduled: windowed(scheduledAt, N, bins),
    accepts: Object.assign(acceptsWindowed, {
      perSecond,
      peakPerSec: Math.max(0, ...perSecond),
      meanPerSec: lastBack > 0 ? round1(acceptsAt.filter((t) => t <= lastBack).length / (lastBack / 1000)) : 0,
    }),
    recovery: { p50Ms: quantile(sortedBack, N, 0.5), p99Ms: quantile(sortedBack, N, 0.99), p100Ms: quantile(sortedBack, N, 1) },
    dropSeenMs: { first: drops.length ? drops[0] : -1, last: drops.length ? drops[drops.length - 1] : -1 },
    backMs,
    firstDelay: {
      min: delays.length ? Math.min(...delays) : -1,
      mean: delays.length ? Math.round(delays.reduce((a, b) => a + b, 0) / delays.length) : -1,
      max: delays.length ? Math.max(...delays) : -1,
    },
    closesByCause,
    messages: { generated, delivered, lost: generated - delivered, duplicatesDelivered, suppressedResends: server.stats.duplicates, outboxDropped, drained },
    timelines,
    aggregate: { binMs: BIN, startMs: aggregateStart - restartAt, series: aggregate },
    host: {
      fdLimit: limit,
      wallMs: Date.now() - wallStart,
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      loopDelayMaxMs: Math.round(loopDelay.max / 1e6),
      loopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
    },
  };
}

// ---- the report ----

/** The targets a storm is judged by. */
export const STORM_TARGETS = { peakSharePct: 5, p99Ms: 30000, lost: 0, duplicates: 0 };

function secs(ms: number | null): string | null {
  return ms === null ? null : (ms / 1000).toFixed(2) + ' s';
}

/** The same scenario with and without jitter, side by side, for renderReport(). */
export function stormReport(runs: StormResult[], title = 'picows reconnect storm'): ReportData {
  const T = STORM_TARGETS;
  const name = (r: StormResult) => (r.jitter ? 'jitter' : 'no jitter (lockstep)');
  const row = (label: string, f: (r: StormResult) => string | number | null, target?: string, pass?: (r: StormResult) => boolean | null): SummaryRow => ({
    label,
    values: runs.map(f),
    target,
    pass: pass ? runs.map(pass) : undefined,
  });
  const first = runs[0];
  const b = first.options.backoff;
  const rows: SummaryRow[] = [
    row('devices (open before the restart)', (r) => r.devices + ' (' + r.openBeforeRestart + ')'),
    row('dropped by the restart (code)', (r) => r.droppedByRestart + ' (' + Object.keys(r.dropCodes).map((c) => c + '×' + r.dropCodes[c]).join(', ') + ')', 'all', (r) => r.droppedByRestart === r.devices),
    row('peak client attempts in any 100 ms', (r) => r.attempts.peak100 + ' (' + r.attempts.peak100Pct + '%)', '≤ ' + T.peakSharePct + '% of the fleet', (r) => r.attempts.peak100Pct <= T.peakSharePct),
    row('  … at the times the devices scheduled them', (r) => r.scheduled.peak100 + ' (' + r.scheduled.peak100Pct + '%)'),
    row('peak accepted upgrades in any 100 ms', (r) => r.accepts.peak100 + ' (' + r.accepts.peak100Pct + '%)'),
    row('attempts after the restart (accepted)', (r) => r.attempts.total + ' (' + r.accepts.total + ')'),
    row('restart noticed by the devices, first–last', (r) => r.dropSeenMs.first + '–' + r.dropSeenMs.last + ' ms'),
    row('50% back', (r) => secs(r.recovery.p50Ms)),
    row('99% back', (r) => secs(r.recovery.p99Ms), '≤ ' + T.p99Ms / 1000 + ' s', (r) => r.recovery.p99Ms !== null && r.recovery.p99Ms <= T.p99Ms),
    row('100% back', (r) => secs(r.recovery.p100Ms), 'all back', (r) => r.back === r.devices),
    row('accepted connections/s: peak, mean', (r) => r.accepts.peakPerSec + ', ' + r.accepts.meanPerSec),
    row('first delay after the drop: min / mean / max', (r) => r.firstDelay.min + ' / ' + r.firstDelay.mean + ' / ' + r.firstDelay.max + ' ms'),
    row('endings after the restart, by cause', (r) => Object.keys(r.closesByCause).map((c) => c + ' ' + r.closesByCause[c]).join(', ')),
    row('readings generated / delivered', (r) => r.messages.generated + ' / ' + r.messages.delivered),
    row('lost', (r) => r.messages.lost, '0', (r) => r.messages.lost === T.lost),
    row('duplicates delivered', (r) => r.messages.duplicatesDelivered, '0', (r) => r.messages.duplicatesDelivered === T.duplicates),
    row('resends suppressed by the server', (r) => r.messages.suppressedResends),
    row('event-loop delay p99 / max', (r) => r.host.loopDelayP99Ms + ' / ' + r.host.loopDelayMaxMs + ' ms'),
  ];
  const devices: DeviceTimeline[] = [];
  for (const r of runs) for (const tl of r.timelines.slice(0, 12)) devices.push({ id: (r.jitter ? 'J ' : 'L ') + tl.id.replace('device ', '#'), segments: tl.segments, rtt: tl.rtt, backoff: tl.backoff });
  return {
    title,
    generatedAt: new Date().toISOString(),
    notes: [
      first.devices + ' ResilientClients in one Node process (WebAssembly core, loopback TCP) against one ack server; a reading every ' + first.options.intervalMs + ' ms each, at-least-once ' + (first.options.atLeastOnce ? 'on' : 'off') + '.',
      'The server restarts at t = 0: every socket killed without a Close (1006), the port refusing for ' + first.options.downMs + ' ms.',
      'Backoff: base ' + (b.baseMs === undefined ? 1000 : b.baseMs) + ' ms, cap ' + (b.capMs === undefined ? 30000 : b.capMs) + ' ms, floor ' + (b.minDelayMs === undefined ? 100 : b.minDelayMs) + ' ms' + (first.options.dropWindowMs ? '; after a stable connection drops, every retry until back draws from a window ≥ ' + first.options.dropWindowMs + ' ms' : '') + '. "No jitter": every draw is its window\'s ceiling.',
      'Timelines: J = jittered run, L = lockstep run, 12 devices sampled from each fleet of ' + first.devices + '. Host: ulimit -n ' + first.host.fdLimit + '.',
    ],
    summary: { columns: runs.map(name), rows },
    devices,
    // From just before the restart to the end of the longest run: the boot is not what is measured.
    timeRange: [-1500, Math.max(...runs.map((r) => r.aggregate.startMs + r.aggregate.binMs * r.aggregate.series.open.length))],
    aggregates: runs.map((r) => ({ name: 'Devices per state: ' + name(r), binMs: r.aggregate.binMs, startMs: r.aggregate.startMs, series: r.aggregate.series })),
    histograms: runs.map((r) => ({
      name: 'Client reconnect attempts: ' + name(r),
      binMs: 100,
      counts: r.attempts.counts100,
      unit: 'attempts',
      limit: { value: (r.devices * T.peakSharePct) / 100, label: T.peakSharePct + '% of the fleet' },
    })),
    markers: [{ at: 0, label: 'server restart' }],
    timeLabel: 'seconds after the restart',
  };
}
