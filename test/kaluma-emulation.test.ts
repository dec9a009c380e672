// The emulated Kaluma 1.2.1 board (board/sim/kaluma, board/sim/sandbox.ts): one test
// per quirk of shared/platform/kaluma.md §3 (and the engine facts of §1) that the
// emulation keeps, against real node:net servers on 127.0.0.1.
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createKalumaBoard, type KalumaBoard, type KalumaBoardOptions, Radio } from '../board/sim/kaluma/index';
import { runBundle } from '../board/sim/sandbox';
import { sleep, waitFor } from './helpers/wait';

type Any = any;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});


/** One accepted connection on the test server and everything it saw. */
interface Peer {
  socket: net.Socket;
  chunks: Buffer[];
  ended: boolean;
  closed: boolean;
  error: NodeJS.ErrnoException | null;
  bytes(): Buffer;
}

async function startServer(onPeer?: (peer: Peer) => void): Promise<{ port: number; peers: Peer[] }> {
  const peers: Peer[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const peer: Peer = {
      socket,
      chunks: [],
      ended: false,
      closed: false,
      error: null,
      bytes: () => Buffer.concat(peer.chunks),
    };
    socket.on('data', (c: Buffer) => peer.chunks.push(c));
    socket.on('end', () => (peer.ended = true));
    socket.on('error', (e: NodeJS.ErrnoException) => (peer.error = e));
    socket.on('close', () => (peer.closed = true));
    peers.push(peer);
    if (onPeer) onPeer(peer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const p of peers) p.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, peers };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let seedCounter = 1;
function makeBoard(opts: Partial<KalumaBoardOptions> = {}): KalumaBoard {
  const board = createKalumaBoard({ seed: seedCounter++, ...opts });
  cleanups.push(() => board.dispose());
  return board;
}

/** Joins the board's Wi-Fi (the radio accepts any SSID unless it names one). */
function join(board: KalumaBoard, ssid = 'lab', password = 'secret'): Any {
  const { WiFi } = board.require('wifi') as Any;
  const wifi = new WiFi();
  wifi.connect({ ssid, password });
  return wifi;
}

/** A joined board and an open Kaluma socket to `port`, with a log of its events. */
function openSocket(board: KalumaBoard, port: number) {
  const { Socket } = board.require('net') as Any;
  const s = new Socket();
  const log: string[] = [];
  const data: Uint8Array[] = [];
  for (const ev of ['ready', 'connect', 'end', 'close', 'drain', 'finish']) s.on(ev, () => log.push(ev));
  s.on('error', (e: Error) => log.push(`error:${e.message}`));
  s.on('data', (d: Uint8Array) => data.push(d));
  s.connect({ host: '127.0.0.1', port });
  return { s, log, data };
}

async function connected(board: KalumaBoard, port: number, peers: Peer[], index = peers.length) {
  const sock = openSocket(board, port);
  await waitFor('the connect event', () => sock.log.includes('connect') && peers.length > index);
  return { ...sock, peer: peers[index] };
}

const timers = (board: KalumaBoard) => board.globals.values as Any;

describe('net: connecting', () => {
  it('ready fires synchronously inside connect(), connect once the TCP handshake completes', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { log } = openSocket(board, port);
    log.push('connect() returned');
    expect(log).toEqual(['ready', 'connect() returned']);
    await waitFor('connect', () => log.includes('connect'));
    expect(log).toEqual(['ready', 'connect() returned', 'connect']);
    expect(peers).toHaveLength(1);
  });

  it("with connectEvent 'sync', ready then connect both fire inside connect()", async () => {
    const { port } = await startServer();
    const board = makeBoard({ connectEvent: 'sync' });
    join(board);
    const { log } = openSocket(board, port);
    log.push('connect() returned');
    expect(log).toEqual(['ready', 'connect', 'connect() returned']);
  });

  it('createConnection without a listener never connects', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const net = board.require('net') as Any;
    const silent = net.createConnection({ host: '127.0.0.1', port });
    const events: string[] = [];
    for (const ev of ['ready', 'connect']) silent.on(ev, () => events.push(ev));
    await sleep(100);
    expect(peers).toHaveLength(0);
    expect(events).toEqual([]);
    expect(board.socketNumbers()).toEqual([]);

    let connectedWith = false;
    net.createConnection({ host: '127.0.0.1', port }, () => (connectedWith = true));
    await waitFor('a connection with a listener', () => connectedWith && peers.length === 1);
  });

  it('connect throws when Wi-Fi is down', async () => {
    const { port } = await startServer();
    const radio = new Radio({ up: true });
    const board = makeBoard({ radio });
    const { Socket } = board.require('net') as Any;
    // Never joined: the link is down.
    expect(() => new Socket().connect({ host: '127.0.0.1', port })).toThrow('WiFi is not connected.');
    join(board);
    radio.setUp(false);
    expect(() => new Socket().connect({ host: '127.0.0.1', port })).toThrow('WiFi is not connected.');
    expect(board.counters.connectThrows).toBe(2);
  });

  it('connect throws when DNS fails, resolves the simulated table otherwise', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { Socket } = board.require('net') as Any;
    expect(() => new Socket().connect({ host: 'ws.example.invalid', port })).toThrow('DNS Error: IP is not found.');
    // The number was taken before the lookup failed, and stays taken until destroy().
    expect(board.socketNumbers()).toEqual([0]);
    const ok = new Socket();
    ok.connect({ host: 'localhost', port });
    await waitFor('localhost to connect', () => peers.length === 1);
  });

  it('a refused connect fires nothing and keeps its socket number', async () => {
    const port = await closedPort();
    const board = makeBoard();
    join(board);
    const { log } = openSocket(board, port);
    await waitFor('the refusal', () => board.counters.unreportedTcpErrors === 1);
    await sleep(50);
    expect(log).toEqual(['ready']);
    expect(board.socketNumbers()).toEqual([0]);
  });

  it('socket numbers: the lowest free one is taken, 16 at most', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { Socket } = board.require('net') as Any;
    const sockets: Any[] = [];
    for (let i = 0; i < 16; i++) {
      const s = new Socket();
      s.connect({ host: '127.0.0.1', port });
      sockets.push(s);
    }
    expect(sockets.map((s) => s._fd)).toEqual([...Array(16).keys()]);
    let thrown: Any = null;
    try {
      new Socket().connect({ host: '127.0.0.1', port });
    } catch (e) {
      thrown = e;
    }
    expect(thrown && thrown.name).toBe('SystemError');
    expect(thrown.code).toBe('EREMOTEIO');
    sockets[3].destroy();
    const again = new Socket();
    again.connect({ host: '127.0.0.1', port });
    expect(again._fd).toBe(3);
    await waitFor('17 accepted connections', () => peers.length === 17);
  });

  it('localPort is 0 and there is no setTimeout, setKeepAlive or setNoDelay', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s } = await connected(board, port, peers);
    expect(s.localPort).toBe(0);
    expect(s.remoteAddress).toBe('127.0.0.1');
    expect(s.setTimeout).toBeUndefined();
    expect(s.setKeepAlive).toBeUndefined();
    expect(s.setNoDelay).toBeUndefined();
  });
});

