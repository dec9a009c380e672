/**
 * A run report as ONE self-contained HTML file: inline CSS, inline SVG drawn here,
 * a few lines of inline JS for tooltips. No external URL of any kind (no fonts, no
 * scripts, no images, no links), so it opens from a CI artifact or an e-mail with
 * the network off. The reconnect storm (storm.ts) and the simulator (`picows sim`)
 * both feed it; everything in `ReportData` except the title is optional.
 *
 * Times are ms on any origin the caller likes (the storm puts its restart at 0);
 * every time axis of the report shares one range, so charts line up.
 */

/** A span of time one device spent in one state. */
export interface Segment {
  from: number;
  to: number;
  state: string;
}

export interface DeviceTimeline {
  id: string;
  segments: Segment[];
  /** [t, rtt ms] samples. */
  rtt?: [number, number][];
  /** [t, delay ms]: a reconnect scheduled at t to happen delay ms later. */
  backoff?: [number, number][];
}

export interface Histogram {
  name: string;
  binMs: number;
  counts: number[];
  /** Time of bin 0's start. Default 0. */
  startMs?: number;
  /** A horizontal line, e.g. the 5%-of-the-fleet target. */
  limit?: { value: number; label: string };
  /** What a count is ('attempts'). */
  unit?: string;
}

/** Devices per state over time (stacked). */
export interface Aggregate {
  name: string;
  binMs: number;
  startMs?: number;
  series: { [state: string]: number[] };
}

export interface SummaryRow {
  label: string;
  values: (string | number | null)[];
  /** The target, as text ('≤ 5%'). */
  target?: string;
  /** One verdict per value (null: no verdict), shown as ✓/✗ beside it. */
  pass?: (boolean | null)[];
}

export interface ReportData {
  title: string;
  /** ISO time the run was made. */
  generatedAt?: string;
  /** Lines of context under the title (options, host). */
  notes?: string[];
  summary?: { columns: string[]; rows: SummaryRow[] };
  /** Timelines; for a fleet, a sample of it. */
  devices?: DeviceTimeline[];
  /** How many devices the timelines were sampled from. */
  fleetSize?: number;
  aggregates?: Aggregate[];
  histograms?: Histogram[];
  /** Vertical lines on every time axis. */
  markers?: { at: number; label: string }[];
  /** The time axis label. Default 'time (s)'. */
  timeLabel?: string;
  /** [from, to] of every time axis; what falls outside is clipped. Default: all the data. */
  timeRange?: [number, number];
}

const STATE_COLORS: { [state: string]: string } = {
  open: '#2e9d4f',
  connecting: '#f0a500',
  backoff: '#e4572e',
  'waiting-link': '#7b5ea7',
  closing: '#4a90d9',
  idle: '#c8c8c8',
  stopped: '#5a5a5a',
  other: '#9aa5b1',
};
/** Every chart's plot area starts here, so all time axes line up (room for device ids). */
const LEFT = 110;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function stateColor(state: string, extra: { [s: string]: string }): string {
  if (STATE_COLORS[state]) return STATE_COLORS[state];
  if (!extra[state]) extra[state] = PALETTE[Object.keys(extra).length % PALETTE.length];
  return extra[state];
}

/** Numbers in SVG attributes: short, and never NaN. */
function n(x: number): string {
  return isFinite(x) ? String(Math.round(x * 10) / 10) : '0';
}

/** A "nice" tick step (1, 2 or 5 × 10^k) giving about `count` ticks over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

function ticks(lo: number, hi: number, count: number): number[] {
  const step = niceStep(hi - lo, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function fmtSeconds(ms: number): string {
  const s = ms / 1000;
  return Math.abs(s) >= 10 || s === Math.round(s) ? String(Math.round(s)) : s.toFixed(1);
}

function fmtValue(v: string | number | null): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return isFinite(v) ? (Number.isInteger(v) ? String(v) : String(Math.round(v * 10) / 10)) : '—';
  return v;
}

/** The time range every chart shares. */
function timeRange(d: ReportData): [number, number] {
  if (d.timeRange && d.timeRange[1] > d.timeRange[0]) return [d.timeRange[0], d.timeRange[1]];
  let lo = Infinity;
  let hi = -Infinity;
  const see = (t: number) => {
    if (!isFinite(t)) return;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  };
  for (const dev of d.devices || []) {
    for (const s of dev.segments) {
      see(s.from);
      see(s.to);
    }
    for (const p of dev.rtt || []) see(p[0]);
    for (const p of dev.backoff || []) see(p[0]);
  }
  for (const h of d.histograms || []) {
    see(h.startMs || 0);
    see((h.startMs || 0) + h.binMs * h.counts.length);
  }
  for (const a of d.aggregates || []) {
    const len = Math.max(0, ...Object.keys(a.series).map((k) => a.series[k].length));
    see(a.startMs || 0);
    see((a.startMs || 0) + a.binMs * len);
  }
  for (const m of d.markers || []) see(m.at);
  if (!isFinite(lo)) return [0, 1000];
  return hi > lo ? [lo, hi] : [lo, lo + 1000];
}

