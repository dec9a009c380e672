/**
 * The figures of a `picows sim` run: percentiles, loss accounting, the verdict on each
 * fault, the text of the summary and the data of the HTML report. Everything here is
 * computed from what the devices observed (board/sim/sim-device.ts), so the same
 * numbers feed the terminal, the test and the report.
 */
import type { ReportData, SummaryRow } from '../node/report-html';
import type { FaultEvent, FaultKind, ProfileName } from './flaky-model';
import type { FaultOutcome, SimDevice } from './sim-device';

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Spread {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: values.length ? Math.max(...values) : NaN };
}

/**
 * Loss in one session (sid) of a device: readings are numbered n = 1, 2, ... per boot,
 * so every n below the highest delivered that never arrived is a gap. The device's own
 * `drop` counter (from its latest delivered reading) explains gaps the outbox made on
 * purpose (oldest reading evicted when full); whatever it does not explain is lost.
 */
export interface SessionLoss {
  highest: number;
  delivered: number;
  gaps: number;
  dropped: number;
  lost: number;
  /** Readings handed to the application more than once (must be 0). */
  duplicates: number;
}

export function sessionLoss(ns: readonly number[], dropped: number): SessionLoss {
  const seen = new Set<number>();
  let duplicates = 0;
  let highest = 0;
  for (const n of ns) {
    if (seen.has(n)) duplicates++;
    else seen.add(n);
    if (n > highest) highest = n;
  }
  const gaps = highest - seen.size;
  return { highest, delivered: seen.size, gaps, dropped, lost: Math.max(0, gaps - dropped), duplicates };
}

/** Counts per key, in a stable order for printing. */
export function tally(keys: readonly string[]): { [key: string]: number } {
  const out: { [key: string]: number } = {};
  for (const k of keys.slice().sort()) out[k] = (out[k] || 0) + 1;
  return out;
}

export function formatTally(t: { [key: string]: number }): string {
  const parts = Object.keys(t).map((k) => `${k} ${t[k]}`);
  return parts.length ? parts.join(', ') : 'none';
}

/** "1.2s" / "340ms" / "-" */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (Math.abs(v) >= 10000) return (v / 1000).toFixed(1) + 's';
  if (Math.abs(v) >= 1000) return (v / 1000).toFixed(2) + 's';
  return Math.round(v) + 'ms';
}

export function formatSpread(s: Spread): string {
  return s.n === 0 ? 'n/a' : `p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  (n=${s.n})`;
}

