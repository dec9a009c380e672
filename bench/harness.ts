/**
 * The bench harness: timing (warm up, calibrate, median of samples), the row and
 * target records every section returns, the printed table and bench/results.json.
 * Sections (bench/core.ts, later the client, device and reconnect sections) only
 * build cases and rows; how to time and how to report lives here.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** One figure. `ratio` = value / the anchor's value for the same metric (null when the row has no anchor). */
export interface Row {
  name: string;
  impl: string;
  metric: string;
  value: number;
  unit: string;
  ratio: number | null;
  ratioTo: string | null;
}

/** A goal from an issue, checked against the measured figures. */
export interface Target {
  name: string;
  /** The measured figure being checked (a ratio, a time...). */
  value: number;
  op: '>=' | '<=';
  goal: number;
  unit: string;
  pass: boolean;
}

export interface SectionResult {
  rows: Row[];
  targets: Target[];
  /** Lines printed under the table and kept in results.json (inputs, caveats). */
  notes: string[];
}

export interface BenchOptions {
  quick: boolean;
  /** Time spent measuring one implementation of a case, after calibration and warm-up. */
  budgetMs: number;
  /** The length of one timed batch (one sample). */
  sampleMs: number;
  /** At least this many samples per implementation; the median is reported. */
  minSamples: number;
  warmupMs: number;
}

export interface Section {
  /** What `--only` matches and the key in results.json. */
  name: string;
  title: string;
  run(opts: BenchOptions): Promise<SectionResult> | SectionResult;
}

export function benchOptions(quick: boolean): BenchOptions {
  return quick
    ? { quick, budgetMs: 60, sampleMs: 10, minSamples: 3, warmupMs: 15 }
    : { quick, budgetMs: 300, sampleMs: 20, minSamples: 7, warmupMs: 60 };
}

export interface Measurement {
  /** Median nanoseconds per call. */
  ns: number;
  samples: number;
  /** Interquartile range / median over the samples: a noise indicator, not reported as a figure. */
  spread: number;
}

/**
 * Every measured call's result ends up here, so V8 cannot prove a call unused and
 * drop it. Exported (and so observable) on purpose.
 */
export const sink = { value: 0 };

/** A case: one call that returns a number derived from the work it did. */
export type Call = () => number;

/**
 * Each case gets its own compiled loop (new Function), so the call site inside
 * is monomorphic and the call can be inlined, as it would be in real code. One
 * shared loop over many cases would go megamorphic and add the same few ns to
 * every call, which distorts the 64-byte comparisons.
 */
function compileLoop(call: Call): (n: number) => number {
  // eslint-disable-next-line no-new-func
  const make = new Function('call', 'return function loop(n) { let acc = 0; for (let i = 0; i < n; i++) acc = (acc + call()) | 0; return acc; };');
  return make(call) as (n: number) => number;
}

/** Times `n` calls in ms, and feeds the sink. */
function timeBatch(loop: (n: number) => number, n: number): number {
  const t0 = performance.now();
  const acc = loop(n);
  const t1 = performance.now();
  sink.value = (sink.value + acc) | 0;
  return t1 - t0;
}

/** The batch size that makes one batch take about `sampleMs` (doubling also gets the code optimized). */
function calibrate(loop: (n: number) => number, sampleMs: number): number {
  let n = 1;
  for (;;) {
    const ms = timeBatch(loop, n);
    if (ms >= sampleMs / 4 || n >= 1 << 30) return Math.max(1, Math.round((n * sampleMs) / Math.max(ms, 1e-3)));
    n *= ms < sampleMs / 64 ? 8 : 2;
  }
}

function summarize(perCall: number[]): Measurement {
  perCall.sort((a, b) => a - b);
  const mid = perCall.length >> 1;
  const ns = perCall.length % 2 ? perCall[mid] : (perCall[mid - 1] + perCall[mid]) / 2;
  const q1 = perCall[Math.floor((perCall.length - 1) / 4)];
  const q3 = perCall[Math.ceil((3 * (perCall.length - 1)) / 4)];
  return { ns, samples: perCall.length, spread: (q3 - q1) / ns };
}

/**
 * Times several implementations of one case side by side: calibrate and warm up
 * each, then take rounds of one batch per implementation (the order rotating each
 * round) until each had its budget (at least minSamples rounds). Interleaving puts
 * every implementation under the same machine load, so the ratios between them
 * hold even when other work on a shared machine comes and goes.
 */
export function measureSideBySide(calls: Call[], opts: BenchOptions): Measurement[] {
  const loops = calls.map(compileLoop);
  const sizes = loops.map((loop) => calibrate(loop, opts.sampleMs));
  loops.forEach((loop, i) => {
    const warmEnd = performance.now() + opts.warmupMs;
    while (performance.now() < warmEnd) timeBatch(loop, sizes[i]);
  });
  const perCall: number[][] = loops.map(() => []);
  const end = performance.now() + opts.budgetMs * loops.length;
  for (let round = 0; round < opts.minSamples || (performance.now() < end && round < 1000); round++) {
    for (let k = 0; k < loops.length; k++) {
      const i = (round + k) % loops.length;
      perCall[i].push((timeBatch(loops[i], sizes[i]) * 1e6) / sizes[i]);
    }
  }
  return perCall.map(summarize);
}

