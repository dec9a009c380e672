/**
 * A small reconnect storm, twice: 200 real ResilientClients (WebAssembly core,
 * loopback TCP) in this process against one ack server that restarts mid-run, once
 * with the backoff's jitter and once in lockstep (every delay its window's ceiling).
 * The full-size run (1000 devices) is board/node/storm.ts with its defaults; this one
 * keeps to ~20 s on two shared cores.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../board/node/report-html';
import { binCounts, runStorm, slidingPeak, stormReport, type StormResult } from '../board/node/storm';

const DEVICES = 200;
// Acks held 300 ms: readings are in flight when the server dies, so resends and dedup happen.
const small = { devices: DEVICES, seed: 3, restartAtMs: 2500, startSpreadMs: 1000, downMs: 500, intervalMs: 500, ackDelayMs: 300, settleMs: 800, durationMs: 20000, drainMs: 5000 };

let jittered: StormResult;
let lockstep: StormResult;

beforeAll(async () => {
  jittered = await runStorm(Object.assign({ jitter: true }, small));
  lockstep = await runStorm(Object.assign({ jitter: false }, small));
}, 90000);

const both = () => [jittered, lockstep];
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('the windowing helpers', () => {
  it('find the busiest half-open window', () => {
    expect(slidingPeak([0, 50, 99, 100, 150, 199], 100)).toBe(3);
    expect(slidingPeak([0, 100, 200], 100)).toBe(1);
    expect(slidingPeak([5, 5, 5, 5], 100)).toBe(4);
    expect(slidingPeak([], 100)).toBe(0);
  });

  it('bin times from 0, the overflow in the last bin', () => {
    expect(binCounts([0, 99, 100, 250, 999], 100, 4)).toEqual([2, 1, 1, 1]);
  });
});

describe('a 200-device storm', () => {
  it('had every device up before the restart, and every one dropped by it with 1006', () => {
    for (const r of both()) {
      expect(r.openBeforeRestart).toBe(DEVICES);
      expect(r.droppedByRestart).toBe(DEVICES);
      expect(r.dropCodes).toEqual({ 1006: DEVICES });
    }
  });

  it('brought every device back', () => {
    for (const r of both()) {
      expect(r.back).toBe(DEVICES);
      expect(r.backMs.every((t) => t > 0)).toBe(true);
      expect(r.recovery.p100Ms).not.toBeNull();
    }
  });

  it('spread the jittered fleet and not the lockstep one', () => {
    // The restart comes 1.5–2.5 s after each device opened, short of minUptime (5 s):
    // no stable connection ended, so the backoff's fleet window (on by default) is not
    // armed and the first window is the 1 s base.
    for (const r of both()) expect(r.options.dropWindowMs).toBe(5000);
    // Lockstep: every first delay is the window's ceiling (999 ms with the defaults).
    expect(lockstep.firstDelay).toEqual({ min: 999, mean: 999, max: 999 });
    expect(jittered.firstDelay.min).toBeGreaterThanOrEqual(100);
    expect(jittered.firstDelay.max).toBeLessThanOrEqual(999);
    expect(jittered.firstDelay.max - jittered.firstDelay.min).toBeGreaterThan(500);
    // The busiest 100 ms: lockstep puts (nearly) the whole fleet in one; jitter far fewer.
    expect(lockstep.scheduled.peak100).toBeGreaterThanOrEqual(DEVICES * 0.9);
    expect(jittered.attempts.peak100Pct).toBeLessThan(lockstep.attempts.peak100Pct);
    expect(jittered.scheduled.peak100Pct).toBeLessThan(lockstep.scheduled.peak100Pct / 2);
    expect(jittered.accepts.peak100).toBeLessThan(lockstep.accepts.peak100);
  });

  it('lost nothing and delivered nothing twice, though readings in flight were resent', () => {
    for (const r of both()) {
      expect(r.messages.generated).toBeGreaterThan(DEVICES * 4);
      expect(r.messages.lost).toBe(0);
      expect(r.messages.delivered).toBe(r.messages.generated);
      expect(r.messages.duplicatesDelivered).toBe(0);
      // Readings unacked at the restart were sent again, and the server told them apart.
      expect(r.messages.suppressedResends).toBeGreaterThan(DEVICES / 10);
      expect(r.messages.outboxDropped).toBe(0);
      expect(r.messages.drained).toBe(true);
    }
  });

  it('reports figures that agree with each other', () => {
    for (const r of both()) {
      // Histograms hold every event once; the fired and scheduled views count the same attempts.
      expect(sum(r.attempts.counts100)).toBe(r.attempts.total);
      expect(sum(r.scheduled.counts100)).toBe(r.attempts.total);
      expect(r.scheduled.total).toBe(r.attempts.total);
      expect(sum(r.accepts.counts100)).toBe(r.accepts.total);
      expect(sum(r.accepts.perSecond)).toBe(r.accepts.total);
      // A sliding window holds at least as much as the busiest fixed bin.
      expect(r.attempts.peak100).toBeGreaterThanOrEqual(Math.max(...r.attempts.counts100));
      expect(r.accepts.peak100).toBeGreaterThanOrEqual(Math.max(...r.accepts.counts100));
      expect(r.attempts.peak100Pct).toBeCloseTo((100 * r.attempts.peak100) / DEVICES, 1);
      expect(r.accepts.peakPerSec).toBe(Math.max(...r.accepts.perSecond));
      // Each accepted upgrade was an attempt.
      expect(r.attempts.total).toBeGreaterThanOrEqual(r.accepts.total);
      // Endings after the restart: the drop itself, one per device, plus every attempt
      // but each device's last, successful one, so as many as the attempts.
      expect(r.accepts.total).toBe(DEVICES);
      expect(sum(Object.values(r.closesByCause))).toBe(r.attempts.total);
      // Recovery quantiles are ordered and come from backMs.
      const sorted = r.backMs.slice().sort((a, b) => a - b);
      expect(r.recovery.p50Ms).toBe(sorted[DEVICES / 2 - 1]);
      expect(r.recovery.p99Ms).toBe(sorted[Math.ceil(DEVICES * 0.99) - 1]);
      expect(r.recovery.p100Ms).toBe(sorted[DEVICES - 1]);
      expect(r.dropSeenMs.first).toBeLessThanOrEqual(r.dropSeenMs.last);
      expect(r.dropSeenMs.last).toBeLessThan(r.recovery.p50Ms!);
      // The aggregate accounts for every device in every bin.
      const s = r.aggregate.series;
      for (let i = 0; i < s.open.length; i++) expect(s.open[i] + s.connecting[i] + s.backoff[i] + s.other[i]).toBe(DEVICES);
    }
  });

  it('keeps contiguous timelines for its sampled devices: open, dropped at the restart, open again', () => {
    for (const r of both()) {
      expect(r.timelines).toHaveLength(20);
      for (const tl of r.timelines) {
        for (let i = 1; i < tl.segments.length; i++) expect(tl.segments[i].from).toBe(tl.segments[i - 1].to);
        const at = (t: number) => tl.segments.find((sg) => sg.from <= t && t < sg.to)!.state;
        expect(at(-10)).toBe('open');
        expect(tl.segments.some((sg) => sg.state === 'backoff' && sg.from >= 0)).toBe(true);
        expect(tl.segments[tl.segments.length - 1].state).toBe('stopped');
        expect(tl.backoff!.length).toBeGreaterThanOrEqual(1);
        expect(tl.backoff![0][0]).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('renders both runs into one report with the summary figures', () => {
    const html = renderReport(stormReport([jittered, lockstep]));
    expect(html).toContain(jittered.attempts.peak100 + ' (' + jittered.attempts.peak100Pct + '%)');
    expect(html).toContain(lockstep.attempts.peak100 + ' (' + lockstep.attempts.peak100Pct + '%)');
    expect(html).toContain(jittered.messages.generated + ' / ' + jittered.messages.delivered);
    expect((html.match(/class="bar"/g) || []).length).toBe(jittered.attempts.counts100.length + lockstep.attempts.counts100.length);
    expect(html).not.toMatch(/https?:\/\//);
  });
});