describe('net: receiving', () => {
  it('data events carry a plain Uint8Array, not a Buffer', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { peer, data } = await connected(board, port, peers);
    peer.socket.write('hi');
    await waitFor('data', () => data.length === 1);
    expect(data[0]).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(data[0])).toBe(false);
    expect(Object.getPrototypeOf(data[0])).toBe(Uint8Array.prototype);
    expect([...data[0]]).toEqual([0x68, 0x69]);
  });

  it('data arrives in chunks of at most one TCP segment (1460 B)', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { peer, data } = await connected(board, port, peers);
    peer.socket.write(Buffer.alloc(5000, 7));
    await waitFor('5000 bytes', () => data.reduce((n, d) => n + d.length, 0) === 5000);
    expect(Math.max(...data.map((d) => d.length))).toBeLessThanOrEqual(1460);
    expect(data.length).toBeGreaterThanOrEqual(4);
  });

  it('a remote FIN fires close but no end, and frees the socket number', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { peer, log } = await connected(board, port, peers);
    peer.socket.end();
    await waitFor('close', () => log.includes('close'));
    expect(log).toEqual(['ready', 'connect', 'close']);
    expect(board.socketNumbers()).toEqual([]);
    await waitFor('our FIN back', () => peer.ended);
  });

  it('a peer reset fires no close and no error', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s, peer, log } = await connected(board, port, peers);
    peer.socket.resetAndDestroy();
    await waitFor('the reset to reach the board', () => board.counters.unreportedTcpErrors === 1);
    await sleep(50);
    expect(log).toEqual(['ready', 'connect']);
    // The number stays taken and writes vanish into the freed pcb, reported as success.
    expect(board.socketNumbers()).toEqual([0]);
    let cbArgs: unknown[] | null = null;
    s.write('lost', (...args: unknown[]) => (cbArgs = args));
    await waitFor('the flush', () => board.counters.danglingWrites === 1);
    expect(cbArgs).toEqual([]);
    expect(log).toEqual(['ready', 'connect']);
  });
});

