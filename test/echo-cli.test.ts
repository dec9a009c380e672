/**
 * The built `picows echo` (node dist/cli.js echo <url>) as a person runs it, against
 * ws servers: the printed close line, and the exit code (0 only for a clean close,
 * 1 for an unclean one, 2 for a usage error).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { packageRoot } from '../board/node/core';

const CLI = join(packageRoot(), 'dist', 'cli.js');

let server: WebSocketServer;
let port: number;
/** What each path's server saw come back. */
const echoed = new Map<string, { messages: string[]; close: Promise<{ code: number; reason: string }> }>();

const BEHAVIOUR: { [path: string]: (sock: ServerSocket, req: IncomingMessage) => void } = {
  // Two messages, then a clean close once both came back.
  '/two-then-close': (sock) => {
    sock.send('first');
    sock.send(Buffer.from([0, 1, 2, 0xff]));
    let n = 0;
    sock.on('message', () => {
      if (++n === 2) sock.close(1000, 'all echoed');
    });
  },
  // A message, then the socket torn down without a Close frame.
  '/terminate': (sock) => {
    sock.send('bye');
    sock.on('message', () => sock.terminate());
  },
  // Never closes: the client's --duration ends it.
  '/idle': () => undefined,
  '/protocol': (sock, req) => sock.close(4000, 'chose ' + sock.protocol + ', ' + req.headers.authorization),
};

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(CLI + ' is missing: run `npm run build` first');
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => Array.from(p)[0] || false });
  server.on('connection', (sock, req) => {
    const path = req.url || '';
    const messages: string[] = [];
    sock.on('message', (d, isBinary) => messages.push((isBinary ? 'b:' : 't:') + Buffer.from(d as Buffer).toString('hex')));
    echoed.set(path, { messages, close: new Promise((resolve) => sock.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))) });
    (BEHAVIOUR[path] || ((s: ServerSocket) => s.close(4404)))(sock, req);
  });
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const c of server.clients) c.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function picows(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.concurrent('picows echo (the built CLI)', () => {
  it('echoes two messages, prints the clean close, exits 0', async () => {
    const out = await picows(['echo', `ws://127.0.0.1:${port}/two-then-close`]);
    expect(out.stdout).toBe('closed: code=1000 reason="all echoed" wasClean=true cause=peer-closed messages=2\n');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const seen = echoed.get('/two-then-close')!;
    expect(seen.messages).toEqual(['t:' + Buffer.from('first').toString('hex'), 'b:000102ff']);
    expect((await seen.close).code).toBe(1000);
  });

  it('exits 1 and names the failure when the server tears the connection down', async () => {
    const out = await picows(['echo', `ws://127.0.0.1:${port}/terminate`, '--core', 'js']);
    expect(out.stdout).toMatch(/^closed: code=1006 reason="" wasClean=false cause=transport-error messages=1\nerror: (CONNECTION_LOST|TRANSPORT_ERROR): .+\n$/);
    expect(out.code).toBe(1);
  });

  it('closes with 1000 after --duration and exits 0', async () => {
    const out = await picows(['echo', `ws://127.0.0.1:${port}/idle`, '--duration', '150']);
    expect(out.stdout).toBe('closed: code=1000 reason="done" wasClean=true cause=local-close messages=0\n');
    expect(out.code).toBe(0);
    expect(await echoed.get('/idle')!.close).toEqual({ code: 1000, reason: 'done' });
  });

  it('offers --protocol and sends --header', async () => {
    const out = await picows(['echo', `ws://127.0.0.1:${port}/protocol`, '--protocol', 'telemetry.v1', '--header', 'Authorization: Bearer abc']);
    expect(out.stdout).toBe('closed: code=4000 reason="chose telemetry.v1, Bearer abc" wasClean=true cause=peer-closed messages=0\n');
    expect(out.code).toBe(0);
  });

  it('exits 1 when the server refuses the connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const out = await picows(['echo', `ws://127.0.0.1:${deadPort}/`]);
    expect(out.stdout).toMatch(/^closed: code=1006 reason="" wasClean=false cause=transport-error messages=0\nerror: CONNECT_FAILED: .+\n$/);
    expect(out.code).toBe(1);
  });

  it('exits 2 with the usage when the URL is missing', async () => {
    const out = await picows(['echo']);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/^picows echo: a ws:\/\/ URL is required\n\nusage: picows <command> \[options\]\n[\s\S]*echo <url>/);
  });

  it('exits 2 for a URL that is not ws://, an unknown option or a bad number', async () => {
    const bad = await picows(['echo', 'http://127.0.0.1/']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^picows echo: INVALID_URL: /);
    const unknown = await picows(['echo', 'ws://127.0.0.1/', '--nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('usage: picows');
    const number = await picows(['echo', 'ws://127.0.0.1/', '--max-message', 'lots']);
    expect(number.code).toBe(2);
    expect(number.stderr).toMatch(/^picows echo: --max-message wants a number of bytes\n/);
  });
});
