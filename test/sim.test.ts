/**
 * `picows sim` end to end, in-process and short: two emulated Pico W boards run the
 * real firmware bundle behind their own fault proxies against the embedded ack
 * server, through a forced schedule that holds one of each fault the brief names.
 *
 * What each fault must end in, on Kaluma:
 *  - silent blackhole → 'pong-timeout' (nothing reports it; ping/pong notices);
 *  - association loss → 'wifi-lost' (the client polls the link once a second);
 *  - TCP reset → 'pong-timeout': Kaluma's driver leaves tcp_err NULL, so a RST reaches
 *    no JS and the dead socket is noticed like a blackhole (kaluma.md §3);
 *  - server restart → some close (the server's FIN: 'transport-error');
 *  - latency spike → no close at all.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFirmware } from '../firmware/build.mjs';
import { runSimulation, simCommand, type SimSummary } from '../board/node/sim';
import { renderReport } from '../board/node/report-html';
import type { FaultEvent } from '../board/sim/flaky-model';
import { percentile, sessionLoss } from '../board/sim/sim-metrics';

const ROOT = join(__dirname, '..');

/** Everything written to it, as text. */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/**
 * Every fault must find its device open. A stable connection's drop is followed by a
 * retry within the backoff's fleet window (U(0.1 s, 5 s), src/resilience/backoff.ts),
 * a Wi-Fi return by a prompt one (≤ 1 s), so:
 *  - pico-0: the blackhole is noticed ~7 s in (5 s silence + the 2 s pong floor, less
 *    the time since the last byte), at ~8 s; back by ~13 s at the latest;
 *  - pico-1: back ~2.5 s after the radio loss; the latency spike then, and the reset
 *    at 10.5 s leaves it deaf but 'open' until ~17 s (Kaluma reports no RST);
 *  - the server restart at 15 s therefore finds both open.
 */
const SCHEDULE: FaultEvent[] = [
  { at: 1000, device: 0, kind: 'blackhole', durationMs: 4000 },
  { at: 2000, device: 1, kind: 'wifi', durationMs: 2000 },
  { at: 7000, device: 1, kind: 'latency', durationMs: 2000, delayMs: 300 },
  { at: 10500, device: 1, kind: 'reset', durationMs: 0 },
  { at: 15000, device: -1, kind: 'server-restart', durationMs: 300 },
];

