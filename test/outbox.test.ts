import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxOptions } from '../src/resilience/outbox';
import { deviceModule } from './helpers/device-module';

function drain(o: Outbox): string[] {
  const out: string[] = [];
  for (let m = o.take(); m !== null; m = o.take()) out.push(m as string);
  return out;
}

/** Takes everything sendable and returns [seq, message] pairs. */
function takeAll(o: Outbox): [number, string][] {
  const out: [number, string][] = [];
  for (let m = o.take(); m !== null; m = o.take()) out.push([o.seq, m as string]);
  return out;
}

const removedTotal = (o: Outbox, acks: boolean) => {
  const d = o.stats.dropped;
  return (acks ? o.stats.acked : o.stats.sent) + d.evicted + d.coalesced + d.expired + d.session;
};

describe('Outbox bounds', () => {
  it('never holds more than maxCount messages or maxBytes bytes, and accounts for every accepted message (property)', () => {
    const op = fc.oneof(
      fc.record({
        t: fc.constant('push' as const),
        n: fc.integer({ min: 0, max: 300 }),
        key: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
        ttl: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
        newest: fc.boolean(),
        session: fc.boolean(),
        bin: fc.boolean(),
      }),
      fc.record({ t: fc.constant('take' as const) }),
      fc.record({ t: fc.constant('ack' as const), back: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ t: fc.constant('rewind' as const) }),
      fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 100, max: 1000 }), fc.array(op, { maxLength: 200 }), (acks, maxCount, maxBytes, ops) => {
        let now = 0;
        const o = new Outbox({ acks, maxCount, maxBytes, window: acks ? 4 : undefined, now: () => now });
        for (const x of ops) {
          if (x.t === 'push') {
            const m = x.bin ? new Uint8Array(x.n) : 'x'.repeat(x.n);
            const r = o.push(m, { key: x.key, ttlMs: x.ttl, overflow: x.newest ? 'drop-newest' : 'drop-oldest', session: x.session });
            if (x.n > maxBytes) expect(r).toBe('too-big');
          } else if (x.t === 'take') o.take();
          else if (x.t === 'ack') o.ack(o.nextSeq - 1 - x.back);
          else if (x.t === 'rewind') o.rewind();
          else now += x.ms;
          expect(o.length).toBeLessThanOrEqual(maxCount);
          expect(o.bytes).toBeLessThanOrEqual(maxBytes);
          expect(o.bytes).toBeGreaterThanOrEqual(0);
          if (o.length === 0) expect(o.bytes).toBe(0);
          expect(o.inFlight).toBeLessThanOrEqual(o.length);
          expect(o.stats.queued).toBe(o.length + removedTotal(o, acks));
        }
      }),
      { numRuns: 300, seed: 1 },
    );
  });

  it('refuses a message larger than maxBytes', () => {
    const o = new Outbox({ maxBytes: 10 });
    expect(o.push('x'.repeat(11))).toBe('too-big');
    expect(o.stats.dropped['too-big']).toBe(1);
    expect(o.stats.droppedBytes).toBe(11);
    expect(o.length).toBe(0);
  });

  it('counts a Uint8Array by byteLength and a string by length', () => {
    const o = new Outbox();
    o.push(new Uint8Array(7));
    o.push('abc');
    expect(o.bytes).toBe(10);
  });
});

