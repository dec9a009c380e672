/**
 * How the Node client reports an opening handshake that fails, against raw node:net
 * servers that answer the upgrade request wrongly on purpose. Every failure must
 * say what happened: an 'error' event with a stable id, then a close event with
 * 1006, wasClean false and a cause (never a bare 1006, ws#1034), no 'open' event,
 * and TCP dropped by the client.
 */
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from '../board/node/websocket';
import type { CloseEvent, ErrorEvent } from '../src/client/events';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key: string) => createHash('sha1').update(key + GUID).digest('base64');
const OK_101 = (key: string) => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept(key) + '\r\n';

/** What the server does once it read the request head: write something, or nothing (`null`). */
type Answer = (key: string, socket: Socket) => string | null;

const ANSWERS: { [path: string]: Answer } = {
  '/401': () => 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n',
  '/403': () => 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nforbidden',
  '/503': () => 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n',
  '/wrong-accept': () => OK_101('dGhlIHNhbXBsZSBub25jZQ==') + '\r\n',
  '/no-accept': () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  '/no-upgrade': (key) => 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept(key) + '\r\n\r\n',
  '/no-connection': (key) => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ' + accept(key) + '\r\n\r\n',
  '/unoffered-protocol': (key) => OK_101(key) + 'Sec-WebSocket-Protocol: chat.v9\r\n\r\n',
  '/extension': (key) => OK_101(key) + 'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
  '/oversized': (key) => OK_101(key) + 'X-Padding: ' + 'p'.repeat(4200) + '\r\n\r\n',
  '/unfinished': (key) => OK_101(key),
  '/silent': () => null,
  '/hang-up': (_key, socket) => {
    socket.end();
    return null;
  },
  '/garbage': () => 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\u0000\u0001\n',
  '/not-http': () => 'HELLO THERE\r\n\r\n',
  '/http-200': () => 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>',
};

let server: Server;
let port: number;
const sockets = new Set<Socket>();
/** Per path: when the server saw the client drop the connection. */
const dropped = new Map<string, Promise<void>>();

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let head = '';
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      if (head.indexOf('\r\n\r\n') >= 0) return;
      head += d.toString('latin1');
      if (head.indexOf('\r\n\r\n') < 0) return;
      const path = (/^GET (\S+) /.exec(head) || [])[1] || '';
      const key = ((/\r\nSec-WebSocket-Key: *([^\r]+)/i.exec(head) || [])[1] || '').trim();
      const token = (/\r\nX-Run: *([^\r]+)/i.exec(head) || [])[1];
      if (token) dropped.set(token, new Promise((resolve) => socket.on('close', () => resolve())));
      const answer = ANSWERS[path];
      const out = answer ? answer(key, socket) : 'HTTP/1.1 404 Not Found\r\n\r\n';
      if (out !== null) socket.write(out, 'latin1');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let runs = 0;

interface Outcome {
  close: CloseEvent;
  errors: ErrorEvent[];
  log: string[];
  ms: number;
  token: string;
}

function attempt(url: string, core: 'wasm' | 'js', opts: { protocols?: string[]; handshakeTimeout?: number } = {}): Promise<Outcome> {
  const token = 'r' + ++runs;
  const started = Date.now();
  const ws = new WebSocket(url, opts.protocols, { core, handshakeTimeout: opts.handshakeTimeout || 2000, connectTimeout: 2000, headers: { 'X-Run': token } });
  const log: string[] = [];
  const errors: ErrorEvent[] = [];
  ws.onopen = () => log.push('open');
  ws.onerror = (e) => {
    log.push('error:' + ws.readyState);
    errors.push(e);
  };
  return new Promise((resolve) => {
    ws.onclose = (close) => {
      log.push('close:' + ws.readyState);
      resolve({ close, errors, log, ms: Date.now() - started, token });
    };
  });
}

/** The failure is reported in full: error event, then a 1006 close with this cause and error id; no open; TCP dropped. */
async function expectFailure(o: Outcome, cause: string, id: string): Promise<void> {
  expect(o.log).toEqual(['error:3', 'close:3']);
  expect(o.close).toMatchObject({ code: 1006, reason: '', wasClean: false, cause });
  expect(o.close.error && o.close.error.id).toBe(id);
  expect(o.errors[0].error).toBe(o.close.error);
  expect(o.errors[0].message).toBe(o.close.error && o.close.error.message);
  const gone = dropped.get(o.token);
  if (gone) await gone; // the server sees the client hang up (a hang would time the test out)
}