/** Geometry shared by the charts: a plot area inside margins, with a time x axis. */
interface Frame {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  t0: number;
  t1: number;
}

function x(f: Frame, t: number): number {
  return f.left + ((t - f.t0) / (f.t1 - f.t0)) * (f.w - f.left - f.right);
}

function timeAxis(f: Frame, d: ReportData, withLabel: boolean): string {
  const y = f.h - f.bottom;
  let s = '<g class="axis">';
  s += '<line x1="' + n(f.left) + '" y1="' + n(y) + '" x2="' + n(f.w - f.right) + '" y2="' + n(y) + '"/>';
  for (const t of ticks(f.t0, f.t1, 10)) {
    const xt = x(f, t);
    s += '<line x1="' + n(xt) + '" y1="' + n(y) + '" x2="' + n(xt) + '" y2="' + n(y + 4) + '"/>';
    s += '<text x="' + n(xt) + '" y="' + n(y + 16) + '" text-anchor="middle">' + fmtSeconds(t) + '</text>';
  }
  if (withLabel) s += '<text class="axis-label" x="' + n(f.w - f.right) + '" y="' + n(y + 30) + '" text-anchor="end">' + escapeHtml(d.timeLabel || 'time (s)') + '</text>';
  return s + '</g>';
}

function markers(f: Frame, d: ReportData): string {
  let s = '';
  for (const m of d.markers || []) {
    const xm = x(f, m.at);
    s += '<g class="marker"><line x1="' + n(xm) + '" y1="' + n(f.top - 4) + '" x2="' + n(xm) + '" y2="' + n(f.h - f.bottom) + '"/>';
    s += '<text x="' + n(xm + 4) + '" y="' + n(f.top + 6) + '">' + escapeHtml(m.label) + '</text></g>';
  }
  return s;
}

function valueAxis(f: Frame, max: number, label: string): string {
  let s = '<g class="axis">';
  const y0 = f.h - f.bottom;
  for (const v of ticks(0, max, 4)) {
    const y = y0 - (v / max) * (y0 - f.top);
    s += '<line class="grid" x1="' + n(f.left) + '" y1="' + n(y) + '" x2="' + n(f.w - f.right) + '" y2="' + n(y) + '"/>';
    s += '<text x="' + n(f.left - 6) + '" y="' + n(y + 4) + '" text-anchor="end">' + fmtValue(v) + '</text>';
  }
  s += '<text class="axis-label" x="' + n(f.left - 40) + '" y="' + n(f.top - 8) + '">' + escapeHtml(label) + '</text>';
  return s + '</g>';
}

/**
 * The plot area as a nested <svg> whose viewBox is the outer one's coordinates over
 * the plot's width: drawing code keeps one coordinate system, and what lies outside
 * the time range is clipped by the nested viewport (no clip-path, no url() reference).
 */
function plot(f: Frame, content: string): string {
  const w = f.w - f.left - f.right;
  return '<svg class="plot" x="' + n(f.left) + '" y="0" width="' + n(w) + '" height="' + f.h + '" viewBox="' + n(f.left) + ' 0 ' + n(w) + ' ' + f.h + '">' + content + '</svg>';
}

function svgOpen(f: Frame, cls: string, label: string): string {
  return '<svg class="chart ' + cls + '" viewBox="0 0 ' + f.w + ' ' + f.h + '" role="img" aria-label="' + escapeHtml(label) + '">';
}

// ---- the sections ----

