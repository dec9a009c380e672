/**
 * ResilientClient end to end on virtual time: the reconnect policy row by row, the
 * jittered backoff across a fleet, the Wi-Fi hook, the outbox and at-least-once
 * delivery, stats and events. Every connection is a real picows connection (JS core,
 * the Pico W's) against the scripted server of test/helpers/virtual-net.ts.
 */
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/client/connection';
import { WebSocket } from '../src/client/websocket';
import { ResilientClient, type ResilientEvent, type ResilientOptions } from '../src/resilience/resilient-client';
import { frame, hex } from './vectors/build';
import { seededRandom32, type ServerConn, VirtualNet } from './helpers/virtual-net';

const URL = 'ws://sensor.local/telemetry';
type Ev<T extends ResilientEvent['type']> = Extract<ResilientEvent, { type: T }>;
type Stamped<T extends ResilientEvent['type']> = { at: number; ev: Ev<T> };

function setup(opts: ResilientOptions = {}, net = new VirtualNet(), seed?: number, url = URL) {
  const c = new ResilientClient(url, net.runtime(seed), opts);
  const log: { at: number; ev: ResilientEvent }[] = [];
  c.onevent = (ev) => log.push({ at: net.clock.now(), ev });
  const of = <T extends ResilientEvent['type']>(type: T) => log.filter((e) => e.ev.type === type) as Stamped<T>[];
  return { net, c, log, of };
}

/** A client that connected once, then was stopped by the application (ready to start() again). */
function openedThenStopped(net: VirtualNet, opts: ResilientOptions): ResilientClient {
  const { c } = setup(opts, net);
  c.start();
  net.runUntil(() => c.state === 'open', 5000);
  c.stop();
  net.runUntil(() => c.state === 'stopped', 5000);
  return c;
}

/** Runs `fn` on every connection `ms` after the server opened it. */
function onEachOpen(net: VirtualNet, ms: number, fn: (conn: ServerConn) => void): void {
  net.onOpen = (conn) => net.clock.after(ms, () => fn(conn));
}

/** The client's reconnect-scheduled events. */
function delaysOf(of: ReturnType<typeof setup>['of']) {
  return of('reconnect-scheduled').map((e) => e.ev);
}

// ---------------------------------------------------------------------------
// The policy table (src/resilience/policy.ts), one ending per row, end to end.
// ---------------------------------------------------------------------------

interface Row {
  name: string;
  arrange: (net: VirtualNet) => void;
  url?: string;
  cause: string;
  code: number;
  errorId: string | null;
  wasClean?: boolean;
  class: string;
  action: 'retry' | 'stop';
  harder?: number;
  /** Retry-After, ms. */
  notBefore?: number;
}

const closeWith = (code?: number): ((net: VirtualNet) => void) => (net) => onEachOpen(net, 50, (c) => c.sendClose(code));
const status = (s: number, headers?: { [k: string]: string }) => (net: VirtualNet) => {
  net.handshake = () => ({ status: s, headers });
};
const badFrame = (bytes: Uint8Array) => (net: VirtualNet) => onEachOpen(net, 50, (c) => c.sendBytes(bytes));