/** A plain text table: the first row is the header; numbers right-aligned. */
export function table(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths: number[] = [];
  for (const r of cells) r.forEach((c, i) => (widths[i] = Math.max(widths[i] || 0, c.length)));
  return cells
    .map((r, ri) =>
      r
        .map((c, i) => (ri > 0 && i > 0 && /^-?[\d.]+%?$/.test(c) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Counts of values in bins of binMs, from 0 up to the largest value. */
export function histogram(values: readonly number[], binMs: number): number[] {
  if (values.length === 0) return [];
  const counts = new Array(Math.floor(Math.max(...values) / binMs) + 1).fill(0);
  for (const v of values) counts[Math.max(0, Math.floor(v / binMs))]++;
  return counts;
}

// ---- the run's summary ----

export interface FaultVerdict extends FaultOutcome {
  device: string;
  /** closedAt - injectedAt. */
  detectionMs: number | null;
  /** reopenedAt - closedAt. */
  reconnectMs: number | null;
  /** 'ok', or what went wrong ('no close', 'cause X, expected Y', 'not reconnected'); 'n/a' when the device was not open. */
  verdict: string;
}

export interface DeviceSummary {
  name: string;
  uptimePct: number;
  closesByCause: { [cause: string]: number };
  detectionMs: { [kind: string]: number[] };
  reconnectMs: number[];
  /** Closes not followed by an open before the end. */
  notReconnected: number;
  sessions: number;
  /** Readings generated (the highest n of each session). */
  generated: number;
  delivered: number;
  /** From the device's latest readings: messages sent (first sends), acked, resent, dropped by the outbox. */
  sent: number;
  acked: number;
  resent: number;
  dropped: number;
  /** Gaps the drop counter does not explain; null when the server is not ours (--url). */
  lost: number | null;
  duplicatesDelivered: number | null;
  duplicatesSuppressed: number | null;
  /** Crashes and watchdog resets. */
  hangs: number;
  reboots: number;
  watchdogResets: number;
  drained: boolean;
  errors: string[];
}

export interface SimSummary {
  seed: number;
  profile: ProfileName;
  durationMs: number;
  telemetryMs: number;
  url: string | null;
  schedule: FaultEvent[];
  faults: FaultVerdict[];
  devices: DeviceSummary[];
  total: DeviceSummary;
  detection: { [kind: string]: Spread };
  reconnect: Spread;
  lost: number | null;
  duplicatesDelivered: number | null;
  hung: number;
  drained: boolean;
  exitCode: number;
  reportFile: string | null;
  report: ReportData;
}


/** The close a fault should end in on Kaluma. A TCP RST reaches no JS there (tcp_err is NULL): only the pong deadline notices. */
const EXPECTED_CAUSE: { [K in FaultKind]?: string[] } = {
  wifi: ['wifi-lost'],
  blackhole: ['pong-timeout'],
  reset: ['pong-timeout', 'transport-error'],
  corrupt: ['protocol-error'],
};


function expectedVerdict(f: FaultOutcome, closesDuring: number): string {
  if (f.kind === 'latency') return closesDuring === 0 ? 'ok (rode it out)' : `closed ${closesDuring}x during the spike`;
  if (f.stateAtInjection !== 'open') return `n/a (device ${f.stateAtInjection})`;
  if (f.closedAt === null) return 'no close';
  const want = EXPECTED_CAUSE[f.kind];
  if (want && want.indexOf(f.cause as string) < 0) return `cause ${f.cause}, expected ${want.join(' or ')}`;
  if (f.reopenedAt === null) return 'not reconnected';
  return 'ok';
}


export interface SummariseInput {
  devices: SimDevice[];
  schedule: FaultEvent[];
  /** The embedded ack server saw the readings (false behind --url). */
  ours: boolean;
  seed: number;
  profile: ProfileName;
  durationMs: number;
  telemetryMs: number;
  url: string | null;
  drained: boolean[];
}

function emptyDevice(name: string): DeviceSummary {
  return {
    name,
    uptimePct: 0,
    closesByCause: {},
    detectionMs: {},
    reconnectMs: [],
    notReconnected: 0,
    sessions: 0,
    generated: 0,
    delivered: 0,
    sent: 0,
    acked: 0,
    resent: 0,
    dropped: 0,
    lost: 0,
    duplicatesDelivered: 0,
    duplicatesSuppressed: 0,
    hangs: 0,
    reboots: 0,
    watchdogResets: 0,
    drained: true,
    errors: [],
  };
}

/** Everything the devices observed, turned into the run's figures and verdicts. */
export function summarise(inp: SummariseInput): SimSummary {
  const ours = inp.ours;
  const faults: FaultVerdict[] = [];
  const perDevice: DeviceSummary[] = [];
  const timelines: ReportData['devices'] = [];
  let span = 0;
  inp.devices.forEach((d, i) => {
    d.poll();
    const end = d.now();
    span = Math.max(span, end);
    const s = emptyDevice(d.name);
    s.uptimePct = 100 * d.uptime(end);
    s.closesByCause = tally(d.closes.map((c) => c.cause));
    for (const c of d.closes) {
      const next = d.opens.find((t) => t >= c.t);
      if (next === undefined) s.notReconnected++;
      else s.reconnectMs.push(next - c.t);
    }
    for (const f of d.faults) {
      const closesDuring = d.closes.filter((c) => c.t >= f.injectedAt && c.t <= f.injectedAt + f.durationMs + 3000).length;
      const v: FaultVerdict = {
        ...f,
        device: d.name,
        detectionMs: f.closedAt === null ? null : f.closedAt - f.injectedAt,
        reconnectMs: f.closedAt === null || f.reopenedAt === null ? null : f.reopenedAt - f.closedAt,
        verdict: expectedVerdict(f, closesDuring),
      };
      faults.push(v);
      if (v.detectionMs !== null && f.stateAtInjection === 'open' && f.kind !== 'latency') {
        (s.detectionMs[f.kind] = s.detectionMs[f.kind] || []).push(v.detectionMs);
      }
    }
    for (const sess of d.sessions.values()) {
      s.sessions++;
      const last = sess.last;
      const loss = sessionLoss(sess.ns, last ? last.drop : 0);
      s.generated += loss.highest;
      s.delivered += loss.delivered;
      s.dropped += loss.dropped;
      s.lost = (s.lost as number) + loss.lost;
      s.duplicatesDelivered = (s.duplicatesDelivered as number) + loss.duplicates;
      s.duplicatesSuppressed = (s.duplicatesSuppressed as number) + sess.suppressed;
      if (last) {
        s.sent += last.tx;
        s.acked += last.ack;
        s.resent += last.rs;
      }
    }
    if (!ours) {
      s.lost = null;
      s.duplicatesDelivered = null;
      s.duplicatesSuppressed = null;
    }
    // A watchdog reset means the event loop stood still for 8 s: a hang too (and the RAM queue went with it).
    s.hangs = d.board.counters.crashes + d.board.counters.watchdogResets;
    s.reboots = d.board.counters.reboots;
    s.watchdogResets = d.board.counters.watchdogResets;
    s.drained = inp.drained[i];
    s.errors = d.errors.map(([t, text]) => `${ms(t)} ${text}`);
    perDevice.push(s);

    timelines.push({ id: d.name, segments: d.segments(end), rtt: d.rttSamples.slice(), backoff: d.retries.map(([t, v]) => [t, v] as [number, number]) });
  });

  const total = emptyDevice('total');
  total.uptimePct = perDevice.reduce((a, s) => a + s.uptimePct, 0) / Math.max(1, perDevice.length);
  total.closesByCause = {};
  for (const s of perDevice) {
    for (const k of Object.keys(s.closesByCause)) total.closesByCause[k] = (total.closesByCause[k] || 0) + s.closesByCause[k];
    for (const k of Object.keys(s.detectionMs)) (total.detectionMs[k] = total.detectionMs[k] || []).push(...s.detectionMs[k]);
    total.reconnectMs.push(...s.reconnectMs);
    for (const key of ['notReconnected', 'sessions', 'generated', 'delivered', 'sent', 'acked', 'resent', 'dropped', 'hangs', 'reboots', 'watchdogResets'] as const) {
      total[key] += s[key];
    }
    if (ours) {
      total.lost = (total.lost as number) + (s.lost as number);
      total.duplicatesDelivered = (total.duplicatesDelivered as number) + (s.duplicatesDelivered as number);
      total.duplicatesSuppressed = (total.duplicatesSuppressed as number) + (s.duplicatesSuppressed as number);
    }
    total.drained = total.drained && s.drained;
    total.errors.push(...s.errors.map((e) => `${s.name} ${e}`));
  }
  if (!ours) {
    total.lost = null;
    total.duplicatesDelivered = null;
    total.duplicatesSuppressed = null;
  }
  const detection: { [kind: string]: Spread } = {};
  for (const k of Object.keys(total.detectionMs).sort()) detection[k] = spread(total.detectionMs[k]);
  const reconnect = spread(total.reconnectMs);
  const hung = total.hangs;
  const exitCode = (total.lost === null || total.lost === 0) && hung === 0 && total.drained ? 0 : 1;

  const summary: SimSummary = {
    seed: inp.seed,
    profile: inp.profile,
    durationMs: inp.durationMs,
    telemetryMs: inp.telemetryMs,
    url: inp.url,
    schedule: inp.schedule,
    faults: faults.sort((a, b) => a.at - b.at),
    devices: perDevice,
    total,
    detection,
    reconnect,
    lost: total.lost,
    duplicatesDelivered: total.duplicatesDelivered,
    hung,
    drained: total.drained,
    exitCode,
    reportFile: null,
    report: { title: '' },
  };
  summary.report = reportData(summary, timelines, span, ([] as number[]).concat(...inp.devices.map((d) => d.closes.map((c) => c.t))));
  return summary;
}

const KIND_LABEL: { [k: string]: string } = {
  wifi: 'association loss',
  blackhole: 'silent blackhole',
  reset: 'TCP reset',
  latency: 'latency spike',
  corrupt: 'corruption',
  'server-restart': 'server restart',
};

function rows(s: SimSummary): Array<Array<string | number>> {
  const head = ['device', 'uptime', 'drops by cause', 'reconnect p50/p99', 'generated', 'delivered', 'sent', 'acked', 'resent', 'dropped', 'lost', 'dup', 'hangs', 'reboots'];
  const line = (d: DeviceSummary) => {
    const r = spread(d.reconnectMs);
    return [
      d.name,
      d.uptimePct.toFixed(1) + '%',
      formatTally(d.closesByCause),
      r.n ? `${ms(r.p50)}/${ms(r.p99)}` : '-',
      // Behind --url the readings go to a server we cannot see: no figure rather than a 0.
      ...(d.lost === null ? ['?', '?', '?', '?', '?', '?'] : [d.generated, d.delivered, d.sent, d.acked, d.resent, d.dropped]),
      d.lost === null ? '?' : d.lost,
      d.duplicatesDelivered === null ? '?' : d.duplicatesDelivered,
      d.hangs,
      d.reboots,
    ];
  };
  return [head, ...s.devices.map(line), line(s.total)];
}

export function formatSummary(s: SimSummary): string {
  const lines: string[] = [];
  lines.push(`summary: ${s.devices.length} devices, ${(s.durationMs / 1000).toFixed(0)}s, profile ${s.profile}, seed ${s.seed}, ${s.schedule.length} faults`);
  lines.push(table(rows(s)));
  lines.push('');
  lines.push('detection (fault injected -> the device\'s "closed" line, device time):');
  for (const k of ['wifi', 'blackhole', 'reset', 'corrupt', 'server-restart']) {
    if (!s.detection[k]) continue;
    const each = s.devices
      .filter((d) => d.detectionMs[k])
      .map((d) => {
        const x = spread(d.detectionMs[k]);
        return `${d.name} ${ms(x.p50)}/${ms(x.p99)}`;
      });
    lines.push(`  ${KIND_LABEL[k].padEnd(17)} ${formatSpread(s.detection[k]).padEnd(36)} ${each.join('  ')}`);
  }
  if (Object.keys(s.detection).length === 0) lines.push('  (no fault hit an open connection)');
  lines.push(`reconnect (close -> next open):  ${formatSpread(s.reconnect)}${s.total.notReconnected ? `, ${s.total.notReconnected} not reconnected` : ''}`);
  lines.push('');
  lines.push('faults:');
  for (const f of s.faults) {
    const what = f.closedAt === null ? '' : `closed ${f.code} ${f.cause} after ${ms(f.detectionMs)}` + (f.reconnectMs === null ? '' : `, open again ${ms(f.reconnectMs)} later`);
    lines.push(`  ${(f.at / 1000).toFixed(1).padStart(5)}s  ${f.device.padEnd(7)} ${KIND_LABEL[f.kind].padEnd(17)} ${what.padEnd(63)} ${f.verdict}`);
  }
  if (s.faults.length === 0) lines.push('  none');
  if (s.total.errors.length) {
    lines.push('');
    lines.push('device errors:');
    for (const e of s.total.errors.slice(0, 20)) lines.push('  ' + e);
  }
  lines.push('');
  if (s.lost === null) {
    lines.push(`delivery: not checked (external server ${s.url}): the device's own counters are in the readings it sent there`);
  } else {
    lines.push(
      `delivery: ${s.total.generated} readings generated, ${s.total.delivered} delivered, ${s.total.dropped} dropped by the outbox (counted), ` +
        `${s.lost} lost; ${s.total.duplicatesSuppressed} resent duplicates suppressed by the server, ${s.duplicatesDelivered} delivered twice`,
    );
  }
  const undrained = s.devices.filter((d) => !d.drained).map((d) => d.name);
  const problems: string[] = [];
  if (s.lost) problems.push(`${s.lost} lost`);
  if (s.duplicatesDelivered) problems.push(`${s.duplicatesDelivered} duplicates delivered`);
  if (s.hung) problems.push(`${s.hung} board hang(s)`);
  if (undrained.length) problems.push(`not drained: ${undrained.join(', ')}`);
  lines.push(
    s.exitCode === 0
      ? s.lost === null
        ? 'result: PASS: every device reconnected and drained, no board hung (delivery not checked: external server)'
        : `result: PASS: nothing lost, no duplicate delivered, no board hung${s.total.reboots ? ` (${s.total.reboots} reboot(s))` : ''}`
      : `result: FAIL: ${problems.join('; ')}`,
  );
  return lines.join('\n');
}

/** What board/node/report-html.ts draws. */
function reportData(s: SimSummary, timelines: NonNullable<ReportData['devices']>, span: number, closes: number[]): ReportData {
  const columns = [...s.devices.map((d) => d.name), 'total'];
  const all = [...s.devices, s.total];
  const row = (label: string, f: (d: DeviceSummary) => string | number | null, target?: string, pass?: (d: DeviceSummary) => boolean | null): SummaryRow => {
    const r: SummaryRow = { label, values: all.map(f) };
    if (target) r.target = target;
    if (pass) r.pass = all.map(pass);
    return r;
  };
  /** Behind --url the readings go to a server we cannot see: no figure rather than a 0. */
  const seen = (d: DeviceSummary, v: number) => (d.lost === null ? null : v);
  const p = (xs: number[], q: 'p50' | 'p99') => (xs.length ? Math.round(spread(xs)[q]) : null);
  const binMs = 2000;
  const closeCounts = histogram(closes, binMs);
  // The whole run on the axis, not just up to the last drop.
  while (closeCounts.length < Math.ceil(span / binMs)) closeCounts.push(0);
  return {
    title: `picows sim: ${s.devices.length} emulated Pico W, profile ${s.profile}, seed ${s.seed}`,
    generatedAt: new Date().toISOString(),
    notes: [
      `the real firmware bundle (build/firmware.js) on emulated Kaluma 1.2.1 boards, one FaultProxy and one radio each`,
      `${(s.durationMs / 1000).toFixed(0)} s of faults, then a drain; a reading every ${s.telemetryMs} ms; times are device time in ms since the start`,
      s.url ? `server: ${s.url} (external)` : 'server: the embedded at-least-once ack server on 127.0.0.1',
      `result: ${s.exitCode === 0 ? 'PASS' : 'FAIL'}`,
    ],
    summary: {
      columns,
      rows: [
        row('uptime %', (d) => Math.round(d.uptimePct * 10) / 10),
        row('drops (closes)', (d) => Object.keys(d.closesByCause).reduce((a, k) => a + d.closesByCause[k], 0)),
        row('drops by cause', (d) => formatTally(d.closesByCause)),
        ...(['blackhole', 'wifi', 'reset', 'corrupt'] as const)
          .filter((k) => s.detection[k])
          .map((k) =>
            row(`${KIND_LABEL[k]}: detection p50 / p99 ms`, (d) => (d.detectionMs[k] ? `${p(d.detectionMs[k], 'p50')} / ${p(d.detectionMs[k], 'p99')}` : null), k === 'blackhole' || k === 'reset' ? 'p99 ≤ 10500' : undefined, (d) =>
              k === 'blackhole' || k === 'reset' ? (d.detectionMs[k] ? (p(d.detectionMs[k], 'p99') as number) <= 10500 : null) : null,
            ),
          ),
        row('reconnect p50 ms', (d) => p(d.reconnectMs, 'p50')),
        row('reconnect p99 ms', (d) => p(d.reconnectMs, 'p99')),
        row('generated', (d) => seen(d, d.generated)),
        row('delivered', (d) => seen(d, d.delivered)),
        row('sent (first sends)', (d) => seen(d, d.sent)),
        row('resent after reconnects', (d) => seen(d, d.resent)),
        row('acked', (d) => seen(d, d.acked)),
        row('dropped by the outbox', (d) => seen(d, d.dropped)),
        row('lost', (d) => d.lost, '0', (d) => (d.lost === null ? null : d.lost === 0)),
        row('duplicates delivered', (d) => d.duplicatesDelivered, '0', (d) => (d.duplicatesDelivered === null ? null : d.duplicatesDelivered === 0)),
        row('hangs', (d) => d.hangs, '0', (d) => d.hangs === 0),
        row('reboots', (d) => d.reboots),
      ],
    },
    devices: timelines,
    histograms: [{ name: 'connection drops across the fleet', binMs, counts: closeCounts, unit: 'drops' }],
    markers: s.faults
      .filter((f) => f.kind !== 'server-restart' || f.device === s.devices[0].name)
      .map((f) => ({ at: f.injectedAt, label: f.kind === 'server-restart' ? 'restart' : `${f.device.replace('pico-', 'p')} ${f.kind}` })),
    timeLabel: 'device time (s)',
  };
}
