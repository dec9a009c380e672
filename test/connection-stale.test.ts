/**
 * Connection and a transport it has dropped: the dropped transport's late callbacks
 * (Kaluma reuses socket numbers, and a runtime may still deliver after destroy())
 * change nothing, not even liveness' activity.
 */
import { describe, expect, it } from 'vitest';
import { nodeCore } from '../board/node/core';
import { VirtualClock } from '../src/client/clock';
import { Connection } from '../src/client/connection';
import type { CloseEvent } from '../src/client/events';
import type { Runtime } from '../src/client/runtime';
import type { Transport, TransportHandler } from '../src/client/transport';

function setup() {
  const clock = new VirtualClock();
  const handlers: TransportHandler[] = [];
  const log: string[] = [];
  const rt: Runtime = {
    core: nodeCore('js'),
    clock,
    random32: () => 0x12345678,
    encodeText: (s) => new TextEncoder().encode(s),
    decodeText: (b, s, e) => new TextDecoder().decode(b.subarray(s, e)),
    tls: false,
    transport: (): Transport => ({
      maxWrite: 1e9,
      connect: (_target, handler) => {
        handlers.push(handler);
      },
      write: () => log.push('write'),
      end: () => log.push('end'),
      destroy: () => log.push('destroy'),
    }),
  };
  const closes: CloseEvent[] = [];
  const conn = new Connection('ws://example.test/', rt, {}, {
    open: () => log.push('open'),
    text: () => log.push('text'),
    binary: () => log.push('binary'),
    pong: () => log.push('pong'),
    activity: () => log.push('activity'),
    closed: (ev) => closes.push(ev),
  });
  clock.advance(0); // connects
  expect(handlers.length).toBe(1);
  return { clock, conn, handler: handlers[0], log, closes };
}

describe('a dropped transport', () => {
  it('close() while connecting: late open, data, close and error of the dropped transport change nothing', () => {
    const { clock, conn, handler, log, closes } = setup();
    conn.close();
    expect(log).toEqual(['destroy']);
    handler.onOpen();
    handler.onData(new Uint8Array([1, 2, 3]));
    handler.onError(new Error('late'));
    handler.onClose();
    expect(closes).toEqual([]);
    clock.advance(1);
    expect(closes.map((c) => [c.code, c.cause, c.error])).toEqual([[1006, 'local-close', null]]);
    handler.onData(new Uint8Array([1]));
    handler.onClose();
    clock.advance(60000);
    expect(log).toEqual(['destroy']);
    expect(closes.length).toBe(1);
  });

  it('after a failure: the late callbacks of the transport change nothing', () => {
    const { clock, conn, handler, log, closes } = setup();
    handler.onOpen();
    conn.abort('PONG_TIMEOUT');
    expect(closes.map((c) => [c.code, c.cause, c.error && c.error.id])).toEqual([[1006, 'pong-timeout', 'PONG_TIMEOUT']]);
    handler.onData(new TextEncoder().encode('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
    handler.onError(new Error('late'));
    handler.onClose();
    clock.advance(60000);
    expect(log).toEqual(['write', 'destroy']);
    expect(closes.length).toBe(1);
  });
});
