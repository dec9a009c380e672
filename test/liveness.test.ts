/**
 * Liveness on virtual time: the LivenessMonitor alone, then a whole ResilientClient
 * connection over the virtual net (JS core), measuring exactly when a dead link is
 * declared dead and proving a slow but live one never is.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/client/clock';
import { LivenessMonitor, type LivenessOptions } from '../src/resilience/liveness';
import { ResilientClient, type ResilientEvent, type ResilientOptions } from '../src/resilience/resilient-client';
import { concat, frame } from './vectors/build';
import { VirtualNet } from './helpers/virtual-net';

/** A monitor on a virtual clock that records its pings and its verdict. */
function monitor(opts: LivenessOptions = {}) {
  const clock = new VirtualClock(0);
  const pings: { at: number; payload: Uint8Array }[] = [];
  const deaths: { at: number; silentMs: number }[] = [];
  const m = new LivenessMonitor(
    clock,
    {
      sendPing: (p) => pings.push({ at: clock.now(), payload: p.slice() }),
      dead: (silentMs) => deaths.push({ at: clock.now(), silentMs }),
    },
    opts,
  );
  return { clock, m, pings, deaths };
}

describe('LivenessMonitor', () => {
  it('pings after pingInterval of inbound silence, and not before', () => {
    const { clock, m, pings } = monitor();
    m.start();
    clock.advance(4999);
    expect(pings).toHaveLength(0);
    clock.advance(1);
    expect(pings.map((p) => p.at)).toEqual([5000]);
  });

  it('counts every inbound byte as proof of life: no ping while bytes keep coming', () => {
    const { clock, m, pings, deaths } = monitor();
    m.start();
    for (let t = 0; t < 60000; t += 4000) {
      clock.advance(4000);
      m.bytesReceived();
    }
    expect(pings).toHaveLength(0);
    expect(deaths).toHaveLength(0);
    // Then silence: the ping goes out pingInterval after the last byte.
    clock.advance(5000);
    expect(pings.map((p) => p.at)).toEqual([65000]);
  });

  it('declares death pingInterval + deadline after the last byte when nothing answers', () => {
    const { clock, m, pings, deaths } = monitor();
    m.addRttSample(3); // a LAN: the floor applies
    m.start();
    clock.advance(20000);
    expect(pings.map((p) => p.at)).toEqual([5000]);
    expect(deaths).toEqual([{ at: 7000, silentMs: 7000 }]);
  });

  it('uses the ceiling (pongTimeout) before any RTT is known', () => {
    const { clock, m, deaths } = monitor();
    m.start();
    clock.advance(20000);
    expect(m.deadline).toBe(5000);
    expect(deaths.map((d) => d.at)).toEqual([10000]);
  });

  it('adapts the deadline to 4 x smoothed RTT, within [floor, ceiling]', () => {
    const { m } = monitor();
    expect(m.deadline).toBe(5000);
    m.addRttSample(10);
    expect(m.deadline).toBe(2000); // floor
    const b = monitor().m;
    b.addRttSample(700);
    expect(b.deadline).toBe(2800);
    const c = monitor().m;
    c.addRttSample(3000);
    expect(c.deadline).toBe(5000); // ceiling
    // RFC 6298 smoothing: 7/8 old + 1/8 new.
    const d = monitor().m;
    d.addRttSample(100);
    d.addRttSample(900);
    expect(d.srtt).toBe(200);
    expect(d.lastRtt).toBe(900);
    // A floor above the ceiling is clamped to it.
    const e = monitor({ pongTimeout: 1000, pongTimeoutFloor: 3000 }).m;
    e.addRttSample(1);
    expect(e.deadline).toBe(1000);
    // So is the default floor (2 s): a lowered ceiling alone holds after the first sample too.
    const f = monitor({ pongTimeout: 1000 }).m;
    f.addRttSample(1);
    expect(f.deadline).toBe(1000);
    f.addRttSample(5000);
    expect(f.deadline).toBe(1000);
  });

  it('takes an RTT sample only from the pong that answers its own ping', () => {
    const { clock, m, pings } = monitor();
    m.start();
    clock.advance(5000);
    expect(pings).toHaveLength(1);
    clock.advance(40);
    m.pongReceived(new Uint8Array([9, 9, 9, 9])); // unsolicited: life, not an RTT
    expect(m.srtt).toBe(-1);
    clock.advance(60);
    m.pongReceived(pings[0].payload);
    expect(m.lastRtt).toBe(100);
    expect(m.srtt).toBe(100);
    // The next ping carries a new sequence number.
    clock.advance(5000);
    expect(pings).toHaveLength(2);
    expect(Array.from(pings[1].payload)).not.toEqual(Array.from(pings[0].payload));
  });

  it('schedules the next ping pingInterval after a pong, not at the old deadline', () => {
    const { clock, m, pings } = monitor({ pingInterval: 1000 });
    m.addRttSample(2);
    m.start();
    clock.advance(1000);
    clock.advance(5);
    m.pongReceived(pings[0].payload);
    clock.advance(1000);
    expect(pings.map((p) => p.at)).toEqual([1000, 2005]);
  });

  it('is off with pingInterval 0, and silent after stop()', () => {
    const off = monitor({ pingInterval: 0 });
    off.m.start();
    off.clock.advance(100000);
    expect(off.pings).toHaveLength(0);
    expect(off.clock.pending).toBe(0);
    const s = monitor();
    s.m.start();
    s.clock.advance(5000);
    s.m.stop();
    s.clock.advance(100000);
    expect(s.pings).toHaveLength(1);
    expect(s.deaths).toHaveLength(0);
    expect(s.clock.pending).toBe(0);
  });
});