const ROWS: Row[] = [
  // transient, ×1
  { name: 'TCP connect never completes', arrange: (n) => (n.connectHangs = true), cause: 'connect-timeout', code: 1006, errorId: 'CONNECT_TIMEOUT', class: 'transient', action: 'retry', harder: 1 },
  { name: 'connection refused', arrange: (n) => (n.refuse = true), cause: 'transport-error', code: 1006, errorId: 'CONNECT_FAILED', class: 'transient', action: 'retry', harder: 1 },
  { name: 'server never answers the upgrade', arrange: (n) => (n.handshake = () => 'silent'), cause: 'handshake-timeout', code: 1006, errorId: 'HANDSHAKE_TIMEOUT', class: 'transient', action: 'retry', harder: 1 },
  { name: 'link blackholed', arrange: (n) => onEachOpen(n, 50, (c) => c.blackhole(true)), cause: 'pong-timeout', code: 1006, errorId: 'PONG_TIMEOUT', class: 'transient', action: 'retry', harder: 1 },
  { name: 'server resets TCP', arrange: (n) => onEachOpen(n, 50, (c) => c.reset()), cause: 'transport-error', code: 1006, errorId: 'TRANSPORT_ERROR', class: 'transient', action: 'retry', harder: 1 },
  { name: 'server ends TCP without a Close', arrange: (n) => onEachOpen(n, 50, (c) => c.fin()), cause: 'transport-error', code: 1006, errorId: 'CONNECTION_LOST', class: 'transient', action: 'retry', harder: 1 },
  ...[1001, 1011, 1012, 1014, 3008].map(
    (code): Row => ({ name: 'server closes ' + code, arrange: closeWith(code), cause: 'peer-closed', code, errorId: null, wasClean: true, class: 'transient', action: 'retry', harder: 1 }),
  ),
  // try-later, ×4 (and Retry-After)
  { name: 'server closes 1013 try again later', arrange: closeWith(1013), cause: 'peer-closed', code: 1013, errorId: null, wasClean: true, class: 'try-later', action: 'retry', harder: 4 },
  { name: 'HTTP 503 with Retry-After: 7', arrange: status(503, { 'Retry-After': '7' }), cause: 'handshake-rejected', code: 1006, errorId: 'HANDSHAKE_STATUS', class: 'try-later', action: 'retry', harder: 4, notBefore: 7000 },
  { name: 'HTTP 429', arrange: status(429), cause: 'handshake-rejected', code: 1006, errorId: 'HANDSHAKE_STATUS', class: 'try-later', action: 'retry', harder: 4 },
  { name: 'HTTP 502', arrange: status(502), cause: 'handshake-rejected', code: 1006, errorId: 'HANDSHAKE_STATUS', class: 'try-later', action: 'retry', harder: 4 },
  // broken-peer, ×16
  { name: 'a frame with a reserved opcode', arrange: badFrame(frame(0x3, 'x')), cause: 'protocol-error', code: 1002, errorId: 'RESERVED_OPCODE', class: 'broken-peer', action: 'retry', harder: 16 },
  { name: 'a text message that is not UTF-8', arrange: badFrame(frame(0x1, hex('48 ff'))), cause: 'protocol-error', code: 1007, errorId: 'INVALID_UTF8', class: 'broken-peer', action: 'retry', harder: 16 },
  { name: 'a message over maxMessage', arrange: badFrame(frame(0x2, new Uint8Array(9000))), cause: 'protocol-error', code: 1009, errorId: 'MESSAGE_TOO_BIG', class: 'broken-peer', action: 'retry', harder: 16 },
  ...[1002, 1003, 1007, 1009, 1010].map(
    (code): Row => ({ name: 'server closes ' + code, arrange: closeWith(code), cause: 'peer-closed', code, errorId: null, wasClean: true, class: 'broken-peer', action: 'retry', harder: 16 }),
  ),
  { name: 'a wrong Sec-WebSocket-Accept', arrange: (n) => (n.handshake = () => ({ status: 101, accept: 'dGhlIHNhbXBsZSBub25jZQ==' })), cause: 'handshake-failed', code: 1006, errorId: 'HANDSHAKE_ACCEPT', class: 'broken-peer', action: 'retry', harder: 16 },
  { name: 'a Close frame where the upgrade response belongs', arrange: (n) => (n.onAccept = (c) => c.sendClose(1000)), cause: 'handshake-failed', code: 1006, errorId: 'HANDSHAKE_BAD_RESPONSE', class: 'broken-peer', action: 'retry', harder: 16 },
  { name: 'HTTP 404', arrange: status(404), cause: 'handshake-rejected', code: 1006, errorId: 'HANDSHAKE_STATUS', class: 'broken-peer', action: 'retry', harder: 16 },
  { name: 'HTTP 301', arrange: status(301, { Location: 'ws://elsewhere/' }), cause: 'handshake-rejected', code: 1006, errorId: 'HANDSHAKE_STATUS', class: 'broken-peer', action: 'retry', harder: 16 },
  // rejected: stop
  ...[1008, 3000, 3003].map(
    (code): Row => ({ name: 'server closes ' + code, arrange: closeWith(code), cause: 'peer-closed', code, errorId: null, wasClean: true, class: 'rejected', action: 'stop' }),
  ),
  ...[401, 403, 407].map((s): Row => ({ name: 'HTTP ' + s, arrange: status(s), cause: 'handshake-rejected', code: 1006, errorId: 'HANDSHAKE_STATUS', class: 'rejected', action: 'stop' })),
  { name: 'an http:// URL', url: 'http://sensor.local/', arrange: () => undefined, cause: 'transport-error', code: 1006, errorId: 'INVALID_URL', class: 'rejected', action: 'stop' },
  { name: 'wss:// on a runtime without TLS', url: 'wss://sensor.local/', arrange: () => undefined, cause: 'transport-error', code: 1015, errorId: 'TLS_UNAVAILABLE', class: 'rejected', action: 'stop' },
  // server-normal, ×1
  { name: 'server closes 1000', arrange: closeWith(1000), cause: 'peer-closed', code: 1000, errorId: null, wasClean: true, class: 'server-normal', action: 'retry', harder: 1 },
  { name: 'server closes without a code (1005)', arrange: closeWith(undefined), cause: 'peer-closed', code: 1005, errorId: null, wasClean: true, class: 'server-normal', action: 'retry', harder: 1 },
  { name: 'server closes 4000', arrange: closeWith(4000), cause: 'peer-closed', code: 4000, errorId: null, wasClean: true, class: 'server-normal', action: 'retry', harder: 1 },
];

describe('the policy table, end to end', () => {
  for (const row of ROWS) {
    it(`${row.name} → ${row.cause} ${row.code} → ${row.class}: ${row.action}`, () => {
      const net = new VirtualNet();
      row.arrange(net);
      const { c, of } = setup({ connectTimeout: 3000, handshakeTimeout: 3000 }, net, 11, row.url);
      c.start();
      net.runUntil(() => of('close').length > 0, 20000);
      const close = of('close')[0];
      expect(close, 'a close event').toBeDefined();
      const ev = close.ev;
      expect({ cause: ev.cause, code: ev.code, errorId: ev.errorId }).toEqual({ cause: row.cause, code: row.code, errorId: row.errorId });
      expect(ev.wasClean).toBe(!!row.wasClean);
      expect(ev.decision && ev.decision.class).toBe(row.class);
      expect(ev.decision && ev.decision.action).toBe(row.action);
      const attemptsBefore = net.connectAttempts;
      if (row.action === 'stop') {
        expect(c.state).toBe('stopped');
        expect(of('stopped')).toHaveLength(1);
        expect(of('reconnect-scheduled')).toHaveLength(0);
        net.advance(600000);
        expect(net.connectAttempts).toBe(attemptsBefore);
        expect(c.stats.attempts).toBe(1);
        return;
      }
      expect(ev.decision && ev.decision.harder).toBe(row.harder);
      const rs = of('reconnect-scheduled');
      expect(rs).toHaveLength(1);
      expect(rs[0].at).toBe(close.at);
      expect(rs[0].ev.class).toBe(row.class);
      const notBefore = row.notBefore || 0;
      // First attempt: U(floor 100, harder × base 1000), on top of Retry-After.
      expect(rs[0].ev.delayMs).toBeGreaterThanOrEqual(notBefore + 100);
      expect(rs[0].ev.delayMs).toBeLessThanOrEqual(notBefore + (row.harder as number) * 1000);
      // The next attempt starts exactly then, not before.
      net.advance(rs[0].ev.delayMs - 1);
      expect(c.stats.attempts).toBe(1);
      net.advance(1);
      expect(c.stats.attempts).toBe(2);
      c.stop();
    });
  }

  it('the application stopping → local-close, clean 1000, no reconnect', () => {
    const { net, c, of } = setup();
    c.start();
    net.advance(100);
    c.stop();
    net.advance(100);
    const close = of('close')[0].ev;
    expect({ cause: close.cause, code: close.code, wasClean: close.wasClean }).toEqual({ cause: 'local-close', code: 1000, wasClean: true });
    expect(close.decision).toMatchObject({ class: 'user', action: 'stop' });
    expect(net.last.clientCloseCode).toBe(1000);
    expect(c.state).toBe('stopped');
    net.advance(600000);
    expect(net.connectAttempts).toBe(1);
    expect(of('reconnect-scheduled')).toHaveLength(0);
  });

  it('stop() called from inside a close, reconnect-scheduled or state listener is honoured', () => {
    for (const type of ['close', 'reconnect-scheduled', 'state'] as const) {
      const { net, c, of } = setup();
      onEachOpen(net, 50, (conn) => conn.reset());
      c.start();
      net.advance(20);
      const prev = c.onevent as (ev: ResilientEvent) => void;
      c.onevent = (ev) => {
        prev(ev);
        if (ev.type === type && (type !== 'state' || (ev as Ev<'state'>).state === 'connecting')) c.stop();
      };
      net.advance(600000);
      expect(c.state, type).toBe('stopped');
      expect(of('stopped'), type).toHaveLength(1);
      // The reset's close, then nothing: no attempt after stop().
      expect(net.connectAttempts, type).toBe(1);
    }
  });

  it('stop() during the backoff cancels the retry; stop() while connecting ends the attempt', () => {
    const a = setup();
    a.net.refuse = true;
    a.c.start();
    a.net.advance(10);
    expect(a.c.state).toBe('backoff');
    a.c.stop();
    a.net.advance(600000);
    expect(a.net.connectAttempts).toBe(1);
    expect(a.c.state).toBe('stopped');
    const b = setup();
    b.net.connectHangs = true;
    b.c.start();
    b.net.advance(10);
    b.c.stop();
    b.net.advance(1); // WHATWG: the close event of a connecting socket comes on a later turn
    expect(b.of('close')[0].ev.cause).toBe('local-close');
    expect(b.c.state).toBe('stopped');
    b.net.advance(600000);
    expect(b.net.connectAttempts).toBe(1);
  });
});

