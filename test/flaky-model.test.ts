/**
 * The flaky-Wi-Fi model of `picows sim` (board/sim/flaky-model.ts): the fault schedule
 * is a pure function of (seed, profile, devices, duration), shaped by the profile.
 */
import { describe, expect, it } from 'vitest';
import { buildSchedule, describeFault, mulberry32, parseSeed, PROFILES, type FaultEvent, type ProfileName } from '../board/sim/flaky-model';

const MINUTE = 60000;

function perDevice(s: FaultEvent[], d: number): FaultEvent[] {
  return s.filter((e) => e.device === d);
}

/** Faults per device per minute, averaged over many seeds. */
function rate(profile: ProfileName): number {
  let n = 0;
  for (let seed = 1; seed <= 100; seed++) n += buildSchedule({ seed, profile, devices: 3, durationMs: MINUTE }).filter((e) => e.device >= 0).length;
  return n / 300;
}

describe('the fault schedule', () => {
  it('is a pure function of seed, profile, devices and duration', () => {
    const args = { seed: 42, profile: 'flaky' as const, devices: 3, durationMs: MINUTE };
    const a = buildSchedule(args);
    // Other schedules built in between share no state with it.
    buildSchedule({ seed: 7, profile: 'hostile', devices: 5, durationMs: 2 * MINUTE });
    Math.random();
    const b = buildSchedule({ ...args });
    expect(a.length).toBeGreaterThan(3);
    expect(b).toEqual(a);
  });

  it('changes with the seed, the profile and the duration', () => {
    const base = { seed: 42, profile: 'flaky' as const, devices: 3, durationMs: MINUTE };
    const a = buildSchedule(base);
    expect(buildSchedule({ ...base, seed: 43 })).not.toEqual(a);
    expect(buildSchedule({ ...base, profile: 'hostile' })).not.toEqual(a);
    // A longer run starts with the same faults and adds more.
    const longer = buildSchedule({ ...base, durationMs: 3 * MINUTE });
    expect(longer.length).toBeGreaterThan(a.length);
    expect(longer.filter((e) => e.at + e.durationMs <= MINUTE && e.device >= 0).slice(0, 3)).toEqual(a.filter((e) => e.device >= 0).slice(0, 3));
  });

  it("gives each device its own stream: adding a device moves no other device's faults", () => {
    const three = buildSchedule({ seed: 9, profile: 'flaky', devices: 3, durationMs: MINUTE });
    const four = buildSchedule({ seed: 9, profile: 'flaky', devices: 4, durationMs: MINUTE });
    for (const d of [0, 1, 2]) expect(perDevice(four, d)).toEqual(perDevice(three, d));
    expect(perDevice(four, 3).length).toBeGreaterThan(0);
    expect(perDevice(three, 0)).not.toEqual(perDevice(three, 1));
  });

  it('keeps every fault inside the run, after the warm-up, sorted by time', () => {
    for (const profile of ['calm', 'flaky', 'hostile'] as const) {
      for (let seed = 1; seed <= 30; seed++) {
        const s = buildSchedule({ seed, profile, devices: 4, durationMs: MINUTE });
        for (const e of s) {
          expect(e.at).toBeGreaterThanOrEqual(PROFILES[profile].warmupMs);
          expect(e.at + e.durationMs).toBeLessThanOrEqual(MINUTE);
        }
        expect(s.map((e) => e.at)).toEqual(s.map((e) => e.at).sort((x, y) => x - y));
      }
    }
  });

  it("gives a device time to recover between faults and, unless hostile, keeps device faults out of a server restart's window", () => {
    const p = PROFILES.flaky;
    for (let seed = 1; seed <= 50; seed++) {
      const s = buildSchedule({ seed, profile: 'flaky', devices: 3, durationMs: 2 * MINUTE });
      const restarts = s.filter((e) => e.device < 0);
      for (const d of [0, 1, 2]) {
        const mine = perDevice(s, d);
        for (let i = 1; i < mine.length; i++) expect(mine[i].at).toBeGreaterThanOrEqual(mine[i - 1].at + mine[i - 1].durationMs + p.settleMs);
        for (const f of mine) {
          for (const r of restarts) {
            const overlaps = f.at < r.at + r.durationMs + p.settleMs && f.at + f.durationMs + p.noticeMs > r.at;
            expect(overlaps).toBe(false);
          }
        }
      }
    }
  });

  it('draws durations and delays inside the profile ranges', () => {
    for (const profile of ['calm', 'flaky', 'hostile'] as const) {
      const p = PROFILES[profile];
      for (let seed = 1; seed <= 30; seed++) {
        for (const e of buildSchedule({ seed, profile, devices: 3, durationMs: 2 * MINUTE })) {
          if (e.kind === 'reset') expect(e.durationMs).toBe(0);
          else if (e.kind === 'server-restart') {
            expect(e.durationMs).toBeGreaterThanOrEqual(p.restartDown[1]);
            expect(e.durationMs).toBeLessThanOrEqual(p.restartDown[2]);
          } else {
            const [, min, max] = p.durations[e.kind];
            expect(e.durationMs).toBeGreaterThanOrEqual(min);
            expect(e.durationMs).toBeLessThanOrEqual(max);
          }
          if (e.kind === 'latency') {
            expect(e.delayMs).toBeGreaterThanOrEqual(p.latencyDelay[1]);
            expect(e.delayMs).toBeLessThanOrEqual(p.latencyDelay[2]);
          } else expect(e.delayMs).toBeUndefined();
        }
      }
    }
  });

  it('makes calm rarer than flaky and hostile more frequent, with several faults per device a minute when flaky', () => {
    const calm = rate('calm');
    const flaky = rate('flaky');
    const hostile = rate('hostile');
    expect(flaky).toBeGreaterThanOrEqual(2);
    expect(calm).toBeLessThan(flaky / 2);
    expect(hostile).toBeGreaterThan(flaky);
  });

  it('uses every device fault kind when flaky, corruption only when hostile, and restarts the server fleet-wide', () => {
    const kinds = (profile: ProfileName) => {
      const seen = new Set<string>();
      for (let seed = 1; seed <= 40; seed++) for (const e of buildSchedule({ seed, profile, devices: 3, durationMs: MINUTE })) seen.add(e.kind);
      return seen;
    };
    expect([...kinds('flaky')].sort()).toEqual(['blackhole', 'latency', 'reset', 'server-restart', 'wifi']);
    expect(kinds('hostile').has('corrupt')).toBe(true);
    expect(kinds('calm').has('corrupt')).toBe(false);
    for (let seed = 1; seed <= 40; seed++) {
      for (const e of buildSchedule({ seed, profile: 'flaky', devices: 3, durationMs: MINUTE })) expect(e.kind === 'server-restart').toBe(e.device === -1);
    }
  });

  it('leaves server restarts out when the server is not ours (--url)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const s = buildSchedule({ seed, profile: 'hostile', devices: 2, durationMs: MINUTE, serverRestarts: false });
      expect(s.some((e) => e.kind === 'server-restart')).toBe(false);
    }
  });
});

describe('seeds and text', () => {
  it('takes an integer seed as is and hashes any other text', () => {
    expect(parseSeed('42')).toBe(42);
    expect(parseSeed('lab-7')).toBe(parseSeed('lab-7'));
    expect(parseSeed('lab-7')).not.toBe(parseSeed('lab-8'));
  });

  it('mulberry32 repeats its sequence for a seed', () => {
    const a = mulberry32(5);
    const b = mulberry32(5);
    const xs = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('describes a fault in one line', () => {
    const name = (i: number) => `pico-${i}`;
    expect(describeFault({ at: 12300, device: 1, kind: 'blackhole', durationMs: 4000 }, name)).toBe(' 12.3s  pico-1  silent blackhole for 4.0s');
    expect(describeFault({ at: 5000, device: -1, kind: 'server-restart', durationMs: 800 }, name)).toContain('fleet   server restart, down 0.8s');
  });
});
