/**
 * The Node WebSocket against ws's WebSocketServer over real sockets on 127.0.0.1:
 * messages, limits, fragmentation, ping/pong, the close handshake both ways, a
 * dropped socket, protocol errors written raw on the server's socket, and the
 * WHATWG surface (readyState, protocol, binaryType, bufferedAmount). Every
 * behaviour runs on both cores.
 */
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { WebSocket, type NodeWebSocketOptions } from '../board/node/websocket';
import type { CloseEvent, ErrorEvent } from '../src/client/events';
import { PicowsError } from '../src/errors';

type Handler = (sock: ServerSocket, req: IncomingMessage) => void;

let server: WebSocketServer;
let port: number;
const handlers = new Map<string, Handler>();
let nextPath = 0;

beforeAll(async () => {
  server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    // The server picks the client's last offer: the choice is the server's, not our first.
    handleProtocols: (protocols) => {
      const offered = Array.from(protocols);
      return offered.length ? offered[offered.length - 1] : false;
    },
  });
  server.on('connection', (sock, req) => {
    const h = handlers.get(req.url || '');
    if (h) h(sock, req);
    else sock.close(4404, 'no handler for ' + req.url);
  });
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const c of server.clients) c.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A fresh path on the shared server, served by `h`. */
function serve(h: Handler): string {
  const path = '/t' + nextPath++;
  handlers.set(path, h);
  return `ws://127.0.0.1:${port}${path}`;
}

const echo: Handler = (sock) => sock.on('message', (data, isBinary) => sock.send(data, { binary: isBinary }));

interface Client {
  ws: WebSocket;
  /** Event types in order, each with the readyState seen then. */
  log: string[];
  messages: (string | ArrayBuffer | Uint8Array)[];
  errors: ErrorEvent[];
  opened: Promise<void>;
  closed: Promise<CloseEvent>;
  /** Resolves once `n` messages arrived. */
  received(n: number): Promise<void>;
}

function client(url: string, options: NodeWebSocketOptions, protocols?: string | string[]): Client {
  const ws = new WebSocket(url, protocols, options);
  const log: string[] = ['new:' + ws.readyState];
  const messages: Client['messages'] = [];
  const errors: ErrorEvent[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('close', (ev) => reject(new Error('closed before open: ' + ev.cause + ' ' + (ev.error && ev.error.id))));
  });
  opened.catch(() => undefined);
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve));
  ws.addEventListener('open', () => log.push('open:' + ws.readyState));
  ws.addEventListener('message', (ev) => {
    log.push('message:' + ws.readyState);
    messages.push(ev.data);
    for (const w of waiters) if (messages.length >= w.n) w.resolve();
  });
  ws.addEventListener('error', (ev) => {
    log.push('error:' + ws.readyState);
    errors.push(ev);
  });
  ws.addEventListener('close', () => log.push('close:' + ws.readyState));
  const received = (n: number) =>
    new Promise<void>((resolve) => {
      if (messages.length >= n) resolve();
      else waiters.push({ n, resolve });
    });
  return { ws, log, messages, errors, opened, closed, received };
}