for (const core of ['wasm', 'js'] as const) {
  describe.concurrent(`a failed opening handshake is reported with its cause (${core} core)`, () => {
    const url = (path: string) => `ws://127.0.0.1:${port}${path}`;

    it('401: handshake-rejected, HANDSHAKE_STATUS with the status', async () => {
      const o = await attempt(url('/401'), core);
      await expectFailure(o, 'handshake-rejected', 'HANDSHAKE_STATUS');
      expect(o.close.error!.detail).toMatchObject({ status: 401, reason: 'Unauthorized' });
      expect(o.close.error!.message).toContain('401');
    });

    it('403: handshake-rejected with status 403', async () => {
      const o = await attempt(url('/403'), core);
      await expectFailure(o, 'handshake-rejected', 'HANDSHAKE_STATUS');
      expect(o.close.error!.detail).toMatchObject({ status: 403 });
    });

    it('503 with Retry-After: 7: the delay is in the detail', async () => {
      const o = await attempt(url('/503'), core);
      await expectFailure(o, 'handshake-rejected', 'HANDSHAKE_STATUS');
      expect(o.close.error!.detail).toMatchObject({ status: 503, retryAfter: 7 });
    });

    for (const [path, id, what] of [
      ['/wrong-accept', 'HANDSHAKE_ACCEPT', 'a 101 whose Accept is for another key'],
      ['/no-accept', 'HANDSHAKE_ACCEPT', 'a 101 without Sec-WebSocket-Accept'],
      ['/no-upgrade', 'HANDSHAKE_UPGRADE', 'a 101 without Upgrade'],
      ['/no-connection', 'HANDSHAKE_CONNECTION', 'a 101 without Connection'],
      ['/extension', 'HANDSHAKE_EXTENSION', 'a 101 choosing an extension nobody offered'],
      ['/oversized', 'HANDSHAKE_TOO_LARGE', 'a response head over 4 KiB'],
      ['/garbage', 'HANDSHAKE_BAD_RESPONSE', 'an SSH banner instead of HTTP'],
      ['/not-http', 'HANDSHAKE_BAD_RESPONSE', 'a line that is not an HTTP status line'],
    ] as const) {
      it(`${what}: handshake-failed, ${id}`, async () => {
        await expectFailure(await attempt(url(path), core, { protocols: ['chat.v1'] }), 'handshake-failed', id);
      });
    }

    it('a 101 choosing a subprotocol that was not offered: HANDSHAKE_SUBPROTOCOL', async () => {
      const o = await attempt(url('/unoffered-protocol'), core, { protocols: ['chat.v1', 'chat.v2'] });
      await expectFailure(o, 'handshake-failed', 'HANDSHAKE_SUBPROTOCOL');
      expect(o.close.error!.detail).toMatchObject({ protocol: 'chat.v9' });
    });

    it('a 101 choosing a subprotocol when none was offered: HANDSHAKE_SUBPROTOCOL', async () => {
      await expectFailure(await attempt(url('/unoffered-protocol'), core), 'handshake-failed', 'HANDSHAKE_SUBPROTOCOL');
    });

    it('a 200 page instead of the upgrade: handshake-rejected with status 200', async () => {
      const o = await attempt(url('/http-200'), core);
      await expectFailure(o, 'handshake-rejected', 'HANDSHAKE_STATUS');
      expect(o.close.error!.detail).toMatchObject({ status: 200 });
    });

    it('a response that never finishes: handshake-timeout after handshakeTimeout', async () => {
      const o = await attempt(url('/unfinished'), core, { handshakeTimeout: 300 });
      await expectFailure(o, 'handshake-timeout', 'HANDSHAKE_TIMEOUT');
      expect(o.ms).toBeGreaterThanOrEqual(290);
      expect(o.ms).toBeLessThan(1500);
    });

    it('a server that accepts TCP and says nothing: handshake-timeout', async () => {
      const o = await attempt(url('/silent'), core, { handshakeTimeout: 300 });
      await expectFailure(o, 'handshake-timeout', 'HANDSHAKE_TIMEOUT');
      expect(o.ms).toBeGreaterThanOrEqual(290);
    });

    it('a server that hangs up before answering: transport-error, CONNECTION_LOST', async () => {
      await expectFailure(await attempt(url('/hang-up'), core), 'transport-error', 'CONNECTION_LOST');
    });

    it('connection refused: transport-error, CONNECT_FAILED', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
      const deadPort = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const o = await attempt(`ws://127.0.0.1:${deadPort}/`, core);
      await expectFailure(o, 'transport-error', 'CONNECT_FAILED');
      expect(String(o.close.error!.detail && o.close.error!.detail.message)).toContain('ECONNREFUSED');
    });
  });
}

describe('errors before any connection', () => {
  it('throws INVALID_URL from the constructor, as WHATWG throws SyntaxError', () => {
    expect(() => new WebSocket('http://127.0.0.1/')).toThrow(expect.objectContaining({ id: 'INVALID_URL' }));
    expect(() => new WebSocket('ws://127.0.0.1/#frag')).toThrow(expect.objectContaining({ id: 'INVALID_URL' }));
  });

  it('throws INVALID_HANDSHAKE_OPTIONS for a header it cannot send', () => {
    expect(() => new WebSocket('ws://127.0.0.1/', undefined, { headers: { 'Sec-WebSocket-Key': 'x' } })).toThrow(expect.objectContaining({ id: 'INVALID_HANDSHAKE_OPTIONS' }));
    expect(() => new WebSocket('ws://127.0.0.1/', 'two words')).toThrow(expect.objectContaining({ id: 'INVALID_HANDSHAKE_OPTIONS' }));
  });

  it('close() while connecting reports 1006 local-close and never opens', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/silent`);
    let opened = false;
    ws.onopen = () => (opened = true);
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const ev = await new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
    expect(ev).toMatchObject({ code: 1006, wasClean: false, cause: 'local-close', error: null });
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    expect(opened).toBe(false);
  });
});