function summaryTable(d: ReportData): string {
  const sm = d.summary;
  if (!sm || !sm.rows.length) return '';
  const hasTarget = sm.rows.some((r) => r.target !== undefined);
  let s = '<section><h2>Summary</h2><table class="summary"><thead><tr><th></th>';
  for (const c of sm.columns) s += '<th>' + escapeHtml(c) + '</th>';
  if (hasTarget) s += '<th>target</th>';
  s += '</tr></thead><tbody>';
  for (const r of sm.rows) {
    s += '<tr><th scope="row">' + escapeHtml(r.label) + '</th>';
    for (let i = 0; i < sm.columns.length; i++) {
      const v = i < r.values.length ? r.values[i] : null;
      const p = r.pass ? r.pass[i] : null;
      const verdict = p === true ? ' <span class="ok">✓</span>' : p === false ? ' <span class="bad">✗</span>' : '';
      s += '<td class="' + (p === true ? 'pass' : p === false ? 'fail' : '') + '">' + escapeHtml(fmtValue(v)) + verdict + '</td>';
    }
    if (hasTarget) s += '<td class="target">' + escapeHtml(r.target || '') + '</td>';
    s += '</tr>';
  }
  return s + '</tbody></table></section>';
}

function histogramChart(h: Histogram, f: Frame, d: ReportData, index: number): string {
  // Each its own scale (a 1000-attempt spike would flatten everything beside it), but
  // never below 1.5 × the limit: the limit line is the common yardstick.
  let yMax = 1;
  for (const c of h.counts) if (c > yMax) yMax = c;
  if (h.limit && h.limit.value * 1.5 > yMax) yMax = h.limit.value * 1.5;
  yMax = Math.ceil(yMax / niceStep(yMax, 4)) * niceStep(yMax, 4);
  const start = h.startMs || 0;
  const y0 = f.h - f.bottom;
  const unit = h.unit || 'count';
  let peak = 0;
  for (const c of h.counts) if (c > peak) peak = c;
  let s = '<figure class="histogram" data-name="' + escapeHtml(h.name) + '"><figcaption>' + escapeHtml(h.name) + ' <span class="dim">(' + h.binMs + ' ms bins, peak ' + peak + ' ' + escapeHtml(unit) + ')</span></figcaption>';
  s += svgOpen(f, 'hist', h.name) + valueAxis(f, yMax, unit + ' / ' + h.binMs + ' ms');
  let bars = '<g class="bars" fill="' + PALETTE[(index * 3) % PALETTE.length] + '">';
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i];
    const xa = x(f, start + i * h.binMs);
    const xb = x(f, start + (i + 1) * h.binMs);
    const hgt = (c / yMax) * (y0 - f.top);
    const tip = fmtSeconds(start + i * h.binMs) + '–' + fmtSeconds(start + (i + 1) * h.binMs) + ' s: ' + c + ' ' + unit;
    bars += '<rect class="bar" x="' + n(xa) + '" y="' + n(y0 - hgt) + '" width="' + n(Math.max(0.5, xb - xa - 0.3)) + '" height="' + n(hgt) + '" data-tip="' + escapeHtml(tip) + '"><title>' + escapeHtml(tip) + '</title></rect>';
  }
  s += plot(f, bars + '</g>');
  if (h.limit && h.limit.value <= yMax) {
    const yl = y0 - (h.limit.value / yMax) * (y0 - f.top);
    s += '<g class="limit"><line x1="' + n(f.left) + '" y1="' + n(yl) + '" x2="' + n(f.w - f.right) + '" y2="' + n(yl) + '"/><text x="' + n(f.w - f.right - 4) + '" y="' + n(yl - 4) + '" text-anchor="end">' + escapeHtml(h.limit.label) + '</text></g>';
  }
  s += markers(f, d) + timeAxis(f, d, true) + '</svg></figure>';
  return s;
}

function histograms(d: ReportData, t0: number, t1: number): string {
  const hs = d.histograms || [];
  if (!hs.length) return '';
  const f: Frame = { w: 1100, h: 200, left: LEFT, right: 16, top: 22, bottom: 36, t0, t1 };
  let s = '<section><h2>Reconnect attempts over time <span class="dim">(each chart on its own scale; the dashed line is the same limit on all)</span></h2><div class="hist-grid">';
  hs.forEach((h, i) => (s += histogramChart(h, f, d, i)));
  return s + '</div></section>';
}

