/**
 * The protocol's one outgoing queue: control frames ahead of data in their own order,
 * our Close always last, and what a failure or the end of TCP leaves of it.
 */
import { describe, expect, it } from 'vitest';
import { nodeCore } from '../board/node/core';
import { CLOSED, CLOSING, Protocol } from '../src/protocol/protocol';
import { frame, utf8 } from './vectors/build';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function connect(fragmentSize = 10) {
  const events: string[] = [];
  const p = new Protocol(
    {
      onText: (d) => events.push('text ' + d),
      onBinary: () => events.push('binary'),
      onPing: () => events.push('ping'),
      onPong: () => events.push('pong'),
      onCloseFrame: (c) => events.push('close ' + c),
    },
    {
      core: nodeCore('js'),
      random32: () => 0x01020304,
      encodeText: (s) => encoder.encode(s),
      decodeText: (b, s, e) => decoder.decode(b.subarray(s, e)),
      fragmentSize,
    },
  );
  return { p, events };
}

/** Opcode and unmasked payload (as text) of every queued frame; bufferedAmount ends at 0. */
function drain(p: Protocol): string[] {
  const out: string[] = [];
  let left = p.bufferedAmount;
  for (let f = p.nextOutgoing(); f !== null; f = p.nextOutgoing()) {
    left -= f.length;
    expect(p.bufferedAmount).toBe(left);
    const at = (f[1] & 0x7f) === 126 ? 8 : 6;
    const payload = f.subarray(at).map((b, i) => b ^ [1, 2, 3, 4][i & 3]);
    // FIN and opcode in hex, then the payload as text (a Close's after its code).
    out.push((f[0] & 0x8f).toString(16) + ':' + decoder.decode(payload.subarray((f[0] & 0xf) === 8 ? 2 : 0)));
  }
  expect(left).toBe(0);
  return out;
}

describe('the outgoing queue', () => {
  it('puts pongs and pings ahead of queued data, in the order they were queued, between fragments too', () => {
    const { p } = connect();
    p.sendText('0123456789abcdefghij'); // two fragments
    p.sendText('small');
    expect(p.nextOutgoing()).not.toBeNull(); // the first fragment
    p.receiveData(frame(0x9, 'a'));
    p.sendPing(utf8('b'));
    p.receiveData(frame(0x9, 'c'));
    p.sendClose(1000, 'bye');
    expect(drain(p)).toEqual(['8a:a', '89:b', '8a:c', '80:abcdefghij', '81:small', '88:bye']);
  });

  it('a failure after our Close drops the data queued before it, and still sends our Close', () => {
    const { p } = connect();
    p.sendText('0123456789abcdefghij');
    p.sendPing(utf8('x'));
    expect(p.nextOutgoing()).not.toBeNull(); // the ping
    expect(p.nextOutgoing()).not.toBeNull(); // the first fragment
    p.sendClose(3000, 'mine');
    p.fail('INTERNAL_ERROR');
    expect(p.state).toBe(CLOSING);
    expect(drain(p)).toEqual(['88:mine']);
  });

  it('a failure after our Close was taken queues nothing', () => {
    const { p } = connect();
    p.sendClose(1000);
    expect(drain(p)).toEqual(['88:']);
    p.fail('INTERNAL_ERROR');
    expect([p.bufferedAmount, p.nextOutgoing()]).toEqual([0, null]);
  });

  it('the end of TCP drops everything, our Close included', () => {
    const { p } = connect();
    p.sendText('0123456789abcdefghij');
    p.sendClose(1000);
    p.receiveEof();
    expect([p.state, p.bufferedAmount, p.nextOutgoing()]).toEqual([CLOSED, 0, null]);
  });

  it('the peer\'s Close drops unsent data and control frames and queues the answer alone', () => {
    const { p, events } = connect();
    p.sendText('0123456789abcdefghij');
    p.sendPing(utf8('x'));
    p.receiveData(frame(0x8, Uint8Array.of(0x03, 0xe8)));
    expect(events).toEqual(['close 1000']);
    expect(drain(p)).toEqual(['88:']);
  });
});