describe('picows sim: two boards on flaky Wi-Fi, one of each fault', () => {
  const out = new Capture();
  let s: SimSummary;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'build/firmware.js'))) await buildFirmware();
    s = await runSimulation({ devices: 2, durationMs: 18000, seed: 7, profile: 'flaky', schedule: SCHEDULE, out, tty: false, report: null });
  }, 60000);

  const fault = (kind: FaultEvent['kind'], device: string) => {
    const f = s.faults.find((x) => x.kind === kind && x.device === device);
    expect(f, `${kind} on ${device}`).toBeDefined();
    // A timing miss on a loaded machine then shows the whole run, not just one field.
    expect(f!.stateAtInjection, `${kind} on ${device}: ${JSON.stringify(f)}\n${out.text}`).toBe('open');
    return f!;
  };

  it('notices a silent blackhole by ping/pong within ~10.5 s and reconnects', () => {
    const f = fault('blackhole', 'pico-0');
    expect(f.stateAtInjection).toBe('open');
    expect(f.cause).toBe('pong-timeout');
    // 5 s without a byte, then a ping and at least the 2 s pong floor.
    expect(f.detectionMs).toBeGreaterThanOrEqual(5000);
    expect(f.detectionMs).toBeLessThanOrEqual(10500);
    expect(f.reconnectMs).not.toBeNull();
  });

  it('notices an association loss at the next link poll and reconnects once the radio is back', () => {
    const f = fault('wifi', 'pico-1');
    expect(f.stateAtInjection).toBe('open');
    expect(f.cause).toBe('wifi-lost');
    expect(f.detectionMs).toBeLessThanOrEqual(1500);
    expect(f.reconnectMs).not.toBeNull();
  });

  it('notices a TCP reset only by the pong deadline (Kaluma reports nothing on RST)', () => {
    const f = fault('reset', 'pico-1');
    expect(f.stateAtInjection).toBe('open');
    expect(f.cause).toBe('pong-timeout');
    expect(f.detectionMs).toBeLessThanOrEqual(10500);
    expect(f.reconnectMs).not.toBeNull();
  });

  it('closes and comes back after a server restart', () => {
    const f = fault('server-restart', 'pico-0');
    expect(f.stateAtInjection).toBe('open');
    expect(f.cause).not.toBeNull();
    expect(f.reconnectMs).not.toBeNull();
  });

  it('rides out a latency spike without closing', () => {
    expect(fault('latency', 'pico-1').verdict).toBe('ok (rode it out)');
    expect(s.faults.every((f) => f.verdict.indexOf('ok') === 0)).toBe(true);
  });

  it('loses nothing, delivers no duplicate, hangs no board, and drains', () => {
    expect(s.lost).toBe(0);
    expect(s.duplicatesDelivered).toBe(0);
    expect(s.hung).toBe(0);
    expect(s.drained).toBe(true);
    expect(s.exitCode).toBe(0);
    for (const d of s.devices) {
      expect(d.sessions).toBe(1);
      expect(d.reboots).toBe(0);
      expect(d.generated).toBeGreaterThanOrEqual(15);
      expect(d.delivered).toBe(d.generated);
      expect(d.notReconnected).toBe(0);
      expect(d.errors).toEqual([]);
    }
    // The outages were real: readings were resent after reconnecting.
    expect(s.total.resent).toBeGreaterThan(0);
    expect(s.detection.blackhole.n).toBe(1);
    expect(s.reconnect.n).toBe(s.total.reconnectMs.length);
  });

  it('collects what the HTML report draws: state timelines, RTT and backoff samples, summary rows', () => {
    const r = s.report;
    expect(r.devices!.map((d) => d.id)).toEqual(['pico-0', 'pico-1']);
    const states = (i: number) => new Set(r.devices![i].segments.map((g) => g.state));
    expect(states(0).has('open')).toBe(true);
    expect(states(0).has('backoff')).toBe(true);
    expect(states(1).has('waiting-link')).toBe(true);
    for (const d of r.devices!) {
      // Segments follow each other without gaps from 0 to the end.
      d.segments.forEach((g, i) => {
        expect(g.to).toBeGreaterThan(g.from);
        if (i > 0) expect(g.from).toBe(d.segments[i - 1].to);
      });
      expect(d.segments[0].from).toBe(0);
      expect(d.rtt!.length).toBeGreaterThan(10);
      expect(d.backoff!.length).toBeGreaterThan(0);
    }
    expect(r.summary!.columns).toEqual(['pico-0', 'pico-1', 'total']);
    expect(r.summary!.rows.find((x) => x.label === 'lost')!.values).toEqual([0, 0, 0]);
    const html = renderReport(r);
    expect(html).toContain('pico-1');
    expect(html).toContain('silent blackhole: detection p50 / p99 ms');
  });

  it('printed status lines, a line per fault and the summary', () => {
    const text = out.text;
    expect(text).toMatch(/^\s+pico-0\s+(open|backoff|connecting|waiting-link)\s+rtt/m);
    expect(text).toMatch(/^\s+pico-1\s+(open|backoff|connecting|waiting-link)\s+rtt/m);
    expect(text).toContain('pico-0  silent blackhole for 4.0s');
    expect(text).toContain('pico-1  association lost for 2.0s');
    expect(text).toContain('fleet   server restart, down 0.3s');
    expect(text).toContain('summary: 2 devices');
    expect(text).toMatch(/silent blackhole\s+p50 [\d.]+m?s\s+p99/);
    expect(text).toContain('result: PASS');
    expect(text).toMatch(/^total\s+[\d.]+%/m);
  });
});

describe('picows sim: the command line', () => {
  it('refuses bad options with the usage and exit code 2', async () => {
    for (const args of [['--devices', '0'], ['--profile', 'stormy'], ['--duration', 'soon'], ['--url', 'wss://example/'], ['--telemetry-ms', '10']]) {
      const out = new Capture();
      expect(await simCommand(args, out)).toBe(2);
      expect(out.text).toContain('usage: picows sim');
    }
  });

  it('says to build when the firmware bundle is missing', async () => {
    await expect(runSimulation({ devices: 1, durationMs: 1000, firmwarePath: join(ROOT, 'build/no-such-firmware.js'), out: new Capture(), report: null })).rejects.toThrow(
      /no-such-firmware\.js is missing: run npm run build/,
    );
  });
});

describe('picows sim: loss accounting', () => {
  it('counts a gap in n as lost unless the device counted a drop for it', () => {
    expect(sessionLoss([1, 2, 3, 4], 0)).toMatchObject({ highest: 4, delivered: 4, gaps: 0, lost: 0, duplicates: 0 });
    expect(sessionLoss([1, 2, 4, 5], 0)).toMatchObject({ gaps: 1, lost: 1 });
    // The outbox evicted two readings and said so: gaps, but not losses.
    expect(sessionLoss([1, 4, 5], 2)).toMatchObject({ gaps: 2, dropped: 2, lost: 0 });
    // Readings after the last one delivered are not gaps (still in flight at the end).
    expect(sessionLoss([1, 2], 0).lost).toBe(0);
  });

  it('counts an n delivered twice as a duplicate the application saw', () => {
    expect(sessionLoss([1, 2, 2, 3], 0)).toMatchObject({ delivered: 3, duplicates: 1, lost: 0 });
  });

  it('takes nearest-rank percentiles', () => {
    const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