function aggregateChart(a: Aggregate, f: Frame, d: ReportData, extra: { [s: string]: string }): string {
  const states = Object.keys(a.series);
  const len = Math.max(0, ...states.map((k) => a.series[k].length));
  let total = 1;
  for (let i = 0; i < len; i++) {
    let sum = 0;
    for (const k of states) sum += a.series[k][i] || 0;
    if (sum > total) total = sum;
  }
  const start = a.startMs || 0;
  const y0 = f.h - f.bottom;
  const yOf = (v: number) => y0 - (v / total) * (y0 - f.top);
  let s = '<figure class="aggregate" data-name="' + escapeHtml(a.name) + '"><figcaption>' + escapeHtml(a.name) + '</figcaption>' + svgOpen(f, 'agg', a.name) + valueAxis(f, total, 'devices');
  // Stacked: each state's band lies on the sum of the states before it.
  const below: number[] = new Array(len).fill(0);
  let areas = '';
  for (const k of states) {
    const top: number[] = [];
    for (let i = 0; i < len; i++) top.push(below[i] + (a.series[k][i] || 0));
    let p = '';
    for (let i = 0; i < len; i++) p += (i ? 'L' : 'M') + n(x(f, start + i * a.binMs)) + ' ' + n(yOf(top[i]));
    for (let i = len - 1; i >= 0; i--) p += 'L' + n(x(f, start + i * a.binMs)) + ' ' + n(yOf(below[i]));
    const peak = Math.max(0, ...a.series[k]);
    areas += '<path class="area" data-state="' + escapeHtml(k) + '" d="' + (len ? p + 'Z' : '') + '" fill="' + stateColor(k, extra) + '" data-tip="' + escapeHtml(k + ': up to ' + peak + ' devices') + '"><title>' + escapeHtml(k + ': up to ' + peak + ' devices') + '</title></path>';
    for (let i = 0; i < len; i++) below[i] = top[i];
  }
  return s + plot(f, areas) + markers(f, d) + timeAxis(f, d, true) + '</svg></figure>';
}

function aggregates(d: ReportData, t0: number, t1: number, extra: { [s: string]: string }): string {
  const as = d.aggregates || [];
  if (!as.length) return '';
  const f: Frame = { w: 1100, h: 170, left: LEFT, right: 16, top: 22, bottom: 36, t0, t1 };
  let s = '<section><h2>Fleet state over time</h2>';
  for (const a of as) s += aggregateChart(a, f, d, extra);
  return s + '</section>';
}