describe('net: writing', () => {
  it('writes in one turn are merged into one native write', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s, peer } = await connected(board, port, peers);
    s.write('ab');
    s.write('cd');
    s.write(new Uint8Array([0x65]));
    expect(board.counters.nativeWrites).toBe(0);
    await waitFor('the bytes', () => peer.bytes().length === 5);
    expect(peer.bytes().toString('latin1')).toBe('abcde');
    expect(board.counters.nativeWrites).toBe(1);
  });

  it('units >= 0x100 are written as 0x00, one byte per UTF-16 unit', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s, peer } = await connected(board, port, peers);
    s.write('A\u0100\u00ff\u20ac\u0000B');
    await waitFor('the bytes', () => peer.bytes().length === 6);
    expect([...peer.bytes()]).toEqual([0x41, 0x00, 0xff, 0x00, 0x00, 0x42]);
  });

  it('the write callback runs synchronously, before anything is sent', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s } = await connected(board, port, peers);
    const seen: unknown[] = [];
    s.write('x', (...args: unknown[]) => seen.push(args.length, board.counters.nativeWrites));
    seen.push('after write()');
    expect(seen).toEqual([0, 0, 'after write()']);
  });

  it('write() returns false for any non-empty write', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s } = await connected(board, port, peers);
    expect(s.write('')).toBe(true);
    expect(s.write('x')).toBe(false);
    await sleep(20);
    expect(s.write(new Uint8Array([1]))).toBe(false);
  });

  it('drain never fires', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s, peer, log } = await connected(board, port, peers);
    for (let i = 0; i < 5; i++) {
      s.write('0123456789');
      await sleep(5);
    }
    await waitFor('50 bytes', () => peer.bytes().length === 50);
    await sleep(30);
    expect(log).not.toContain('drain');
  });

  it('a flush over the C stack crashes the board', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s, peer } = await connected(board, port, peers);
    let timerRan = false;
    timers(board).setTimeout(() => (timerRan = true), 30);
    s.write('a'.repeat(1500));
    s.write('b'.repeat(600)); // merged: 2100 B of VLA in one native write
    await waitFor('the crash', () => board.state === 'hung');
    expect(board.hang?.reason).toMatch(/C stack overflow/);
    expect(board.counters.crashes).toBe(1);
    await sleep(60);
    expect(timerRan).toBe(false);
    expect(peer.bytes().length).toBe(0);
    // The hung board ignores whatever the peer sends.
    peer.socket.write('ping');
    await sleep(30);
    expect(board.counters.bytesReceived).toBe(0);
  });

  it('bytes 0x80-0xFF count double against the C stack', async () => {
    const { port, peers } = await startServer();
    const ascii = makeBoard();
    join(ascii);
    const a = await connected(ascii, port, peers);
    a.s.write('a'.repeat(2000));
    await waitFor('2000 ASCII bytes', () => a.peer.bytes().length === 2000);
    expect(ascii.state).toBe('running');

    const latin = makeBoard();
    join(latin);
    const b = await connected(latin, port, peers);
    b.s.write('\u00ff'.repeat(1100)); // 2200 B of CESU-8
    await waitFor('the crash', () => latin.state === 'hung');
    expect(b.peer.bytes().length).toBe(0);
  });

  it('a write larger than TCP_SND_BUF is dropped whole, reported as success', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard({ cStackLimit: 1 << 20 });
    join(board);
    const { s, peer, log } = await connected(board, port, peers);
    s.write('x'.repeat(8 * 1460 + 1));
    await waitFor('the flush', () => board.counters.nativeWrites === 1);
    await sleep(50);
    expect(board.counters.writesDropped).toBe(1);
    expect(board.counters.bytesDropped).toBe(8 * 1460 + 1);
    expect(peer.bytes().length).toBe(0);
    expect(log.some((l) => l.startsWith('error'))).toBe(false);
    s.write('y'.repeat(8 * 1460));
    await waitFor('a write that fits', () => peer.bytes().length === 8 * 1460);
  });

  it('a full send buffer drops data silently', async () => {
    const { port, peers } = await startServer((peer) => peer.socket.pause());
    const board = makeBoard({ cStackLimit: 1 << 20 });
    join(board);
    const { s, log } = await connected(board, port, peers);
    const chunk = 'z'.repeat(8 * 1460);
    const deadline = Date.now() + 15000;
    while (board.counters.writesDropped === 0 && Date.now() < deadline) {
      s.write(chunk);
      await sleep(0);
    }
    expect(board.counters.writesDropped).toBeGreaterThan(0);
    expect(board.eventsOf('write-dropped')[0].detail).toMatch(/TCP_SND_BUF full/);
    expect(log.filter((l) => l.startsWith('error') || l === 'close')).toEqual([]);
  });

  it('a write to a closed socket reads as success', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s, log } = await connected(board, port, peers);
    s.destroy();
    expect(log).toContain('close');
    s.write('after destroy');
    await waitFor('the flush', () => board.counters.writesToClosed === 1);
    expect(log.some((l) => l.startsWith('error'))).toBe(false);
  });

  it('a stale socket object writes into the connection that reused its number', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const first = await connected(board, port, peers);
    first.peer.socket.end(); // the server closes: `close`, number 0 is free again
    await waitFor('close', () => first.log.includes('close'));
    const second = await connected(board, port, peers);
    expect(second.s._fd).toBe(first.s._fd);
    first.s.write('stale'); // through the abandoned object
    await waitFor('the stale bytes', () => second.peer.bytes().length === 5);
    expect(second.peer.bytes().toString()).toBe('stale');
    expect(board.counters.crossWrites).toBe(1);
  });

  it('end() emits end locally, then finish, and sends a FIN', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s, peer, log } = await connected(board, port, peers);
    s.end();
    expect(log).toEqual(['ready', 'connect', 'end', 'finish']);
    await waitFor('the FIN', () => peer.ended);
  });

  it('destroy() emits close synchronously and frees the number', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const { s, peer, log } = await connected(board, port, peers);
    s.destroy();
    expect(log).toEqual(['ready', 'connect', 'close']);
    expect(board.socketNumbers()).toEqual([]);
    await waitFor('the FIN', () => peer.ended);
  });
});

describe('net: link loss and reboots', () => {
  it('radio down blackholes connections; they stay dead when it comes back', async () => {
    const { port, peers } = await startServer();
    const radio = new Radio({ up: true });
    const board = makeBoard({ radio });
    const wifi = join(board);
    const old = await connected(board, port, peers);
    radio.setUp(false);
    old.peer.socket.write('lost in the air');
    old.s.write('also lost');
    await sleep(50);
    expect(old.data).toEqual([]);
    expect(old.peer.bytes().length).toBe(0);
    expect(old.log).toEqual(['ready', 'connect']);

    radio.setUp(true);
    wifi.connect({ ssid: 'lab', password: 'secret' });
    // The peer gave up long ago: its socket is reset; the board's object hears nothing.
    await waitFor('the old peer to go', () => old.peer.closed);
    expect(old.log).toEqual(['ready', 'connect']);
    const fresh = await connected(board, port, peers);
    fresh.s.write('hello');
    await waitFor('a new connection to work', () => fresh.peer.bytes().toString() === 'hello');
  });

  it('after a reboot, the peer of an old connection is reset by its next segment', async () => {
    const { port, peers } = await startServer();
    const board = makeBoard();
    join(board);
    const old = await connected(board, port, peers);
    board.reboot('test');
    expect(board.boot).toBe(2);
    expect(old.log).toEqual(['ready', 'connect']);
    await sleep(20);
    expect(old.peer.closed).toBe(false); // an idle peer notices nothing
    old.peer.socket.write('ping');
    await waitFor('the reset', () => old.peer.closed);
    expect(old.peer.error?.code).toBe('ECONNRESET');
  });
});

