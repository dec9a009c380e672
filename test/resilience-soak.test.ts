/**
 * Soak: no heap growth across 1000 reconnect cycles (esp-protocols#1104 and
 * mongoose#755 leaked on every reconnect), and an outbox that stays bounded under a
 * flood of sends while the link is down. Virtual net, JS core (the Pico W's).
 *
 * The heap is measured after a full collection. Node exposes `gc` only with
 * --expose-gc, and vitest's config is not ours to change, so the flag is set at run
 * time (v8.setFlagsFromString) and `gc` taken from a fresh context, where V8 installs
 * it once the flag is on: the same collector --expose-gc gives.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ResilientClient } from '../src/resilience/resilient-client';
import { frame } from './vectors/build';
import { VirtualNet } from './helpers/virtual-net';

/** FinalizationRegistry (ES2021; tsconfig's lib is older: src/ must run on es2019 engines). */
const Finalizers = (globalThis as unknown as { FinalizationRegistry: new <T>(cb: (held: T) => void) => { register(target: object, held: T): void } }).FinalizationRegistry;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  // Twice: the first pass can leave objects that only the second frees (weak callbacks).
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('soak', () => {
  it('has a real collector to measure with', () => {
    expect(typeof gc).toBe('function');
  });

  it('does not grow the heap across 1000 reconnect cycles, and frees every connection', async () => {
    const net = new VirtualNet({ latencyMs: 2 });
    const ledger = net.acks();
    const c = new ResilientClient('ws://sensor.local/t', net.runtime(42), {
      atLeastOnce: true,
      link: net.link,
      linkPollInterval: 500,
      backoff: { baseMs: 100, capMs: 400, minDelayMs: 10, minUptimeMs: 50 },
      pingInterval: 300,
      pongTimeout: 400,
      pongTimeoutFloor: 200,
      connectTimeout: 1000,
      handshakeTimeout: 1000,
    });
    // The first 100 cycles' WebSockets and LivenessMonitors, watched for collection: a
    // leaked connection stays reachable. (A FinalizationRegistry, not WeakRefs: a WeakRef
    // keeps its target alive until the current job ends, and this loop is one job. Only
    // before the first heap sample: each registration holds a cell until its finalizer
    // runs, after the loop, which would count as growth.)
    const internals = c as unknown as { ws: object | null; liveness: object | null };
    const collected = { ws: 0, liveness: 0 };
    const registry = new Finalizers((kind: 'ws' | 'liveness') => collected[kind]++);
    let watched = 0;
    let opens = 0;
    let closes = 0;
    let sent = 0;
    const causes: { [k: string]: number } = {};
    c.onevent = (ev) => {
      if (ev.type === 'open') {
        opens++;
        if (opens <= 100 && internals.ws && internals.liveness) {
          registry.register(internals.ws, 'ws');
          registry.register(internals.liveness, 'liveness');
          watched++;
        }
      } else if (ev.type === 'close') {
        closes++;
        causes[ev.cause] = (causes[ev.cause] || 0) + 1;
      }
    };
    c.start();
    const heap: { [cycle: number]: number } = {};
    const pendingAt: { [cycle: number]: number } = {};
    let cycle = 0;
    while (cycle < 1000) {
      net.runUntil(() => c.state === 'open', 60000, 5);
      expect(c.state).toBe('open');
      const conn = net.last;
      // Some traffic each way: telemetry out (acked), a message in, a ping.
      for (let i = 0; i < 3; i++) c.send('{"n":' + ++sent + ',"v":"' + 'x'.repeat(40) + '"}');
      conn.sendText('{"cmd":"noop","cycle":' + cycle + '}');
      net.advance(350);
      // Then end the connection, a different way each cycle.
      switch (cycle % 6) {
        case 0:
          conn.reset();
          break;
        case 1:
          conn.sendClose(1001, 'going away');
          break;
        case 2:
          conn.blackhole(true);
          break;
        case 3:
          conn.sendBytes(frame(0x3, 'bad'));
          break;
        case 4:
          conn.fin();
          break;
        case 5:
          net.linkUp = false;
          net.clock.after(700, () => (net.linkUp = true));
          break;
      }
      net.runUntil(() => c.state !== 'open', 60000, 5);
      cycle++;
      // The harness's own records are not the client's: drop them so only the client could grow.
      for (let i = net.connections.length - 1; i >= 0; i--) if (net.connections[i].state === 'closed' || net.connections[i].holed || net.connections[i] !== net.last) net.connections.splice(i, 1);
      net.targets.length = 0;
      (ledger.delivered.get(c.sid) || []).length = 0;
      (ledger.data.get(c.sid) || []).length = 0;
      if (cycle === 100 || cycle === 550 || cycle === 1000) {
        heap[cycle] = heapAfterGc();
        pendingAt[cycle] = net.clock.pending;
      }
    }
    net.runUntil(() => c.stats.acked === sent, 60000, 5);
    const growth = heap[1000] - heap[100];
    console.log(
      `soak: heap after gc at cycle 100 = ${(heap[100] / 1024).toFixed(0)} KiB, at 550 = ${(heap[550] / 1024).toFixed(0)} KiB, at cycle 1000 = ${(heap[1000] / 1024).toFixed(0)} KiB, ` +
        `growth ${(growth / 1024).toFixed(1)} KiB over 900 cycles (${(growth / 900).toFixed(0)} B/cycle); ` +
        `opens ${opens}, closes ${closes} ${JSON.stringify(causes)}, timers pending ${pendingAt[100]} → ${pendingAt[1000]}`,
    );
    expect(opens).toBeGreaterThanOrEqual(1000);
    expect(closes).toBeGreaterThanOrEqual(1000);
    for (const cause of ['transport-error', 'peer-closed', 'pong-timeout', 'protocol-error', 'wifi-lost']) expect(causes[cause], cause).toBeGreaterThan(100);
    // Nothing lost on the way, and nothing left behind.
    expect(c.stats).toMatchObject({ acked: sent, queued: 0, inFlight: 0, dropped: 0 });
    expect(ledger.highest.get(c.sid)).toBe(sent);
    expect(pendingAt[1000]).toBeLessThanOrEqual(pendingAt[100] + 2);
    // V8's own warm-up (optimised code, feedback vectors) moves heapUsed in steps: 100 →
    // 1000 gave -62 to +297 KiB over runs, and once, in a loaded CI run, one step of
    // 568 KiB between cycles 550 and 1000 after a flat 100 → 550. A leak grows in both
    // halves; a step lands in one. One connection kept per cycle measured 3.9 KiB/cycle:
    // a leak of 600 B a cycle or more adds at least 264 KiB to each half of 450 cycles,
    // so the smaller half stays under 256 KiB only without one. The exact check is the
    // collection of every connection, below.
    const halves = [heap[550] - heap[100], heap[1000] - heap[550]];
    expect(Math.min(halves[0], halves[1]), `growth per half ${halves.map((h) => (h / 1024).toFixed(0)).join(', ')} KiB`).toBeLessThan(256 * 1024);
    c.stop();
    net.advance(5000);
    // The precise check: every connection's objects were collected (the finalizers run
    // on later turns, after a collection).
    for (let i = 0; i < 20 && (collected.ws < watched || collected.liveness < watched); i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    console.log(`soak: of the first ${watched} connections' WebSockets and liveness monitors, collected: ${collected.ws} and ${collected.liveness}`);
    expect(watched).toBe(100);
    expect(collected.ws).toBe(watched);
    expect(collected.liveness).toBe(watched);
  });

  it('keeps the outbox bounded under a flood of sends while disconnected', () => {
    const net = new VirtualNet();
    net.refuse = true;
    const c = new ResilientClient('ws://sensor.local/t', net.runtime(7), { outbox: { maxCount: 32, maxBytes: 4096 } });
    let dropped = 0;
    c.onevent = (ev) => {
      if (ev.type === 'dropped') dropped++;
    };
    c.start();
    const payload = '{"reading":' + '1'.repeat(100) + '}';
    for (let i = 0; i < 1000; i++) c.send(payload);
    const before = heapAfterGc();
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 1000; i++) c.send(payload.slice(0, 100) + (i % 10) + '}');
      net.advance(100);
      expect(c.outbox.length).toBeLessThanOrEqual(32);
      expect(c.outbox.bytes).toBeLessThanOrEqual(4096);
    }
    const after = heapAfterGc();
    console.log(`flood: 101000 sends while down, outbox ${c.outbox.length} messages / ${c.outbox.bytes} B, heap ${((after - before) / 1024).toFixed(1)} KiB after vs before`);
    expect(c.stats.queued).toBeLessThanOrEqual(32);
    expect(c.stats.dropped).toBe(101000 - c.stats.queued);
    expect(dropped).toBe(c.stats.dropped);
    expect(after - before).toBeLessThan(64 * 1024);
    c.stop();
  });
});
