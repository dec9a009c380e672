/**
 * SPIKE: differential check of the size-first device client against the layered stack.
 * Both bundles (PICOWS_OLD_BUNDLE: the layered stack's build/firmware.js, saved aside;
 * PICOWS_NEW_BUNDLE: the spike's) run on the same emulated board (same seed: same RNG
 * words, so the same keys, masks and jitter) against scripted misbehaving servers. The
 * app's console (closed code cause, retry delay, stopped reason) and the bytes the
 * client sent after the request head must be the same.
 */
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createKalumaBoard, Radio } from '../board/sim/kaluma/index';
import { runBundle } from '../board/sim/sandbox';

const OLD = process.env.PICOWS_OLD_BUNDLE || '/tmp/old-firmware.js';
const NEW = process.env.PICOWS_NEW_BUNDLE || '/tmp/new-firmware.js';

type Script = (sock: Socket, key: string, n: number) => void;

const accept = (key: string): string => createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
const ok = (key: string): string => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`;
const frame = (first: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([first, payload.length]), payload]);

const SCRIPTS: { [name: string]: Script } = {
  'status 503 retry-after 1': (s) => s.write('HTTP/1.1 503 Busy\r\nRetry-After: 1\r\n\r\n'),
  'status 401': (s) => s.write('HTTP/1.1 401 Unauthorized\r\n\r\n'),
  'status 404': (s) => s.write('HTTP/1.1 404 Not Found\r\n\r\n'),
  'bad accept': (s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: xxxx\r\n\r\n'),
  'no upgrade header': (s, k) => s.write(ok(k).replace('Upgrade: websocket\r\n', '')),
  'extension': (s, k) => s.write(ok(k).replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: x\r\n\r\n')),
  'subprotocol': (s, k) => s.write(ok(k).replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: chat\r\n\r\n')),
  'LF without CR': (s) => s.write('HTTP/1.1 101 Switching Protocols\n\r\n'),
  'head too large': (s) => s.write('HTTP/1.1 101 OK\r\nX: ' + 'a'.repeat(5000) + '\r\n\r\n'),
  'reserved opcode after 101': (s, k) => s.write(Buffer.concat([Buffer.from(ok(k)), frame(0x83, Buffer.alloc(0))])),
  'invalid utf-8': (s, k) => s.write(Buffer.concat([Buffer.from(ok(k)), frame(0x81, Buffer.from([0xff, 0x41]))])),
  'close 1013': (s, k) => s.write(Buffer.concat([Buffer.from(ok(k)), frame(0x88, Buffer.from([0x03, 0xf5, 0x68, 0x69]))])),
  'close 1000 then FIN': (s, k) => {
    s.write(Buffer.concat([Buffer.from(ok(k)), frame(0x88, Buffer.from([0x03, 0xe8]))]));
    setTimeout(() => s.end(), 50);
  },
  'ping, fragmented text, binary, then FIN': (s, k) => {
    s.write(Buffer.concat([Buffer.from(ok(k)), frame(0x89, Buffer.from('hi')), frame(0x01, Buffer.from('ab')), frame(0x80, Buffer.from('cd')), frame(0x82, Buffer.from([1, 2, 3]))]));
    setTimeout(() => s.end(), 100);
  },
  'FIN during handshake': (s) => s.end(),
  'silence (handshake timeout is 10 s: not reached)': () => {},
};

async function runOne(code: string, script: Script, ms: number): Promise<{ console: string[]; sent: string[] }> {
  const sent: string[] = [];
  let n = 0;
  const server: Server = createServer((sock) => {
    const id = n++;
    let buf = Buffer.alloc(0);
    let head = true;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const key = /Sec-WebSocket-Key: (\S+)/.exec(buf.toString('latin1'))![1];
        buf = buf.subarray(end + 4);
        head = false;
        script(sock, key, id);
      }
      sent.push(id + ':' + buf.toString('hex'));
      buf = Buffer.alloc(0);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const radio = new Radio({ up: true, ssid: 'lab', password: 'pw' });
  const board = createKalumaBoard({ seed: 5, radio, storage: { WS_URL: `ws://127.0.0.1:${port}/`, TELEMETRY_MS: '600000', WIFI_SSID: 'lab', WIFI_PASSWORD: 'pw' } });
  const run = runBundle(code, board);
  await new Promise((r) => setTimeout(r, ms));
  run.stop();
  await board.dispose();
  await new Promise<void>((r) => server.close(() => r()));
  return { console: board.consoleText().filter((l) => !/^picows telemetry|^wifi/.test(l)), sent: sent.filter((x) => !x.endsWith(':')) };
}

describe.skipIf(!existsSync(OLD) || !existsSync(NEW))('the device client against the layered stack', () => {
  for (const name of Object.keys(SCRIPTS)) {
    it(name, async () => {
      const a = await runOne(readFileSync(OLD, 'utf8'), SCRIPTS[name], 3500);
      const b = await runOne(readFileSync(NEW, 'utf8'), SCRIPTS[name], 3500);
      console.log(name + '\n  old: ' + a.console.join(' | ') + '\n  new: ' + b.console.join(' | ') + '\n  sent old: ' + a.sent.join(' ') + '\n  sent new: ' + b.sent.join(' '));
      expect(b.console).toEqual(a.console);
      expect(b.sent).toEqual(a.sent);
    }, 20000);
  }
});