/**
 * An asynchronous case (I/O through sockets): `batch(n)` does n operations and
 * resolves with the milliseconds they took.
 */
export interface AsyncCase {
  impl: string;
  batch(n: number): Promise<number>;
}

/** Budgets for asynchronous cases: I/O is slower and noisier per operation than a call. */
export interface AsyncBudget {
  /** The length of one batch (one sample). */
  sampleMs: number;
  /** Time spent measuring one implementation, after calibration and warm-up. */
  budgetMs: number;
  minSamples: number;
  warmupMs: number;
  /** The first calibration batch; doubled until a batch takes a quarter of sampleMs. */
  startN: number;
  /** Batches never exceed this many operations (a pre-built input may bound them). */
  maxN: number;
}

/** An asynchronous case's figures: wall time per operation (as Measurement) and CPU time per operation. */
export interface AsyncMeasurement extends Measurement {
  /** Median CPU nanoseconds (user + system, the whole process) per operation. */
  cpuNs: number;
}

/**
 * measureSideBySide for asynchronous cases: each case is calibrated (batch size
 * doubled until a batch takes about sampleMs) and warmed up, then rounds of one batch
 * per implementation, the order rotating each round, until each had its budget.
 * The figures are the median batch's wall time per operation, as for calls, and the
 * median batch's process CPU time per operation (process.cpuUsage): on a shared
 * machine the CPU time is the steadier figure, since time spent waiting for a core
 * is not in it.
 */
export async function measureAsyncSideBySide(cases: AsyncCase[], budget: AsyncBudget): Promise<AsyncMeasurement[]> {
  const sizes: number[] = [];
  for (const c of cases) {
    let n = Math.min(budget.startN, budget.maxN);
    for (;;) {
      const ms = await c.batch(n);
      if (ms >= budget.sampleMs / 4 || n >= budget.maxN) {
        sizes.push(Math.max(1, Math.min(budget.maxN, Math.round((n * budget.sampleMs) / Math.max(ms, 1e-3)))));
        break;
      }
      n = Math.min(budget.maxN, n * (ms < budget.sampleMs / 32 ? 8 : 2));
    }
  }
  for (let i = 0; i < cases.length; i++) {
    const warmEnd = performance.now() + budget.warmupMs;
    while (performance.now() < warmEnd) await cases[i].batch(sizes[i]);
  }
  const perOp: number[][] = cases.map(() => []);
  const cpuPerOp: number[][] = cases.map(() => []);
  const end = performance.now() + budget.budgetMs * cases.length;
  for (let round = 0; round < budget.minSamples || (performance.now() < end && round < 1000); round++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (round + k) % cases.length;
      const cpu0 = process.cpuUsage();
      const ms = await cases[i].batch(sizes[i]);
      const cpu = process.cpuUsage(cpu0);
      perOp[i].push((ms * 1e6) / sizes[i]);
      cpuPerOp[i].push(((cpu.user + cpu.system) * 1e3) / sizes[i]);
    }
  }
  return perOp.map((samples, i) => ({ ...summarize(samples), cpuNs: median(cpuPerOp[i]) }));
}

/** The median of a list of numbers (the list is sorted in place). */
export function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

/** The p-th percentile (0..100), nearest rank, of a list (sorted in place). */
export function percentile(values: number[], p: number): number {
  values.sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * values.length);
  return values[Math.min(values.length - 1, Math.max(0, rank - 1))];
}

/** Times one call (see measureSideBySide). */
export function measure(call: Call, opts: BenchOptions): Measurement {
  return measureSideBySide([call], opts)[0];
}

/** MB/s (10^6 bytes per second) for `bytes` processed per call. */
export function mbPerSecond(bytes: number, m: Measurement): number {
  return (bytes / m.ns) * 1e3;
}

export function target(name: string, value: number, op: '>=' | '<=', goal: number, unit: string): Target {
  const pass = op === '>=' ? value >= goal : value <= goal;
  return { name, value, op, goal, unit, pass };
}

/** Fails the bench loudly: a benchmark of a wrong answer is worthless. */
export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error('bench: verification failed: ' + what);
}

// ---------------------------------------------------------------- printing

function formatNumber(v: number): string {
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatRatio(r: number): string {
  return (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)) + 'x';
}

function pad(s: string, w: number, right: boolean): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

function printGrid(lines: string[][], rightAligned: boolean[]): void {
  const widths: number[] = [];
  for (const line of lines) line.forEach((cell, i) => (widths[i] = Math.max(widths[i] || 0, cell.length)));
  for (const line of lines) console.log('  ' + line.map((c, i) => pad(c, widths[i], rightAligned[i])).join('  ').trimEnd());
}

