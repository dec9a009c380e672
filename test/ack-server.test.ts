import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type AckServer, startAckServer } from '../board/node/ack-server';
import { ackFrame, dataFrame, isValidSid, newSid, parseAck, parseData } from '../src/resilience/ack-protocol';

describe('ack protocol helpers', () => {
  it('encodes a data frame that any JSON parser reads back', () => {
    const text = dataFrame(17, 'k3j9x0q2mf', JSON.stringify({ t: 21.5 }));
    expect(text).toBe('{"seq":17,"sid":"k3j9x0q2mf","data":{"t":21.5}}');
    expect(JSON.parse(text)).toEqual({ seq: 17, sid: 'k3j9x0q2mf', data: { t: 21.5 } });
    expect(parseData(dataFrame(3, 'a', JSON.stringify('hi')))).toEqual({ seq: 3, sid: 'a', data: 'hi' });
  });

  it('parses acks, with any JSON whitespace, and nothing else', () => {
    expect(parseAck(ackFrame(42))).toBe(42);
    expect(parseAck(' { "ack" : 7 }\n')).toBe(7);
    expect(parseAck('{"ack": 0}')).toBe(0);
    for (const t of ['', '{', '{"ack":}', '{"ack":1,"x":2}', '{"ack":-1}', '{"ack":1.5}', '{"ack":"1"}', '{"acks":1}', '{"ack":1}x', 'hello', '[1]', '{"ack":12345678901234567}'])
      expect(parseAck(t), t).toBe(-1);
  });

  it('rejects frames that are not data frames', () => {
    for (const t of ['{"seq":1,"sid":"a"}', '{"seq":0,"sid":"a","data":1}', '{"seq":1.5,"sid":"a","data":1}', '{"seq":1,"sid":"a b","data":1}', '{"seq":1,"data":1}', 'nope', 'null'])
      expect(parseData(t), t).toBeNull();
  });

  it('draws sids that need no escaping', () => {
    let x = 0;
    const sid = newSid(() => (x = (x + 0.37) % 1));
    expect(sid).toHaveLength(10);
    expect(isValidSid(sid)).toBe(true);
    expect(isValidSid('dev-1:boot.7_x')).toBe(true);
    expect(isValidSid('a"b')).toBe(false);
    expect(isValidSid('')).toBe(false);
  });
});

let server: AckServer | null = null;
afterEach(async () => {
  if (server) await server.close();
  server = null;
});