// ---------------------------------------------------------------------------
// Backoff: bounds, growth, jitter across a fleet, reset after min uptime.
// ---------------------------------------------------------------------------

describe('reconnect backoff', () => {
  it('grows within [100 ms, min(cap, 1000 · 2^n)] and connects exactly when scheduled', () => {
    const { net, c, of } = setup({ backoff: { capMs: 30000 } });
    net.refuse = true;
    c.start();
    net.runUntil(() => of('reconnect-scheduled').length >= 14, 3600000, 50);
    const rs = of('reconnect-scheduled');
    expect(c.stats.attempts).toBe(14);
    for (let i = 0; i < rs.length; i++) {
      const n = rs[i].ev.attempt - 1;
      expect(n).toBe(i);
      expect(rs[i].ev.delayMs).toBeGreaterThanOrEqual(100);
      expect(rs[i].ev.delayMs).toBeLessThanOrEqual(Math.min(30000, 1000 * Math.pow(2, n)));
    }
    // Refusals come back after one latency each way: the next schedule follows the connect by ~1 ms.
    for (let i = 1; i < rs.length; i++) expect(rs[i].at - rs[i - 1].at - rs[i - 1].ev.delayMs).toBeLessThanOrEqual(2);
    // At the cap the delay is still drawn from the whole window, not pinned to it.
    const atCap = rs.slice(6).map((e) => e.ev.delayMs);
    expect(new Set(atCap).size).toBe(atCap.length);
    c.stop();
  });

  it('spreads a fleet: 20 clients refused together never reconnect in lockstep, even at the cap', () => {
    const net = new VirtualNet();
    net.refuse = true;
    const fleet = Array.from({ length: 20 }, (_, i) => setup({ backoff: { capMs: 30000 } }, net, 1000 + i));
    for (const f of fleet) f.c.start();
    net.runUntil(() => fleet.every((f) => f.of('reconnect-scheduled').length >= 10), 3600000, 100);
    for (const attempt of [1, 5, 8, 9, 10]) {
      const delays = fleet.map((f) => f.of('reconnect-scheduled')[attempt - 1].ev.delayMs);
      const ceiling = Math.min(30000, 1000 * Math.pow(2, attempt - 1));
      // Spread over most of the window (full jitter after the cap: socket.io#2998), never bunched:
      // no 2 % of the window holds more than 3 of the 20.
      expect(Math.max(...delays) - Math.min(...delays), 'attempt ' + attempt).toBeGreaterThan(ceiling * 0.5);
      const slice = ceiling * 0.02;
      for (const d of delays) expect(delays.filter((x) => Math.abs(x - d) <= slice / 2).length, 'attempt ' + attempt).toBeLessThanOrEqual(3);
      for (const d of delays) expect(d).toBeLessThanOrEqual(ceiling);
    }
    // When the server comes back, the fleet arrives spread out, not in one instant.
    net.refuse = false;
    net.runUntil(() => fleet.every((f) => f.c.state === 'open'), 600000, 100);
    const opens = fleet.map((f) => f.of('open')[0].at);
    expect(Math.max(...opens) - Math.min(...opens)).toBeGreaterThan(10000);
    for (const f of fleet) f.c.stop();
  });

  it('same seed, same delays; different seed, different delays', () => {
    const run = (seed: number) => {
      const s = setup({}, new VirtualNet(), seed);
      s.net.refuse = true;
      s.c.start();
      s.net.runUntil(() => s.of('reconnect-scheduled').length >= 6, 600000, 50);
      return delaysOf(s.of).map((e) => e.delayMs);
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });

  /** Connections live 100 ms, except the fifth: 6 s, more than minUptime. Returns the reconnects and their ceilings. */
  const dropsAfterOneStable = (opts?: ResilientOptions) => {
    const { net, c, of } = setup(opts);
    const ceilings: number[] = [];
    const prev = c.onevent as (ev: ResilientEvent) => void;
    c.onevent = (ev) => {
      if (ev.type === 'reconnect-scheduled') ceilings.push(c.backoff.ceiling);
      prev(ev);
    };
    net.onOpen = (conn) => net.clock.after(conn.id === 5 ? 6000 : 100, () => conn.reset());
    c.start();
    net.runUntil(() => of('reconnect-scheduled').length >= 6, 600000, 10);
    c.stop();
    return { rs: of('reconnect-scheduled').map((e) => e.ev), ceilings };
  };

  it('keeps growing while connections drop at once, and resets after one stayed up minUptime (5 s)', () => {
    const { rs, ceilings } = dropsAfterOneStable({ backoff: { dropWindowMs: 0 } });
    // After connection k dropped, attempt k; connection 5 was healthy, so after it the count restarts.
    expect(rs.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 1, 2]);
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 1000, 2000]);
    expect(rs[4].delayMs).toBeLessThanOrEqual(1000);
  });

  it('after the stable connection dropped, waits in the 5 s fleet window until open again (the default)', () => {
    const { rs, ceilings } = dropsAfterOneStable();
    expect(rs.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 1, 2]);
    // Drop 5 ended a stable connection: U(0.1 s, 5 s). Connection 6 opened, which ends
    // the window; it lived 100 ms, so the counter goes on under the usual ceiling.
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 5000, 2000]);
    expect(rs[4].delayMs).toBeGreaterThanOrEqual(100);
    expect(rs[4].delayMs).toBeLessThanOrEqual(5000);
  });

  it('keeps the fleet window across refused retries, for server-normal closes too, and not after Wi-Fi lost', () => {
    // A server that closes 1000 (server-normal) after 6 s, then refuses for 20 s.
    const net = new VirtualNet();
    const { c, of } = setup({ link: net.link, linkPollInterval: 1000 }, net, 5);
    const ceilings: number[] = [];
    const prev = c.onevent as (ev: ResilientEvent) => void;
    c.onevent = (ev) => {
      if (ev.type === 'reconnect-scheduled') ceilings.push(c.backoff.ceiling);
      prev(ev);
    };
    net.onOpen = (conn) => {
      if (conn.id === 1)
        net.clock.after(6000, () => {
          conn.sendClose(1000);
          net.refuse = true;
          net.clock.after(20000, () => (net.refuse = false));
        });
    };
    c.start();
    net.runUntil(() => of('open').length >= 2, 600000, 10);
    const rs = of('reconnect-scheduled').map((e) => e.ev);
    expect(rs[0].class).toBe('server-normal');
    expect(rs.slice(1).every((e) => e.class === 'transient')).toBe(true);
    // 5, 5, 5, 8, 16 s …: max(5 s, 1 s × 2ⁿ) until the device is open again.
    expect(ceilings.slice(0, 5)).toEqual([5000, 5000, 5000, 8000, 16000]);
    for (const e of rs) expect(e.delayMs).toBeLessThanOrEqual(Math.max(5000, 1000 * 2 ** (e.attempt - 1)));
    expect(c.backoff.afterDrop).toBe(false);

    // Now 6 s of a healthy connection, then the radio goes: wifi-lost does not arm it.
    const opened = net.clock.now();
    net.runUntil(() => net.clock.now() >= opened + 6000, 600000, 10);
    net.linkUp = false;
    net.runUntil(() => c.state === 'waiting-link', 600000, 10);
    expect(c.backoff.afterDrop).toBe(false);
    net.refuse = true;
    net.linkUp = true;
    const n = ceilings.length;
    net.runUntil(() => ceilings.length >= n + 3, 600000, 10);
    // The prompt uncounted retry (base), then the usual 1 s, 2 s.
    expect(ceilings.slice(n, n + 3)).toEqual([1000, 1000, 2000]);
    c.stop();
  });
});