describe('wifi', () => {
  it('connect emits associated and connected synchronously inside connect()', () => {
    const board = makeBoard();
    const { WiFi } = board.require('wifi') as Any;
    const wifi = new WiFi();
    const log: unknown[] = [];
    wifi.on('associated', () => log.push('associated'));
    wifi.on('connected', () => log.push('connected'));
    wifi.connect({ ssid: 'lab', password: 'pw' }, (err: unknown, info: Any) => log.push(`cb ${err} ${info.ssid}`));
    log.push('returned');
    expect(log).toEqual(['associated', 'connected', 'cb null lab', 'returned']);
  });

  it('a failed join reads as success, fires no connected event and blocks 30 s of board time', async () => {
    const board = makeBoard({ radio: new Radio({ ssid: 'lab', password: 'pw' }) });
    const { WiFi } = board.require('wifi') as Any;
    const wifi = new WiFi();
    const events: string[] = [];
    wifi.on('connected', () => events.push('connected'));
    let due = false;
    timers(board).setTimeout(() => (due = true), 5000);
    let cbArgs: unknown[] = [];
    wifi.connect({ ssid: 'lab', password: 'wrong' }, (...args: unknown[]) => (cbArgs = args));
    expect(cbArgs[0]).toBe(null);
    expect((cbArgs[1] as Any).ssid).toBe('lab');
    expect(events).toEqual([]);
    expect(board.millis()).toBeGreaterThanOrEqual(30000);
    // The 5 s timer came due during the block: it fires as soon as the loop runs again.
    await waitFor('the overdue timer', () => due, 500);
    expect(board.counters.wifiJoinFailures).toBe(1);
  });

  it('connect falls back to storage WIFI_SSID and WIFI_PASSWORD', () => {
    const radio = new Radio({ ssid: 'home', password: 'hunter22' });
    const board = makeBoard({ radio, storage: { WIFI_SSID: 'home', WIFI_PASSWORD: 'hunter22' } });
    const { WiFi } = board.require('wifi') as Any;
    const wifi = new WiFi();
    let connected = false;
    wifi.on('connected', () => (connected = true));
    wifi.connect();
    expect(connected).toBe(true);
    let info: Any = null;
    wifi.getConnection((_e: unknown, i: Any) => (info = i));
    expect(info.ssid).toBe('home');

    // No SSID anywhere: the driver's TypeError is thrown inside get_connection's callback,
    // whose error value the driver ignores. Nothing happens, not even the callback.
    const bare = makeBoard();
    const bareWifi = new ((bare.require('wifi') as Any).WiFi)();
    let called = false;
    bareWifi.connect({}, () => (called = true));
    expect(called).toBe(false);
    expect(bare.eventsOf('uncaught')[0].detail).toMatch(/SSID error/);
    // With enforce the driver is called directly, and its TypeError reaches the caller.
    expect(() => bareWifi.connect({ enforce: true })).toThrow('SSID error');
  });

  it('connect while already connected calls back without any event', () => {
    const board = makeBoard();
    const wifi = join(board);
    const events: string[] = [];
    wifi.on('associated', () => events.push('associated'));
    wifi.on('connected', () => events.push('connected'));
    let cbInfo: Any = null;
    wifi.connect({ ssid: 'lab', password: 'secret' }, (_e: unknown, info: Any) => (cbInfo = info));
    expect(events).toEqual([]);
    expect(cbInfo.ssid).toBe('lab');
  });

  it('disconnected fires only on an explicit disconnect()', () => {
    const radio = new Radio();
    const board = makeBoard({ radio });
    const wifi = join(board);
    const events: string[] = [];
    wifi.on('disconnected', () => events.push('disconnected'));
    radio.setUp(false);
    expect(events).toEqual([]);
    radio.setUp(true);
    wifi.connect({ ssid: 'lab', password: 'secret' });
    wifi.disconnect();
    expect(events).toEqual(['disconnected']);
  });

  it('getConnection while down gives (null, undefined), while up (null, {ssid, bssid})', () => {
    const radio = new Radio();
    const board = makeBoard({ radio });
    const wifi = join(board, 'lab');
    let up: unknown[] = [];
    wifi.getConnection((...args: unknown[]) => (up = args));
    expect(up[0]).toBe(null);
    expect(up[1]).toEqual({ ssid: 'lab', bssid: '' });
    radio.setUp(false);
    let down: unknown[] = [];
    wifi.getConnection((...args: unknown[]) => (down = args));
    expect(down).toEqual([null, undefined]);
  });

  it('only the newest WiFi object hears the events', () => {
    const board = makeBoard();
    const { WiFi } = board.require('wifi') as Any;
    const first = new WiFi();
    const second = new WiFi();
    const heard: string[] = [];
    first.on('connected', () => heard.push('first'));
    second.on('connected', () => heard.push('second'));
    first.connect({ ssid: 'lab', password: 'pw' });
    expect(heard).toEqual(['second']);
  });

  it('a join that blocks past the watchdog reboots the board', () => {
    const radio = new Radio({ up: false });
    const board = makeBoard({ radio });
    const { WDT } = board.require('wdt') as Any;
    new WDT(2000);
    const { WiFi } = board.require('wifi') as Any;
    let called = false;
    new WiFi().connect({ ssid: 'lab', password: 'pw' }, () => (called = true));
    expect(called).toBe(false);
    expect(board.boot).toBe(2);
    expect(board.counters.watchdogResets).toBe(1);
    expect(board.eventsOf('watchdog-reset')[0].detail).toMatch(/failed wifi.connect/);
  });
});

