/**
 * The sans-I/O protocol (RFC 6455 5-7, client side), driven with virtual bytes only:
 * a tiny in-test server builds unmasked frames (test/vectors/build.ts) and unmasks
 * whatever the client queues. Every behaviour runs on both cores.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeCore } from '../board/node/core';
import { ERRORS, isSendableCloseCode, PicowsError } from '../src/errors';
import { CLOSED, CLOSING, OPEN, DEFAULT_FRAGMENT_SIZE, Protocol, type ProtocolOptions, type ProtocolSink } from '../src/protocol/protocol';
import { closePayload, concat, frame, hex, utf8 } from './vectors/build';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

type Event = ['text', string] | ['binary', Uint8Array] | ['ping', Uint8Array] | ['pong', Uint8Array] | ['close', number, string];

/** Records what the protocol reports, copying reused buffers as the contract asks. */
class Recorder implements ProtocolSink {
  readonly events: Event[] = [];
  readonly binaries: Uint8Array[] = [];
  onText(data: string): void { this.events.push(['text', data]); }
  onBinary(data: Uint8Array): void { this.binaries.push(data); this.events.push(['binary', data.slice()]); }
  onPing(payload: Uint8Array): void { this.events.push(['ping', payload.slice()]); }
  onPong(payload: Uint8Array): void { this.events.push(['pong', payload.slice()]); }
  onCloseFrame(code: number, reason: string): void { this.events.push(['close', code, reason]); }
}

interface ClientFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  key: number;
  /** Unmasked. */
  payload: Uint8Array;
  /** The frame as written. */
  wire: Uint8Array;
}

/** The server side of the test: reads exactly one masked client frame from `bytes`. */
function parseClientFrame(bytes: Uint8Array): ClientFrame {
  expect(bytes.length).toBeGreaterThanOrEqual(6);
  expect(bytes[1] & 0x80).toBe(0x80); // RFC 6455 5.3: every client frame is masked
  let length = bytes[1] & 0x7f;
  let at = 2;
  if (length === 126) {
    length = (bytes[2] << 8) | bytes[3];
    expect(length).toBeGreaterThanOrEqual(126);
    at = 4;
  } else if (length === 127) {
    expect(bytes[2] & 0x80).toBe(0);
    length = (bytes[2] * 2 ** 24 + ((bytes[3] << 16) | (bytes[4] << 8) | bytes[5])) * 2 ** 32 + ((bytes[6] << 24) >>> 0) + ((bytes[7] << 16) | (bytes[8] << 8) | bytes[9]);
    expect(length).toBeGreaterThanOrEqual(65536);
    at = 10;
  }
  const key = ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
  at += 4;
  expect(bytes.length).toBe(at + length); // one whole frame per nextOutgoing()
  const payload = new Uint8Array(length);
  for (let i = 0; i < length; i++) payload[i] = bytes[at + i] ^ ((key >>> (24 - 8 * (i & 3))) & 0xff);
  return { fin: (bytes[0] & 0x80) !== 0, rsv: bytes[0] & 0x70, opcode: bytes[0] & 0x0f, key, payload, wire: bytes };
}

/** Everything the client has queued, frame by frame. */
function drain(p: Protocol): ClientFrame[] {
  const out: ClientFrame[] = [];
  for (let f = p.nextOutgoing(); f !== null; f = p.nextOutgoing()) out.push(parseClientFrame(f));
  expect(p.bufferedAmount).toBe(0);
  return out;
}

function closeCodeOf(f: ClientFrame): number | undefined {
  expect(f.opcode).toBe(0x8);
  return f.payload.length === 0 ? undefined : (f.payload[0] << 8) | f.payload[1];
}

/** A deterministic stand-in for the strong RNG, remembering every key it gave. */
function keySource(): { random32(): number; keys: number[] } {
  let x = 0x2545f491;
  const keys: number[] = [];
  return {
    keys,
    random32() {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      keys.push(x >>> 0);
      return x;
    },
  };
}

function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

