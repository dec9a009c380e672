/**
 * The handshake against a real server: ws's WebSocketServer on 127.0.0.1, our
 * request written over node:net, the response fed to ClientHandshake as it arrives.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ClientHandshake } from '../src/handshake/client-handshake';
import { parseWsUrl } from '../src/handshake/url';

let server: WebSocketServer;
let port: number;

beforeAll(async () => {
  server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    // Picks the client's last offer, to show the choice is the server's, not our first.
    handleProtocols: (protocols) => {
      const offered = Array.from(protocols);
      return offered.length ? offered[offered.length - 1] : false;
    },
    verifyClient: (info, cb) => {
      const path = info.req.url;
      if (path === '/private') cb(false, 401);
      else if (path === '/busy') cb(false, 503, 'busy', { 'Retry-After': '7' });
      else cb(true);
    },
  });
  server.on('connection', (ws, req) => {
    // A server may put its first frame in the same segment as the 101.
    if (req.url === '/greet') ws.send('hello');
  });
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const client of server.clients) client.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface Exchange {
  hs: ClientHandshake;
  /** Bytes that arrived after the head (frames, or a body after a refusal). */
  after: Uint8Array;
}

/**
 * Writes the request and feeds the response to `hs` until it is decided, then
 * waits until `afterBytes` bytes followed the head (or the server closed).
 */
function exchange(hs: ClientHandshake, afterBytes = 0): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let after = new Uint8Array(0);
    let decided = false;
    const finish = () => {
      socket.destroy();
      resolve({ hs, after });
    };
    const append = (bytes: Uint8Array) => {
      const joined = new Uint8Array(after.length + bytes.length);
      joined.set(after);
      joined.set(bytes, after.length);
      after = joined;
    };
    socket.on('error', reject);
    socket.on('connect', () => socket.write(hs.request(), 'latin1'));
    socket.on('data', (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      if (!decided) {
        const end = hs.receive(bytes);
        if (end < 0) return;
        decided = true;
        append(bytes.subarray(end));
      } else {
        append(bytes);
      }
      if (after.length >= afterBytes) finish();
    });
    socket.on('close', () => (decided ? finish() : reject(new Error('closed before the handshake was decided'))));
  });
}

function handshake(url: string, protocols?: string[]): ClientHandshake {
  return new ClientHandshake({ url: parseWsUrl(url, { tls: false }), key: new Uint8Array(randomBytes(16)), protocols });
}

describe('handshake with a ws WebSocketServer', () => {
  it('succeeds without a subprotocol', async () => {
    const { hs } = await exchange(handshake(`ws://127.0.0.1:${port}/plain`));
    expect(hs.error).toBeNull();
    expect(hs.result!.protocol).toBe('');
    expect(hs.result!.extensions).toBe('');
    expect(hs.result!.headers.upgrade).toBe('websocket');
  });

  it('reports the subprotocol the server chose', async () => {
    const { hs } = await exchange(handshake(`ws://127.0.0.1:${port}/chat`, ['chat.v1', 'chat.v2']));
    expect(hs.error).toBeNull();
    expect(hs.result!.protocol).toBe('chat.v2');
  });

  it('hands over the frame that follows the head', async () => {
    const { hs, after } = await exchange(handshake(`ws://127.0.0.1:${port}/greet`), 7);
    expect(hs.error).toBeNull();
    // FIN + text, unmasked, length 5, "hello"
    expect(Array.from(after.subarray(0, 7))).toEqual([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
  });

  it('reports a 401 refusal as HANDSHAKE_STATUS with its status', async () => {
    const { hs, after } = await exchange(handshake(`ws://127.0.0.1:${port}/private`), 'Unauthorized'.length);
    expect(hs.result).toBeNull();
    expect(hs.error!.id).toBe('HANDSHAKE_STATUS');
    expect(hs.error!.detail).toMatchObject({ status: 401, reason: 'Unauthorized', retryAfter: undefined });
    expect(Buffer.from(after).toString('latin1')).toBe('Unauthorized'); // ws's body, not read by the handshake
  });

  it('reports a 503 with Retry-After as HANDSHAKE_STATUS with retryAfter', async () => {
    const { hs } = await exchange(handshake(`ws://127.0.0.1:${port}/busy`));
    expect(hs.error!.id).toBe('HANDSHAKE_STATUS');
    expect(hs.error!.detail).toMatchObject({ status: 503, reason: 'Service Unavailable', retryAfter: 7 });
    expect((hs.error!.detail!.headers as { [k: string]: string })['retry-after']).toBe('7');
  });
});