function timelines(d: ReportData, t0: number, t1: number, extra: { [s: string]: string }): string {
  const devs = d.devices || [];
  if (!devs.length) return '';
  const rowH = 16;
  const f: Frame = { w: 1100, h: 30 + devs.length * rowH + 40, left: LEFT, right: 16, top: 26, bottom: 40, t0, t1 };
  const heading = d.fleetSize && d.fleetSize > devs.length ? devs.length + ' of ' + d.fleetSize + ' devices' : devs.length + ' devices';
  let s = '<section><h2>Device timelines <span class="dim">(' + escapeHtml(heading) + ')</span></h2>';
  // State rows.
  let rows = '';
  let labels = '';
  devs.forEach((dev, i) => {
    const y = f.top + i * rowH;
    labels += '<text class="row-label" x="' + n(f.left - 8) + '" y="' + n(y + rowH - 4) + '" text-anchor="end">' + escapeHtml(dev.id) + '</text>';
    rows += '<g class="device" data-id="' + escapeHtml(dev.id) + '">';
    for (const seg of dev.segments) {
      const xa = x(f, seg.from);
      const xb = x(f, seg.to);
      const tip = dev.id + ': ' + seg.state + ' ' + fmtSeconds(seg.from) + '–' + fmtSeconds(seg.to) + ' s (' + Math.round(seg.to - seg.from) + ' ms)';
      rows += '<rect class="seg" data-state="' + escapeHtml(seg.state) + '" x="' + n(xa) + '" y="' + n(y + 2) + '" width="' + n(Math.max(0.6, xb - xa)) + '" height="' + (rowH - 4) + '" fill="' + stateColor(seg.state, extra) + '" data-tip="' + escapeHtml(tip) + '"><title>' + escapeHtml(tip) + '</title></rect>';
    }
    rows += '</g>';
  });
  s += '<figure><figcaption>Connection state</figcaption>' + svgOpen(f, 'timeline', 'connection state per device') + labels + plot(f, rows) + markers(f, d) + timeAxis(f, d, true) + '</svg></figure>';
  s += legend(devs, extra);

  // RTT: one line per device.
  const withRtt = devs.filter((dv) => dv.rtt && dv.rtt.length);
  if (withRtt.length) {
    let rMax = 1;
    // Scaled to what is in view (a clipped boot storm must not flatten the rest).
    for (const dv of withRtt) for (const p of dv.rtt!) if (p[1] > rMax && p[0] >= t0 && p[0] <= t1) rMax = p[1];
    rMax = Math.ceil(rMax / niceStep(rMax, 4)) * niceStep(rMax, 4);
    const g: Frame = { w: 1100, h: 180, left: LEFT, right: 16, top: 22, bottom: 36, t0, t1 };
    const y0 = g.h - g.bottom;
    let p = '';
    withRtt.forEach((dv, i) => {
      // A gap in the samples (the device was not connected) breaks the line.
      const gap = 2.5 * medianSpacing(dv.rtt!);
      let path = '';
      dv.rtt!.forEach((pt, j) => {
        const jump = j === 0 || pt[0] - dv.rtt![j - 1][0] > gap;
        const next = dv.rtt![j + 1];
        path += (jump ? 'M' : 'L') + n(x(g, pt[0])) + ' ' + n(y0 - (pt[1] / rMax) * (y0 - g.top));
        // A lone sample still shows: a zero-length segment with a round cap.
        if (jump && (!next || next[0] - pt[0] > gap)) path += 'h0.01';
      });
      const tip = dv.id + ': RTT ' + Math.min(...dv.rtt!.map((q) => q[1])) + '–' + Math.max(...dv.rtt!.map((q) => q[1])) + ' ms';
      p += '<path class="rtt-line" d="' + path + '" stroke="' + PALETTE[i % PALETTE.length] + '" data-tip="' + escapeHtml(tip) + '"><title>' + escapeHtml(tip) + '</title></path>';
    });
    s += '<figure><figcaption>Round-trip time, one line per device</figcaption>' + svgOpen(g, 'rtt', 'RTT per device') + valueAxis(g, rMax, 'RTT (ms)') + plot(g, p) + markers(g, d) + timeAxis(g, d, true) + '</svg></figure>';
  }

  // Backoff: each scheduled reconnect as a bar from when it was scheduled to when it fires.
  const withBackoff = devs.filter((dv) => dv.backoff && dv.backoff.length);
  if (withBackoff.length) {
    let bMax = 1;
    for (const dv of withBackoff) for (const b of dv.backoff!) if (b[1] > bMax && b[0] >= t0 && b[0] <= t1) bMax = b[1];
    bMax = Math.ceil(bMax / niceStep(bMax, 4)) * niceStep(bMax, 4);
    const g: Frame = { w: 1100, h: 180, left: LEFT, right: 16, top: 22, bottom: 36, t0, t1 };
    const y0 = g.h - g.bottom;
    let p = '';
    devs.forEach((dv, i) => {
      for (const b of dv.backoff || []) {
        const tip = dv.id + ': at ' + fmtSeconds(b[0]) + ' s, waits ' + b[1] + ' ms';
        const xb = x(g, b[0]);
        const yb = y0 - (b[1] / bMax) * (y0 - g.top);
        p += '<g class="backoff" data-tip="' + escapeHtml(tip) + '"><title>' + escapeHtml(tip) + '</title><line x1="' + n(xb) + '" y1="' + n(yb) + '" x2="' + n(x(g, b[0] + b[1])) + '" y2="' + n(yb) + '" stroke="' + PALETTE[i % PALETTE.length] + '"/><circle class="backoff-dot" cx="' + n(xb) + '" cy="' + n(yb) + '" r="3" fill="' + PALETTE[i % PALETTE.length] + '"/></g>';
      }
    });
    s += '<figure><figcaption>Backoff delays: dot = scheduled, line = the wait, height = the delay</figcaption>' + svgOpen(g, 'backoff-chart', 'backoff delays') + valueAxis(g, bMax, 'delay (ms)') + plot(g, p) + markers(g, d) + timeAxis(g, d, true) + '</svg></figure>';
  }
  return s + '</section>';
}