describe.each(['js', 'wasm'] as const)('Protocol on the %s core', (kind) => {
  const core = nodeCore(kind);

  function connect(opts: Partial<ProtocolOptions> = {}) {
    const sink = new Recorder();
    const rng = keySource();
    const p = new Protocol(sink, {
      core,
      random32: rng.random32,
      encodeText: (s) => encoder.encode(s),
      decodeText: (b, s, e) => decoder.decode(b.subarray(s, e)),
      ...opts,
    });
    return { p, sink, rng };
  }

  describe('messages', () => {
    it('starts OPEN with nothing to send', () => {
      const { p } = connect();
      expect(p.state).toBe(OPEN);
      expect(p.nextOutgoing()).toBeNull();
      expect(p.bufferedAmount).toBe(0);
      expect(p.closeExpected()).toBe(false);
    });

    it('echoes text both ways', () => {
      const { p, sink } = connect();
      p.receiveData(frame(0x1, 'hello, wörld ✓'));
      expect(sink.events).toEqual([['text', 'hello, wörld ✓']]);
      p.sendText('hello, wörld ✓');
      const [f] = drain(p);
      expect(f).toMatchObject({ fin: true, rsv: 0, opcode: 0x1 });
      expect(decoder.decode(f.payload)).toBe('hello, wörld ✓');
    });

    it('echoes binary both ways, empty messages included', () => {
      const { p, sink } = connect();
      p.receiveData(concat([frame(0x2, Uint8Array.of(0, 1, 0xff)), frame(0x2, new Uint8Array(0)), frame(0x1, '')]));
      expect(sink.events).toEqual([['binary', Uint8Array.of(0, 1, 0xff)], ['binary', new Uint8Array(0)], ['text', '']]);
      p.sendBinary(Uint8Array.of(0, 1, 0xff));
      p.sendBinary(new Uint8Array(0));
      p.sendText('');
      expect(drain(p).map((f) => [f.opcode, f.fin, Array.from(f.payload)])).toEqual([[2, true, [0, 1, 0xff]], [2, true, []], [1, true, []]]);
    });

    it('delivers a message that arrived in one chunk as a view of that chunk (no copy)', () => {
      const { p, sink } = connect();
      const chunk = concat([frame(0x9, 'x'), frame(0x2, Uint8Array.of(7, 8, 9))]);
      p.receiveData(chunk);
      const got = sink.binaries[0];
      expect(got.buffer).toBe(chunk.buffer);
      expect(got.byteOffset).toBe(chunk.length - 3);
      expect(Array.from(got)).toEqual([7, 8, 9]);
    });

    it('delivers a reassembled message as fresh bytes the receiver owns', () => {
      const { p, sink } = connect();
      const bytes = concat([frame(0x2, Uint8Array.of(1, 2), { fin: false }), frame(0x0, Uint8Array.of(3), { fin: false }), frame(0x0, Uint8Array.of(4, 5))]);
      const chunks = splitEvery(bytes, 3);
      for (const c of chunks) p.receiveData(c);
      const first = sink.binaries[0];
      expect(Array.from(first)).toEqual([1, 2, 3, 4, 5]);
      for (const c of chunks) expect(first.buffer).not.toBe(c.buffer);
      // The reassembly buffer is reused: a second message must not change the first.
      for (const c of splitEvery(concat([frame(0x2, Uint8Array.of(9, 9), { fin: false }), frame(0x0, Uint8Array.of(9, 9, 9))]), 2)) p.receiveData(c);
      expect(Array.from(first)).toEqual([1, 2, 3, 4, 5]);
      expect(Array.from(sink.binaries[1])).toEqual([9, 9, 9, 9, 9]);
    });

    it('reassembles fragmented messages with pings and pongs in between, answering each ping in order', () => {
      const { p, sink } = connect();
      const bytes = concat([
        frame(0x1, 'Hel', { fin: false }),
        frame(0x9, 'p1'),
        frame(0x0, 'lo, w', { fin: false }),
        frame(0xa, 'unsolicited'),
        frame(0x9, ''),
        frame(0x0, 'ö'),
        frame(0x2, Uint8Array.of(1), { fin: false }),
        frame(0x9, 'p3'),
        frame(0x0, Uint8Array.of(2)),
      ]);
      p.receiveData(bytes);
      expect(sink.events).toEqual([
        ['ping', utf8('p1')], ['pong', utf8('unsolicited')], ['ping', new Uint8Array(0)], ['text', 'Hello, wö'],
        ['ping', utf8('p3')], ['binary', Uint8Array.of(1, 2)],
      ]);
      expect(drain(p).map((f) => [f.opcode, decoder.decode(f.payload)])).toEqual([[0xa, 'p1'], [0xa, ''], [0xa, 'p3']]);
    });

    it('gives the same events and frames whatever the chunking, one byte at a time included', () => {
      const bytes = concat([
        frame(0x1, 'ab€', { fin: false }), frame(0x9, 'ping!'), frame(0x0, '𝄞'), frame(0x2, new Uint8Array(300).fill(5)),
        frame(0x1, 'x'.repeat(200), { fin: false }), frame(0x0, 'y'.repeat(70000 - 200)),
        frame(0x8, closePayload(1000, 'done')),
      ]);
      const whole = connect({ maxMessage: 100000 });
      whole.p.receiveData(bytes);
      const wholeFrames = drain(whole.p).map((f) => [f.opcode, Array.from(f.payload)]);
      expect(whole.sink.events.map((e) => e[0])).toEqual(['ping', 'text', 'binary', 'text', 'close']);
      for (const size of [1, 2, 3, 7, 125, 4096]) {
        const run = connect({ maxMessage: 100000 });
        for (const c of splitEvery(bytes, size)) run.p.receiveData(c);
        expect(run.sink.events).toEqual(whole.sink.events);
        expect(drain(run.p).map((f) => [f.opcode, Array.from(f.payload)])).toEqual(wholeFrames);
        expect(run.p.state).toBe(CLOSED);
      }
    });

    it('reads a chunk holding more frames than the validator has record slots (scans again from pos)', () => {
      const { p, sink } = connect();
      const parts: Uint8Array[] = [];
      for (let i = 0; i < 300; i++) parts.push(i % 3 === 2 ? frame(0x9, String(i)) : frame(0x1, 'm' + i));
      p.receiveData(concat(parts));
      expect(sink.events.length).toBe(300);
      expect(sink.events[299]).toEqual(['ping', utf8('299')]);
      expect(sink.events[298]).toEqual(['text', 'm298']);
      expect(drain(p).length).toBe(100);
    });

    it('answers a ping with a pong carrying the same payload, up to 125 bytes', () => {
      const { p, sink } = connect();
      const payload = new Uint8Array(125).map((_, i) => 255 - i);
      // Split inside the payload, so it is gathered into the control buffer.
      p.receiveData(frame(0x9, payload).subarray(0, 50));
      p.receiveData(frame(0x9, payload).subarray(50));
      expect(sink.events).toEqual([['ping', payload]]);
      const [pong] = drain(p);
      expect(pong).toMatchObject({ opcode: 0xa, fin: true });
      expect(pong.payload).toEqual(payload);
    });
  });

  describe('size limits', () => {
    it('fails an incoming message over maxMessage with 1009, decided from the header', () => {
      const { p, sink } = connect({ maxMessage: 16 });
      p.receiveData(concat([frame(0x2, new Uint8Array(16)), frame(0x2, new Uint8Array(17))]));
      expect(sink.events.length).toBe(1);
      expect(p.failure?.id).toBe('MESSAGE_TOO_BIG');
      expect(p.failure?.detail).toMatchObject({ offset: 18 + 1 });
      expect(p.closeCode).toBe(1009);
      expect(p.wasClean).toBe(false);
      expect(p.state).toBe(CLOSING);
      expect(p.closeExpected()).toBe(true);
      const frames = drain(p);
      expect(frames.length).toBe(1);
      expect(closeCodeOf(frames[0])).toBe(1009);
    });

    it('counts every fragment of a message against maxMessage', () => {
      const { p, sink } = connect({ maxMessage: 16 });
      p.receiveData(concat([frame(0x1, 'a'.repeat(10), { fin: false }), frame(0x9, 'ctl'), frame(0x0, 'b'.repeat(7))]));
      expect(sink.events).toEqual([['ping', utf8('ctl')]]);
      expect(p.failure?.id).toBe('MESSAGE_TOO_BIG');
      // The pong queued before the failure is dropped with the rest: the Close goes alone.
      expect(drain(p).map(closeCodeOf)).toEqual([1009]);
    });

    it('refuses to send a message over maxMessage (SEND_TOO_BIG) and queues nothing', () => {
      const { p } = connect({ maxMessage: 8 });
      expect(() => p.sendText('123456789')).toThrowError(expect.objectContaining({ id: 'SEND_TOO_BIG' }));
      // 5 characters, 10 UTF-8 bytes: the limit is in bytes.
      expect(() => p.sendText('ééééé')).toThrowError(expect.objectContaining({ id: 'SEND_TOO_BIG', detail: { size: 10, limit: 8 } }));
      expect(() => p.sendBinary(new Uint8Array(9))).toThrowError(PicowsError);
      expect(p.bufferedAmount).toBe(0);
      expect(p.state).toBe(OPEN);
      p.sendText('12345678');
      p.sendBinary(new Uint8Array(8));
      expect(drain(p).map((f) => f.payload.length)).toEqual([8, 8]);
    });

    it('refuses ping and pong payloads over 125 bytes', () => {
      const { p } = connect();
      expect(() => p.sendPing(new Uint8Array(126))).toThrowError(expect.objectContaining({ id: 'SEND_TOO_BIG' }));
      expect(() => p.sendPong(new Uint8Array(126))).toThrowError(expect.objectContaining({ id: 'SEND_TOO_BIG' }));
      p.sendPing(new Uint8Array(125).fill(1));
      p.sendPong();
      expect(drain(p).map((f) => [f.opcode, f.payload.length])).toEqual([[0x9, 125], [0xa, 0]]);
    });
  });

  describe('outgoing frames', () => {
    it('masks every frame with a fresh key from the injected RNG', () => {
      const { p, rng } = connect({ fragmentSize: 4 });
      p.sendText('same');
      p.sendText('same');
      p.sendBinary(utf8('abcdefghij'));
      p.sendPing(utf8('same'));
      p.sendClose(1000);
      const frames = drain(p);
      expect(frames.length).toBe(7);
      // The keys on the wire are the RNG's, one each, all different; the payloads differ on the wire too.
      expect(new Set(frames.map((f) => f.key)).size).toBe(7);
      expect(frames.map((f) => f.key).sort()).toEqual(rng.keys.slice().sort());
      expect(frames[0].wire.subarray(6)).not.toEqual(frames[1].wire.subarray(6));
      expect(decoder.decode(frames[0].payload)).toBe('same');
    });

    it('fragments messages above fragmentSize: first frame with the opcode, continuations, FIN on the last', () => {
      const { p } = connect({ fragmentSize: 10 });
      p.sendText('0123456789abcdefghijKLMNO');
      p.sendText('0123456789');
      p.sendBinary(new Uint8Array(20).fill(3));
      expect(drain(p).map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([
        [1, false, 10], [0, false, 10], [0, true, 5],
        [1, true, 10],
        [2, false, 10], [0, true, 10],
      ]);
    });

    it('by default makes frames of at most 512 bytes (one Kaluma write each)', () => {
      const { p } = connect();
      const message = new Uint8Array(1200).map((_, i) => i & 0xff);
      p.sendBinary(message);
      const frames = drain(p);
      expect(frames.map((f) => f.payload.length)).toEqual([DEFAULT_FRAGMENT_SIZE, DEFAULT_FRAGMENT_SIZE, 1200 - 2 * DEFAULT_FRAGMENT_SIZE]);
      expect(Math.max(...frames.map((f) => f.wire.length))).toBe(512);
      expect(concat(frames.map((f) => f.payload))).toEqual(message);
    });

    it.each([
      [100, ['x'.repeat(250), new Uint8Array(1000), '']],
      // 16- and 64-bit lengths: a 150000-byte message in frames of 100000 and 50000 bytes.
      [100000, [new Uint8Array(70000), new Uint8Array(150000), 'é'.repeat(200)]],
    ] as const)('reports bufferedAmount as the exact bytes still to take (fragmentSize %d)', (fragmentSize, messages) => {
      const { p } = connect({ fragmentSize, maxMessage: 200000 });
      let expected = 0;
      for (const m of messages) {
        const length = typeof m === 'string' ? utf8(m).length : m.length;
        for (let at = 0; at < length || at === 0; at += fragmentSize) {
          const n = Math.min(fragmentSize, length - at);
          expected += n + (n < 126 ? 6 : n < 65536 ? 8 : 14);
          if (length === 0) break;
        }
        if (typeof m === 'string') p.sendText(m);
        else p.sendBinary(m);
        p.sendPing(utf8('hi'));
        expected += 8;
      }
      p.sendClose(1000, 'bye');
      expected += 6 + 5;
      expect(p.bufferedAmount).toBe(expected);
      let left = expected;
      for (let f = p.nextOutgoing(); f !== null; f = p.nextOutgoing()) {
        left -= f.length;
        expect(p.bufferedAmount).toBe(left);
      }
      expect(left).toBe(0);
    });

    it('sends a ping between the fragments of a message being sent, and the Close after all data', () => {
      const { p } = connect({ fragmentSize: 10 });
      p.sendBinary(new Uint8Array(30));
      const first = p.nextOutgoing();
      expect(first && parseClientFrame(first).opcode).toBe(2);
      p.sendPing(utf8('now'));
      p.sendText('after');
      p.sendClose(1000);
      expect(drain(p).map((f) => f.opcode)).toEqual([0x9, 0, 0, 0x1, 0x8]);
    });

    it('snapshots the caller\'s bytes at send time', () => {
      const { p } = connect({ fragmentSize: 4 });
      const small = Uint8Array.of(1, 2, 3);
      const large = Uint8Array.of(1, 2, 3, 4, 5, 6);
      p.sendBinary(small);
      p.sendBinary(large);
      small.fill(0);
      large.fill(0);
      expect(drain(p).map((f) => Array.from(f.payload))).toEqual([[1, 2, 3], [1, 2, 3, 4], [5, 6]]);
    });
  });

  describe('the closing handshake', () => {
    it('we close first: CLOSING, then CLOSED and clean when the peer answers', () => {
      const { p, sink } = connect();
      p.sendText('last words');
      p.sendClose(1000, 'bye');
      expect(p.state).toBe(CLOSING);
      expect(p.closeExpected()).toBe(false);
      const frames = drain(p);
      expect(frames.map((f) => f.opcode)).toEqual([0x1, 0x8]);
      expect(closeCodeOf(frames[1])).toBe(1000);
      expect(decoder.decode(frames[1].payload.subarray(2))).toBe('bye');
      // RFC 6455 5.5.1: data may still arrive until the peer's Close.
      p.receiveData(frame(0x1, 'in flight'));
      p.receiveData(frame(0x8, closePayload(1000, 'ok')));
      expect(sink.events).toEqual([['text', 'in flight'], ['close', 1000, 'ok']]);
      expect(p.state).toBe(CLOSED);
      expect([p.closeCode, p.closeReason, p.wasClean, p.failure]).toEqual([1000, 'ok', true, null]);
      expect(p.closeExpected()).toBe(true);
      expect(p.nextOutgoing()).toBeNull(); // no second Close
    });

    it('after our Close: sendText/sendBinary throw NOT_OPEN, pings, pongs and close() are ignored', () => {
      const { p, sink } = connect();
      p.sendClose();
      drain(p);
      expect(() => p.sendText('x')).toThrowError(expect.objectContaining({ id: 'NOT_OPEN' }));
      expect(() => p.sendBinary(new Uint8Array(1))).toThrowError(expect.objectContaining({ id: 'NOT_OPEN' }));
      p.sendPing();
      p.sendPong();
      p.sendClose(1000);
      p.receiveData(frame(0x9, 'still there?'));
      expect(sink.events).toEqual([['ping', utf8('still there?')]]);
      expect(p.nextOutgoing()).toBeNull();
      expect(p.state).toBe(CLOSING);
    });

    it('sends an empty Close for sendClose() and reports 1005 when the peer echoes it empty', () => {
      const { p } = connect();
      p.sendClose();
      const [f] = drain(p);
      expect(f.payload.length).toBe(0);
      p.receiveData(frame(0x8));
      expect([p.state, p.closeCode, p.wasClean]).toEqual([CLOSED, 1005, true]);
    });

    it('the peer closes first: we echo its code, drop unsent data, and are CLOSED', () => {
      const { p, sink } = connect({ fragmentSize: 4 });
      p.sendText('never sent, dropped');
      p.sendPing();
      p.receiveData(frame(0x8, closePayload(4001, 'maintenance')));
      expect(sink.events).toEqual([['close', 4001, 'maintenance']]);
      expect(p.state).toBe(CLOSED);
      expect([p.closeCode, p.closeReason, p.wasClean, p.failure]).toEqual([4001, 'maintenance', true, null]);
      expect(p.closeExpected()).toBe(true);
      const frames = drain(p);
      expect(frames.length).toBe(1);
      expect(closeCodeOf(frames[0])).toBe(4001);
      expect(frames[0].payload.length).toBe(2);
    });

    it('answers a Close without a code with an empty Close, never 1005 on the wire', () => {
      const { p, sink } = connect();
      p.receiveData(frame(0x8));
      expect(sink.events).toEqual([['close', 1005, '']]);
      expect(p.closeCode).toBe(1005);
      const [f] = drain(p);
      expect(f.opcode).toBe(0x8);
      expect(f.payload.length).toBe(0);
    });

    it('a Close split over chunks is gathered before it is read', () => {
      const { p, sink } = connect();
      const bytes = frame(0x8, closePayload(1001, 'going away'));
      for (const c of splitEvery(bytes, 1)) p.receiveData(c);
      expect(sink.events).toEqual([['close', 1001, 'going away']]);
      expect(drain(p).map(closeCodeOf)).toEqual([1001]);
    });

    it('ignores everything after the peer\'s Close', () => {
      const { p, sink } = connect();
      p.receiveData(concat([frame(0x8, closePayload(1000)), frame(0x1, 'ghost'), hex('ff ff ff')]));
      p.receiveData(frame(0x9, 'ghost ping'));
      p.receiveEof();
      expect(sink.events).toEqual([['close', 1000, '']]);
      expect([p.state, p.closeCode, p.wasClean, p.failure]).toEqual([CLOSED, 1000, true, null]);
      expect(drain(p).length).toBe(1);
    });

    it('validates close() arguments: 1000 or 3000-4999, a reason of at most 123 UTF-8 bytes', () => {
      const { p } = connect();
      for (const code of [0, 999, 1001, 1002, 1005, 1006, 1011, 1015, 2999, 5000, 1000.5]) {
        expect(() => p.sendClose(code)).toThrowError(expect.objectContaining({ id: 'INVALID_CLOSE_ARGS' }));
      }
      expect(() => p.sendClose(1000, 'x'.repeat(124))).toThrowError(expect.objectContaining({ id: 'INVALID_CLOSE_ARGS' }));
      expect(() => p.sendClose(1000, 'é'.repeat(62))).toThrowError(expect.objectContaining({ id: 'INVALID_CLOSE_ARGS' }));
      expect(() => p.sendClose(undefined, 'why')).toThrowError(expect.objectContaining({ id: 'INVALID_CLOSE_ARGS' }));
      expect(p.state).toBe(OPEN);
      expect(p.bufferedAmount).toBe(0);
      p.sendClose(4999, 'é'.repeat(61) + 'x');
      const [f] = drain(p);
      expect(closeCodeOf(f)).toBe(4999);
      expect(f.payload.length).toBe(125);
    });

    it('lets picows itself close with any code allowed on the wire (1001 going away), never 1005/1006/1015', () => {
      const a = connect().p;
      a.sendClose(1001, 'shutting down', true);
      expect(drain(a).map(closeCodeOf)).toEqual([1001]);
      for (const code of [1005, 1006, 1015]) {
        expect(() => connect().p.sendClose(code, '', true)).toThrowError(expect.objectContaining({ id: 'INVALID_CLOSE_ARGS' }));
      }
    });
  });

  describe('failures', () => {
    // One stream per validator error class; the error is in the second frame, after a valid one.
    const cases: [string, Uint8Array, number][] = [
      ['RESERVED_BITS', frame(0x1, 'x', { rsv: 0x40 }), 0],
      ['RESERVED_OPCODE', frame(0x3, 'x'), 0],
      ['MASKED_FRAME', frame(0x1, 'x', { maskKey: 0x11223344 }), 1],
      ['FRAGMENTED_CONTROL', frame(0x9, 'x', { fin: false }), 0],
      ['CONTROL_TOO_LONG', frame(0x9, new Uint8Array(126)), 1],
      ['LENGTH_TOP_BIT', concat([hex('82 7f 80')]), 2],
      ['NON_MINIMAL_LENGTH', frame(0x2, 'x', { form: 16 }), 3],
      ['UNEXPECTED_CONTINUATION', frame(0x0, 'x'), 0],
      ['EXPECTED_CONTINUATION', concat([frame(0x1, 'a', { fin: false }), frame(0x1, 'b')]), 3],
      ['MESSAGE_TOO_BIG', frame(0x2, new Uint8Array(9000)), 3],
      ['INVALID_UTF8', frame(0x1, hex('61 ff 62')), 3],
      ['TRUNCATED_UTF8', frame(0x1, hex('61 e2 82')), 4],
      ['CLOSE_PAYLOAD_ONE_BYTE', frame(0x8, hex('03')), 1],
      ['INVALID_CLOSE_CODE', frame(0x8, closePayload(1005)), 3],
      ['INVALID_CLOSE_REASON', frame(0x8, concat([closePayload(1000), hex('c0 80')])), 4],
    ];

    it.each(cases)('%s: a Close with the error\'s code goes out, the failure names the stream offset', (id, bad, at) => {
      const { p, sink } = connect();
      const good = frame(0x1, 'fine');
      p.receiveData(concat([good, bad, frame(0x1, 'never read')]));
      expect(sink.events).toEqual([['text', 'fine']]);
      const failure = p.failure as PicowsError;
      expect(failure).toBeInstanceOf(PicowsError);
      expect(failure.id).toBe(id);
      expect(failure.detail?.offset).toBe(good.length + at);
      expect(failure.detail?.bytes).toContain('[' + hexByte(bad[at]) + ']');
      expect([p.state, p.closeExpected(), p.closeCode, p.wasClean]).toEqual([CLOSING, true, ERRORS[id].closeCode, false]);
      const frames = drain(p);
      expect(frames.length).toBe(1);
      expect(closeCodeOf(frames[0])).toBe(ERRORS[id].closeCode);
      expect([1002, 1007, 1009]).toContain(closeCodeOf(frames[0]));
      // Nothing more is read; TCP ending settles the state without changing the outcome.
      p.receiveData(frame(0x1, 'late'));
      p.receiveEof();
      expect(sink.events.length).toBe(1);
      expect([p.state, p.closeCode, p.failure]).toEqual([CLOSED, ERRORS[id].closeCode, failure]);
    });

    it('reports absolute stream offsets when fed one byte at a time', () => {
      const { p } = connect();
      const bytes = concat([frame(0x2, new Uint8Array(200)), frame(0x1, hex('e2 28 a1'))]);
      for (const c of splitEvery(bytes, 1)) p.receiveData(c);
      expect(p.failure?.id).toBe('INVALID_UTF8');
      expect(p.failure?.detail).toEqual({ offset: 204 + 2 + 1, bytes: '[28]' });
    });

    it('fail() with a code that may be on the wire queues that Close after dropping unsent data', () => {
      const { p } = connect();
      p.sendText('dropped');
      p.fail('INTERNAL_ERROR', { why: 'test' });
      expect([p.state, p.closeExpected(), p.closeCode, p.wasClean]).toEqual([CLOSING, true, 1011, false]);
      expect(p.failure?.detail).toEqual({ why: 'test' });
      const frames = drain(p);
      expect(frames.map(closeCodeOf)).toEqual([1011]);
      expect(decoder.decode(frames[0].payload.subarray(2))).toBe('INTERNAL_ERROR');
    });

    it('fail() with a local-only code (1006) sends no Close', () => {
      const { p } = connect();
      p.sendPing();
      p.fail('PONG_TIMEOUT');
      expect([p.state, p.closeExpected(), p.closeCode, p.wasClean, p.failure?.id]).toEqual([CLOSING, true, 1006, false, 'PONG_TIMEOUT']);
      expect(p.nextOutgoing()).toBeNull();
      p.receiveEof();
      expect([p.state, p.closeCode, p.failure?.id]).toEqual([CLOSED, 1006, 'PONG_TIMEOUT']);
    });

    it('the first failure wins, and a failure after our Close sends no second Close', () => {
      const { p } = connect();
      p.sendClose(1000);
      p.fail('CLOSE_TIMEOUT');
      p.fail('INTERNAL_ERROR');
      expect([p.closeCode, p.failure?.id]).toEqual([1006, 'CLOSE_TIMEOUT']);
      expect(drain(p).map(closeCodeOf)).toEqual([1000]);
    });

    it('fail() after the close handshake changes nothing', () => {
      const { p } = connect();
      p.receiveData(frame(0x8, closePayload(1000)));
      p.fail('INTERNAL_ERROR');
      expect([p.state, p.closeCode, p.wasClean, p.failure]).toEqual([CLOSED, 1000, true, null]);
    });

    it('a sink that throws fails the connection with 1011 and the error reaches the caller', () => {
      const { p, sink } = connect();
      sink.onText = () => { throw new Error('handler bug'); };
      expect(() => p.receiveData(concat([frame(0x1, 'boom'), frame(0x1, 'after')]))).toThrowError('handler bug');
      expect(p.failure?.id).toBe('INTERNAL_ERROR');
      expect(drain(p).map(closeCodeOf)).toEqual([1011]);
    });
  });

  describe('the end of TCP', () => {
    it('without a Close exchanged: CLOSED, 1006 locally, CONNECTION_LOST, nothing on the wire', () => {
      const { p } = connect();
      p.sendText('unsent');
      p.receiveData(frame(0x1, 'partial').subarray(0, 4));
      p.receiveEof();
      expect([p.state, p.closeCode, p.closeReason, p.wasClean, p.failure?.id, p.closeExpected()]).toEqual([CLOSED, 1006, '', false, 'CONNECTION_LOST', true]);
      expect(p.nextOutgoing()).toBeNull();
      expect(p.bufferedAmount).toBe(0);
    });

    it('after our Close but before the peer\'s: not clean, 1006', () => {
      const { p } = connect();
      p.sendClose(1000);
      drain(p);
      p.receiveEof();
      expect([p.state, p.closeCode, p.wasClean, p.failure?.id]).toEqual([CLOSED, 1006, false, 'CONNECTION_LOST']);
    });
  });

  describe('the validator', () => {
    /** The core, counting the validators it makes and disposes. */
    function countingCore() {
      const counts = { created: 0, disposed: 0 };
      const counted = {
        ...core,
        kind: core.kind,
        mask: core.mask.bind(core),
        utf8ErrorOffset: core.utf8ErrorOffset.bind(core),
        createValidator(maxMessage?: number, flags?: number) {
          const v = core.createValidator(maxMessage, flags);
          counts.created++;
          const dispose = v.dispose.bind(v);
          v.dispose = () => { counts.disposed++; dispose(); };
          return v;
        },
      };
      return { counted, counts };
    }

    it.each([
      ['the peer\'s Close', (p: Protocol) => p.receiveData(frame(0x8))],
      ['a failure', (p: Protocol) => p.receiveData(hex('ff ff'))],
      ['fail()', (p: Protocol) => p.fail('PONG_TIMEOUT')],
      ['the end of TCP', (p: Protocol) => p.receiveEof()],
      ['dispose()', (p: Protocol) => p.dispose()],
    ])('is released exactly once after %s, and later input is ignored', (_, end) => {
      const { counted, counts } = countingCore();
      const { p, sink } = connect({ core: counted });
      end(p);
      p.receiveData(frame(0x1, 'late'));
      p.receiveEof();
      p.dispose();
      expect(counts).toEqual({ created: 1, disposed: 1 });
      expect(sink.events.filter((e) => e[0] === 'text')).toEqual([]);
    });

    it('gets maxMessage and the validator flags from the options', () => {
      const seen: unknown[] = [];
      const spy = { ...core, kind: core.kind, mask: core.mask.bind(core), utf8ErrorOffset: core.utf8ErrorOffset.bind(core),
        createValidator: (m?: number, f?: number) => { seen.push(m, f); return core.createValidator(m, f); } };
      connect({ core: spy });
      connect({ core: spy, maxMessage: 100, validatorFlags: 0x100 });
      expect(seen).toEqual([8192, 0, 100, 0x100]);
      // CFG_ACCEPT_NON_MINIMAL really reaches the validator: a 16-bit length for 1 byte is then fine.
      const { p, sink } = connect({ validatorFlags: 0x100 });
      p.receiveData(frame(0x1, 'x', { form: 16 }));
      expect(sink.events).toEqual([['text', 'x']]);
    });
  });

  describe('never 1005, 1006 or 1015 on the wire (property)', () => {
    const closeCodes = fc.oneof(fc.integer({ min: 0, max: 5100 }), fc.constantFrom(1000, 1001, 1002, 1005, 1006, 1015, 3000, 4999));
    const text = fc.string({ maxLength: 40, unit: 'grapheme' });
    const incoming = fc.oneof(
      text.map((s) => frame(0x1, s)),
      fc.uint8Array({ maxLength: 40 }).map((b) => frame(0x2, b)),
      fc.tuple(text, text).map(([a, b]) => concat([frame(0x1, a, { fin: false }), frame(0x9, 'p'), frame(0x0, b)])),
      fc.uint8Array({ maxLength: 125 }).map((b) => frame(0x9, b)),
      fc.uint8Array({ maxLength: 10 }).map((b) => frame(0xa, b)),
      fc.tuple(closeCodes, fc.string({ maxLength: 20 })).map(([c, r]) => frame(0x8, closePayload(c, r))),
      fc.constant(frame(0x8)),
      fc.uint8Array({ minLength: 1, maxLength: 12 }), // garbage
    );
    const action = fc.oneof(
      fc.record({ kind: fc.constant('receive' as const), bytes: incoming, cut: fc.nat() }),
      fc.record({ kind: fc.constant('text' as const), s: fc.string({ maxLength: 60 }) }),
      fc.record({ kind: fc.constant('binary' as const), b: fc.uint8Array({ maxLength: 60 }) }),
      fc.record({ kind: fc.constant('ping' as const), b: fc.uint8Array({ maxLength: 130 }) }),
      fc.record({ kind: fc.constant('pong' as const), b: fc.uint8Array({ maxLength: 10 }) }),
      fc.record({ kind: fc.constant('close' as const), code: fc.option(closeCodes), reason: fc.string({ maxLength: 70 }), internal: fc.boolean() }),
      fc.record({ kind: fc.constant('fail' as const), id: fc.constantFrom(...Object.keys(ERRORS), 'NOT_AN_ID') }),
      fc.record({ kind: fc.constant('eof' as const) }),
      fc.record({ kind: fc.constant('take' as const), n: fc.integer({ min: 0, max: 4 }) }),
    );

    it('holds over random sequences of API calls and incoming frames', () => {
      fc.assert(
        fc.property(fc.array(action, { maxLength: 25 }), (actions) => {
          const { p } = connect({ fragmentSize: 16, maxMessage: 50 });
          const wire: ClientFrame[] = [];
          const take = (n: number) => {
            for (let i = 0; i < n; i++) {
              const f = p.nextOutgoing();
              if (f === null) return;
              wire.push(parseClientFrame(f));
            }
          };
          for (const a of actions) {
            try {
              if (a.kind === 'receive') {
                const cut = a.cut % (a.bytes.length + 1);
                p.receiveData(a.bytes.subarray(0, cut));
                p.receiveData(a.bytes.subarray(cut));
              } else if (a.kind === 'text') p.sendText(a.s);
              else if (a.kind === 'binary') p.sendBinary(a.b);
              else if (a.kind === 'ping') p.sendPing(a.b);
              else if (a.kind === 'pong') p.sendPong(a.b);
              else if (a.kind === 'close') p.sendClose(a.code === null ? undefined : a.code, a.reason, a.internal);
              else if (a.kind === 'fail') p.fail(a.id);
              else if (a.kind === 'eof') p.receiveEof();
              else take(a.n);
            } catch (e) {
              expect(e).toBeInstanceOf(PicowsError);
              expect(['SEND_TOO_BIG', 'NOT_OPEN', 'INVALID_CLOSE_ARGS']).toContain((e as PicowsError).id);
            }
            if (p.state === CLOSED || p.failure) expect(p.closeExpected()).toBe(true);
          }
          const pending = p.bufferedAmount;
          let taken = 0;
          for (let f = p.nextOutgoing(); f !== null; f = p.nextOutgoing()) {
            taken += f.length;
            wire.push(parseClientFrame(f));
          }
          expect(taken).toBe(pending);
          const closes = wire.filter((f) => f.opcode === 0x8);
          expect(closes.length).toBeLessThanOrEqual(1);
          if (closes.length === 1) {
            expect(wire[wire.length - 1]).toBe(closes[0]); // nothing after our Close
            const payload = closes[0].payload;
            expect(payload.length).not.toBe(1);
            if (payload.length >= 2) {
              const code = (payload[0] << 8) | payload[1];
              expect(isSendableCloseCode(code)).toBe(true);
              expect([1005, 1006, 1015]).not.toContain(code);
            }
          }
          for (const f of wire) {
            expect(f.rsv).toBe(0);
            if (f.opcode >= 0x8) expect(f.fin && f.payload.length <= 125).toBe(true);
          }
          if (p.state === CLOSED && p.wasClean) expect(p.failure).toBeNull();
          if (p.failure === null && p.state === CLOSED) expect(p.closeCode).not.toBe(1006);
        }),
        { numRuns: 300 },
      );
    });
  });
});

function hexByte(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16);
}
