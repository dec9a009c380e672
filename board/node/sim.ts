/**
 * `picows sim`: emulated Pico W telemetry devices riding out flaky Wi-Fi against a
 * local server, with nothing lost.
 *
 * Each device is an emulated Kaluma board running the REAL firmware bundle
 * (build/firmware.js, the file a user flashes) behind its own radio and its own
 * FaultProxy (board/sim/sim-device.ts). A seeded model (board/sim/flaky-model.ts)
 * schedules association losses, silent blackholes, TCP resets, latency spikes and
 * fleet-wide server restarts. While it runs, one status line per device; at the end
 * the faults stop, every device drains its outbox, and the summary says what the
 * fleet went through and whether any reading was lost.
 *
 * Loss is judged at the server, per session: a device numbers its readings n = 1, 2,
 * ... each boot, so a missing n that the device's own `drop` counter does not explain
 * is a lost message; an n delivered twice is a duplicate the application saw. The
 * exit code is 0 only when nothing was lost, no board hung and every device drained.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAckServer, type AckServer } from './ack-server';
import type { ReportData } from './report-html';
import { buildSchedule, describeFault, isProfileName, parseSeed, PROFILES, type FaultEvent, type ProfileName } from '../sim/flaky-model';
import { SimDevice } from '../sim/sim-device';
import { formatSummary, formatTally, summarise, tally, type SimSummary } from '../sim/sim-metrics';

export { formatSummary, type DeviceSummary, type FaultVerdict, type SimSummary } from '../sim/sim-metrics';

export interface SimOptions {
  devices?: number;
  durationMs?: number;
  seed?: number;
  profile?: ProfileName;
  /** A real server instead of the embedded one: each proxy fronts its host:port. */
  url?: string;
  telemetryMs?: number;
  /** Where the status and the summary go. Default process.stdout. */
  out?: NodeJS.WritableStream;
  /** Redraw the status block in place. Default: out.isTTY. */
  tty?: boolean;
  /** A fixed fault schedule instead of the model's (tests). */
  schedule?: FaultEvent[];
  /** Longest wait for the devices to drain after the faults stop, ms. Default 20000. */
  drainMs?: number;
  /** How often the status block is printed when not on a TTY, ms. Default 5000. */
  statusEveryMs?: number;
  /** The firmware bundle. Default build/firmware.js of this package. */
  firmwarePath?: string;
  /** HTML report path; undefined: build/sim-report.html when the renderer exists; null: none. */
  report?: string | null;
}

const DEFAULTS = { devices: 3, durationMs: 60000, seed: 1, profile: 'flaky' as ProfileName, telemetryMs: 1000 };

const USAGE = `usage: picows sim [--devices N] [--duration 60s] [--seed S] [--profile calm|flaky|hostile]
                 [--url ws://host:port/path] [--telemetry-ms 1000] [--report file.html]
`;

/** The package root: where build/firmware.js lives (from board/node/ or from dist/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'firmware'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

function loadFirmware(path: string): string {
  if (!existsSync(path)) throw new Error(`picows sim: ${path} is missing: run npm run build`);
  return readFileSync(path, 'utf8');
}

function sleep(msecs: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msecs));
}

async function until(cond: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
  return true;
}

/** "60s", "90", "1.5m", "500ms" → ms (a bare number is seconds). */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return Math.round(m[2] === 'ms' ? v : m[2] === 'm' ? v * 60000 : v * 1000);
}