describe('storage, rp2, wdt, pico_cyw43', () => {
  it('storage keeps 64 string pairs of at most 253 bytes; errors are returned, not thrown', () => {
    const board = makeBoard();
    const storage = timers(board).storage;
    expect(storage.setItem('n', 42)).toBeUndefined();
    expect(storage.getItem('n')).toBe('42');
    expect(storage.getItem('missing')).toBe(null);
    const tooLong = storage.setItem('k', 'v'.repeat(253));
    expect(tooLong).toBeInstanceOf(Error);
    expect(tooLong.message).toBe('The length of key and value is too long');
    expect(storage.setItem('k', 'v'.repeat(252))).toBeUndefined();
    for (let i = storage.length; i < 64; i++) expect(storage.setItem(`key${i}`, 'x')).toBeUndefined();
    expect(storage.length).toBe(64);
    expect(storage.setItem('one-more', 'x').message).toBe('Storage full');
    expect(storage.setItem('n', 'overwrite is fine')).toBeUndefined();
    storage.removeItem('n');
    expect(storage.length).toBe(63);
    expect(typeof storage.key(0)).toBe('string');
    expect(() => storage.setItem('u', undefined)).toThrow(TypeError);
  });

  it("require('storage') gives only the Storage class; the `storage` global is an instance", () => {
    const board = makeBoard();
    const mod = board.require('storage') as Any;
    expect(mod.getItem).toBeUndefined();
    expect(Object.keys(mod)).toEqual(['Storage']);
    new mod.Storage().setItem('shared', 'yes');
    expect(timers(board).storage.getItem('shared')).toBe('yes');
  });

  it('storage survives a reboot', () => {
    const board = makeBoard();
    timers(board).storage.setItem('boots', '1');
    board.reboot();
    expect(timers(board).storage.getItem('boots')).toBe('1');
    expect(board.flash.snapshot()).toEqual({ boots: '1' });
  });

  it('randomBigInt gives 128-bit values, distinct per board and per boot, reproducible by seed', () => {
    const a = makeBoard({ seed: 1000 });
    const b = makeBoard({ seed: 1001 });
    const twin = makeBoard({ seed: 1000 });
    const draw = (board: KalumaBoard) => (board.require('rp2') as Any).randomBigInt() as bigint;
    const first = draw(a);
    expect(typeof first).toBe('bigint');
    expect(first >> BigInt(128)).toBe(BigInt(0));
    expect(first >> BigInt(96)).not.toBe(BigInt(0));
    expect(draw(a)).not.toBe(first);
    expect(draw(b)).not.toBe(first);
    expect(draw(twin)).toBe(first);
    a.reboot();
    expect(draw(a)).not.toBe(first);
  });

  it('WDT takes a number: an options object throws a TypeError', () => {
    const board = makeBoard();
    const { WDT } = board.require('wdt') as Any;
    expect(() => new WDT({ timeout: 1000 })).toThrow('"timeout" argument must be a number');
    expect(board.watchdog.armed).toBe(false);
    new WDT(1000);
    expect(board.watchdog.armed).toBe(true);
  });

  it('an unfed watchdog reboots the board; feeding keeps it alive', async () => {
    const fed = makeBoard();
    const { WDT: FedWDT } = fed.require('wdt') as Any;
    const dog = new FedWDT(400);
    timers(fed).setInterval(() => dog.feed(), 25);
    const starving = makeBoard();
    const { WDT } = starving.require('wdt') as Any;
    new WDT(60);
    await waitFor('the watchdog reset', () => starving.boot === 2);
    await sleep(150);
    expect(fed.boot).toBe(1);
    expect(starving.counters.watchdogResets).toBe(1);
    expect(starving.watchdog.armed).toBe(false); // a reboot disarms it
  });

  it('the watchdog timeout clamps at 8388 ms', () => {
    const board = makeBoard();
    const { WDT } = board.require('wdt') as Any;
    new WDT(20000);
    expect(board.watchdog.timeout).toBe(8388);
    expect(board.eventsOf('wdt-armed')[0].detail).toMatch(/clamped to 8388/);
  });

  it('a hung board with the watchdog armed reboots when it runs out', async () => {
    const board = makeBoard();
    const { WDT } = board.require('wdt') as Any;
    new WDT(50);
    board.crash('test hang');
    expect(board.state).toBe('hung');
    await waitFor('the watchdog reset', () => board.boot === 2);
    expect(board.state).toBe('running');
  });

  it('putGpio(0, on) drives the LED and is recorded; the value must be a boolean', () => {
    const board = makeBoard();
    const { PicoCYW43 } = board.require('pico_cyw43') as Any;
    const chip = new PicoCYW43();
    chip.putGpio(0, true);
    expect(board.led).toBe(true);
    expect(chip.getGpio(0)).toBe(true);
    expect(() => chip.putGpio(0, 0)).toThrow('"value" argument must be a boolean');
    expect(() => chip.putGpio(3, true)).toThrow('GPIO pin is not exist');
    chip.putGpio(0, false);
    chip.putGpio(0, false);
    expect(board.counters.ledChanges).toBe(2);
    expect(board.eventsOf('led').map((e) => e.detail)).toEqual(['on', 'off']);
  });
});