/**
 * One line per (case, impl); one column pair (value, ratio) per metric, in the
 * order metrics first appear. Under each case's name: what its ratios are relative to.
 */
export function printSection(section: Section, result: SectionResult): void {
  console.log('\n== ' + section.title + ' (' + section.name + ')');
  const metrics: string[] = [];
  for (const r of result.rows) {
    const m = r.metric + ' (' + r.unit + ')';
    if (metrics.indexOf(m) < 0) metrics.push(m);
  }
  const header = ['case', 'impl'];
  for (const m of metrics) header.push(m, 'ratio');
  const lines: string[][] = [header];
  const lineOf = new Map<string, string[]>();
  const groupLines = new Map<string, string[][]>();
  for (const r of result.rows) {
    const key = r.name + '\u0000' + r.impl;
    let line = lineOf.get(key);
    if (!line) {
      let group = groupLines.get(r.name);
      if (!group) {
        group = [];
        groupLines.set(r.name, group);
        if (lines.length > 1) lines.push([]);
      }
      line = [group.length === 0 ? r.name : group.length === 1 && r.ratioTo ? '  ratios vs ' + r.ratioTo : '', r.impl];
      for (let i = 0; i < metrics.length * 2; i++) line.push('');
      lineOf.set(key, line);
      group.push(line);
      lines.push(line);
    }
    const col = 2 + 2 * metrics.indexOf(r.metric + ' (' + r.unit + ')');
    line[col] = formatNumber(r.value);
    line[col + 1] = r.ratio === null ? '' : formatRatio(r.ratio);
  }
  printGrid(lines, header.map((_, i) => i >= 2));
  if (result.targets.length) {
    console.log('\n  targets:');
    for (const t of result.targets) {
      const shown = t.unit === 'x' ? formatRatio(t.value) : formatNumber(t.value) + ' ' + t.unit;
      const goal = t.unit === 'x' ? formatRatio(t.goal) : formatNumber(t.goal) + ' ' + t.unit;
      console.log('  ' + (t.pass ? 'PASS' : 'MISS') + '  ' + t.name + ': ' + shown + ' (goal ' + t.op + ' ' + goal + ')');
    }
  }
  for (const n of result.notes) console.log('  note: ' + n);
}

/** A one-line "now measuring" on a terminal; nothing when stderr is a file or a pipe. */
export function progress(text: string): void {
  if (!process.stderr.isTTY) return;
  const width = (process.stderr.columns || 80) - 1;
  process.stderr.write('\r' + (text.length > width ? text.slice(0, width) : text.padEnd(width)) + (text ? '' : '\r'));
}

// ---------------------------------------------------------------- results.json

export interface Environment {
  node: string;
  cpu: string;
  cores: number;
  /** 1-minute load average when the run started: above ~1 per core, other work shared the CPU. */
  load: number;
  date: string;
}

/** Above this interquartile range / median, a case is listed as noisy. */
export const NOISY_SPREAD = 0.1;

/** One note naming the noisy cases (the worst first, at most 8), or none. */
export function noisyNote(noisy: { what: string; spread: number }[]): string[] {
  if (!noisy.length) return [];
  const worst = noisy.slice().sort((a, b) => b.spread - a.spread);
  const named = worst.slice(0, 8).map((n) => n.what + ' ' + Math.round(n.spread * 100) + '%');
  const more = noisy.length > 8 ? ' and ' + (noisy.length - 8) + ' more' : '';
  return ['noisy: ' + noisy.length + ' cases with an interquartile range > ' + NOISY_SPREAD * 100 + '% of the median: ' + named.join(', ') + more];
}

export interface SectionRecord extends SectionResult {
  name: string;
  title: string;
  date: string;
  quick: boolean;
}

export interface ResultsFile {
  node: string;
  cpu: string;
  cores: number;
  load: number;
  date: string;
  sections: SectionRecord[];
}

/** Rounds for a diff-friendly file: 4 significant digits are more than the noise allows. */
function rounded<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v)));
}

/**
 * Writes the sections that ran into `path`, keeping the sections of an earlier
 * run that this one skipped (`--only`), in the order of `order`.
 */
export function writeResults(path: string, env: Environment, ran: SectionRecord[], order: string[]): void {
  let previous: SectionRecord[] = [];
  if (existsSync(path)) {
    try {
      const old = JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
      if (Array.isArray(old.sections)) previous = old.sections;
    } catch {
      previous = [];
    }
  }
  const byName = new Map<string, SectionRecord>();
  for (const s of previous) byName.set(s.name, s);
  for (const s of ran) byName.set(s.name, s);
  const sections = [...byName.values()].sort((a, b) => rank(order, a.name) - rank(order, b.name));
  const file: ResultsFile = { node: env.node, cpu: env.cpu, cores: env.cores, load: env.load, date: env.date, sections };
  writeFileSync(path, JSON.stringify(rounded(file), null, 2) + '\n');
}

function rank(order: string[], name: string): number {
  const i = order.indexOf(name);
  return i < 0 ? order.length : i;
}
