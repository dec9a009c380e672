/**
 * `picows telemetry` in-process: real sockets, the reference at-least-once server
 * behind the fault proxy, stdout captured through the injected writer.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AckServer, startAckServer } from '../board/node/ack-server';
import { FaultProxy } from '../board/node/fault-proxy';
import { telemetryCommand } from '../board/node/telemetry';

let server: AckServer;
let proxy: FaultProxy;

beforeEach(async () => {
  server = await startAckServer();
  proxy = new FaultProxy({ target: { host: '127.0.0.1', port: server.port } });
  await proxy.listen();
});

afterEach(async () => {
  await proxy.close();
  await server.close();
});

type Line = { type: string; t: number; [k: string]: unknown };

/** Every line must be one JSON object with a type and a time that never goes back. */
function parseLines(lines: string[]): Line[] {
  const evs = lines.map((l) => JSON.parse(l) as Line);
  let last = 0;
  for (const e of evs) {
    expect(typeof e.type).toBe('string');
    expect(typeof e.t).toBe('number');
    expect(e.t).toBeGreaterThanOrEqual(last);
    last = e.t;
    if (e.type === 'close') {
      expect(typeof e.code).toBe('number');
      expect(typeof e.cause).toBe('string');
      expect(typeof e.wasClean).toBe('boolean');
    }
    if (e.type === 'reconnect-scheduled') expect(typeof e.delayMs).toBe('number');
  }
  return evs;
}

const FAST = ['--interval', '40', '--backoff-base', '100', '--backoff-cap', '400', '--ping-interval', '1000', '--pong-timeout', '1000', '--core', 'js'];

