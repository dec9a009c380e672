// The fault proxy, measured on real loopback sockets: a plain TCP echo server as the
// target, and once a real ws server and client. Timings assert lower bounds only
// (plus generous sanity ceilings): the machine is two shared cores.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { FaultProxy, type ProxyConnection } from '../board/node/fault-proxy';
import { sleep, waitFor } from './helpers/wait';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});


/** A socket and everything it has seen. */
interface Peer {
  socket: net.Socket;
  chunks: Buffer[];
  ended: boolean;
  closed: boolean;
  /** performance.now() at 'close'. */
  closedAt: number;
  error: NodeJS.ErrnoException | null;
  bytes(): Buffer;
}

function observe(socket: net.Socket): Peer {
  const peer: Peer = {
    socket,
    chunks: [],
    ended: false,
    closed: false,
    closedAt: 0,
    error: null,
    bytes: () => Buffer.concat(peer.chunks),
  };
  socket.on('data', (chunk: Buffer) => peer.chunks.push(chunk));
  socket.on('end', () => (peer.ended = true));
  socket.on('error', (err: NodeJS.ErrnoException) => (peer.error = err));
  socket.on('close', () => {
    peer.closed = true;
    peer.closedAt = performance.now();
  });
  return peer;
}

/** The target: echoes every byte back and records what it received on each connection. */
async function startEcho(): Promise<{ port: number; peers: Peer[] }> {
  const peers: Peer[] = [];
  const server = net.createServer((socket) => {
    const peer = observe(socket);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    peers.push(peer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const peer of peers) peer.socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, peers };
}

async function startProxy(targetPort: number, seed?: number): Promise<FaultProxy> {
  const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: targetPort }, seed });
  await proxy.listen();
  cleanups.push(() => proxy.close());
  return proxy;
}

