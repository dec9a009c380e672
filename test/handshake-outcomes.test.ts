/**
 * Orderings inside ClientHandshake.verify() that one code path now decides: the first
 * bad line (the status line included) is the one reported, and only once the status
 * is known to be 101; and receive()'s outcome index on every kind of ending.
 */
import { describe, expect, it } from 'vitest';
import { ClientHandshake } from '../src/handshake/client-handshake';

const KEY = new TextEncoder().encode('the sample nonce');
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function feed(hs: ClientHandshake, text: string): number {
  return hs.receive(new Uint8Array(Array.from(text, (c) => c.charCodeAt(0))));
}

function handshake(maxHeadBytes?: number): ClientHandshake {
  return new ClientHandshake({ url: { hostHeader: 'h', path: '/' }, key: KEY, maxHeadBytes });
}

describe('ClientHandshake: which bad line is reported', () => {
  it('a bad status line is reported even when a header line after it is bad too', () => {
    const hs = handshake();
    feed(hs, 'HTTP/2 101 Switching Protocols\r\nnot a header\r\n\r\n');
    expect(hs.error!.id).toBe('HANDSHAKE_BAD_RESPONSE');
    expect(hs.error!.detail).toEqual({ line: 'HTTP/2 101 Switching Protocols' });
  });

  it('a status line with a forbidden byte is reported as it came', () => {
    const hs = handshake();
    feed(hs, 'HTTP/1.1 101 \x00\r\nUpgrade: websocket\r\n\r\n');
    expect(hs.error!.detail).toEqual({ line: 'HTTP/1.1 101 \x00' });
  });

  it('of two bad header lines in a 101, the first', () => {
    const hs = handshake();
    feed(hs, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nfirst bad\r\nsecond bad\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + ACCEPT + '\r\n\r\n');
    expect(hs.error!.detail).toEqual({ line: 'first bad' });
  });

  it('a 503 with a bad header line and Retry-After still reports the status and the delay', () => {
    const hs = handshake();
    feed(hs, 'HTTP/1.1 503 Busy\r\nbad line\r\nRetry-After: 12\r\n\r\n');
    expect(hs.error!.id).toBe('HANDSHAKE_STATUS');
    expect(hs.error!.detail).toMatchObject({ status: 503, reason: 'Busy', retryAfter: 12 });
  });

  it('a 503 without Retry-After has retryAfter undefined, the key present', () => {
    const hs = handshake();
    feed(hs, 'HTTP/1.1 503 Busy\r\n\r\n');
    expect(Object.keys(hs.error!.detail!)).toEqual(['status', 'reason', 'retryAfter', 'headers']);
    expect(hs.error!.detail!.retryAfter).toBeUndefined();
  });
});

describe('ClientHandshake.receive: the outcome index', () => {
  it('past the blank line on success, -1 before, and the head is released after', () => {
    const hs = handshake();
    const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + ACCEPT + '\r\n\r\n';
    expect(feed(hs, text.slice(0, 10))).toBe(-1);
    expect(feed(hs, text.slice(10) + 'XY')).toBe(text.length - 10);
    expect(hs.error).toBeNull();
    expect(hs.result!.headers.upgrade).toBe('websocket');
    expect(() => feed(hs, 'more')).toThrow();
  });

  it('past the first byte beyond maxHeadBytes, in a later chunk', () => {
    const hs = handshake(8);
    expect(feed(hs, 'HTTP/1.')).toBe(-1);
    expect(feed(hs, '1 101')).toBe(2);
    expect(hs.error!.id).toBe('HANDSHAKE_TOO_LARGE');
    expect(hs.error!.detail).toEqual({ limit: 8 });
  });

  it('past the offending LF, on the last byte of a chunk', () => {
    const hs = handshake();
    expect(feed(hs, 'HTTP/1.1 101 OK\n')).toBe(16);
    expect(hs.error!.detail).toEqual({ offset: 15, reason: 'LF without CR' });
  });
});