/** A ws client that records every text message it receives. */
function connect(url: string): Promise<{ ws: WebSocket; acks: number[]; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const acks: number[] = [];
    ws.on('message', (d) => acks.push(parseAck(d.toString())));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('error', () => {});
    ws.once('open', () => resolve({ ws, acks, closed }));
    ws.once('unexpected-response', () => reject(new Error('unexpected response')));
    ws.once('error', reject);
  });
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the reference ack server', () => {
  it('acks each message cumulatively and records deliveries per sid', async () => {
    server = await startAckServer();
    expect(server.url).toBe(`ws://127.0.0.1:${server.port}/`);
    const c = await connect(server.url);
    for (let i = 1; i <= 3; i++) c.ws.send(dataFrame(i, 'dev', JSON.stringify({ n: i })));
    await until(() => c.acks.length === 3);
    expect(c.acks).toEqual([1, 2, 3]);
    expect(server.received.get('dev')).toEqual([
      { seq: 1, data: { n: 1 } },
      { seq: 2, data: { n: 2 } },
      { seq: 3, data: { n: 3 } },
    ]);
    expect(server.stats).toMatchObject({ messages: 3, duplicates: 0, acked: 3 });
    c.ws.close();
  });

  it('drops duplicates but still acks them, so the client stops resending', async () => {
    server = await startAckServer();
    const seen: number[] = [];
    server.on('message', (_sid: string, seq: number) => seen.push(seq));
    const c = await connect(server.url);
    for (const seq of [1, 2, 1, 2, 3, 3]) c.ws.send(dataFrame(seq, 'dev', '"x"'));
    await until(() => c.acks.length === 6);
    expect(c.acks).toEqual([1, 2, 2, 2, 3, 3]);
    expect(seen).toEqual([1, 2, 3]);
    expect(server.seqs('dev')).toEqual([1, 2, 3]);
    expect(server.stats.duplicates).toBe(3);
    c.ws.close();
  });

  it('keeps sids apart: a rebooted device at seq 1 again is not a duplicate', async () => {
    server = await startAckServer();
    const c = await connect(server.url);
    c.ws.send(dataFrame(1, 'boot-a', '1'));
    c.ws.send(dataFrame(2, 'boot-a', '2'));
    c.ws.send(dataFrame(1, 'boot-b', '3'));
    await until(() => c.acks.length === 3);
    expect(c.acks).toEqual([1, 2, 1]);
    expect(server.seqs('boot-a')).toEqual([1, 2]);
    expect(server.seqs('boot-b')).toEqual([1]);
    c.ws.close();
  });

  it('tolerates gaps (expired or coalesced messages are never resent)', async () => {
    server = await startAckServer();
    const c = await connect(server.url);
    for (const seq of [1, 4, 9]) c.ws.send(dataFrame(seq, 'dev', '0'));
    await until(() => c.acks.length === 3);
    expect(c.acks).toEqual([1, 4, 9]);
    expect(server.seqs('dev')).toEqual([1, 4, 9]);
    c.ws.close();
  });

  it('acks every Nth message with ackEvery', async () => {
    server = await startAckServer({ ackEvery: 3 });
    const c = await connect(server.url);
    for (let i = 1; i <= 7; i++) c.ws.send(dataFrame(i, 'dev', '0'));
    await until(() => server!.stats.messages === 7);
    await until(() => c.acks.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.acks).toEqual([3, 6]);
    c.ws.close();
  });

  it('delays acks with ackDelayMs, merging those that fall due meanwhile', async () => {
    server = await startAckServer({ ackDelayMs: 400 });
    const c = await connect(server.url);
    for (let i = 1; i <= 5; i++) c.ws.send(dataFrame(i, 'dev', '0'));
    await until(() => server!.stats.messages === 5);
    expect(c.acks).toEqual([]);
    await until(() => c.acks.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.acks).toEqual([5]);
    c.ws.close();
  });

  it('counts malformed and binary messages and delivers nothing for them', async () => {
    server = await startAckServer();
    const c = await connect(server.url);
    c.ws.send('hello');
    c.ws.send(Buffer.from(dataFrame(1, 'dev', '0')));
    c.ws.send(dataFrame(1, 'dev', '0'));
    await until(() => c.acks.length === 1);
    expect(server.stats.malformed).toBe(2);
    expect(server.seqs('dev')).toEqual([1]);
    c.ws.close();
  });

  it('restart() kills connections without a Close frame, comes back on the same port and keeps the dedup state', async () => {
    server = await startAckServer();
    const port = server.port;
    const c = await connect(server.url);
    c.ws.send(dataFrame(1, 'dev', '0'));
    c.ws.send(dataFrame(2, 'dev', '0'));
    await until(() => c.acks.length === 2);
    await server.restart();
    expect(await c.closed).toBe(1006);
    expect(server.port).toBe(port);
    expect(server.clients).toBe(0);
    const c2 = await connect(server.url);
    // The client resends what it had not seen acked, then goes on.
    for (const seq of [2, 3]) c2.ws.send(dataFrame(seq, 'dev', '0'));
    await until(() => c2.acks.length === 2);
    expect(c2.acks).toEqual([2, 3]);
    expect(server.seqs('dev')).toEqual([1, 2, 3]);
    expect(server.stats).toMatchObject({ duplicates: 1, connections: 2 });
    c2.ws.close();
  });

  it('restart(downMs) refuses connections while down', async () => {
    server = await startAckServer();
    const restarted = server.restart(300);
    await new Promise((r) => setTimeout(r, 50));
    await expect(connect(server.url)).rejects.toThrow();
    await restarted;
    const c = await connect(server.url);
    c.ws.close();
  });

  it('dropClients() ends connections abruptly and keeps listening', async () => {
    server = await startAckServer();
    const c = await connect(server.url);
    server.dropClients();
    expect(await c.closed).toBe(1006);
    const c2 = await connect(server.url);
    c2.ws.send(dataFrame(1, 'dev', '0'));
    await until(() => c2.acks.length === 1);
    c2.ws.close();
  });
});
