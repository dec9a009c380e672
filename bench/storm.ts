/**
 * The storm section: a fleet against one loopback server that restarts (every device
 * sees 1006 at the same instant), with jitter and in lockstep (jitter off), side by
 * side: the peak share of reconnect attempts in any 100 ms window, the time until
 * 50/99/100 % are back, the server's accepts per second, and messages lost. The
 * clients are the real ResilientClient on the Node transport (board/node/storm.ts).
 * 1000 devices take ~50 s for both runs; --quick runs 200.
 */
import { runStorm, STORM_TARGETS, type StormResult } from '../board/node/storm';
import { progress, target } from './harness';
import type { BenchOptions, Row, Section, SectionResult } from './harness';

async function runStormSection(opts: BenchOptions): Promise<SectionResult> {
  const devices = opts.quick ? 200 : 1000;
  const runs: StormResult[] = [];
  for (const jitter of [true, false]) {
    progress('storm: ' + devices + ' devices, ' + (jitter ? 'jitter' : 'lockstep'));
    runs.push(await runStorm({ devices, seed: 1, jitter }));
  }
  progress('');
  const [j, l] = runs;
  const rows: Row[] = [];
  const pair = (name: string, unit: string, f: (r: StormResult) => number | null) => {
    const a = f(j);
    const b = f(l);
    if (a === null || b === null) return;
    // One column per unit, not per figure: the table stays readable.
    const metric = unit === 's' ? 'time' : unit === '%' ? 'share' : unit === '/s' ? 'rate' : 'count';
    rows.push({ name, impl: 'picows, jitter', metric, value: a, unit, ratio: b === 0 ? null : a / b, ratioTo: 'lockstep' });
    rows.push({ name, impl: 'lockstep (jitter off)', metric, value: b, unit, ratio: 1, ratioTo: 'lockstep' });
  };
  pair('peak attempts in any 100 ms, % of the fleet', '%', (r) => r.attempts.peak100Pct);
  pair('peak accepted upgrades in any 100 ms, % of the fleet', '%', (r) => r.accepts.peak100Pct);
  pair('50% back after the restart', 's', (r) => (r.recovery.p50Ms === null ? null : r.recovery.p50Ms / 1000));
  pair('99% back after the restart', 's', (r) => (r.recovery.p99Ms === null ? null : r.recovery.p99Ms / 1000));
  pair('100% back after the restart', 's', (r) => (r.recovery.p100Ms === null ? null : r.recovery.p100Ms / 1000));
  pair('accepted connections per second, peak', '/s', (r) => r.accepts.peakPerSec);
  pair('messages lost', 'msgs', (r) => r.messages.lost);
  return {
    rows,
    targets: [
      target('jittered fleet: peak attempts in any 100 ms (% of ' + devices + ')', j.attempts.peak100Pct, '<=', STORM_TARGETS.peakSharePct, '%'),
      target('jittered fleet: 99% back after the restart (s)', j.recovery.p99Ms === null ? Infinity : j.recovery.p99Ms / 1000, '<=', STORM_TARGETS.p99Ms / 1000, 's'),
      target('jittered fleet: messages lost (at-least-once)', j.messages.lost + j.messages.duplicatesDelivered, '<=', 0, 'msgs'),
    ],
    notes: [
      devices + ' ResilientClients (Node transport, WebAssembly core, default options) in one process against one ack server on 127.0.0.1, restarted with ' + j.options.downMs + ' ms down; a reading a second each, at-least-once',
      'lockstep = the same clients with every backoff draw at its window ceiling (random() = 1), so the whole fleet retries together',
      'ratios are jitter / lockstep; the 5 % target is a share of the fleet, so it is meant for a large fleet (a 100-device fleet shows single-digit counts per window)',
    ],
  };
}

export const stormSection: Section = {
  name: 'storm',
  title: 'the reconnect storm: a fleet against one server that restarts, jitter vs lockstep',
  run: runStormSection,
};