async function connectClient(port: number): Promise<Peer> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const peer = observe(socket);
  cleanups.push(() => {
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return peer;
}

/** Echo server, proxy, and one client whose connection the proxy has accepted. */
async function rig(seed?: number) {
  const echo = await startEcho();
  const proxy = await startProxy(echo.port, seed);
  const client = await connectClient(proxy.port);
  await waitFor('the proxy to reach the target', () => echo.peers.length === 1);
  const conn = proxy.connections[0];
  return { echo, proxy, client, conn, server: echo.peers[0] };
}

async function roundTrip(client: Peer, text: string): Promise<number> {
  const before = client.bytes().length;
  const started = performance.now();
  client.socket.write(text);
  await waitFor(`echo of ${text}`, () => client.bytes().length >= before + Buffer.byteLength(text));
  return performance.now() - started;
}

describe('FaultProxy in normal mode', () => {
  it('forwards both ways byte for byte, counts bytes, and reports connection and closed', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port);
    const seen: ProxyConnection[] = [];
    const closed: ProxyConnection[] = [];
    proxy.on('connection', (conn) => seen.push(conn));
    proxy.on('closed', (conn) => closed.push(conn));
    expect(proxy.listening).toBe(true);
    expect(proxy.port).toBeGreaterThan(0);

    const client = await connectClient(proxy.port);
    const payload = Buffer.alloc(50_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
    client.socket.write(payload);
    await waitFor('the echo', () => client.bytes().length === payload.length);
    expect(client.bytes().equals(payload)).toBe(true);
    expect(echo.peers[0].bytes().equals(payload)).toBe(true);

    expect(seen).toHaveLength(1);
    const conn = seen[0];
    expect(conn.id).toBe(1);
    expect(proxy.connections).toEqual([conn]);
    expect(conn.bytesToServer).toBe(payload.length);
    expect(conn.bytesToClient).toBe(payload.length);
    expect(proxy.counters).toMatchObject({ accepted: 1, refused: 0, bytesToServer: 50_000, bytesToClient: 50_000, bytesDropped: 0 });

    // A client FIN travels to the server as a FIN; the echo server closes, and that FIN comes back.
    client.socket.end();
    await waitFor('the connection to close', () => closed.length === 1);
    await waitFor('the client to see the FIN', () => client.ended);
    expect(echo.peers[0].ended).toBe(true);
    expect(echo.peers[0].error).toBeNull();
    expect(client.error).toBeNull();
    expect(closed[0]).toBe(conn);
    expect(conn.closed).toBe(true);
    expect(proxy.connections).toEqual([]);
  });

  it('passes a real ws WebSocket session through untouched', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const ws of wss.clients) ws.terminate();
          wss.close(() => resolve());
        }),
    );
    let serverClose: { code: number; reason: string } | null = null;
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('close', (code, reason) => (serverClose = { code, reason: reason.toString() }));
    });
    const proxy = await startProxy((wss.address() as net.AddressInfo).port);

    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`);
    cleanups.push(() => ws.terminate());
    const received: Array<{ data: Buffer; isBinary: boolean }> = [];
    ws.on('message', (data, isBinary) => received.push({ data: data as Buffer, isBinary }));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });

    const binary = Buffer.alloc(100_000);
    for (let i = 0; i < binary.length; i++) binary[i] = (i * 31 + (i >> 8)) & 0xff;
    ws.send('héllo, wörld');
    ws.send(binary);
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping(Buffer.from('are you there'));
    expect((await pong).toString()).toBe('are you there');
    await waitFor('both echoes', () => received.length === 2);
    expect(received[0].isBinary).toBe(false);
    expect(received[0].data.toString()).toBe('héllo, wörld');
    expect(received[1].isBinary).toBe(true);
    expect(received[1].data.equals(binary)).toBe(true);

    const clientClose = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.close(1000, 'bye');
    expect(await clientClose).toEqual({ code: 1000, reason: 'bye' });
    await waitFor('the server to see the close', () => serverClose !== null);
    expect(serverClose).toEqual({ code: 1000, reason: 'bye' });
    expect(proxy.counters.bytesToServer).toBeGreaterThan(binary.length);
    expect(proxy.counters.bytesToClient).toBeGreaterThan(binary.length);
    expect(proxy.counters.bytesDropped).toBe(0);
  });
});

describe('FaultProxy blackhole', () => {
  it('delivers nothing and closes nothing while on, and drops (never resurrects) what it swallowed', async () => {
    const { proxy, client, conn, server } = await rig();
    await roundTrip(client, 'before');
    const toServerBefore = conn.bytesToServer;

    proxy.setMode({ blackhole: true });
    client.socket.write('lost-upstream');
    server.socket.write('lost-downstream');
    await sleep(500);
    expect(client.bytes().toString()).toBe('before');
    expect(server.bytes().toString()).toBe('before');
    expect(client.ended || client.closed || client.error !== null).toBe(false);
    expect(server.ended || server.closed || server.error !== null).toBe(false);
    expect(conn.bytesToServer).toBe(toServerBefore);
    expect(conn.bytesDropped).toBe('lost-upstream'.length + 'lost-downstream'.length);

    // Lifted: a stream with a hole in it cannot resume, so the connection is reset,
    // and nothing swallowed is ever delivered.
    proxy.setMode({});
    await waitFor('the reset after the lift', () => client.error !== null && server.error !== null);
    expect(client.error?.code).toBe('ECONNRESET');
    expect(client.bytes().toString()).toBe('before');
    expect(server.bytes().toString()).toBe('before');
  });

  it('resumes a blackholed connection that lost nothing', async () => {
    const { proxy, client } = await rig();
    proxy.setMode({ blackhole: true });
    await sleep(100);
    proxy.setMode({});
    await roundTrip(client, 'after');
    expect(client.bytes().toString()).toBe('after');
  });

  it('drops bytes already queued behind a delay when it switches on', async () => {
    const { proxy, client, server } = await rig();
    proxy.setMode({ delayMs: 200 });
    client.socket.write('in-flight');
    await sleep(50);
    proxy.setMode({ blackhole: true });
    await sleep(300);
    proxy.setMode({});
    await sleep(50);
    expect(server.bytes().length).toBe(0);
    expect(proxy.counters.bytesDropped).toBe('in-flight'.length);
  });

  it('holds a FIN that arrives while on and passes it on when lifted', async () => {
    const { proxy, client, server } = await rig();
    proxy.setMode({ blackhole: true });
    client.socket.end();
    await sleep(200);
    expect(server.ended).toBe(false);
    proxy.setMode({});
    await waitFor('the held FIN', () => server.ended);
    await waitFor('the FIN back', () => client.ended);
  });

  it('can blackhole one connection while the others flow', async () => {
    const { proxy, client: first, conn: firstConn } = await rig();
    const second = await connectClient(proxy.port);
    await waitFor('the second connection', () => proxy.connections.length === 2);
    firstConn.blackhole(true);
    first.socket.write('gone');
    await roundTrip(second, 'flows');
    await sleep(100);
    expect(first.bytes().length).toBe(0);
    expect(second.bytes().toString()).toBe('flows');
    // It lost 'gone': lifting its blackhole resets it; the other connection is untouched.
    firstConn.blackhole(false);
    await waitFor('the reset of the one that lost bytes', () => first.error !== null);
    expect(first.error?.code).toBe('ECONNRESET');
    await roundTrip(second, '+more');
    expect(second.bytes().toString()).toBe('flows+more');
  });
});

describe('FaultProxy delay, throttle and slice', () => {
  it('adds delayMs each way: a round trip takes at least twice the delay', async () => {
    const { proxy, client } = await rig();
    proxy.setMode({ delayMs: 100 });
    const rtt = await roundTrip(client, 'ping');
    expect(rtt).toBeGreaterThanOrEqual(200);
    expect(rtt).toBeLessThan(3000);
    expect(client.bytes().toString()).toBe('ping');
  });

  it('keeps byte order under delay, even when the delay shrinks mid-stream', async () => {
    const { proxy, client, server } = await rig();
    proxy.setMode({ delayMs: 120 });
    let expected = '';
    for (let i = 0; i < 10; i++) {
      const piece = `<${i}>`;
      expected += piece;
      client.socket.write(piece);
      if (i === 4) proxy.setMode({ delayMs: 5 }); // later pieces would overtake without the ordering rule
      await sleep(3);
    }
    await waitFor('every piece echoed', () => client.bytes().length === expected.length);
    expect(server.bytes().toString()).toBe(expected);
    expect(client.bytes().toString()).toBe(expected);
  });

  it('throttles: 20 KiB at 100 KiB/s takes at least ~150 ms and arrives intact', async () => {
    const { proxy, client, server } = await rig();
    proxy.setMode({ bytesPerSecond: 100 * 1024 });
    const payload = Buffer.alloc(20 * 1024, 0x5a);
    const started = performance.now();
    client.socket.write(payload);
    await waitFor('the throttled echo', () => client.bytes().length === payload.length, 5000);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(4000);
    expect(client.bytes().equals(payload)).toBe(true);
    expect(server.bytes().equals(payload)).toBe(true);
  });

  it('slice 1 forwards byte at a time: the receiver reads many 1-byte chunks, each way', async () => {
    const { proxy, client, server } = await rig();
    proxy.setMode({ slice: 1 });
    const text = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(5); // 180 bytes in one write
    const oneByteChunks = (peer: Peer) => peer.chunks.filter((chunk) => chunk.length === 1).length;

    client.socket.write(text);
    await waitFor('the sliced echo', () => client.bytes().length === text.length);
    expect(server.bytes().toString()).toBe(text);
    expect(client.bytes().toString()).toBe(text);
    expect(oneByteChunks(server)).toBeGreaterThanOrEqual(text.length / 2);

    // The other way on its own (the echo above is paced by the server's reads): one big write from the server.
    client.chunks.length = 0;
    server.socket.write(text);
    await waitFor('the sliced push', () => client.bytes().length === text.length);
    expect(client.bytes().toString()).toBe(text);
    expect(oneByteChunks(client)).toBeGreaterThanOrEqual(text.length / 2);
  });
});

describe('FaultProxy corruption', () => {
  async function corruptedEcho(seed: number, payload: Buffer): Promise<{ got: Buffer; serverGot: Buffer }> {
    const { proxy, client, server } = await rig(seed);
    proxy.setMode({ corrupt: { direction: 'toClient', probability: 0.2 } });
    client.socket.write(payload);
    await waitFor('the corrupted echo', () => client.bytes().length === payload.length);
    return { got: client.bytes(), serverGot: server.bytes() };
  }

  it('flips single random bits in the chosen direction only, reproducibly for a seed', async () => {
    const payload = Buffer.alloc(1000);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    const first = await corruptedEcho(42, payload);
    expect(first.serverGot.equals(payload)).toBe(true); // toServer untouched
    let changed = 0;
    for (let i = 0; i < payload.length; i++) {
      const diff = first.got[i] ^ payload[i];
      if (diff !== 0) {
        changed++;
        expect(diff & (diff - 1)).toBe(0); // exactly one bit
      }
    }
    // 20% of 1000: far from 0 and from 1000 for any seed worth the name.
    expect(changed).toBeGreaterThan(100);
    expect(changed).toBeLessThan(300);

    const again = await corruptedEcho(42, payload);
    expect(again.got.equals(first.got)).toBe(true);
    const otherSeed = await corruptedEcho(7, payload);
    expect(otherSeed.got.equals(first.got)).toBe(false);
  });

  it('corruptNext changes exactly the chosen byte, once', async () => {
    const { proxy, client, server } = await rig();
    proxy.corruptNext('toClient', 3, 0x20);
    await roundTrip(client, 'hello world');
    expect(client.bytes().toString()).toBe('helLo world');
    expect(server.bytes().toString()).toBe('hello world');
    await roundTrip(client, 'hello world');
    expect(client.bytes().toString()).toBe('helLo worldhello world');
  });

  it('corruptNext counts across chunks', async () => {
    const { proxy, client, server } = await rig();
    proxy.corruptNext('toServer', 15, 0x01);
    await roundTrip(client, '0123456789');
    await roundTrip(client, 'abcdefghij');
    expect(server.bytes().toString()).toBe('0123456789abcdegghij');
    expect(client.bytes().toString()).toBe('0123456789abcdegghij');
  });

  it('corruptNext armed from the connection event hits the very first byte', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port);
    expect(() => proxy.corruptNext('toServer', 0, 0xff)).toThrow(/no live connection/);
    proxy.once('connection', (conn) => conn.corruptNext('toServer', 0, 0xff));
    const client = await connectClient(proxy.port);
    client.socket.write('AB');
    await waitFor('the echo', () => client.bytes().length === 2);
    expect([...echo.peers[0].bytes()]).toEqual([0x41 ^ 0xff, 0x42]);
  });
});

describe('FaultProxy connection faults', () => {
  it('idleKillMs resets a connection that stays silent that long, but not a busy one', async () => {
    const { proxy, client, server } = await rig();
    proxy.setMode({ idleKillMs: 400 });
    // Busy: traffic every ~100 ms for ~600 ms, longer than the limit in all.
    let lastWrite = 0;
    for (let i = 0; i < 6; i++) {
      await sleep(100);
      lastWrite = performance.now(); // before the proxy's last traffic (the echo of this write)
      await roundTrip(client, 'k');
    }
    expect(client.closed).toBe(false);
    await waitFor('the idle kill', () => client.closed, 3000);
    expect(client.closedAt - lastWrite).toBeGreaterThanOrEqual(400);
    expect(client.error?.code).toBe('ECONNRESET');
    await waitFor('the server side to go', () => server.closed);
    expect(proxy.counters.idleKilled).toBe(1);
  });

  it('idleKillMs does not count blackholed (dropped) bytes as traffic', async () => {
    const { proxy, client } = await rig();
    const modeSet = performance.now();
    proxy.setMode({ blackhole: true, idleKillMs: 300 });
    const deadline = modeSet + 2000;
    while (!client.closed && performance.now() < deadline) {
      client.socket.write('lost');
      await sleep(50);
    }
    expect(client.closed).toBe(true);
    expect(client.closedAt - modeSet).toBeGreaterThanOrEqual(300);
    expect(proxy.counters.idleKilled).toBe(1);
  });

  it('refuse resets new connections and leaves existing ones alone', async () => {
    const { proxy, client } = await rig();
    proxy.setMode({ refuse: true });
    const refused = net.connect({ host: '127.0.0.1', port: proxy.port });
    const refusedPeer = observe(refused);
    cleanups.push(() => {
      refused.destroy();
    });
    await waitFor('the refused socket to close', () => refusedPeer.closed);
    expect(refusedPeer.error?.code).toBe('ECONNRESET');
    expect(refusedPeer.bytes().length).toBe(0);
    await roundTrip(client, 'still here');
    expect(client.bytes().toString()).toBe('still here');
    expect(proxy.counters).toMatchObject({ accepted: 1, refused: 1 });

    proxy.setMode({});
    const later = await connectClient(proxy.port);
    await roundTrip(later, 'welcome back');
    expect(proxy.counters).toMatchObject({ accepted: 2, refused: 1 });
  });

  it('reset sends RST to both sides', async () => {
    const { proxy, client, server } = await rig();
    proxy.resetAll();
    await waitFor('the client to close', () => client.closed);
    await waitFor('the server to close', () => server.closed);
    expect(client.error?.code).toBe('ECONNRESET');
    expect(server.error?.code).toBe('ECONNRESET');
    await waitFor('the proxy to forget it', () => proxy.connections.length === 0);
  });

  it('fin sends a graceful FIN to both sides', async () => {
    const { proxy, client, server } = await rig();
    await roundTrip(client, 'last words');
    proxy.finAll();
    await waitFor('the client to see end', () => client.ended);
    await waitFor('the server to see end', () => server.ended);
    await waitFor('both to close', () => client.closed && server.closed);
    expect(client.error).toBeNull();
    expect(server.error).toBeNull();
    expect(client.bytes().toString()).toBe('last words');
    await waitFor('the proxy to forget it', () => proxy.connections.length === 0);
  });

  it('a dead target shows up as a reset to the client', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const proxy = await startProxy(deadPort);
    const client = await connectClient(proxy.port);
    await waitFor('the client to close', () => client.closed);
    expect(client.error?.code).toBe('ECONNRESET');
  });

  it('rejects nonsense modes', () => {
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: 1 } });
    expect(() => proxy.setMode({ delayMs: -1 })).toThrow(RangeError);
    expect(() => proxy.setMode({ slice: 1.5 })).toThrow(RangeError);
    expect(() => proxy.setMode({ corrupt: { direction: 'toClient', probability: 2 } })).toThrow(RangeError);
    expect(proxy.mode.delayMs).toBe(0);
  });
});

describe('FaultProxy.close', () => {
  const count = (kind: string) => process.getActiveResourcesInfo().filter((k) => k === kind).length;

  it('closes the listener and every socket, and leaves no timer behind', async () => {
    const echo = await startEcho();
    await sleep(10);
    const baseline = { sockets: count('TCPSocketWrap'), servers: count('TCPServerWrap'), timers: count('Timeout') };

    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: echo.port } });
    await proxy.listen();
    const client = await connectClient(proxy.port);
    await waitFor('the proxy to reach the target', () => echo.peers.length === 1);
    const conn = proxy.connections[0];
    // Leave work pending: bytes queued behind a delay, a throttle and an idle timer armed.
    proxy.setMode({ delayMs: 5000, idleKillMs: 10_000, bytesPerSecond: 1000 });
    client.socket.write('queued');
    await sleep(10);
    expect(count('Timeout')).toBeGreaterThan(baseline.timers);

    await proxy.close();
    expect(proxy.listening).toBe(false);
    expect(conn.closed).toBe(true);
    expect(proxy.connections).toEqual([]);
    await waitFor('the client to close', () => client.closed);
    await waitFor('the target side to close', () => echo.peers[0].closed);
    expect(echo.peers[0].bytes().length).toBe(0);
    await waitFor('handles to be released', () => count('TCPSocketWrap') <= baseline.sockets && count('TCPServerWrap') <= baseline.servers);
    expect(count('Timeout')).toBeLessThanOrEqual(baseline.timers);
  });
});