/** A ResilientClient on a virtual net, with a log of its events stamped in virtual ms. */
function client(net: VirtualNet, opts: ResilientOptions = {}) {
  const c = new ResilientClient('ws://sensor.local/telemetry', net.runtime(), opts);
  const events: { at: number; ev: ResilientEvent }[] = [];
  c.onevent = (ev) => events.push({ at: net.clock.now(), ev });
  const first = (type: string) => events.find((e) => e.ev.type === type);
  return { c, events, first };
}

/** Opens a connection with the defaults, runs it `upMs`, blackholes it; returns when the client declared it dead, relative to the blackhole and to the last byte received. */
function blackholeDetection(latencyMs: number, upMs: number) {
  const net = new VirtualNet({ latencyMs });
  const { c, first } = client(net);
  c.start();
  net.advance(upMs);
  expect(c.state).toBe('open');
  const conn = net.last;
  const since = net.clock.now();
  const lastByte = conn.lastToClientAt;
  conn.blackhole(true);
  const took = net.runUntil(() => !!first('close'), 30000);
  const close = first('close') as { at: number; ev: Extract<ResilientEvent, { type: 'close' }> };
  c.stop();
  return { took, afterLastByte: close.at - lastByte, close: close.ev, sinceBlackhole: close.at - since, conn };
}

