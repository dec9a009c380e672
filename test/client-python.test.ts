/**
 * The Node client against python-websockets (Debian's python3-websockets, run by
 * /usr/bin/python3, not whatever python3 is first on PATH): a second, independent
 * RFC 6455 implementation. The server is test/peers/python-echo-server.py; what it
 * saw of each close it prints on stdout. Without python3-websockets this file FAILS
 * (CI installs it): an interoperability test that skips itself proves nothing.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from '../board/node/websocket';
import type { CloseEvent } from '../src/client/events';

const PYTHON = '/usr/bin/python3';
const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'peers', 'python-echo-server.py');

let child: ChildProcessWithoutNullStreams;
let port = 0;
/** "CLOSED <path> <code> <reason>" lines, as the server printed them. */
const closedLines: string[] = [];
const lineWaiters: (() => void)[] = [];

beforeAll(async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import websockets; print(websockets.__version__)'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import websockets (${probe.error ? probe.error.message : probe.stderr.trim()}). ` +
        'Install Debian\u2019s python3-websockets (apt-get install python3-websockets): this test needs a real python-websockets server.',
    );
  }
  child = spawn(PYTHON, [SERVER], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout });
  port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the python server printed no port in 10 s; stderr: ' + stderr)), 10000);
    child.once('exit', (code) => reject(new Error('the python server exited with ' + code + ': ' + stderr)));
    lines.on('line', (line) => {
      if (line.startsWith('PORT ')) {
        clearTimeout(timer);
        resolve(Number(line.slice(5)));
      } else if (line.startsWith('CLOSED ')) {
        closedLines.push(line);
        for (const w of lineWaiters.splice(0)) w();
      }
    });
  });
});

afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end(); // the server stops when its stdin closes
  const timer = setTimeout(() => child.kill(), 3000);
  await exited;
  clearTimeout(timer);
});

/** Waits until the server reported the close of a connection on `path`, and returns it. */
async function serverSawClose(path: string, seenBefore: number): Promise<string> {
  for (;;) {
    const mine = closedLines.filter((l) => l.startsWith('CLOSED ' + path + ' '));
    if (mine.length > seenBefore) return mine[seenBefore].slice(('CLOSED ' + path + ' ').length);
    await new Promise<void>((resolve) => lineWaiters.push(resolve));
  }
}

function closesSeen(path: string): number {
  return closedLines.filter((l) => l.startsWith('CLOSED ' + path + ' ')).length;
}

interface Session {
  ws: WebSocket;
  messages: (string | Uint8Array)[];
  closed: Promise<CloseEvent>;
  received(n: number): Promise<void>;
}

function connect(path: string, core: 'wasm' | 'js', fragmentSize?: number): Session {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, undefined, { core, fragmentSize });
  ws.binaryType = 'uint8array';
  const messages: (string | Uint8Array)[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  ws.onmessage = (ev) => {
    const d = ev.data;
    messages.push(typeof d === 'string' ? d : new Uint8Array((d as Uint8Array).slice()));
    for (const w of waiters) if (messages.length >= w.n) w.resolve();
  };
  const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
  const received = (n: number) =>
    Promise.race([
      new Promise<void>((resolve) => (messages.length >= n ? resolve() : waiters.push({ n, resolve }))),
      closed.then((ev) => {
        if (messages.length < n) throw new Error(`closed (${ev.code} ${ev.cause}) after ${messages.length} of ${n} messages`);
      }),
    ]);
  return { ws, messages, closed, received };
}

function bytes(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 13 + seed) & 0xff;
  return out;
}

for (const core of ['wasm', 'js'] as const) {
  describe(`the Node client against python-websockets (${core} core)`, () => {
    it('echoes text and binary, then closes cleanly with the server seeing 1000', async () => {
      const before = closesSeen('/echo');
      const s = connect('/echo', core);
      await new Promise<void>((resolve) => (s.ws.onopen = () => resolve()));
      s.ws.send('h\u00e9llo \ud83d\ude00');
      s.ws.send(bytes(5000));
      s.ws.send(new Uint8Array(0));
      await s.received(3);
      expect(s.messages[0]).toBe('h\u00e9llo \ud83d\ude00');
      expect(s.messages[1]).toEqual(bytes(5000));
      expect(s.messages[2]).toEqual(new Uint8Array(0));
      s.ws.close(1000, 'done');
      expect(await s.closed).toMatchObject({ code: 1000, reason: 'done', wasClean: true, cause: 'local-close' });
      expect(await serverSawClose('/echo', before)).toBe('1000 done');
    });

    it('receives fragmented messages and sends one that the server reassembles', async () => {
      const s = connect('/fragments', core, 100);
      await s.received(2);
      expect(s.messages[0]).toBe('fragmented t\u00e9xt');
      const bin = new Uint8Array(602);
      bin.set([0, 1]);
      for (let i = 2; i < 602; i += 2) bin.set([0xfe, 0xff], i);
      expect(s.messages[1]).toEqual(bin);
      // 2000 bytes in 100-byte fragments: websockets must put them back together.
      const long = 'ab\u00e9'.repeat(500);
      s.ws.send(long);
      s.ws.send(bytes(3000, 9));
      await s.received(4);
      expect(s.messages[2]).toBe(long);
      expect(s.messages[3]).toEqual(bytes(3000, 9));
      s.ws.close();
      expect(await s.closed).toMatchObject({ code: 1005, wasClean: true });
    });

    it('answers the server\u2019s ping, and gets a pong for its own', async () => {
      const s = connect('/ping', core);
      await s.received(1);
      expect(s.messages[0]).toBe('pong ' + Buffer.from('\x01\x02 python', 'latin1').toString('hex'));
      const pongs: Uint8Array[] = [];
      s.ws.onpong = (p) => pongs.push(p.slice());
      s.ws.ping(new Uint8Array([7, 7, 7]));
      await expect.poll(() => pongs.length).toBe(1);
      expect(Array.from(pongs[0])).toEqual([7, 7, 7]);
      s.ws.close(3001);
      expect(await s.closed).toMatchObject({ code: 3001, wasClean: true, cause: 'local-close' });
    });

    it('reports a server-initiated close with its code and reason as peer-closed', async () => {
      const before = closesSeen('/close');
      const s = connect('/close', core);
      const ev = await s.closed;
      expect(s.messages).toEqual(['closing']);
      expect(ev).toMatchObject({ code: 4001, reason: 'bye', wasClean: true, cause: 'peer-closed', error: null });
      // python-websockets reports the Close it received: our answer echoes the code, without a reason (RFC 6455 5.5.1).
      expect(await serverSawClose('/close', before)).toBe('4001 ');
    });

    it('reports a server that closes with 1011', async () => {
      const s = connect('/error', core);
      expect(await s.closed).toMatchObject({ code: 1011, reason: 'server error', wasClean: true, cause: 'peer-closed' });
    });

    it('reports a server whose handler crashed (websockets fails the connection with 1011)', async () => {
      const s = connect('/crash', core);
      await new Promise<void>((resolve) => (s.ws.onopen = () => resolve()));
      s.ws.send('make it crash');
      const ev = await s.closed;
      expect(ev.code).toBe(1011);
      expect(ev.cause).toBe('peer-closed');
    });
  });
}