describe('globals', () => {
  it('setTimeout requires a numeric delay and passes no extra arguments', async () => {
    const board = makeBoard();
    const g = timers(board);
    expect(() => g.setTimeout(() => undefined)).toThrow('"delay" argument must be a number');
    expect(() => g.setTimeout(() => undefined, '10')).toThrow('"delay" argument must be a number');
    let args: unknown[] | null = null;
    const id = g.setTimeout((...a: unknown[]) => (args = a), 1, 'extra', 'args');
    expect(typeof id).toBe('number');
    await waitFor('the timer', () => args !== null);
    expect(args).toEqual([]);
  });

  it('clearTimeout(undefined) throws a TypeError', () => {
    const board = makeBoard();
    const g = timers(board);
    expect(() => g.clearTimeout(undefined)).toThrow(TypeError);
    expect(() => g.clearInterval(null)).toThrow('"id" argument must be a number');
    expect(() => g.clearTimeout(12345)).not.toThrow();
  });

  it('an interval whose callback throws once is printed and cleared', async () => {
    const board = makeBoard();
    let runs = 0;
    timers(board).setInterval(() => {
      runs++;
      throw new Error('boom');
    }, 5);
    await sleep(60);
    expect(runs).toBe(1);
    expect(board.consoleText()).toEqual(['Error: boom']);
    expect(board.counters.uncaughtErrors).toBe(1);
  });

  it('millis() and Date.now() start near 0 at every boot', async () => {
    const board = makeBoard();
    await sleep(30);
    const g = timers(board);
    expect(g.millis()).toBeGreaterThanOrEqual(25);
    expect(board.globals.dateNow()).toBeLessThan(1000);
    board.reboot();
    expect(timers(board).millis()).toBeLessThan(10);
    expect(board.globals.dateNow()).toBeLessThan(10);
  });

  it('TextDecoder does not validate UTF-8', () => {
    const board = makeBoard();
    const { TextDecoder } = timers(board);
    const d = new TextDecoder();
    const garbage = d.decode(new Uint8Array([0xff, 0x41]));
    expect(garbage).not.toContain('\ufffd');
    expect(garbage).not.toBe('\ufffdA');
    expect(d.decode(new Uint8Array([0xed, 0xa0, 0x80]))).toBe('\ud800'); // a lone surrogate, accepted
    expect(d.decode(new Uint8Array([0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]))).toBe('\u20ac\u{1f600}');
    expect(new TextDecoder('ascii').decode(new Uint8Array([0x41, 0xe9]))).toBe('A\u00e9');
  });

  it('TextDecoder accepts only a Uint8Array', () => {
    const board = makeBoard();
    const { TextDecoder } = timers(board);
    const d = new TextDecoder('utf-8');
    expect(() => d.decode(new Uint16Array(2))).toThrow('input must be Uint8Array.');
    expect(() => d.decode([0x41])).toThrow('input must be Uint8Array.');
    expect(() => d.decode()).toThrow('"input" argument required');
    expect(d.decode(new Uint8Array([0x61, 0x62, 0x63]).subarray(1))).toBe('bc');
  });

  it("TextEncoder knows only 'utf-8' and 'ascii', and keeps lone surrogates as CESU-8", () => {
    const board = makeBoard();
    const { TextEncoder } = timers(board);
    expect([...new TextEncoder().encode('\u20ac\ud800')]).toEqual([0xe2, 0x82, 0xac, 0xed, 0xa0, 0x80]);
    expect([...new TextEncoder('ascii').encode('A\u0100\u00e9')]).toEqual([0x41, 0x00, 0xe9]);
    expect(() => new TextEncoder('utf8').encode('x')).toThrow('Unsupported encoding.');
  });

  it('btoa inserts newlines every 72 chars and returns undefined for empty input', () => {
    const board = makeBoard();
    const { btoa } = timers(board);
    expect(btoa('abc')).toBe('YWJj');
    expect(btoa(new Uint8Array([0xff, 0x00]))).toBe('/wA=');
    const long = btoa(new Uint8Array(60).fill(0x41));
    const lines = long.split('\n');
    expect(lines.map((l: string) => l.length)).toEqual([72, 8]);
    expect(btoa(new Uint8Array(54))).toBe('A'.repeat(72)); // the final newline is dropped
    expect(btoa('')).toBeUndefined();
    expect(btoa(new Uint8Array(0))).toBeUndefined();
    expect(() => btoa(42)).toThrow('Unsupported binary data.');
  });

  it('atob returns a Uint8Array (undefined for a bad length)', () => {
    const board = makeBoard();
    const { atob } = timers(board);
    const out = atob('YW\nJj');
    expect(out).toBeInstanceOf(Uint8Array);
    expect([...out]).toEqual([0x61, 0x62, 0x63]);
    expect([...atob('/wA=')]).toEqual([0xff, 0x00]);
    expect(atob('abc')).toBeUndefined();
    expect(atob('')).toBeUndefined();
  });

  it('console has only log and error, captured per board', () => {
    const a = makeBoard();
    const b = makeBoard();
    const ca = timers(a).console;
    expect(Object.keys(ca).sort()).toEqual(['error', 'log']);
    ca.log('hello', 1, { x: 2 });
    ca.error('bad');
    ca.log();
    timers(b).console.log('other board');
    expect(a.consoleLines.map((l) => [l.level, l.text])).toEqual([
      ['log', 'hello 1 { x: 2 }'],
      ['error', 'bad'],
    ]);
    expect(b.consoleText()).toEqual(['other board']);
  });

  it("events: emitting 'error' without a listener throws", () => {
    const board = makeBoard();
    const { EventEmitter } = board.require('events') as Any;
    const e = new EventEmitter();
    const err = new Error('unheard');
    expect(() => e.emit('error', err)).toThrow(err);
    expect(() => e.emit('error', 'text')).toThrow("Uncaught 'error' event");
    const seen: unknown[] = [];
    const once = (x: unknown) => seen.push(x);
    e.once('x', once);
    e.emit('x', 1);
    e.emit('x', 2);
    e.on('y', once);
    e.off('y', once);
    e.emit('y', 3);
    expect(seen).toEqual([1]);
  });

  it('process has platform, version, memoryUsage() and builtin_modules, and no nextTick', () => {
    const board = makeBoard();
    const { process: proc, board: boardGlobal } = timers(board);
    expect(proc.platform).toBe('rp2');
    expect(proc.version).toBe('1.2.1');
    expect(proc.nextTick).toBeUndefined();
    expect(proc.builtin_modules).toContain('net');
    const mem = proc.memoryUsage();
    expect(mem.heapTotal).toBe(184312);
    expect(mem.heapUsed).toBeGreaterThan(0);
    expect(mem.heapUsed).toBeLessThan(mem.heapTotal);
    expect(boardGlobal.name).toBe('pico-w');
    expect(boardGlobal.uid).toMatch(/^[0-9A-F]{16}$/);
  });

  it('require loads built-in modules only', () => {
    const board = makeBoard();
    expect(() => board.require('fs-extra')).toThrow('Failed to load module: fs-extra');
    expect(() => board.require('http')).toThrow(/not emulated/);
    expect(board.require('net')).toBe(board.require('net'));
  });
});