describe('Outbox drop policies', () => {
  it('drop-oldest evicts the oldest messages until the new one fits (count bound)', () => {
    const o = new Outbox({ maxCount: 3 });
    for (const m of ['a', 'b', 'c', 'd']) expect(o.push(m)).toBe('queued');
    expect(o.stats.dropped.evicted).toBe(1);
    expect(drain(o)).toEqual(['b', 'c', 'd']);
  });

  it('drop-oldest evicts as many as the byte bound needs', () => {
    const o = new Outbox({ maxBytes: 10 });
    o.push('aaaa');
    o.push('bbbb');
    o.push('cc');
    expect(o.push('dddddddd')).toBe('queued');
    expect(o.stats.dropped.evicted).toBe(2);
    expect(drain(o)).toEqual(['cc', 'dddddddd']);
  });

  it('drop-newest refuses the new message when full and keeps the queue as it was', () => {
    const o = new Outbox({ maxCount: 2, overflow: 'drop-newest' });
    o.push('a');
    o.push('b');
    expect(o.push('c')).toBe('full');
    expect(o.stats.dropped.full).toBe(1);
    expect(drain(o)).toEqual(['a', 'b']);
  });

  it('never evicts a drop-newest message for a drop-oldest one', () => {
    const o = new Outbox({ maxCount: 3 });
    o.push('alarm', { overflow: 'drop-newest' });
    o.push('t1');
    o.push('t2');
    expect(o.push('t3')).toBe('queued');
    expect(drain(o)).toEqual(['alarm', 't2', 't3']);
  });

  it('refuses without evicting anything when evicting all it may would not make room', () => {
    const o = new Outbox({ maxBytes: 10 });
    o.push('kkkkkk', { overflow: 'drop-newest' });
    o.push('tt');
    expect(o.push('nnnnnn')).toBe('full');
    expect(o.stats.dropped.evicted).toBe(0);
    expect(drain(o)).toEqual(['kkkkkk', 'tt']);
  });

  it('coalesces by key: the newer message replaces the queued one in its place', () => {
    const o = new Outbox();
    o.push('temp=1', { key: 'temp' });
    o.push('hum=5', { key: 'hum' });
    o.push('temp=2', { key: 'temp' });
    expect(o.length).toBe(2);
    expect(o.stats.dropped.coalesced).toBe(1);
    expect(drain(o)).toEqual(['temp=2', 'hum=5']);
  });

  it('coalesces even when the replacement only fits once the old one is gone', () => {
    const o = new Outbox({ maxBytes: 10 });
    o.push('aaaaaa', { key: 'k' });
    o.push('bbb');
    expect(o.push('cccccccc', { key: 'k' })).toBe('queued');
    expect(o.stats.dropped.coalesced).toBe(1);
    expect(drain(o)).toEqual(['cccccccc']);
    expect(o.stats.dropped.evicted).toBe(1);
  });

  it('drops expired messages when it meets them (TTL on the injected clock)', () => {
    let now = 1000;
    const o = new Outbox({ now: () => now });
    o.push('stale', { ttlMs: 100 });
    o.push('fresh', { ttlMs: 500 });
    o.push('forever');
    now = 1200;
    expect(drain(o)).toEqual(['fresh', 'forever']);
    expect(o.stats.dropped.expired).toBe(1);
  });

  it('reclaims expired messages before evicting live ones', () => {
    let now = 0;
    const o = new Outbox({ maxCount: 2, now: () => now });
    o.push('old', { ttlMs: 10 });
    o.push('live');
    now = 20;
    o.push('new');
    expect(o.stats.dropped).toMatchObject({ expired: 1, evicted: 0 });
    expect(drain(o)).toEqual(['live', 'new']);
  });

  it('without acks, take() hands each message out once and releases it', () => {
    const o = new Outbox();
    o.push('a');
    o.push('b');
    expect(drain(o)).toEqual(['a', 'b']);
    expect(o.length).toBe(0);
    expect(o.stats.sent).toBe(2);
    o.rewind();
    expect(o.take()).toBeNull();
  });
});

