/**
 * Connection and its transport, driven by hand: the dropped transport's late callbacks
 * (Kaluma reuses socket numbers, and a runtime may still deliver after destroy())
 * change nothing, not even liveness' activity; after a protocol error TCP is ended as
 * soon as our Close is written.
 */
import { describe, expect, it } from 'vitest';
import { nodeCore } from '../board/node/core';
import { VirtualClock } from '../src/client/clock';
import { Connection, type ConnectionOptions } from '../src/client/connection';
import { CFG_ACCEPT_NON_MINIMAL } from '../src/core/types';
import type { CloseEvent } from '../src/client/events';
import type { Runtime } from '../src/client/runtime';
import type { Transport, TransportHandler } from '../src/client/transport';
import { acceptKey } from '../src/handshake/client-handshake';

function setup(maxWrite = 1e9, options: ConnectionOptions = {}) {
  const clock = new VirtualClock();
  const handlers: TransportHandler[] = [];
  const log: string[] = [];
  const wire: number[] = [];
  const rt: Runtime = {
    core: nodeCore('js'),
    clock,
    random32: () => 0x12345678,
    encodeText: (s) => new TextEncoder().encode(s),
    decodeText: (b, s, e) => new TextDecoder().decode(b.subarray(s, e)),
    tls: false,
    transport: (): Transport => ({
      maxWrite,
      connect: (_target, handler) => {
        handlers.push(handler);
      },
      write: (b) => {
        expect(b.length).toBeLessThanOrEqual(maxWrite);
        wire.push(...b);
        log.push('write');
      },
      end: () => log.push('end'),
      destroy: () => log.push('destroy'),
    }),
  };
  const closes: CloseEvent[] = [];
  const conn = new Connection('ws://example.test/', rt, options, {
    open: () => log.push('open'),
    text: () => log.push('text'),
    binary: () => log.push('binary'),
    pong: () => log.push('pong'),
    activity: () => log.push('activity'),
    closed: (ev) => closes.push(ev),
  });
  clock.advance(0); // connects
  expect(handlers.length).toBe(1);
  return { clock, conn, handler: handlers[0], log, wire, closes };
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

/** Opens a connection by hand: the request written, the matching 101 read. */
function open(maxWrite = 1e9, options: ConnectionOptions = {}) {
  const c = setup(maxWrite, options);
  c.handler.onOpen();
  for (let i = 0; i < 50; i++) c.clock.advance(0); // the paced turns of the request
  const key = /Sec-WebSocket-Key: (\S+)/.exec(String.fromCharCode(...c.wire));
  expect(key).not.toBeNull();
  const head = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + acceptKey((key as RegExpExecArray)[1]) + '\r\n\r\n';
  c.handler.onData(new TextEncoder().encode(head));
  expect(c.conn.readyState).toBe(1);
  c.log.length = 0;
  c.wire.length = 0;
  return c;
}

describe('a protocol error', () => {
  it.each([1e9, 512, 7])('our Close is written, then we end TCP at once (maxWrite %d)', (maxWrite) => {
    const { clock, handler, log, wire, closes } = open(maxWrite);
    handler.onData(Uint8Array.of(0x83, 0)); // a reserved opcode: 1002
    let turns = 0;
    while (!log.includes('end') && turns < 10) {
      clock.advance(0);
      turns++;
    }
    // The Close: 2 + 4 bytes of header, the code, 'RESERVED_OPCODE' as the reason; then end().
    const closeFrame = 6 + 2 + 'RESERVED_OPCODE'.length;
    expect(wire.length).toBe(closeFrame);
    expect(wire[0]).toBe(0x88);
    expect(log.filter((l) => l !== 'write')).toEqual(['activity', 'end']);
    expect(turns).toBe(maxWrite < closeFrame ? 1 : 0); // advance(0) runs the chained turns
    expect(closes).toEqual([]);
    handler.onClose();
    expect(closes.map((c) => [c.code, c.cause, c.error && c.error.id])).toEqual([[1002, 'protocol-error', 'RESERVED_OPCODE']]);
  });
});

describe('closeTimeout after close()', () => {
  it('no answer: CLOSE_TIMEOUT, 1006', () => {
    const { clock, conn, closes } = open();
    conn.close(1000);
    clock.advance(1999);
    expect(closes).toEqual([]);
    clock.advance(1);
    expect(closes.map((c) => [c.code, c.cause, c.wasClean, c.error && c.error.id])).toEqual([[1006, 'close-timeout', false, 'CLOSE_TIMEOUT']]);
  });

  it('the peer answers but keeps TCP open: a clean local close once closeTimeout runs out again', () => {
    const { clock, conn, handler, log, closes } = open();
    conn.close(4000, 'bye');
    clock.advance(1500);
    handler.onData(Uint8Array.of(0x88, 2, 0x0f, 0xa0));
    clock.advance(1999);
    expect(closes).toEqual([]);
    clock.advance(1);
    expect(closes.map((c) => [c.code, c.reason, c.cause, c.wasClean, c.error])).toEqual([[4000, '', 'local-close', true, null]]);
    expect(log.filter((l) => l !== 'write')).toEqual(['activity', 'destroy']);
  });

  it('the peer closes first, then close() does nothing: peer-closed', () => {
    const { clock, conn, handler, closes } = open();
    handler.onData(Uint8Array.of(0x88, 2, 0x03, 0xe9));
    conn.close(1000);
    handler.onClose();
    clock.advance(5000);
    expect(closes.map((c) => [c.code, c.cause, c.wasClean])).toEqual([[1001, 'peer-closed', true]]);
  });
});

describe('the protocol options', () => {
  it('maxMessage, fragmentSize and validatorFlags reach the protocol', () => {
    const { conn, handler, wire, log, closes } = open(1e9, { maxMessage: 10, fragmentSize: 4, validatorFlags: CFG_ACCEPT_NON_MINIMAL });
    conn.send(new Uint8Array(10));
    expect(wire.length).toBe(3 * 6 + 10); // 4 + 4 + 2 bytes, 6 bytes of header each
    expect(() => conn.send(new Uint8Array(11))).toThrow(expect.objectContaining({ id: 'SEND_TOO_BIG' }));
    handler.onData(Uint8Array.of(0x82, 126, 0, 3, 1, 2, 3)); // a non-minimal length: accepted
    expect(log).toEqual(['write', 'write', 'write', 'activity', 'binary']);
    handler.onData(Uint8Array.of(0x82, 11)); // over maxMessage: 1009
    handler.onClose();
    expect(closes.map((c) => [c.code, c.error && c.error.id])).toEqual([[1009, 'MESSAGE_TOO_BIG']]);
  });

  it('without them: the defaults (a non-minimal length is a protocol error)', () => {
    const { handler, closes } = open();
    handler.onData(Uint8Array.of(0x82, 126, 0, 3, 1, 2, 3));
    handler.onClose();
    expect(closes.map((c) => [c.code, c.error && c.error.id])).toEqual([[1002, 'NON_MINIMAL_LENGTH']]);
  });
});