describe('the sandbox (runBundle)', () => {
  it('the sandbox has no Buffer, WebAssembly, queueMicrotask, structuredClone, setImmediate, fetch, URL or nextTick', () => {
    const board = makeBoard();
    const run = runBundle(
      `var missing = ['Buffer', 'WebAssembly', 'queueMicrotask', 'structuredClone', 'setImmediate', 'fetch', 'URL',
        'Intl', 'WeakRef', 'SharedArrayBuffer', 'Atomics', 'AggregateError', 'module', 'exports', '__dirname']
        .filter(function (n) { return typeof globalThis[n] !== 'undefined'; });
       var nextTick = typeof process.nextTick;
       var present = [typeof require, typeof setTimeout, typeof millis, typeof TextDecoder, typeof btoa,
         typeof board, typeof global, typeof SystemError, typeof console.log, typeof console.warn];`,
      board,
    );
    expect(run.context.missing).toEqual([]);
    expect(run.context.nextTick).toBe('undefined');
    expect([...run.context.present]).toEqual([
      'function', 'function', 'function', 'function', 'function', 'object', 'object', 'function', 'function', 'undefined',
    ]);
  });

  it('Array.prototype.at, Object.hasOwn, Promise.allSettled/any and BigInt.asUintN are missing', () => {
    const board = makeBoard();
    const run = runBundle(
      `var types = [typeof [].at, typeof ''.at, typeof new Uint8Array(1).at, typeof [].findLast, typeof Object.hasOwn,
         typeof Promise.allSettled, typeof Promise.any, typeof BigInt.asUintN, typeof Promise.all, typeof [].flat,
         typeof ''.replaceAll, typeof Object.fromEntries];`,
      board,
    );
    expect([...run.context.types]).toEqual([
      'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined',
      'function', 'function', 'function', 'function',
    ]);
  });

  it('the bundle runs as a strict-mode script, not a module', () => {
    const board = makeBoard();
    const run = runBundle(`var strict = (function () { return this === undefined; })(); var topThis = this === globalThis;`, board);
    expect(run.context.strict).toBe(true);
    expect(run.context.topThis).toBe(true);
    const sloppy = makeBoard();
    runBundle(`undeclared = 1;`, sloppy);
    expect(sloppy.lastVmReset?.error).toMatch(/ReferenceError/);
  });

  it('a top-level throw resets the VM', async () => {
    const board = makeBoard();
    const fired: string[] = [];
    const run = runBundle(`setTimeout(function () { probe.push('timer'); }, 5); throw new Error('top level');`, board, {
      extraGlobals: { probe: fired },
    });
    expect(board.state).toBe('idle');
    expect(board.lastVmReset?.error).toBe('Error: top level');
    expect(board.consoleText()).toContain('Error: top level');
    await sleep(30);
    expect(fired).toEqual([]);
    board.reboot();
    await waitFor('the program to run again', () => run.runs === 2);
    expect(board.counters.vmResets).toBe(2);
  });

  it('syntax JerryScript 2.4 cannot parse fails the load', () => {
    for (const code of ['var o = {}; var v = o?.x;', 'var a; a ??= 1;', 'class A { #x = 1; }', 'var r = /(?<=a)b/;', 'class B { static { } }']) {
      const board = makeBoard();
      const run = runBundle(`var before = 1; ${code}`, board);
      expect(run.loadError).toMatch(/JerryScript 2.4 cannot parse/);
      expect(board.state).toBe('idle');
      expect(run.context.before).toBeUndefined();
    }
    const ok = makeBoard();
    const run = runBundle('var v = null ?? 2; var big = 2n ** 64n; class C { x = 1; } var g = function* () {};', ok);
    expect(run.loadError).toBe(null);
    expect(run.context.v).toBe(2);
  });

  it('a raw NUL ends the program where it stands', () => {
    const board = makeBoard();
    const run = runBundle('var a = 1;\u0000 var b = 2;', board);
    expect(run.context.a).toBe(1);
    expect(run.context.b).toBeUndefined();
    expect(run.notes[0]).toMatch(/raw NUL/);
  });

  it('a reboot cancels every timer and reruns the program', async () => {
    const board = makeBoard();
    const probe: string[] = [];
    const counter = { n: 0 };
    const run = runBundle(
      `var me = ++counter.n;
       setTimeout(function () { probe.push('timer' + me); }, 40);
       setInterval(function () { probe.push('tick' + me); }, 15);`,
      board,
      { extraGlobals: { probe, counter } },
    );
    board.reboot();
    probe.length = 0;
    await waitFor('the second run', () => run.runs === 2);
    await waitFor("the second boot's timer", () => probe.includes('timer2'));
    await sleep(30);
    expect(probe.filter((p) => p.endsWith('1'))).toEqual([]);
    expect(probe.filter((p) => p === 'timer2')).toEqual(['timer2']);
    expect(probe).toContain('tick2');
  });

  it("a dead boot's leftovers are inert", async () => {
    const board = makeBoard();
    const probe: Any = {};
    runBundle(`probe.setTimeout = setTimeout; probe.console = console;`, board, { extraGlobals: { probe } });
    board.reboot();
    let ran = false;
    expect(probe.setTimeout(() => (ran = true), 1)).toBe(0);
    probe.console.log('from the past');
    await sleep(20);
    expect(ran).toBe(false);
    expect(board.consoleText()).toEqual([]);
  });

  it('socket data reaches the sandbox as a Uint8Array of its own realm', async () => {
    const { port, peers } = await startServer((peer) => peer.socket.write('hi'));
    const board = makeBoard();
    const probe: unknown[] = [];
    runBundle(
      `new (require('wifi').WiFi)().connect({ ssid: 'lab', password: 'pw' });
       var s = new (require('net').Socket)();
       s.on('data', function (d) { probe.push(d instanceof Uint8Array, typeof Buffer, d.length); });
       s.connect({ host: '127.0.0.1', port: PORT });`,
      board,
      { extraGlobals: { probe, PORT: port } },
    );
    await waitFor('data in the sandbox', () => probe.length === 3);
    expect(probe).toEqual([true, 'undefined', 2]);
    expect(peers).toHaveLength(1);
  });

  it('an exception in a socket handler vanishes; one in a timer is printed', async () => {
    const { port, peers } = await startServer((peer) => peer.socket.write('x'));
    const board = makeBoard();
    const probe: string[] = [];
    runBundle(
      `new (require('wifi').WiFi)().connect({ ssid: 'lab', password: 'pw' });
       var s = new (require('net').Socket)();
       s.on('data', function () { probe.push('data'); throw new Error('in a data handler'); });
       s.connect({ host: '127.0.0.1', port: PORT });
       setTimeout(function () { throw new Error('in a timer'); }, 1);`,
      board,
      { extraGlobals: { probe, PORT: port } },
    );
    await waitFor('both', () => probe.length === 1 && board.counters.uncaughtErrors === 2);
    expect(board.consoleText()).toEqual(['Error: in a timer']);
    expect(board.eventsOf('uncaught').map((e) => e.detail).join('\n')).toMatch(/in a data handler \(dropped silently/);
    expect(board.state).toBe('running');
    expect(peers).toHaveLength(1);
  });

  it('Math.random repeats every boot and on every board; seed(n) reseeds it', async () => {
    const code = `probe.push([Math.random(), Math.random()]); seed(7); probe.push([Math.random()]);`;
    const a: number[][] = [];
    const b: number[][] = [];
    const boardA = makeBoard();
    const run = runBundle(code, boardA, { extraGlobals: { probe: a } });
    runBundle(code, makeBoard(), { extraGlobals: { probe: b } });
    boardA.reboot();
    await waitFor('the second boot', () => run.runs === 2);
    expect(a[0][0]).toBeGreaterThanOrEqual(0);
    expect(a[0][0]).toBeLessThan(1);
    expect(a[0][0]).not.toBe(a[0][1]);
    expect(a[2]).toEqual(a[0]);
    expect(b[0]).toEqual(a[0]);
    expect(a[1][0]).not.toBe(a[0][0]);
  });

  it('Date.now() and new Date() start near 0 at boot', () => {
    const board = makeBoard();
    const run = runBundle(`var d = new Date(); var now = Date.now(); var isDate = d instanceof Date; var fixed = new Date(86400000).getTime();`, board);
    expect(run.context.now).toBeLessThan(1000);
    expect(run.context.d.getTime()).toBeLessThan(1000);
    expect(run.context.isDate).toBe(true);
    expect(run.context.fixed).toBe(86400000);
  });

  it('String.fromCharCode.apply over 65535 arguments throws a RangeError; a huge one exhausts the heap', () => {
    const board = makeBoard();
    const run = runBundle(
      `var caught = null;
       try { String.fromCharCode.apply(null, new Uint8Array(70000)); } catch (e) { caught = e instanceof RangeError; }
       var fine = String.fromCharCode.apply(null, new Uint8Array(8192)).length;`,
      board,
    );
    expect(run.context.caught).toBe(true);
    expect(run.context.fine).toBe(8192);
    expect(board.state).toBe('running');
    runBundle(`String.fromCharCode.apply(null, new Uint8Array(30000));`, board);
    expect(board.state).toBe('hung');
    expect(board.hang?.reason).toMatch(/heap exhausted/);
  });

  it('a program too big for the heap hangs the board at load', () => {
    const board = makeBoard({ heapLimit: 20000 });
    const probe: string[] = [];
    runBundle(`probe.push('ran'); /* ${'x'.repeat(40000)} */`, board, { extraGlobals: { probe } });
    expect(board.state).toBe('hung');
    expect(board.hang?.reason).toMatch(/heap exhausted/);
    expect(probe).toEqual([]);
  });
});