describe('Outbox at-least-once', () => {
  const ackOpts: OutboxOptions = { acks: true };

  it('gives seqs in send order and keeps messages until acked', () => {
    const o = new Outbox(ackOpts);
    o.push('a');
    o.push('b');
    o.push('c');
    expect(takeAll(o)).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(o.inFlight).toBe(3);
    expect(o.length).toBe(3);
    expect(o.ack(2)).toBe(2);
    expect(o.length).toBe(1);
    expect(o.inFlight).toBe(1);
    expect(o.stats.acked).toBe(2);
    expect(o.ack(2)).toBe(0);
  });

  it('rewind() resends every unacked message in order with its seq, then new ones', () => {
    const o = new Outbox(ackOpts);
    for (const m of ['a', 'b', 'c']) o.push(m);
    takeAll(o);
    o.ack(1);
    o.push('d');
    o.rewind();
    expect(takeAll(o)).toEqual([
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ]);
    expect(o.stats.resent).toBe(2);
    expect(o.stats.sent).toBe(4);
  });

  it('an ack after rewind releases messages not yet resent', () => {
    const o = new Outbox(ackOpts);
    o.push('a');
    o.push('b');
    takeAll(o);
    o.rewind();
    o.ack(2);
    expect(o.length).toBe(0);
    expect(o.take()).toBeNull();
  });

  it('starts at firstSeq, and seqs keep rising across rewinds', () => {
    const o = new Outbox({ acks: true, firstSeq: 100 });
    o.push('a');
    takeAll(o);
    o.rewind();
    o.push('b');
    expect(takeAll(o)).toEqual([
      [100, 'a'],
      [101, 'b'],
    ]);
    expect(o.nextSeq).toBe(102);
  });

  it('counts unacked messages against the bounds', () => {
    const o = new Outbox({ acks: true, maxCount: 2, overflow: 'drop-newest' });
    o.push('a');
    o.push('b');
    takeAll(o);
    expect(o.push('c')).toBe('full');
    o.ack(1);
    expect(o.push('c')).toBe('queued');
  });

  it('stops at the window of messages in flight', () => {
    const o = new Outbox({ acks: true, window: 2 });
    for (const m of ['a', 'b', 'c']) o.push(m);
    expect(takeAll(o).map((x) => x[1])).toEqual(['a', 'b']);
    o.ack(1);
    expect(takeAll(o).map((x) => x[1])).toEqual(['c']);
  });

  it('a superseded sent message is reclaimed first when room is needed', () => {
    const o = new Outbox({ acks: true, maxCount: 2, overflow: 'drop-newest' });
    o.push('k=1', { key: 'k' });
    o.push('y');
    takeAll(o);
    expect(o.push('k=2', { key: 'k' })).toBe('queued');
    expect(o.stats.dropped.coalesced).toBe(1);
    o.rewind();
    expect(takeAll(o)).toEqual([
      [2, 'y'],
      [3, 'k=2'],
    ]);
  });

  it('a key coalescing onto a sent message supersedes it: it is not resent, the new one goes behind', () => {
    const o = new Outbox(ackOpts);
    o.push('temp=1', { key: 'temp' });
    o.push('x');
    takeAll(o);
    o.push('temp=2', { key: 'temp' });
    o.rewind();
    expect(takeAll(o)).toEqual([
      [2, 'x'],
      [3, 'temp=2'],
    ]);
    expect(o.stats.dropped.coalesced).toBe(1);
  });

  it('a refused push does not supersede the queued message with its key', () => {
    const o = new Outbox({ acks: true, maxBytes: 10, overflow: 'drop-newest' });
    o.push('k=1', { key: 'k' });
    o.push('yyyyyy');
    takeAll(o);
    expect(o.push('k=2.......', { key: 'k' })).toBe('full');
    o.rewind();
    expect(takeAll(o).map((x) => x[1])).toEqual(['k=1', 'yyyyyy']);
    expect(o.stats.dropped.coalesced).toBe(0);
  });

  it('does not replay session-bound messages into a new session', () => {
    const o = new Outbox(ackOpts);
    o.push('subscribe', { session: true });
    o.push('reading');
    o.push('unsubscribe', { session: true });
    takeAll(o);
    o.rewind();
    expect(takeAll(o).map((x) => x[1])).toEqual(['reading']);
    expect(o.stats.dropped.session).toBe(2);
  });

  it('does not resend an expired message after a reconnect', () => {
    let now = 0;
    const o = new Outbox({ acks: true, now: () => now });
    o.push('a', { ttlMs: 100 });
    o.push('b');
    takeAll(o);
    now = 200;
    o.rewind();
    expect(takeAll(o)).toEqual([[2, 'b']]);
    expect(o.stats.dropped.expired).toBe(1);
  });

  it('delivers every message exactly once, in order, across any pattern of drops (property)', () => {
    // The server dedupes by highest seq (ACK-PROTOCOL.md); a drop loses whatever was
    // on the wire in either direction.
    const op = fc.oneof(
      fc.constant('push' as const),
      fc.constant('take' as const),
      fc.constant('deliver' as const),
      fc.constant('ack' as const),
      fc.constant('drop' as const),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (ops, window) => {
        const o = new Outbox({ acks: true, maxCount: 1000, maxBytes: 1e6, window });
        let pushed = 0;
        let highest = 0;
        const delivered: string[] = [];
        let wire: [number, string][] = [];
        let acks: number[] = [];
        const deliver = () => {
          const [seq, m] = wire.shift()!;
          if (seq > highest) {
            highest = seq;
            delivered.push(m);
          }
          acks.push(highest);
        };
        for (const x of ops) {
          if (x === 'push') expect(o.push('m' + pushed++)).toBe('queued');
          else if (x === 'take') {
            const m = o.take();
            if (m !== null) wire.push([o.seq, m as string]);
          } else if (x === 'deliver' && wire.length) deliver();
          else if (x === 'ack' && acks.length) o.ack(acks.shift()!);
          else if (x === 'drop') {
            wire = [];
            acks = [];
            o.rewind();
          }
        }
        // The link comes back and stays up.
        wire = [];
        acks = [];
        o.rewind();
        for (let guard = 0; o.length && guard < 10000; guard++) {
          for (let m = o.take(); m !== null; m = o.take()) wire.push([o.seq, m as string]);
          while (wire.length) deliver();
          while (acks.length) o.ack(acks.shift()!);
        }
        expect(o.length).toBe(0);
        expect(delivered).toEqual(Array.from({ length: pushed }, (_, i) => 'm' + i));
        expect(o.stats.acked).toBe(pushed);
      }),
      { numRuns: 300, seed: 2 },
    );
  });
});