// ---------------------------------------------------------------------------
// The Wi-Fi hook.
// ---------------------------------------------------------------------------

describe('the Wi-Fi hook', () => {
  it('closes at once with wifi-lost, makes no attempt while down, and comes back promptly, jittered', () => {
    const net = new VirtualNet();
    const { c, of } = setup({ link: net.link, linkPollInterval: 1000 }, net);
    c.start();
    net.advance(10_000);
    expect(c.state).toBe('open');
    const attemptsBefore = net.connectAttempts;
    const backoffAttempt = c.backoff.attempt;
    net.linkUp = false;
    const downAt = net.clock.now();
    net.runUntil(() => of('close').length > 0, 5000);
    const close = of('close')[0];
    // Noticed at the next poll (≤ 1 s), far before any pong deadline.
    expect(close.at - downAt).toBeLessThanOrEqual(1000);
    expect({ cause: close.ev.cause, code: close.ev.code, wasClean: close.ev.wasClean, errorId: close.ev.errorId }).toEqual({
      cause: 'wifi-lost',
      code: 1006,
      wasClean: false,
      errorId: 'WIFI_LOST',
    });
    expect(close.ev.decision).toBeNull();
    expect(c.state).toBe('waiting-link');
    // Two minutes down: no attempt, no schedule, the backoff frozen where it was.
    net.advance(120_000);
    expect(net.connectAttempts).toBe(attemptsBefore);
    expect(c.stats.attempts).toBe(1);
    expect(of('reconnect-scheduled')).toHaveLength(0);
    expect(c.backoff.frozen).toBe(true);
    expect(c.backoff.attempt).toBe(backoffAttempt);
    net.linkUp = true;
    const upAt = net.clock.now();
    net.runUntil(() => c.state === 'open', 5000);
    const rs = of('reconnect-scheduled');
    expect(rs).toHaveLength(1);
    // Within one poll, then U(100, base 1000): prompt, not counted against the budget.
    expect(rs[0].at - upAt).toBeLessThanOrEqual(1000);
    expect(rs[0].ev.delayMs).toBeGreaterThanOrEqual(100);
    expect(rs[0].ev.delayMs).toBeLessThanOrEqual(1000);
    expect(c.backoff.attempt).toBe(backoffAttempt);
    expect(c.stats.attempts).toBe(2);
    c.stop();
  });

  it('spreads a fleet behind one access point when the link returns', () => {
    const net = new VirtualNet();
    const fleet = Array.from({ length: 12 }, (_, i) => setup({ link: net.link }, net, 77 + i));
    for (const f of fleet) f.c.start();
    net.advance(3000);
    net.linkUp = false;
    net.advance(30_000);
    expect(fleet.every((f) => f.c.state === 'waiting-link')).toBe(true);
    net.linkUp = true;
    net.advance(3000);
    const delays = fleet.map((f) => f.of('reconnect-scheduled')[0].ev.delayMs);
    expect(new Set(delays).size).toBe(12);
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(400);
    expect(fleet.every((f) => f.c.state === 'open')).toBe(true);
    for (const f of fleet) f.c.stop();
  });

  it('freezes a pending backoff when the link drops during it', () => {
    const net = new VirtualNet();
    net.refuse = true;
    const { c, of } = setup({ link: net.link }, net);
    c.start();
    net.runUntil(() => of('reconnect-scheduled').length >= 3, 60000, 10);
    const attempts = net.connectAttempts;
    net.linkUp = false;
    net.advance(1000);
    expect(c.state).toBe('waiting-link');
    net.advance(300_000);
    expect(net.connectAttempts).toBe(attempts);
    net.refuse = false;
    net.linkUp = true;
    net.runUntil(() => c.state === 'open', 5000);
    expect(c.state).toBe('open');
    c.stop();
  });

  it('watches the link again after stop() and start()', () => {
    // The firmware starts its client again after a stop decision: the Wi-Fi hook must come back with it.
    const net = new VirtualNet();
    let polls = 0;
    const link = { isUp: (cb: (up: boolean) => void) => { polls++; net.link.isUp(cb); } };
    const c = openedThenStopped(net, { link, linkPollInterval: 1000 });
    const before = polls;
    net.advance(5000);
    expect(polls).toBe(before); // no polling while stopped
    c.start();
    net.runUntil(() => c.state === 'open', 5000);
    net.advance(5000);
    expect(polls - before).toBeGreaterThanOrEqual(5);
    net.linkUp = false;
    net.advance(1500);
    expect(c.state).toBe('waiting-link');
    c.stop();
  });

  it('does not try while the link is down when started again', () => {
    const net = new VirtualNet();
    const c = openedThenStopped(net, { link: net.link });
    net.linkUp = false;
    const attempts = net.connectAttempts;
    c.start();
    net.advance(60_000);
    expect(net.connectAttempts).toBe(attempts);
    expect(c.state).toBe('waiting-link');
    net.linkUp = true;
    net.advance(3000);
    expect(c.state).toBe('open');
    c.stop();
  });

  it('does not even try while the link is down at start', () => {
    const net = new VirtualNet();
    net.linkUp = false;
    const { c } = setup({ link: net.link }, net);
    c.start();
    net.advance(60_000);
    expect(net.connectAttempts).toBe(0);
    expect(c.state).toBe('waiting-link');
    net.linkUp = true;
    net.advance(3000);
    expect(c.state).toBe('open');
    c.stop();
  });
});