/** The median distance between consecutive samples (Infinity with fewer than two). */
function medianSpacing(points: [number, number][]): number {
  const d: number[] = [];
  for (let i = 1; i < points.length; i++) d.push(points[i][0] - points[i - 1][0]);
  if (!d.length) return Infinity;
  d.sort((a, b) => a - b);
  return d[d.length >> 1];
}

function legend(devs: DeviceTimeline[], extra: { [s: string]: string }): string {
  const seen: string[] = [];
  for (const dv of devs) for (const sg of dv.segments) if (seen.indexOf(sg.state) < 0) seen.push(sg.state);
  let s = '<div class="legend">';
  for (const st of seen) s += '<span><i style="background:' + stateColor(st, extra) + '"></i>' + escapeHtml(st) + '</span>';
  return s + '</div>';
}

const CSS = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
main{max-width:1160px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:0 0 10px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 16px;margin:14px 0}
.dim{color:#6b7380;font-weight:normal}
.notes{margin:6px 0 0;padding-left:18px;color:#3d4654}
table.summary{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
table.summary th,table.summary td{border-bottom:1px solid #e6e9ee;padding:5px 10px;text-align:right}
table.summary th[scope=row],table.summary thead th:first-child{text-align:left;font-weight:500}
table.summary thead th{background:#eef1f5;font-weight:600}
td.pass{background:#eaf7ee}td.fail{background:#fdecea}
.ok{color:#1e7b3a;font-weight:700}.bad{color:#c0392b;font-weight:700}
td.target{color:#6b7380}
figure{margin:6px 0 12px}
figcaption{font-weight:600;margin-bottom:2px}
svg.chart{width:100%;height:auto;display:block}
.axis line{stroke:#8a93a0;stroke-width:1}
.axis line.grid{stroke:#e8ebef}
.axis text{fill:#4a5361;font-size:11px}
.axis-label{fill:#4a5361;font-size:11px;font-style:italic}
.limit line{stroke:#c0392b;stroke-dasharray:6 4;stroke-width:1.5}
.limit text{fill:#c0392b;font-size:11px}
.marker line{stroke:#111;stroke-width:1.2;stroke-dasharray:3 3}
.marker text{fill:#111;font-size:11px}
.row-label{fill:#3d4654;font-size:11px}
.rtt-line{fill:none;stroke-width:1.6;stroke-linecap:round}
.backoff line{stroke-width:2;opacity:.55}
.area{stroke:none;opacity:.9}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;margin:-4px 0 12px 110px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-2px}
#tip{position:fixed;pointer-events:none;background:#1d2430;color:#fff;font-size:12px;padding:3px 7px;border-radius:4px;display:none;white-space:nowrap}
`;

// Tooltips from data-tip (the <title> elements serve screen readers and no-JS viewers).
const JS = `
(function(){var tip=document.getElementById('tip');
document.addEventListener('mousemove',function(e){var t=e.target&&e.target.closest?e.target.closest('[data-tip]'):null;
if(!t){tip.style.display='none';return;}tip.textContent=t.getAttribute('data-tip');tip.style.display='block';
tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});})();
`;

/** The whole report: one HTML document, nothing fetched. */
export function renderReport(data: ReportData): string {
  const [t0, t1] = timeRange(data);
  const extra: { [s: string]: string } = {};
  let body = '<header><h1>' + escapeHtml(data.title) + '</h1>';
  if (data.generatedAt) body += '<div class="dim">generated ' + escapeHtml(data.generatedAt) + '</div>';
  if (data.notes && data.notes.length) body += '<ul class="notes">' + data.notes.map((l) => '<li>' + escapeHtml(l) + '</li>').join('') + '</ul>';
  body += '</header>';
  body += summaryTable(data);
  body += histograms(data, t0, t1);
  body += aggregates(data, t0, t1, extra);
  body += timelines(data, t0, t1, extra);
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    // Nothing may load from anywhere: the policy says so to the browser too.
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; script-src \'unsafe-inline\'; img-src data:">' +
    '<title>' + escapeHtml(data.title) + '</title><style>' + CSS + '</style></head><body><main>' + body + '</main><div id="tip"></div><script>' + JS + '</script></body></html>\n'
  );
}