describe('picows telemetry', () => {
  it('--count 20 --at-least-once survives a reset mid-run: 20 acked, each delivered once', async () => {
    const lines: string[] = [];
    let reset = false;
    const code = await telemetryCommand(['ws://127.0.0.1:' + proxy.port + '/', '--count', '20', '--at-least-once', ...FAST], (line) => {
      lines.push(line);
      const ev = JSON.parse(line);
      // Mid-run, right as reading 8 goes out (before its ack can be back), the link resets under both peers.
      if (!reset && ev.type === 'sent' && ev.seq === 8) {
        reset = true;
        proxy.resetAll();
      }
    });
    expect(code).toBe(0);
    const evs = parseLines(lines);
    const summary = evs[evs.length - 1];
    expect(summary).toMatchObject({ type: 'summary', sent: 20, acked: 20, dropped: 0 });
    // Reading 8 was unacked when the link died: it went again after the reconnect.
    expect(summary.resent).toBeGreaterThanOrEqual(1);
    expect(evs.filter((e) => e.type === 'sent' && e.resend).map((e) => e.seq)).toContain(8);
    expect(evs.filter((e) => e.type === 'summary')).toHaveLength(1);
    // The reset: a transport error, a scheduled reconnect inside the first window, a second open.
    const closes = evs.filter((e) => e.type === 'close');
    expect(closes[0]).toMatchObject({ code: 1006, cause: 'transport-error', wasClean: false });
    const rs = evs.filter((e) => e.type === 'reconnect-scheduled');
    expect(rs.length).toBeGreaterThanOrEqual(1);
    // --backoff-base 100: the first window is U(10, 100).
    expect(rs[0].delayMs).toBeGreaterThanOrEqual(10);
    expect(rs[0].delayMs).toBeLessThanOrEqual(100);
    expect(evs.filter((e) => e.type === 'open').length).toBeGreaterThanOrEqual(2);
    // The run ends with our own clean close.
    expect(closes[closes.length - 1]).toMatchObject({ code: 1000, cause: 'local-close', wasClean: true });
    // Seqs 1..20 were each sent once for the first time; acks cover all of them.
    const firstSends = evs.filter((e) => e.type === 'sent' && !e.resend).map((e) => e.seq);
    expect(firstSends).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(Math.max(...evs.filter((e) => e.type === 'acked').map((e) => e.seq as number))).toBe(20);
    // The server's side: exactly 1..20, once each, with the readings in order.
    const sid = summary.sid as string;
    expect(server.seqs(sid)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const readings = (server.received.get(sid) || []).map((d) => d.data as { n: number; t: number; uptime: number });
    expect(readings.map((r) => r.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (const r of readings) {
      expect(typeof r.t).toBe('number');
      expect(typeof r.uptime).toBe('number');
    }
  });

  it('without --at-least-once, sends plain readings and exits 0 once all are sent', async () => {
    const lines: string[] = [];
    const code = await telemetryCommand(['ws://127.0.0.1:' + proxy.port + '/', '--count', '5', ...FAST], (l) => lines.push(l));
    expect(code).toBe(0);
    const evs = parseLines(lines);
    expect(evs[evs.length - 1]).toMatchObject({ type: 'summary', sent: 5, acked: 0, dropped: 0 });
    expect(evs.filter((e) => e.type === 'sent').map((e) => e.seq)).toEqual([0, 0, 0, 0, 0]);
    // Plain readings are not data frames: the ack server counts them as malformed.
    await new Promise((r) => setTimeout(r, 50));
    expect(server.stats.malformed).toBe(5);
  });

  it('exits 1 when the policy stops the client (HTTP 401)', async () => {
    const http: Server = createServer();
    http.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as AddressInfo).port;
    try {
      const lines: string[] = [];
      const code = await telemetryCommand(['ws://127.0.0.1:' + port + '/', '--count', '3', ...FAST], (l) => lines.push(l));
      expect(code).toBe(1);
      const evs = parseLines(lines);
      expect(evs.find((e) => e.type === 'close')).toMatchObject({ code: 1006, cause: 'handshake-rejected', errorId: 'HANDSHAKE_STATUS', wasClean: false });
      expect(evs.find((e) => e.type === 'stopped')).toBeDefined();
      expect(evs.filter((e) => e.type === 'reconnect-scheduled')).toHaveLength(0);
      expect(evs[evs.length - 1]).toMatchObject({ type: 'summary', sent: 0, attempts: 1 });
    } finally {
      await new Promise((r) => http.close(r));
    }
  });

  it('--duration ends the run with a summary; with an unfinished --count it exits 1', async () => {
    proxy.setMode({ refuse: true });
    const lines: string[] = [];
    const code = await telemetryCommand(['ws://127.0.0.1:' + proxy.port + '/', '--count', '100', '--duration', '400', ...FAST], (l) => lines.push(l));
    expect(code).toBe(1);
    const evs = parseLines(lines);
    expect(evs.filter((e) => e.type === 'reconnect-scheduled').length).toBeGreaterThanOrEqual(1);
    expect(evs.filter((e) => e.type === 'close').every((e) => e.cause === 'transport-error' || e.cause === 'local-close')).toBe(true);
    expect(evs[evs.length - 1]).toMatchObject({ type: 'summary', sent: 0 });
    expect(evs[evs.length - 1].queued).toBeGreaterThan(0);
    proxy.setMode({});
    const ok = await telemetryCommand(['ws://127.0.0.1:' + proxy.port + '/', '--duration', '300', ...FAST], () => undefined);
    expect(ok).toBe(0);
  });

  it('rejects bad arguments with exit code 2', async () => {
    const stderr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await telemetryCommand([], () => undefined)).toBe(2);
      expect(await telemetryCommand(['ws://x/', '--interval', 'soon'], () => undefined)).toBe(2);
      expect(await telemetryCommand(['ws://x/', '--count', '0'], () => undefined)).toBe(2);
      expect(await telemetryCommand(['ws://x/', '--core', 'fast'], () => undefined)).toBe(2);
      expect(await telemetryCommand(['ws://x/', '--bogus'], () => undefined)).toBe(2);
    } finally {
      process.stderr.write = stderr;
    }
  });
});