// ---------------------------------------------------------------------------
// The circuit breaker.
// ---------------------------------------------------------------------------

describe('the circuit breaker', () => {
  it('stops after 5 protocol errors in a row, with diagnostics', () => {
    const net = new VirtualNet();
    onEachOpen(net, 20, (conn) => conn.sendBytes(frame(0x3, 'x')));
    const { c, of } = setup({}, net);
    c.start();
    net.runUntil(() => c.state === 'stopped', 3_600_000, 100);
    const closes = of('close').map((e) => e.ev);
    expect(closes).toHaveLength(5);
    expect(closes.every((e) => e.cause === 'protocol-error' && e.code === 1002)).toBe(true);
    expect(closes[4].decision).toMatchObject({ action: 'stop', class: 'broken-peer', tripped: true });
    expect(net.connections).toHaveLength(5);
    // broken-peer backs off 16× harder: windows of 16, 32, 64, 128 s.
    const d = of('reconnect-scheduled').map((e) => e.ev.delayMs);
    expect(d).toHaveLength(4);
    d.forEach((ms, i) => expect(ms).toBeLessThanOrEqual(16000 * Math.pow(2, i)));
    const diags = c.policy.diagnostics();
    expect(diags.length).toBe(5);
    expect(diags[0]).toMatchObject({ class: 'broken-peer', cause: 'protocol-error', code: 1002, id: 'RESERVED_OPCODE' });
    net.advance(3_600_000);
    expect(net.connections).toHaveLength(5);
  });

  it('counts again after a healthy connection (≥ minUptime)', () => {
    const net = new VirtualNet();
    // Connections 1-4 and 6-9 break at once; connection 5 is healthy for 6 s.
    net.onOpen = (conn) => net.clock.after(conn.id === 5 ? 6000 : 20, () => (conn.id === 5 ? conn.reset() : conn.sendBytes(frame(0x3, 'x'))));
    const { c } = setup({}, net);
    c.start();
    net.runUntil(() => net.connections.length >= 10 || c.state === 'stopped', 24 * 3_600_000, 100);
    // 4 before, the healthy one, then 5 more in a row trip it: the 10th connection.
    expect(net.connections.length).toBe(10);
    net.runUntil(() => c.state === 'stopped', 3_600_000, 100);
    expect(c.state).toBe('stopped');
  });
});

// ---------------------------------------------------------------------------
// The outbox while disconnected, and at-least-once delivery.
// ---------------------------------------------------------------------------