/** The server's view of the close handshake. */
function serverClosed(sock: ServerSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => sock.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

function bytes(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function text(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x61 + (i % 26));
  return s;
}

function u8(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  // On Node a Uint8Array message is a Buffer (a view of the chunk): compare as plain bytes.
  if (data instanceof Uint8Array) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new Error('not binary: ' + typeof data);
}

/** ws's underlying TCP socket: writing on it bypasses ws's framing, as a broken server would. */
function rawSocket(sock: ServerSocket): Socket {
  return (sock as unknown as { _socket: Socket })._socket;
}

function writeRaw(sock: ServerSocket, raw: number[]): void {
  rawSocket(sock).write(Buffer.from(raw));
}

for (const core of ['wasm', 'js'] as const) {
  describe(`the Node client against ws (${core} core)`, () => {
    it('echoes text and binary, with the WHATWG readyState sequence', async () => {
      const c = client(serve(echo), { core });
      expect(c.ws.readyState).toBe(WebSocket.CONNECTING);
      await c.opened;
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      c.ws.send('hello \u00e9\u20ac\ud83d\ude00');
      c.ws.send(new Uint8Array([0, 1, 0xfe, 0xff]));
      c.ws.send(new Uint8Array([9, 8, 7]).buffer);
      c.ws.send('');
      await c.received(4);
      expect(c.messages[0]).toBe('hello \u00e9\u20ac\ud83d\ude00');
      expect(Array.from(u8(c.messages[1]))).toEqual([0, 1, 0xfe, 0xff]);
      expect(Array.from(u8(c.messages[2]))).toEqual([9, 8, 7]);
      expect(c.messages[3]).toBe('');
      c.ws.close();
      expect(c.ws.readyState).toBe(WebSocket.CLOSING);
      const ev = await c.closed;
      expect(c.ws.readyState).toBe(WebSocket.CLOSED);
      expect(ev).toMatchObject({ code: 1005, wasClean: true, cause: 'local-close', error: null });
      expect(c.log).toEqual(['new:0', 'open:1', 'message:1', 'message:1', 'message:1', 'message:1', 'close:3']);
      // Sending after the close is silently discarded (WHATWG), sending before open throws.
      expect(() => c.ws.send('late')).not.toThrow();
      const early = new WebSocket(serve(echo), undefined, { core });
      expect(() => early.send('x')).toThrow(expect.objectContaining({ id: 'NOT_OPEN' }));
      early.close();
    });

    it('receives and sends text and binary of exactly maxMessage bytes', async () => {
      const max = 3000;
      const url = serve((sock) => {
        sock.send(text(max));
        sock.send(bytes(max));
        echo(sock, undefined as unknown as IncomingMessage);
      });
      const c = client(url, { core, maxMessage: max });
      await c.received(2);
      expect(c.messages[0]).toBe(text(max));
      expect(u8(c.messages[1])).toEqual(bytes(max));
      c.ws.send(text(max));
      c.ws.send(bytes(max, 5));
      await c.received(4);
      expect(c.messages[2]).toBe(text(max));
      expect(u8(c.messages[3])).toEqual(bytes(max, 5));
      expect(() => c.ws.send(bytes(max + 1))).toThrow(expect.objectContaining({ id: 'SEND_TOO_BIG' }));
      expect(() => c.ws.send(text(max + 1))).toThrow(expect.objectContaining({ id: 'SEND_TOO_BIG' }));
      c.ws.close(1000);
      expect((await c.closed).wasClean).toBe(true);
    });

    for (const kind of ['text', 'binary'] as const) {
      it(`closes with 1009 when the server sends a ${kind} message one byte over maxMessage`, async () => {
        const max = 3000;
        let seen!: Promise<{ code: number; reason: string }>;
        const url = serve((sock) => {
          seen = serverClosed(sock);
          sock.send(kind === 'text' ? text(max + 1) : bytes(max + 1));
        });
        const c = client(url, { core, maxMessage: max });
        const ev = await c.closed;
        expect(await seen).toEqual({ code: 1009, reason: 'MESSAGE_TOO_BIG' });
        expect(ev).toMatchObject({ code: 1009, wasClean: false, cause: 'protocol-error' });
        expect(ev.error && ev.error.id).toBe('MESSAGE_TOO_BIG');
        expect(c.messages).toEqual([]);
        expect(c.errors.map((e) => e.error.id)).toEqual(['MESSAGE_TOO_BIG']);
        expect(c.log).toEqual(['new:0', 'open:1', 'error:3', 'close:3']);
      });
    }

    it('reassembles a large message the server sends in fragments', async () => {
      const whole = bytes(20000, 3);
      const url = serve((sock) => {
        for (let at = 0; at < whole.length; at += 1500) {
          const end = Math.min(whole.length, at + 1500);
          sock.send(whole.subarray(at, end), { binary: true, fin: end === whole.length });
        }
        const t = text(9000);
        sock.send(t.slice(0, 1), { fin: false });
        sock.send(t.slice(1, 4000), { fin: false });
        sock.send('', { fin: false });
        sock.send(t.slice(4000), { fin: true });
      });
      const c = client(url, { core, maxMessage: 32768 });
      await c.received(2);
      expect(u8(c.messages[0])).toEqual(whole);
      expect(c.messages[1]).toBe(text(9000));
      c.ws.close();
      await c.closed;
    });

    it('fragments a message above fragmentSize, and the server receives it whole', async () => {
      let wire = 0;
      let got!: Promise<Buffer>;
      const url = serve((sock) => {
        rawSocket(sock).on('data', (d: Buffer) => (wire += d.length));
        got = new Promise((resolve) => sock.once('message', (d) => resolve(d as Buffer)));
      });
      const c = client(url, { core, maxMessage: 32768, fragmentSize: 1000 });
      await c.opened;
      const whole = bytes(20500, 7);
      c.ws.send(whole);
      expect(new Uint8Array(await got)).toEqual(whole);
      // 20 frames of 1000 bytes and one of 500, each with a 16-bit length and a mask: 8 bytes of header.
      expect(wire).toBe(20500 + 21 * 8);
      c.ws.close();
      await c.closed;
    });

    it('answers the server\u2019s pings with the same payload, and its own ping gets a pong', async () => {
      let pongs!: Promise<Buffer[]>;
      let serverPing!: Promise<Buffer>;
      const url = serve((sock) => {
        const got: Buffer[] = [];
        pongs = new Promise((resolve) =>
          sock.on('pong', (d) => {
            got.push(d);
            if (got.length === 3) resolve(got);
          }),
        );
        serverPing = new Promise((resolve) => sock.on('ping', resolve));
        sock.ping(Buffer.from('first'));
        sock.ping(Buffer.alloc(0));
        sock.ping(Buffer.from(bytes(125)));
      });
      const c = client(url, { core });
      const clientPongs: Uint8Array[] = [];
      c.ws.onpong = (p) => clientPongs.push(p.slice());
      await c.opened;
      expect((await pongs).map((b) => b.toString('hex'))).toEqual([Buffer.from('first').toString('hex'), '', Buffer.from(bytes(125)).toString('hex')]);
      expect(c.ws.ping(new Uint8Array([1, 2, 3]))).toBe(true);
      expect(Array.from(await serverPing)).toEqual([1, 2, 3]);
      // ws answers with a pong carrying the same bytes.
      await expect.poll(() => clientPongs.length).toBe(1);
      expect(Array.from(clientPongs[0])).toEqual([1, 2, 3]);
      expect(() => c.ws.ping(bytes(126))).toThrow(expect.objectContaining({ id: 'SEND_TOO_BIG' }));
      c.ws.close();
      await c.closed;
      expect(c.ws.ping()).toBe(false);
    });

    for (const [code, reason] of [
      [1000, 'normal'],
      [3000, 'app \u00e9'],
      [4999, 'x'.repeat(123)],
    ] as const) {
      it(`close(${code}) reaches the server with its reason, and closes cleanly`, async () => {
        let seen!: Promise<{ code: number; reason: string }>;
        const url = serve((sock) => (seen = serverClosed(sock)));
        const c = client(url, { core });
        await c.opened;
        c.ws.close(code, reason);
        expect(c.ws.readyState).toBe(WebSocket.CLOSING);
        c.ws.close(1000); // a second close() while closing does nothing
        expect(await seen).toEqual({ code, reason });
        const ev = await c.closed;
        // ws answers with the same code and reason (RFC 6455 5.5.1).
        expect(ev).toMatchObject({ code, reason, wasClean: true, cause: 'local-close', error: null });
        expect(c.errors).toEqual([]);
      });
    }

    for (const [code, reason] of [
      [1001, 'going away'],
      [1011, 'server broke'],
      [4000, '\u00e9t\u00e9'],
    ] as const) {
      it(`reports the server\u2019s close(${code}) with its reason as peer-closed, and echoes the code`, async () => {
        let seen!: Promise<{ code: number; reason: string }>;
        const url = serve((sock) => {
          seen = serverClosed(sock);
          sock.close(code, reason);
        });
        const c = client(url, { core });
        const ev = await c.closed;
        expect(ev).toMatchObject({ code, reason, wasClean: true, cause: 'peer-closed', error: null });
        expect(await seen).toEqual({ code, reason: '' });
        expect(c.log).toEqual(['new:0', 'open:1', 'close:3']);
      });
    }

    it('reports a server close without a code as 1005, after the messages sent before it', async () => {
      const url = serve((sock) => {
        sock.send('one');
        sock.send('two');
        sock.close();
      });
      const c = client(url, { core });
      const ev = await c.closed;
      expect(c.messages).toEqual(['one', 'two']);
      expect(ev).toMatchObject({ code: 1005, reason: '', wasClean: true, cause: 'peer-closed' });
    });

    it('reports a socket the server destroys as 1006, transport-error, with an error event first', async () => {
      const url = serve((sock) => {
        sock.send('bye');
        setTimeout(() => sock.terminate(), 20);
      });
      const c = client(url, { core });
      const ev = await c.closed;
      expect(c.messages).toEqual(['bye']);
      expect(ev).toMatchObject({ code: 1006, reason: '', wasClean: false, cause: 'transport-error' });
      expect(ev.error).toBeInstanceOf(PicowsError);
      expect(['CONNECTION_LOST', 'TRANSPORT_ERROR']).toContain(ev.error && ev.error.id);
      expect(c.errors.length).toBe(1);
      expect(c.errors[0].error).toBe(ev.error);
      expect(c.log).toEqual(['new:0', 'open:1', 'message:1', 'error:3', 'close:3']);
    });

    for (const [what, raw, code, id] of [
      ['invalid UTF-8 in a text message', [0x81, 0x03, 0x61, 0xc0, 0x80], 1007, 'INVALID_UTF8'],
      ['a reserved opcode', [0x83, 0x01, 0x00], 1002, 'RESERVED_OPCODE'],
      ['a masked frame', [0x82, 0x81, 1, 2, 3, 4, 5], 1002, 'MASKED_FRAME'],
      ['a continuation with no message', [0x80, 0x00], 1002, 'UNEXPECTED_CONTINUATION'],
    ] as const) {
      it(`sends Close ${code} and reports protocol-error when the server sends ${what}`, async () => {
        let seen!: Promise<{ code: number; reason: string }>;
        const url = serve((sock) => {
          seen = serverClosed(sock);
          sock.send('fine');
          writeRaw(sock, raw as unknown as number[]);
        });
        const c = client(url, { core });
        const ev = await c.closed;
        expect(await seen).toEqual({ code, reason: id });
        expect(c.messages).toEqual(['fine']);
        expect(ev).toMatchObject({ code, wasClean: false, cause: 'protocol-error' });
        expect(ev.error && ev.error.id).toBe(id);
        expect(c.errors.map((e) => e.error.id)).toEqual([id]);
      });
    }

    it('reports the protocol error, not a reset, when the server resets TCP after the client failed', async () => {
      const url = serve((sock) => {
        const raw = rawSocket(sock);
        raw.removeAllListeners('data');
        // The client's Close arrives: answer with a reset (RST), as a crashing server would.
        raw.once('data', () => raw.resetAndDestroy());
        raw.write(Buffer.from([0x81, 0x01, 0xff]));
      });
      const c = client(url, { core });
      const ev = await c.closed;
      expect(ev).toMatchObject({ code: 1007, wasClean: false, cause: 'protocol-error' });
      expect(ev.error && ev.error.id).toBe('INVALID_UTF8');
    });

    it('gives up on a server that never answers its Close: close-timeout, 1006', async () => {
      let gone!: Promise<unknown>;
      const url = serve((sock) => {
        const raw = rawSocket(sock);
        raw.removeAllListeners('data'); // ws never sees the Close, so never answers it
        gone = new Promise((resolve) => raw.once('close', resolve)); // (events.once would reject on a reset)
      });
      const c = client(url, { core, closeTimeout: 150 });
      await c.opened;
      const t0 = Date.now();
      c.ws.close(1000, 'bye');
      const ev = await c.closed;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
      expect(ev).toMatchObject({ code: 1006, wasClean: false, cause: 'close-timeout' });
      expect(ev.error && ev.error.id).toBe('CLOSE_TIMEOUT');
      expect(c.errors.map((e) => e.error.id)).toEqual(['CLOSE_TIMEOUT']);
      await gone; // and the client dropped TCP
    });

    it('ends TCP itself when the server exchanged Closes but keeps TCP open, and reports the close as clean', async () => {
      let gone!: Promise<unknown>;
      const url = serve((sock) => {
        const raw = rawSocket(sock);
        raw.removeAllListeners('data');
        gone = new Promise((resolve) => raw.once('close', resolve)); // (events.once would reject on a reset)
        raw.write(Buffer.from([0x88, 0x04, 0x0f, 0xa0, 0x6f, 0x6b])); // Close 4000 "ok", then silence
        // Bytes after the Close are ignored and must not extend the wait.
        const noise = setInterval(() => raw.writable && raw.write(Buffer.from([0x81, 0x01, 0x61])), 20);
        raw.once('close', () => clearInterval(noise));
      });
      const c = client(url, { core, closeTimeout: 150 });
      const ev = await c.closed;
      expect(ev).toMatchObject({ code: 4000, reason: 'ok', wasClean: true, cause: 'peer-closed', error: null });
      expect(c.messages).toEqual([]);
      await gone;
    });

    it('paces writes like the device (512 B a turn): bufferedAmount rises, then goes back to 0', async () => {
      let got!: Promise<Buffer[]>;
      const url = serve((sock) => {
        const all: Buffer[] = [];
        got = new Promise((resolve) =>
          sock.on('message', (d) => {
            all.push(d as Buffer);
            if (all.length === 2) resolve(all);
          }),
        );
      });
      const c = client(url, { core, maxWrite: 512 });
      await c.opened;
      expect(c.ws.bufferedAmount).toBe(0);
      c.ws.send(bytes(4000));
      c.ws.send(text(300));
      // 504-byte fragments of 512 framed bytes: at most 512 B leave this turn (less when the
      // handshake's turn is still open), the rest is queued.
      const first = c.ws.bufferedAmount;
      const framed = 4000 + 8 * 8 + 300 + 8;
      expect(first).toBeGreaterThanOrEqual(framed - 512);
      expect(first).toBeLessThanOrEqual(framed);
      const received = await got;
      expect(new Uint8Array(received[0])).toEqual(bytes(4000));
      expect(received[1].toString()).toBe(text(300));
      expect(c.ws.bufferedAmount).toBe(0);
      c.ws.close();
      await c.closed;
    });

    it('throws INVALID_CLOSE_ARGS for codes and reasons close() may not send, changing nothing', async () => {
      const c = client(serve(echo), { core });
      await c.opened;
      for (const code of [0, 999, 1001, 1002, 1005, 1006, 1011, 1015, 2999, 5000, 65535, 3000.5]) {
        expect(() => c.ws.close(code)).toThrow(expect.objectContaining({ id: 'INVALID_CLOSE_ARGS' }));
      }
      expect(() => c.ws.close(1000, 'x'.repeat(124))).toThrow(expect.objectContaining({ id: 'INVALID_CLOSE_ARGS' }));
      // 62 two-byte characters: 124 UTF-8 bytes, only 62 UTF-16 units.
      expect(() => c.ws.close(1000, '\u00e9'.repeat(62))).toThrow(expect.objectContaining({ id: 'INVALID_CLOSE_ARGS' }));
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      c.ws.send('still open');
      await c.received(1);
      expect(c.messages).toEqual(['still open']);
      // WHATWG: a reason without a code closes with 1000.
      c.ws.close(undefined, 'just a reason');
      expect(await c.closed).toMatchObject({ code: 1000, wasClean: true });
    });

    it('negotiates a subprotocol and sends extra headers', async () => {
      let req!: IncomingMessage;
      const url = serve((sock, r) => {
        req = r;
        sock.send(sock.protocol);
      });
      const c = client(url, { core, headers: { Authorization: 'Bearer t0k3n', 'X-Device': 'pico-7' } }, ['chat.v1', 'chat.v2']);
      expect(c.ws.protocol).toBe('');
      await c.received(1);
      expect(c.ws.protocol).toBe('chat.v2');
      expect(c.messages).toEqual(['chat.v2']);
      expect(req.headers.authorization).toBe('Bearer t0k3n');
      expect(req.headers['x-device']).toBe('pico-7');
      expect(req.headers['sec-websocket-protocol']).toBe('chat.v1, chat.v2');
      expect(c.ws.extensions).toBe('');
      c.ws.close();
      await c.closed;
      const none = client(serve((sock) => sock.send('p=' + sock.protocol)), { core });
      await none.received(1);
      expect(none.messages).toEqual(['p=']);
      expect(none.ws.protocol).toBe('');
      none.ws.close();
      await none.closed;
    });

    it('delivers binary as an ArrayBuffer or a Uint8Array, as binaryType says', async () => {
      const payload = bytes(300, 1);
      const url = serve((sock) =>
        sock.on('message', () => {
          sock.send(payload.subarray(0, 5));
          sock.send(payload);
        }),
      );
      const c = client(url, { core });
      await c.opened;
      expect(c.ws.binaryType).toBe('arraybuffer');
      c.ws.send('go');
      await c.received(2);
      // Exactly the message: not the chunk it arrived in.
      expect(c.messages[0]).toBeInstanceOf(ArrayBuffer);
      expect((c.messages[0] as ArrayBuffer).byteLength).toBe(5);
      expect(new Uint8Array(c.messages[0] as ArrayBuffer)).toEqual(payload.subarray(0, 5));
      expect(new Uint8Array(c.messages[1] as ArrayBuffer)).toEqual(payload);
      c.ws.binaryType = 'uint8array';
      c.ws.send('again');
      await c.received(4);
      expect(c.messages[2]).toBeInstanceOf(Uint8Array);
      expect(u8(c.messages[2])).toEqual(payload.subarray(0, 5));
      expect(u8(c.messages[3])).toEqual(payload);
      c.ws.close();
      await c.closed;
    });
  });
}
