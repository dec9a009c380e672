/**
 * wss:// on Node, through node:tls, against a real ws server behind https with a
 * self-signed certificate made for the test by openssl (a system peer: CI has it;
 * a machine without it fails here with an install hint, never skips).
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { CloseEvent } from '../src/client/events';
import { WebSocket } from '../board/node/websocket';
import { kalumaRuntime } from '../board/kaluma/runtime';
import { WebSocket as CoreWebSocket } from '../src/client/websocket';

let https: Server;
let wss: WebSocketServer;
let port: number;
let cert: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'picows-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
  } catch (e) {
    throw new Error('the wss:// tests need openssl to make a test certificate: apt-get install -y openssl (' + (e as Error).message + ')');
  }
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  https = createServer({ key: readFileSync(join(dir, 'key.pem')), cert });
  wss = new WebSocketServer({ server: https });
  wss.on('connection', (s) => s.on('message', (d, bin) => s.send(d, { binary: bin })));
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  port = (https.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((r) => wss.close(() => r()));
  await new Promise<void>((r) => https.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function closed(ws: { onclose: ((ev: CloseEvent) => void) | null }): Promise<CloseEvent> {
  return new Promise((resolve) => {
    ws.onclose = resolve;
  });
}

describe('wss:// on Node', () => {
  it('echoes over TLS when the certificate is trusted, and closes cleanly', async () => {
    const ws = new WebSocket(`wss://localhost:${port}/`, [], { tls: { ca: cert } });
    const got = new Promise<string>((resolve) => {
      ws.onmessage = (ev) => resolve(ev.data as string);
    });
    ws.onopen = () => ws.send('über TLS');
    const done = closed(ws);
    expect(await got).toBe('über TLS');
    ws.close(1000, 'bye');
    const ev = await done;
    expect([ev.code, ev.wasClean, ev.cause]).toEqual([1000, true, 'local-close']);
  });

  it('refuses a certificate it cannot verify: 1006, transport-error, and no open', async () => {
    const ws = new WebSocket(`wss://localhost:${port}/`);
    let opened = false;
    ws.onopen = () => {
      opened = true;
    };
    const ev = await closed(ws);
    expect(opened).toBe(false);
    expect([ev.code, ev.wasClean, ev.cause]).toEqual([1006, false, 'transport-error']);
    expect(ev.error && ev.error.id).toBe('CONNECT_FAILED');
  });

  it('says clearly that Kaluma has no TLS when wss:// is asked for there', () => {
    const rt = kalumaRuntime({ Socket: class {} as never }, { randomBigInt: () => BigInt(1) });
    expect(() => new CoreWebSocket(`wss://localhost:${port}/`, rt)).toThrowError(/TLS/);
    try {
      new CoreWebSocket(`wss://localhost:${port}/`, rt);
    } catch (e) {
      expect((e as { id: string }).id).toBe('TLS_UNAVAILABLE');
    }
  });
});
