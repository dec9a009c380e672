import { describe, expect, it } from 'vitest';
import { Backoff } from '../src/resilience/backoff';
import { mulberry32 as seeded } from '../board/sim/prng';


/** Kolmogorov–Smirnov statistic of samples against U(lo, hi). */
function ksUniform(samples: number[], lo: number, hi: number): number {
  const s = samples.slice().sort((a, b) => a - b);
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = Math.min(1, Math.max(0, (s[i] - lo) / (hi - lo)));
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}
/** KS critical value for n samples at alpha = 0.001. */
const ksCritical = (n: number) => 1.95 / Math.sqrt(n);

describe('Backoff', () => {
  it('keeps every delay within [floor, ceiling] for each attempt, ceiling = min(cap, base × factor^n)', () => {
    const b = new Backoff(seeded(1), { baseMs: 500, factor: 2, capMs: 20000, minDelayMs: 100 });
    for (let n = 0; n < 40; n++) {
      const ceiling = Math.min(20000, 500 * 2 ** n);
      const d = b.next();
      expect(b.ceiling).toBe(ceiling);
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(ceiling);
      expect(b.attempt).toBe(n + 1);
    }
  });

  it('never exceeds the cap over many draws, and reaches near it', () => {
    const b = new Backoff(seeded(2), { capMs: 30000 });
    let max = 0;
    for (let i = 0; i < 5000; i++) {
      b.attempt = 10 + (i % 30);
      max = Math.max(max, b.next());
    }
    expect(max).toBeLessThanOrEqual(30000);
    expect(max).toBeGreaterThan(29900);
  });

  it('spreads delays uniformly over [floor, cap] at the cap (jitter after the cap, KS test)', () => {
    const b = new Backoff(seeded(3), { baseMs: 1000, capMs: 30000, minDelayMs: 100 });
    const draws: number[] = [];
    for (let i = 0; i < 10000; i++) {
      b.attempt = 20; // well past the cap
      draws.push(b.next());
    }
    expect(ksUniform(draws, 100, 30000)).toBeLessThan(ksCritical(draws.length));
    expect(new Set(draws).size).toBeGreaterThan(7000);
  });

  it('the KS check rejects a Socket.IO-style backoff, which caps after jitter and collapses at the cap', () => {
    const rnd = seeded(3);
    const draws: number[] = [];
    for (let i = 0; i < 10000; i++) {
      // backo2: base × 2^n ± 50% jitter, then min(cap).
      const ms = 1000 * 2 ** 20;
      draws.push(Math.min(30000, ms + (rnd() * 2 - 1) * 0.5 * ms));
    }
    expect(ksUniform(draws, 100, 30000)).toBeGreaterThan(0.9);
  });

  it('is full jitter: the first window starts at the floor, not at half the ceiling', () => {
    const b = new Backoff(seeded(4), { baseMs: 1000, minDelayMs: 0 });
    const draws: number[] = [];
    for (let i = 0; i < 10000; i++) {
      b.reset();
      draws.push(b.next());
    }
    expect(Math.min(...draws)).toBeLessThan(10);
    expect(ksUniform(draws, 0, 1000)).toBeLessThan(ksCritical(draws.length));
  });

  it('adds Retry-After (notBeforeMs) under the jitter', () => {
    const b = new Backoff(seeded(5), { baseMs: 1000, minDelayMs: 0 });
    for (let i = 0; i < 100; i++) {
      b.reset();
      const d = b.next(1, 60000);
      expect(d).toBeGreaterThanOrEqual(60000);
      expect(d).toBeLessThanOrEqual(61000);
    }
  });

  it('scales ceiling and cap by the class multiplier (harder)', () => {
    const b = new Backoff(seeded(6), { baseMs: 1000, capMs: 30000 });
    expect(b.ceilingFor(0, 16)).toBe(16000);
    expect(b.ceilingFor(50, 16)).toBe(480000);
    b.attempt = 50;
    for (let i = 0; i < 100; i++) {
      b.attempt = 50;
      expect(b.next(16)).toBeLessThanOrEqual(480000);
    }
    expect(b.ceiling).toBe(480000);
  });

  it('survives a huge attempt count without NaN', () => {
    const b = new Backoff(seeded(7), { baseMs: 0.001, capMs: 5000 });
    b.attempt = 1e6;
    const d = b.next();
    expect(Number.isFinite(d)).toBe(true);
    expect(d).toBeLessThanOrEqual(5000);
  });

  it('resets the attempt counter only after a connection stayed up ≥ minUptime', () => {
    const b = new Backoff(seeded(8), { minUptimeMs: 5000 });
    b.next();
    b.next();
    b.next();
    b.opened(1000);
    expect(b.closed(5999)).toBe(false);
    expect(b.attempt).toBe(3);
    b.opened(10000);
    expect(b.closed(15000)).toBe(true);
    expect(b.attempt).toBe(0);
    expect(b.closed(99999)).toBe(false); // closed() without opened() is not a stable connection
  });

  it('counts nothing while frozen, then retries at once with jitter, uncounted', () => {
    const b = new Backoff(seeded(9), { baseMs: 1000, minDelayMs: 100, maxRetries: 3 });
    b.next();
    b.next();
    b.freeze();
    for (let i = 0; i < 10; i++) expect(b.next()).toBe(-1);
    expect(b.attempt).toBe(2);
    expect(b.exhausted).toBe(false);
    b.thaw();
    const d = b.next(16);
    expect(d).toBeGreaterThanOrEqual(100);
    expect(d).toBeLessThanOrEqual(1000); // U(floor, base), not the 16× window
    expect(b.attempt).toBe(2);
    expect(b.next()).toBeGreaterThanOrEqual(100); // the third counted retry
    expect(b.ceiling).toBe(4000);
    expect(b.exhausted).toBe(true);
  });

  it('stops with -1 once the retry budget is spent, until reset', () => {
    const b = new Backoff(seeded(10), { maxRetries: 2 });
    expect(b.next()).toBeGreaterThanOrEqual(0);
    expect(b.next()).toBeGreaterThanOrEqual(0);
    expect(b.next()).toBe(-1);
    expect(b.exhausted).toBe(true);
    b.reset();
    expect(b.next()).toBeGreaterThanOrEqual(0);
  });

  describe('the fleet window (dropWindowMs)', () => {
    /** A Backoff whose last connection, opened at 0, stayed up `uptime` ms. */
    const afterConnection = (uptime: number, opts = {}, seed = 12) => {
      const b = new Backoff(seeded(seed), opts);
      b.opened(0);
      b.closed(uptime);
      return b;
    };

    it('defaults to 5000 ms, and is never wider than the cap', () => {
      expect(new Backoff(seeded(1)).dropWindowMs).toBe(5000);
      expect(new Backoff(seeded(1), { dropWindowMs: 8000 }).dropWindowMs).toBe(8000);
      expect(new Backoff(seeded(1), { capMs: 2000 }).dropWindowMs).toBe(2000);
    });

    it('arms only when a stable connection ends: not at boot, not after a short one', () => {
      const boot = new Backoff(seeded(13));
      expect(boot.afterDrop).toBe(false);
      boot.next();
      expect(boot.ceiling).toBe(1000);

      const short = afterConnection(4999);
      expect(short.afterDrop).toBe(false);
      short.next();
      expect(short.ceiling).toBe(1000);

      const stable = afterConnection(5000);
      expect(stable.afterDrop).toBe(true);
      stable.next();
      expect(stable.ceiling).toBe(5000);
    });

    it('applies to every retry until the device is open again: windows 5, 5, 5, 8, 16, 30 s', () => {
      const b = afterConnection(60000);
      const ceilings: number[] = [];
      for (let i = 0; i < 7; i++) {
        b.next();
        ceilings.push(b.ceiling);
      }
      expect(ceilings).toEqual([5000, 5000, 5000, 8000, 16000, 30000, 30000]);
      expect(b.attempt).toBe(7);
      // Open again: gone, even if that connection is short and the counter goes on.
      b.opened(100000);
      expect(b.afterDrop).toBe(false);
      expect(b.closed(100050)).toBe(false);
      b.next();
      expect(b.ceiling).toBe(30000);
      b.reset();
      b.next();
      expect(b.ceiling).toBe(1000);
    });

    it('leaves wider windows alone: a class multiplier or a larger ceiling wins', () => {
      const b = afterConnection(60000);
      b.next(16);
      expect(b.ceiling).toBe(16000);
      b.next(4);
      expect(b.ceiling).toBe(8000);
      const c = afterConnection(60000);
      c.next(4);
      expect(c.ceiling).toBe(5000); // try-later's first 4 s widened
    });

    it('draws U(minDelay, max(window, ceiling)), full jitter over the whole window (KS test)', () => {
      const draws: number[] = [];
      for (let i = 0; i < 5000; i++) {
        const b = afterConnection(60000, {}, 1000 + i);
        const d = b.next();
        expect(d).toBeGreaterThanOrEqual(100);
        expect(d).toBeLessThanOrEqual(5000);
        draws.push(d);
      }
      expect(ksUniform(draws, 100, 5000)).toBeLessThan(ksCritical(draws.length));
      expect(Math.min(...draws)).toBeLessThan(200);
      expect(Math.max(...draws)).toBeGreaterThan(4900);
      // Retry-After goes under it, as under the usual window.
      const b = afterConnection(60000);
      const d = b.next(1, 60000);
      expect(d).toBeGreaterThanOrEqual(60100);
      expect(d).toBeLessThanOrEqual(65000);
    });

    it('is off with 0: the plain exponential windows after a stable connection', () => {
      const b = afterConnection(60000, { dropWindowMs: 0 });
      const ceilings: number[] = [];
      for (let i = 0; i < 4; i++) {
        b.next();
        ceilings.push(b.ceiling);
      }
      expect(ceilings).toEqual([1000, 2000, 4000, 8000]);
    });

    it('is not armed by a connection that ends while frozen (Wi-Fi lost)', () => {
      const b = new Backoff(seeded(14));
      b.opened(0);
      b.freeze();
      expect(b.closed(60000)).toBe(true); // still a healthy connection: the counter resets
      expect(b.afterDrop).toBe(false);
      b.thaw();
      b.next();
      b.next();
      expect(b.ceiling).toBe(1000);
    });

    it('is ignored by the prompt retry after thaw(), and applies again after it', () => {
      const b = afterConnection(60000);
      b.next();
      b.freeze();
      b.thaw();
      for (let i = 0; i < 200; i++) {
        b.freeze();
        b.thaw();
        expect(b.next()).toBeLessThanOrEqual(1000);
        expect(b.ceiling).toBe(1000);
      }
      expect(b.attempt).toBe(1);
      expect(b.afterDrop).toBe(true);
      b.next(); // counted: the server may still be down
      expect(b.ceiling).toBe(5000);
    });
  });

  it('exposes the last delay for stats', () => {
    const b = new Backoff(seeded(11));
    expect(b.delay).toBe(-1);
    const d = b.next();
    expect(b.delay).toBe(d);
  });
});