describe('the outbox', () => {
  it('queues while disconnected, says why when it will not, and sends in order once connected', () => {
    const net = new VirtualNet();
    net.refuse = true;
    const { c, of } = setup({ outbox: { maxCount: 4, maxBytes: 64, overflow: 'drop-newest' } }, net);
    c.start();
    net.advance(10);
    expect(c.state).toBe('backoff');
    expect(['a', 'b', 'c', 'd'].map((m) => c.send(m))).toEqual(['queued', 'queued', 'queued', 'queued']);
    expect(c.send('e')).toBe('full');
    expect(c.send('x'.repeat(65))).toBe('too-big');
    expect(of('dropped').map((e) => e.ev.reason)).toEqual(['full', 'too-big']);
    expect(c.stats).toMatchObject({ queued: 4, queuedBytes: 4, dropped: 2 });
    net.refuse = false;
    net.runUntil(() => net.messagesReceived >= 4, 10000);
    expect(net.last.messages.map((m) => m.text)).toEqual(['a', 'b', 'c', 'd']);
    expect(of('sent')).toHaveLength(4);
    expect(c.stats).toMatchObject({ queued: 0, sent: 4 });
    c.stop();
  });

  it('refuses a message the socket could not send (over maxMessage once UTF-8 encoded and wrapped), instead of throwing later', () => {
    const net = new VirtualNet();
    net.acks();
    const { c, of } = setup({ atLeastOnce: true, maxMessage: 200 }, net);
    c.start();
    net.advance(10);
    // 70 UTF-16 units fit the outbox, but '€' is 3 bytes in UTF-8: 210 bytes on the wire.
    expect(c.send(JSON.stringify('€'.repeat(70)))).toBe('too-big');
    // ASCII that fits alone but not with the {"seq","sid","data"} wrapper around it.
    expect(c.send(JSON.stringify('x'.repeat(170)))).toBe('too-big');
    expect(c.send(JSON.stringify('x'.repeat(100)))).toBe('queued');
    net.advance(50);
    expect(of('dropped').map((e) => e.ev.reason)).toEqual(['too-big', 'too-big']);
    expect(c.stats).toMatchObject({ dropped: 2, droppedBy: { 'too-big': 2 }, acked: 1 });
    expect(c.state).toBe('open');
    c.stop();
  });

  it('counts a text message in UTF-8 as the socket encodes it: a surrogate pair is 4 bytes, a lone surrogate 3 (U+FFFD)', () => {
    const { c } = setup({ maxMessage: 4 });
    expect(c.send('\ud83d\ude00')).toBe('queued'); // one pair: 4
    expect(c.send('\ud83d\ude00a')).toBe('too-big'); // 5
    expect(c.send('a\ud83d\ude00')).toBe('too-big');
    expect(c.send('\ud800')).toBe('queued'); // a lone high half: 3
    expect(c.send('\udc00a')).toBe('queued'); // a lone low half first: 3 + 1
    expect(c.send('\udc00\ud800')).toBe('too-big'); // two lone halves, the wrong way round: 6
    expect(c.send('\ud800\ud800')).toBe('too-big'); // 6
    expect(c.send('\u07ff\u0080')).toBe('queued'); // 2 + 2
    expect(c.send('\u0800a')).toBe('queued'); // 3 + 1
    expect(c.send('\u0800\u0080')).toBe('too-big'); // 5
    const seven = setup({ maxMessage: 7 }).c;
    expect(seven.send('\ud800\ud83d\ude00')).toBe('queued'); // a lone high half, then a pair: 3 + 4
    expect(seven.send('\ud83d\ude00\udc00')).toBe('queued'); // a pair, then a lone low half: 4 + 3
    expect(seven.send('\ud83d\ude00\udc00a')).toBe('too-big'); // 8
    for (const m of ['\ud800\ud83d\ude00', '\ud83d\ude00\udc00', '\udc00\ud800']) expect(Buffer.byteLength(m)).toBe(m === '\udc00\ud800' ? 6 : 7);
  });

  it('stays bounded under a flood while down, reporting every eviction (drop-oldest keeps the newest)', () => {
    const net = new VirtualNet();
    net.refuse = true;
    const { c, of } = setup({ outbox: { maxCount: 32, maxBytes: 4096 } }, net);
    c.start();
    for (let i = 0; i < 1000; i++) expect(c.send('{"n":' + i + '}')).toBe('queued');
    expect(c.stats.queued).toBe(32);
    expect(c.stats.dropped).toBe(968);
    expect(c.stats.droppedBy.evicted).toBe(968);
    expect(of('dropped')).toHaveLength(968);
    net.refuse = false;
    net.runUntil(() => net.messagesReceived >= 32, 10000);
    expect(net.last.messages.map((m) => JSON.parse(m.text).n)).toEqual(Array.from({ length: 32 }, (_, i) => 968 + i));
    c.stop();
  });

  it('at-least-once: resends what was unacked after a reconnect, acks release, zero loss, no duplicate delivered', () => {
    const net = new VirtualNet();
    const ledger = net.acks();
    ledger.acking = false;
    const { c, of } = setup({ atLeastOnce: true }, net);
    c.start();
    net.advance(10);
    for (let i = 1; i <= 10; i++) c.send(JSON.stringify({ i }));
    net.advance(50);
    expect(c.stats).toMatchObject({ sent: 10, acked: 0, inFlight: 10, queued: 10 });
    expect(ledger.delivered.get(c.sid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // The link drops before any ack: everything is still owed.
    ledger.acking = true;
    net.last.reset();
    net.runUntil(() => c.stats.acked === 10, 10000);
    const sent = of('sent').map((e) => e.ev);
    expect(sent.filter((e) => e.resend).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(c.stats).toMatchObject({ sent: 10, resent: 10, acked: 10, inFlight: 0, queued: 0, dropped: 0 });
    expect(ledger.delivered.get(c.sid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(ledger.duplicates).toBe(10);
    expect(of('acked').reduce((n, e) => n + e.ev.count, 0)).toBe(10);
    // The server's ack is not handed to the application.
    expect(of('message')).toHaveLength(0);
    c.stop();
  });

  it('at-least-once: a binary message goes unwrapped, reported as seq 0 and never as a resend', () => {
    const net = new VirtualNet();
    const ledger = net.acks();
    ledger.acking = false;
    const { c, of } = setup({ atLeastOnce: true }, net);
    c.start();
    net.advance(10);
    c.send(new Uint8Array([1, 2, 3]));
    c.send('"t"');
    net.advance(50);
    net.last.reset();
    net.runUntil(() => of('sent').length === 4, 10000);
    // The binary message took seq 1 in the outbox; the text one goes out as seq 2.
    expect(of('sent').map((e) => [e.ev.seq, e.ev.resend])).toEqual([[0, false], [2, false], [0, false], [2, true]]);
    c.stop();
  });

  it('at-least-once across 150 random faults on virtual time: every message once, in order', () => {
    const net = new VirtualNet({ latencyMs: 3 });
    const ledger = net.acks();
    // Time runs 10× fast here: minUptime and the fleet window both 500 ms (defaults 5 s).
    const { c, of } = setup(
      { atLeastOnce: true, link: net.link, linkPollInterval: 500, outbox: { maxCount: 512, maxBytes: 65536 }, backoff: { baseMs: 200, capMs: 2000, minDelayMs: 20, minUptimeMs: 500, dropWindowMs: 500 }, connectTimeout: 2000, handshakeTimeout: 2000, pingInterval: 1000, pongTimeout: 1000, pongTimeoutFloor: 300 },
      net,
    );
    const rnd = seededRandom32(2024);
    const pick = (n: number) => rnd() % n;
    c.start();
    const N = 600;
    let sentN = 0;
    let faults = 0;
    const kinds: { [k: string]: number } = {};
    const fault = (): void => {
      const open = net.openConnections;
      const conn = open[open.length - 1];
      const k = conn ? ['reset', 'fin', 'blackhole', 'close1001', 'close1012', 'refuse', 'wifi', 'badframe', 'noack'][pick(9)] : ['refuse', 'wifi', 'noack'][pick(3)];
      kinds[k] = (kinds[k] || 0) + 1;
      faults++;
      switch (k) {
        case 'reset':
          if (conn) conn.reset();
          break;
        case 'fin':
          if (conn) conn.fin();
          break;
        case 'blackhole':
          if (conn) conn.blackhole(true);
          break;
        case 'close1001':
          if (conn) conn.sendClose(1001);
          break;
        case 'close1012':
          if (conn) conn.sendClose(1012);
          break;
        case 'refuse':
          // A server restart: down for a while.
          if (conn) conn.reset();
          net.refuse = true;
          net.clock.after(500 + pick(2000), () => (net.refuse = false));
          break;
        case 'wifi':
          net.linkUp = false;
          net.clock.after(500 + pick(3000), () => (net.linkUp = true));
          break;
        case 'badframe':
          if (conn) conn.sendBytes(frame(0x1, hex('c0 80')));
          break;
        case 'noack':
          // Acks lost for a while: messages pile up in flight.
          ledger.acking = false;
          net.clock.after(200 + pick(1500), () => (ledger.acking = true));
          break;
      }
    };
    for (let t = 0; sentN < N; t += 50) {
      net.advance(50);
      if (t % 200 === 0) c.send(JSON.stringify({ n: ++sentN }));
      if (pick(1000) < 70) fault();
    }
    ledger.acking = true;
    net.refuse = false;
    net.linkUp = true;
    net.runUntil(() => c.stats.acked === N, 600000, 50);
    expect(faults).toBeGreaterThanOrEqual(150);
    expect(ledger.delivered.get(c.sid)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect((ledger.data.get(c.sid) as { n: number }[]).map((d) => d.n)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(c.stats).toMatchObject({ acked: N, dropped: 0, inFlight: 0, queued: 0 });
    // The faults really ended connections, of every kind, and resends really happened.
    expect(of('close').length).toBeGreaterThan(80);
    for (const cause of ['transport-error', 'peer-closed', 'protocol-error', 'wifi-lost', 'pong-timeout']) expect(c.stats.closesByCause[cause], cause).toBeGreaterThan(0);
    expect(c.stats.resent).toBeGreaterThan(0);
    expect(ledger.duplicates).toBeGreaterThan(0);
    c.stop();
  });
});

// ---------------------------------------------------------------------------
// Stats and events.
// ---------------------------------------------------------------------------

describe('stats and events', () => {
  it('reports attempts, uptime, backoff, last close, RTT, queue depth and drops', () => {
    const net = new VirtualNet({ latencyMs: 20 });
    net.acks();
    const { c, of, log } = setup({ atLeastOnce: true, outbox: { maxCount: 8 } }, net, 3);
    expect(c.stats).toMatchObject({ state: 'idle', attempts: 0, connects: 0, uptimeMs: 0, lastClose: null, rttMs: -1, queued: 0, dropped: 0 });
    c.start();
    net.advance(1000);
    c.send('{"a":1}');
    net.advance(100);
    let s = c.stats;
    expect(s).toMatchObject({ state: 'open', attempts: 1, connects: 1, rttMs: 40, sent: 1, acked: 1, queued: 0, inFlight: 0 });
    expect(s.uptimeMs).toBe(net.clock.now() - of('open')[0].at);
    net.last.reset();
    net.advance(30);
    s = c.stats;
    expect(s.state).toBe('backoff');
    expect(s.uptimeMs).toBe(0);
    expect(s.totalUptimeMs).toBeGreaterThan(1000);
    expect(s.lastClose).toMatchObject({ code: 1006, cause: 'transport-error', wasClean: false, errorId: 'TRANSPORT_ERROR' });
    expect(s.backoffMs).toBe(of('reconnect-scheduled')[0].ev.delayMs);
    expect(s.attempt).toBe(1);
    expect(s.rttMs).toBe(40); // kept from the last connection
    expect(s.closesByCause).toEqual({ 'transport-error': 1 });
    // Nine sends into eight slots while down: one evicted.
    for (let i = 0; i < 9; i++) c.send('{"b":' + i + '}');
    s = c.stats;
    expect(s).toMatchObject({ queued: 8, dropped: 1, droppedBy: { evicted: 1 } });
    net.runUntil(() => c.stats.acked === 9, 10000);
    expect(c.stats).toMatchObject({ attempts: 2, connects: 2, sent: 9, acked: 9, queued: 0 });
    const types = new Set(log.map((e) => e.ev.type));
    for (const t of ['state', 'open', 'close', 'reconnect-scheduled', 'sent', 'acked', 'dropped']) expect(types.has(t as ResilientEvent['type']), t).toBe(true);
    expect(of('open')[1].ev.attempt).toBe(2);
    expect(of('dropped')[0].ev.reason).toBe('evicted');
    c.stop();
  });

  it('a listener that throws does not break the client', () => {
    const net = new VirtualNet();
    const c = new ResilientClient(URL, net.runtime(), {});
    const errors: unknown[] = [];
    const origError = console.error;
    console.error = (...a: unknown[]) => errors.push(a);
    try {
      c.onevent = () => {
        throw new Error('listener bug');
      };
      c.start();
      net.advance(100);
      expect(c.state).toBe('open');
      net.last.reset();
      net.advance(3000);
      expect(c.state).toBe('open');
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      console.error = origError;
      c.stop();
    }
  });
});

// ---------------------------------------------------------------------------
// What plain JS on the board may hand it, and handlers that throw.
// ---------------------------------------------------------------------------

describe('ResilientClient with what plain JS may pass, and with handlers that throw', () => {
  it('sends an ArrayBuffer as its bytes, refuses other values at once, and reads maxMessage 0 as the protocol does', () => {
    const { net, c } = setup();
    c.start();
    net.runUntil(() => c.state === 'open', 5000);
    expect(c.send(new Uint8Array([1, 2, 3, 4]).buffer as unknown as Uint8Array)).toBe('queued');
    expect(() => c.send({} as unknown as string)).toThrow(TypeError);
    net.runUntil(() => net.messagesReceived >= 1, 5000);
    expect(net.last.messages[0].opcode).toBe(2);
    expect([...net.last.messages[0].data]).toEqual([1, 2, 3, 4]);
    // The link stays healthy behind it: a text message follows.
    expect(c.send('after')).toBe('queued');
    net.runUntil(() => net.messagesReceived >= 2, 5000);
    expect(net.last.messages[1].text).toBe('after');
    expect(c.stats.dropped).toBe(0);

    const zero = setup({ maxMessage: 0 });
    zero.c.start();
    zero.net.runUntil(() => zero.c.state === 'open', 5000);
    expect(zero.c.send('x')).toBe('too-big');
    expect(zero.c.send('')).toBe('queued');
    zero.net.runUntil(() => zero.net.messagesReceived >= 1, 5000);
    expect(zero.c.state).toBe('open');
  });

  it('a throwing event listener is reported and changes nothing: messages still flow, the connection stays open', () => {
    const { net, c } = setup();
    const errors: unknown[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => errors.push(a);
    try {
      c.onevent = (ev) => {
        if (ev.type === 'open' || ev.type === 'message' || ev.type === 'state') throw new Error('app bug on ' + ev.type);
      };
      c.start();
      net.runUntil(() => c.state === 'open', 5000);
      net.last.sendText('hello');
      net.advance(50);
      expect(c.send('still')).toBe('queued');
      net.runUntil(() => net.messagesReceived >= 1, 5000);
      expect(net.last.messages[0].text).toBe('still');
      expect(c.state).toBe('open');
      expect(c.stats.connects).toBe(1);
      expect(errors.length).toBeGreaterThanOrEqual(3);
    } finally {
      console.error = orig;
    }
  });

  it('a Connection handler that throws is reported and the connection goes on (a throw inside a transport callback would reset Kaluma)', () => {
    const net = new VirtualNet();
    const errors: unknown[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => errors.push(a);
    try {
      const texts: string[] = [];
      let closed = 0;
      const conn = new Connection(URL, net.runtime(), {}, {
        open: () => {
          throw new Error('open handler bug');
        },
        text: (d) => {
          texts.push(d);
          throw new Error('text handler bug');
        },
        binary: () => undefined,
        pong: () => undefined,
        activity: () => {
          throw new Error('activity handler bug');
        },
        closed: () => {
          closed++;
          throw new Error('closed handler bug');
        },
      });
      expect(() => net.runUntil(() => conn.readyState === 1, 5000)).not.toThrow();
      net.last.sendText('one');
      net.last.sendText('two');
      net.advance(50);
      expect(texts).toEqual(['one', 'two']);
      expect(conn.readyState).toBe(1);
      conn.send('reply');
      net.runUntil(() => net.messagesReceived >= 1, 5000);
      expect(net.last.messages[0].text).toBe('reply');
      conn.close(1000);
      expect(() => net.runUntil(() => closed === 1, 5000)).not.toThrow();
      expect(errors.length).toBeGreaterThanOrEqual(5);
    } finally {
      console.error = orig;
    }
  });

  it('WebSocket.send checks the state before the type, as WHATWG: NOT_OPEN while connecting, silence once closed', () => {
    const net = new VirtualNet();
    const ws = new WebSocket(URL, net.runtime());
    expect(() => ws.send({} as unknown as string)).toThrow(expect.objectContaining({ id: 'NOT_OPEN' }));
    net.runUntil(() => ws.readyState === WebSocket.OPEN, 5000);
    expect(() => ws.send({} as unknown as string)).toThrow(TypeError);
    ws.send(new Uint8Array([7]).buffer);
    net.runUntil(() => net.messagesReceived >= 1, 5000);
    expect([...net.last.messages[0].data]).toEqual([7]);
    ws.close();
    net.runUntil(() => ws.readyState === WebSocket.CLOSED, 5000);
    expect(() => ws.send({} as unknown as string)).not.toThrow();
    expect(() => ws.send('late')).not.toThrow();
  });
});
