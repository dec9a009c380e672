/**
 * `picows sim --scenario server-restart [--devices 1000]`: the fleet's worst moment.
 * N real clients (Node transport, the real client and resilience code) against one
 * server on loopback; the server restarts mid-run; the same scenario runs with jitter
 * and in lockstep (jitter off), and the two are printed side by side and written as an
 * HTML report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { renderReport } from './report-html';
import { runStorm, stormReport, STORM_TARGETS, type StormResult } from './storm';

export const STORM_USAGE = `usage: picows sim --scenario server-restart [options]

  --devices <n>      clients in this process (default 1000)
  --seed <n>         seeds every client's jitter (default 1)
  --down <ms>        how long the server is down (default 2000)
  --window <ms>      the fleet window after a stable connection drops (default: the backoff's, 5000; 0 = off)
  --report <file>    the HTML report (default build/storm-report.html)
  --no-compare       skip the lockstep run
`;

export async function stormCommand(args: string[], out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        scenario: { type: 'string' },
        devices: { type: 'string' },
        seed: { type: 'string' },
        down: { type: 'string' },
        window: { type: 'string' },
        report: { type: 'string' },
        'no-compare': { type: 'boolean' },
      },
    }).values;
  } catch (e) {
    process.stderr.write('picows sim: ' + (e as Error).message + '\n\n' + STORM_USAGE);
    return 2;
  }
  if (values.scenario !== 'server-restart') {
    process.stderr.write(`picows sim: unknown scenario "${values.scenario}" (there is: server-restart)\n\n` + STORM_USAGE);
    return 2;
  }
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const devices = num(values.devices, 1000);
  const seed = num(values.seed, 1);
  const downMs = num(values.down, 2000);
  // Unset: the clients' own backoff default (src/resilience/backoff.ts).
  const dropWindowMs = values.window === undefined ? undefined : Number(values.window);
  if (![devices, seed, downMs, dropWindowMs === undefined ? 0 : dropWindowMs].every((n) => Number.isFinite(n) && n >= 0) || devices < 1) {
    process.stderr.write('picows sim: --devices, --seed, --down and --window take whole numbers\n\n' + STORM_USAGE);
    return 2;
  }
  const runs: StormResult[] = [];
  for (const jitter of values['no-compare'] ? [true] : [true, false]) {
    out(`storm: ${devices} devices, server down ${downMs} ms, ${jitter ? 'jitter' : 'no jitter (lockstep)'} ...`);
    runs.push(await runStorm({ devices, seed, downMs, jitter, dropWindowMs }));
  }
  const data = stormReport(runs);
  const rows = data.summary ? data.summary.rows : [];
  const cols = runs.map((r) => (r.jitter ? 'jitter' : 'lockstep'));
  out('');
  out('what'.padEnd(48) + cols.map((c) => c.padStart(22)).join(''));
  for (const row of rows) out(row.label.padEnd(48) + row.values.map((v) => String(v === null ? '-' : v).padStart(22)).join(''));
  const j = runs[0];
  const pass = j.attempts.peak100Pct <= STORM_TARGETS.peakSharePct && j.recovery.p99Ms !== null && j.recovery.p99Ms <= STORM_TARGETS.p99Ms && j.messages.lost === 0 && j.messages.duplicatesDelivered === 0;
  const file = values.report || 'build/storm-report.html';
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderReport(data));
  out('');
  out(`report: ${file}`);
  out(`targets (jitter): peak ≤ ${STORM_TARGETS.peakSharePct}% of the fleet per 100 ms, 99% back ≤ ${STORM_TARGETS.p99Ms / 1000} s, nothing lost: ${pass ? 'PASS' : 'MISS'}`);
  return pass ? 0 : 1;
}