function parseTarget(url: string): { host: string; port: number; path: string } {
  const m = /^ws:\/\/([^/:?#]+|\[[^\]]+\])(?::(\d+))?([/?][^#]*)?$/i.exec(url);
  if (!m) throw new Error(`picows sim: --url wants ws://host:port/path (Kaluma has no TLS), got ${url}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 80, path: m[3] || '/' };
}

/** Live status: one line per device, redrawn in place on a TTY, printed every few seconds otherwise. */
class StatusBoard {
  private drawn = 0;
  private lastPrint = 0;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly tty: boolean,
    private readonly everyMs: number,
  ) {}

  /** A line that stays (a fault): above the status block on a TTY. */
  log(line: string): void {
    this.clear();
    this.out.write(line + '\n');
  }

  update(lines: string[], force = false): void {
    const now = Date.now();
    if (this.tty) {
      this.clear();
      this.out.write(lines.join('\n') + '\n');
      this.drawn = lines.length;
    } else if (force || now - this.lastPrint >= this.everyMs) {
      this.lastPrint = now;
      this.out.write(lines.join('\n') + '\n');
    }
  }

  /** Leave the last block on screen. */
  release(): void {
    this.drawn = 0;
  }

  private clear(): void {
    if (this.tty && this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }
}

function statusLine(d: SimDevice, telemetryMs: number): string {
  const state = d.liveState();
  const r = d.latest();
  const closes = tally(d.closes.map((c) => c.cause));
  const nCloses = d.closes.length;
  let queued = '-';
  if (r) {
    // Readings made since the latest one delivered are queued (or in flight) on the device.
    const since = d.now() - d.time(d.currentSession()!.boot, r.up);
    queued = String(r.q + Math.max(0, Math.floor(since / telemetryMs)));
  }
  const s = d.currentSession();
  const delivered = s ? s.seen.size : 0;
  return (
    `  ${d.name.padEnd(7)} ${state.padEnd(12)} rtt ${r && r.rtt >= 0 ? String(r.rtt).padStart(4) + 'ms' : '     -'}` +
    `  queued ${queued.padStart(3)}  acked ${String(r ? r.ack : 0).padStart(4)}  delivered ${String(delivered).padStart(4)}` +
    `  drops ${nCloses}${nCloses ? ' (' + formatTally(closes) + ')' : ''}`
  );
}

export async function runSimulation(opts: SimOptions = {}): Promise<SimSummary> {
  const out = opts.out || process.stdout;
  const tty = opts.tty !== undefined ? opts.tty : !!(out as NodeJS.WriteStream).isTTY;
  const nDevices = opts.devices || DEFAULTS.devices;
  const durationMs = opts.durationMs || DEFAULTS.durationMs;
  const seed = opts.seed === undefined ? DEFAULTS.seed : opts.seed;
  const profile = opts.profile || DEFAULTS.profile;
  const telemetryMs = opts.telemetryMs || DEFAULTS.telemetryMs;
  const drainMs = opts.drainMs === undefined ? 20000 : opts.drainMs;
  const root = packageRoot();
  const code = loadFirmware(opts.firmwarePath || join(root, 'build/firmware.js'));
  const external = opts.url ? parseTarget(opts.url) : null;
  const schedule = opts.schedule || buildSchedule({ seed, profile, devices: nDevices, durationMs, serverRestarts: !external });
  const status = new StatusBoard(out, tty, opts.statusEveryMs || 5000);
  const name = (i: number) => `pico-${i}`;

  let server: AckServer | null = null;
  const devices: SimDevice[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void, msecs: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, msecs);
    timers.add(t);
  };
  /** Server restarts under way: the server must not be closed while one still means to listen again. */
  const restarts: Promise<void>[] = [];
  let ticker: NodeJS.Timeout | null = null;
  try {
    if (!external) server = await startAckServer({ host: '127.0.0.1' });
    const target = external ? { host: external.host, port: external.port } : { host: '127.0.0.1', port: server!.port };
    out.write(
      `picows sim: ${nDevices} emulated Pico W (Kaluma 1.2.1, build/firmware.js), profile ${profile}, seed ${seed}, ` +
        `${(durationMs / 1000).toFixed(0)}s, a reading every ${telemetryMs}ms\n` +
        `server: ${external ? opts.url + ' (external: loss cannot be checked here)' : server!.url + ' (at-least-once ack server)'}; ` +
        `${schedule.length} faults scheduled\n`,
    );

    // Which device a session belongs to: the readings carry no device id, so devices
    // start one by one and each new sid goes to the device whose boot has none yet.
    const owner = new Map<string, SimDevice>();
    if (server) {
      server.on('message', (sid: string, _seq: number, data: unknown) => {
        let d = owner.get(sid);
        if (!d) {
          const waiting = devices.filter((x) => x.unmatchedBoots.length > 0);
          if (waiting.length === 0) return;
          // Two boards rebooted at once: the one whose clock matches the reading's `up` best.
          const up = data && typeof (data as { up?: unknown }).up === 'number' ? (data as { up: number }).up : 0;
          waiting.sort((a, b) => Math.abs(a.board.millis() - up) - Math.abs(b.board.millis() - up));
          d = waiting[0];
          d.adoptSession(sid);
          owner.set(sid, d);
        }
        d.onDelivery(sid, data, performance.now());
      });
      server.on('duplicate', (sid: string) => {
        const d = owner.get(sid);
        const s = d && d.sessions.get(sid);
        if (s) s.suppressed++;
      });
    }

    for (let i = 0; i < nDevices; i++) {
      const d = new SimDevice({ index: i, name: name(i), seed, target, path: external ? external.path : `/${name(i)}`, telemetryMs, code });
      devices.push(d);
      await d.start();
      const ready = server
        ? () => d.sessions.size > 0
        : () => {
            d.poll();
            return d.state === 'open';
          };
      if (!(await until(ready, telemetryMs + 15000))) {
        d.poll();
        const tail = d.board.consoleText().slice(-8).join(' | ');
        throw new Error(`picows sim: ${d.name} never ${server ? 'delivered a reading' : 'connected'} (console: ${tail || 'nothing'})`);
      }
    }

    // The clock starts: t = 0 for the schedule and for every device.
    const t0 = performance.now();
    for (const d of devices) d.markStart();
    const elapsed = () => performance.now() - t0;

    const apply = (ev: FaultEvent) => {
      const targets = ev.device < 0 ? devices : devices[ev.device] ? [devices[ev.device]] : [];
      status.log(describeFault(ev, name));
      for (const d of targets) d.inject(ev);
      if (ev.kind === 'server-restart' && server) {
        restarts.push(server.restart(ev.durationMs).catch((e) => status.log(`server restart failed: ${(e as Error).message}`)));
        return;
      }
      if (ev.durationMs <= 0) return;
      for (const d of targets) afterDeviceTime(d, ev.durationMs, () => d.lift(ev));
    };
    /**
     * A device fault lasts `durationMs` of the DEVICE's time: a Kaluma scan blocks the
     * board for 2 s, which the emulator plays as a jump of the board's clock (no wall
     * time passes), so a radio down for 3 s of wall time would look to the device like
     * one down for 3 s plus every scan it made meanwhile. Timed on the device's clock,
     * the outage is as long as the device lives it, as on real hardware.
     */
    const afterDeviceTime = (d: SimDevice, msecs: number, fn: () => void) => {
      const due = d.now() + msecs;
      const check = () => {
        const left = due - d.now();
        if (left <= 0) fn();
        else later(check, Math.min(left, 50));
      };
      check();
    };
    for (const ev of schedule) if (ev.at < durationMs) later(() => apply(ev), ev.at);

    const header = (phase: string) =>
      `[${(elapsed() / 1000).toFixed(1).padStart(5)}s] ${phase}` +
      (server ? `  server: ${server.clients} connected, ${server.stats.messages} delivered, ${server.stats.duplicates} resends suppressed` : '');
    const draw = (phase: string, force = false) => {
      for (const d of devices) d.poll();
      status.update([header(phase), ...devices.map((d) => statusLine(d, telemetryMs))], force);
    };
    ticker = setInterval(() => draw('running'), tty ? 500 : 250);
    await sleep(durationMs);
    clearInterval(ticker);

    // Stop injecting; whatever a forced schedule left in force is lifted now.
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const d of devices) d.liftAll();
    status.log(`${(elapsed() / 1000).toFixed(1).padStart(5)}s  faults stopped; draining (at most ${(drainMs / 1000).toFixed(0)}s)`);

    // Drain: each device has delivered a reading made after the faults stopped, with
    // nothing queued behind it when it was made (q = 0): everything before it is in.
    const stopAt = devices.map((d) => d.now());
    const drainedAt: Array<number | null> = devices.map(() => null);
    const caughtUp = (d: SimDevice, i: number): boolean => {
      d.poll();
      if (d.board.state !== 'running') return false;
      if (!server) return d.state === 'open' && d.now() - Math.max(stopAt[i], d.stateSince) >= 2 * telemetryMs;
      const s = d.currentSession();
      return !!(s && s.last && d.time(s.boot, s.last.up) >= stopAt[i] && s.last.q === 0);
    };
    ticker = setInterval(() => draw('draining'), tty ? 500 : 250);
    await until(() => {
      devices.forEach((d, i) => {
        if (drainedAt[i] === null && caughtUp(d, i)) drainedAt[i] = elapsed();
      });
      return drainedAt.every((x) => x !== null);
    }, drainMs);
    clearInterval(ticker);
    ticker = null;
    draw('done', true);
    status.release();

    const summary = summarise({ devices, schedule, ours: !!server, seed, profile, durationMs, telemetryMs, url: opts.url || null, drained: drainedAt.map((x) => x !== null) });
    out.write('\n' + formatSummary(summary) + '\n');

    const reportPath = opts.report === null ? null : opts.report || join(root, 'build/sim-report.html');
    summary.reportFile = await writeReport(summary.report, reportPath, opts.report !== undefined);
    if (summary.reportFile) out.write(`report: ${summary.reportFile}\n`);
    return summary;
  } finally {
    if (ticker) clearInterval(ticker);
    for (const t of timers) clearTimeout(t);
    await Promise.all(devices.map((d) => d.dispose().catch(() => undefined)));
    await Promise.all(restarts);
    if (server) await server.close();
  }
}

/** Renders the HTML report when board/node/report-html.ts is there. Returns the path written, or null. */
async function writeReport(data: ReportData, path: string | null, asked: boolean): Promise<string | null> {
  if (!path) return null;
  let render: ((d: ReportData) => string) | null = null;
  try {
    render = (await import('./report-html')).renderReport;
  } catch {
    render = null;
  }
  if (!render) {
    if (asked) throw new Error('picows sim: --report needs board/node/report-html.ts (not in this build)');
    return null;
  }
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, render(data));
  return file;
}

/** `picows sim [options]`: returns the exit code. */
export async function simCommand(args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let values: { [k: string]: string | boolean | undefined };
  try {
    values = parseArgs({
      args,
      options: {
        devices: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        profile: { type: 'string' },
        url: { type: 'string' },
        'telemetry-ms': { type: 'string' },
        report: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    out.write(`picows sim: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out.write(USAGE);
    return 0;
  }
  const bad = (msg: string) => {
    out.write(`picows sim: ${msg}\n\n${USAGE}`);
    return 2;
  };
  const devices = values.devices === undefined ? DEFAULTS.devices : Number(values.devices);
  if (!Number.isInteger(devices) || devices < 1 || devices > 50) return bad('--devices wants a whole number from 1 to 50');
  const durationMs = values.duration === undefined ? DEFAULTS.durationMs : parseDuration(values.duration as string);
  if (!(durationMs >= 1000)) return bad('--duration wants a time of at least 1s, like 60s, 2m or 90');
  const profile = values.profile === undefined ? DEFAULTS.profile : String(values.profile);
  if (!isProfileName(profile)) return bad(`--profile is one of ${Object.keys(PROFILES).join(', ')}`);
  const telemetryMs = values['telemetry-ms'] === undefined ? DEFAULTS.telemetryMs : Number(values['telemetry-ms']);
  if (!Number.isInteger(telemetryMs) || telemetryMs < 50) return bad('--telemetry-ms wants a whole number of ms, at least 50 (the firmware\'s floor)');
  const seed = values.seed === undefined ? DEFAULTS.seed : parseSeed(String(values.seed));
  const url = values.url === undefined ? undefined : String(values.url);
  if (url !== undefined) {
    try {
      parseTarget(url);
    } catch (e) {
      return bad((e as Error).message.replace(/^picows sim: /, ''));
    }
  }
  try {
    const summary = await runSimulation({ devices, durationMs, seed, profile, url, telemetryMs, out, report: values.report === undefined ? undefined : String(values.report) });
    return summary.exitCode;
  } catch (e) {
    out.write(`${(e as Error).message}\n`);
    return 1;
  }
}