describe('liveness on a whole connection (virtual net, defaults)', () => {
  it('sends the first ping pingInterval after the last inbound byte', () => {
    const net = new VirtualNet({ latencyMs: 1 });
    const { c, first } = client(net);
    c.start();
    net.advance(10);
    const openAt = (first('open') as { at: number }).at;
    net.advance(5100);
    // Sent at open + 5000, arriving one latency later.
    expect(net.last.pingTimes).toEqual([openAt + 5000 + 1]);
    c.stop();
  });

  it('keeps pinging every pingInterval after each pong on a quiet link (a keepalive for NAT and idle timeouts)', () => {
    const net = new VirtualNet({ latencyMs: 1 });
    const { c } = client(net, { pingInterval: 500 });
    c.start();
    net.advance(10);
    net.advance(5000);
    const times = net.last.pingTimes;
    expect(times.length).toBeGreaterThanOrEqual(9);
    // Each ping goes pingInterval after the previous pong arrived (RTT 2 ms), not after the old deadline.
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(502);
    c.stop();
  });

  it('sends no ping while the server keeps talking, then one 5 s after it stops', () => {
    const net = new VirtualNet({ latencyMs: 1 });
    const { c } = client(net);
    c.start();
    net.advance(10);
    for (let i = 0; i < 10; i++) {
      net.last.sendText('reading ' + i);
      net.advance(4000);
    }
    const conn = net.last;
    expect(conn.pingsReceived).toBe(0);
    const last = conn.lastToClientAt;
    net.advance(2000);
    expect(conn.pingTimes).toEqual([last + 5000 + 1]);
    c.stop();
  });

  it('declares a blackholed LAN link dead exactly 7 s after its last byte (pong-timeout, 1006)', () => {
    const r = blackholeDetection(1, 12000);
    expect(r.close.cause).toBe('pong-timeout');
    expect(r.close.code).toBe(1006);
    expect(r.close.wasClean).toBe(false);
    expect(r.close.errorId).toBe('PONG_TIMEOUT');
    // pingInterval 5000 + the RTT-adapted deadline, here its 2000 floor.
    expect(r.afterLastByte).toBe(7000);
    expect(r.sinceBlackhole).toBeGreaterThan(0);
    expect(r.sinceBlackhole).toBeLessThanOrEqual(7000);
  });

  it('never takes more than 10 s from the blackhole, wherever in the ping cycle it starts, and at least the floor', () => {
    const seen: number[] = [];
    for (let up = 6000; up < 17000; up += 250) {
      const r = blackholeDetection(1, up);
      expect(r.close.cause).toBe('pong-timeout');
      expect(r.afterLastByte).toBe(7000);
      seen.push(r.sinceBlackhole);
    }
    expect(Math.max(...seen)).toBeLessThanOrEqual(10000);
    // The detection time depends on where the ping cycle was: spread over (2000, 7000].
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(2000);
    expect(Math.min(...seen)).toBeLessThan(2300);
    expect(Math.max(...seen)).toBeGreaterThan(6700);
  });

  it('adapts the deadline to the RTT: floor on a LAN, 4 x RTT between, ceiling on a slow link (≤ 10 s after the last byte)', () => {
    // One-way latency → RTT 2L → deadline clamp(4 · 2L, 2000, 5000).
    const cases: [number, number][] = [
      [1, 2000],
      [300, 2400],
      [500, 4000],
      [1500, 5000],
    ];
    for (const [latency, deadline] of cases) {
      const r = blackholeDetection(latency, 16000);
      expect(r.close.cause, 'latency ' + latency).toBe('pong-timeout');
      expect(r.afterLastByte, 'latency ' + latency).toBe(5000 + deadline);
      expect(r.sinceBlackhole).toBeLessThanOrEqual(10000);
    }
  });

  it('keeps a connection whose pong is stuck behind a large frame arriving slowly (every byte postpones the deadline)', () => {
    const net = new VirtualNet({ latencyMs: 1 });
    const { c, events } = client(net);
    c.start();
    net.advance(10);
    const conn = net.last;
    conn.autoPong = false;
    const big = new Uint8Array(6000);
    for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
    let trickleMs = -1;
    let pingAt = -1;
    net.onPing = (s, payload) => {
      if (pingAt >= 0) return;
      pingAt = net.clock.now();
      // TCP is in order: the pong can only come after the whole frame, 200 bytes every 4 s.
      trickleMs = s.trickle(concat([frame(0x2, big), frame(0xa, payload)]), 200, 4000);
    };
    net.advance(5010);
    expect(pingAt).toBeGreaterThan(0);
    // Until just after the frame and the pong behind it are in (the peer answers no later ping).
    net.advance(trickleMs + 100);
    // The frame took far longer than any pong deadline (2 s here, 5 s at most)...
    expect(trickleMs).toBeGreaterThan(100000);
    // ...yet the connection lived, and the message arrived whole.
    expect(events.filter((e) => e.ev.type === 'close')).toHaveLength(0);
    expect(c.state).toBe('open');
    const msg = events.find((e) => e.ev.type === 'message');
    expect(msg).toBeDefined();
    expect(Array.from((msg!.ev as { data: Uint8Array }).data)).toEqual(Array.from(big));
    c.stop();
  });

  it('raises no false alarm while data keeps arriving from a peer that never answers pings', () => {
    // Every 6 s: longer than pingInterval, so pings go out and are never answered.
    const net = new VirtualNet({ latencyMs: 1 });
    net.autoPong = false;
    const { c, events } = client(net);
    c.start();
    net.advance(10);
    for (let i = 0; i < 20; i++) {
      net.last.sendText('{"t":' + i + '}');
      net.advance(6000);
    }
    expect(net.last.pingsReceived).toBeGreaterThan(10);
    expect(events.filter((e) => e.ev.type === 'close')).toHaveLength(0);
    expect(c.state).toBe('open');
    c.stop();
  });

  it('does declare such a peer dead once data is further apart than pingInterval + deadline (pongs are mandatory)', () => {
    const net = new VirtualNet({ latencyMs: 1 });
    net.autoPong = false;
    const { c, first } = client(net);
    c.start();
    net.advance(10);
    const conn = net.last;
    const t = setInterval0(net, () => conn.sendText('{"slow":1}'), 7500);
    net.runUntil(() => !!first('close'), 30000);
    t.stop();
    const close = first('close') as { at: number; ev: Extract<ResilientEvent, { type: 'close' }> };
    expect(close.ev.cause).toBe('pong-timeout');
    expect(close.at - conn.lastToClientAt).toBe(7000);
    c.stop();
  });
});

/** A repeating timer on the virtual clock. */
function setInterval0(net: VirtualNet, fn: () => void, everyMs: number) {
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    fn();
    net.clock.after(everyMs, tick);
  };
  net.clock.after(everyMs, tick);
  return { stop: () => (stopped = true) };
}