describe('the device profile of the Outbox (built with PICOWS_DEVICE, src/device.d.ts)', () => {
  type OutboxModule = typeof import('../src/resilience/outbox');
  const load = () => deviceModule<OutboxModule>('src/resilience/outbox.ts');

  it('throws NOT_ON_DEVICE for key, ttlMs, session and drop-newest, and accepts drop-oldest', async () => {
    const { Outbox: DeviceOutbox } = await load();
    const o = new DeviceOutbox();
    for (const opts of [{ key: 'k' }, { ttlMs: 10 }, { session: true }, { overflow: 'drop-newest' as const }]) {
      expect(() => o.push('x', opts)).toThrow(expect.objectContaining({ id: 'NOT_ON_DEVICE' }));
    }
    expect(() => new DeviceOutbox({ overflow: 'drop-newest' })).toThrow(expect.objectContaining({ id: 'NOT_ON_DEVICE' }));
    expect(o.push('x', { overflow: 'drop-oldest' })).toBe('queued');
    // null is "no key", as on the host.
    expect(o.push('y', { key: null as unknown as undefined })).toBe('queued');
    expect(o.length).toBe(2);
  });

  it('does exactly what the host Outbox does with option-less pushes: takes, acks, rewinds, evictions, stats (property)', async () => {
    const { Outbox: DeviceOutbox } = await load();
    const op = fc.oneof(
      fc.record({ t: fc.constant('push' as const), n: fc.integer({ min: 0, max: 300 }), bin: fc.boolean() }),
      fc.record({ t: fc.constant('take' as const) }),
      fc.record({ t: fc.constant('ack' as const), back: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ t: fc.constant('rewind' as const) }),
    );
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 100, max: 1000 }), fc.array(op, { maxLength: 200 }), (acks, maxCount, maxBytes, ops) => {
        const opts: OutboxOptions = { acks, maxCount, maxBytes, window: acks ? 4 : undefined };
        const host = new Outbox(opts);
        const device = new DeviceOutbox(opts);
        for (const x of ops) {
          const both = (f: (o: Outbox) => unknown) => expect(f(device as unknown as Outbox)).toEqual(f(host));
          if (x.t === 'push') both((o) => o.push(x.bin ? new Uint8Array(x.n) : 'x'.repeat(x.n)));
          else if (x.t === 'take') both((o) => [o.take(), o.seq]);
          else if (x.t === 'ack') both((o) => o.ack(o.nextSeq - 1 - x.back));
          else both((o) => o.rewind());
          both((o) => [o.length, o.bytes, o.inFlight, o.nextSeq, o.stats]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
