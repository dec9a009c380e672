/**
 * The error vocabulary, pinned: every id in order with its close code (src/errors.ts
 * keeps the codes in a compact form, the same on the host and the device), and ids
 * that only look like known ones map to 1011 like any unknown id.
 */
import { describe, expect, it } from 'vitest';
import * as host from '../src/errors';
import { deviceModule } from './helpers/device-module';

const TABLE: [string, number][] = [
  ['RESERVED_BITS', 1002], ['RESERVED_OPCODE', 1002], ['MASKED_FRAME', 1002], ['FRAGMENTED_CONTROL', 1002], ['CONTROL_TOO_LONG', 1002],
  ['LENGTH_TOP_BIT', 1002], ['NON_MINIMAL_LENGTH', 1002], ['UNEXPECTED_CONTINUATION', 1002], ['EXPECTED_CONTINUATION', 1002],
  ['MESSAGE_TOO_BIG', 1009], ['INVALID_UTF8', 1007], ['TRUNCATED_UTF8', 1007], ['CLOSE_PAYLOAD_ONE_BYTE', 1002], ['INVALID_CLOSE_CODE', 1002],
  ['INVALID_CLOSE_REASON', 1007], ['INVALID_URL', 1006], ['TLS_UNAVAILABLE', 1015], ['HANDSHAKE_STATUS', 1006], ['HANDSHAKE_BAD_RESPONSE', 1006],
  ['HANDSHAKE_UPGRADE', 1006], ['HANDSHAKE_CONNECTION', 1006], ['HANDSHAKE_ACCEPT', 1006], ['HANDSHAKE_SUBPROTOCOL', 1006],
  ['HANDSHAKE_EXTENSION', 1006], ['HANDSHAKE_TOO_LARGE', 1006], ['INVALID_HANDSHAKE_OPTIONS', 1006], ['HANDSHAKE_TIMEOUT', 1006],
  ['CONNECT_FAILED', 1006], ['CONNECT_TIMEOUT', 1006], ['CONNECTION_LOST', 1006], ['TRANSPORT_ERROR', 1006], ['PONG_TIMEOUT', 1006],
  ['WIFI_LOST', 1006], ['CLOSE_TIMEOUT', 1006], ['NOT_OPEN', 1006], ['SEND_TOO_BIG', 1009], ['INVALID_CLOSE_ARGS', 1002],
  ['NOT_ON_DEVICE', 1006], ['INTERNAL_ERROR', 1011],
];

const LOOKALIKES = [
  '', ' ', 'HANDSHAKE_', 'HANDSHAKE_STATUSX', 'XINVALID_URL', 'INVALID_URL ', ' INVALID_URL', 'INVALID_URL HANDSHAKE_STATUS', 'invalid_url',
  'CONNECT', 'CONNECTION', 'CONNECT_', 'NOT_', 'INVALID_URL\n', 'TLS_UNAVAILABLE ', 'tls_unavailable', 'RESERVED_BITS ', 'UNKNOWN',
  'toString', 'valueOf', '__proto__', 'constructor', 'hasOwnProperty',
];

type ErrorsModule = typeof host;

describe('the error table', () => {
  it('host: every id in order, its close code and an English message', () => {
    expect(Object.keys(host.ERRORS).map((id) => [id, host.ERRORS[id].closeCode])).toEqual(TABLE);
    for (const [id, code] of TABLE) {
      expect(host.closeCodeOf(id)).toBe(code);
      expect(host.ERRORS[id].message).toMatch(/^[a-zA-Z]/);
      expect(host.ERRORS[id].message).not.toBe(id);
    }
  });

  it('device: the same close codes without a table', async () => {
    const device = await deviceModule<ErrorsModule>('src/errors.ts');
    for (const [id, code] of TABLE) expect([id, device.closeCodeOf(id), new device.PicowsError(id).closeCode]).toEqual([id, code, code]);
  });

  it('an id that only looks like a known one is unknown: 1011, host and device', async () => {
    const device = await deviceModule<ErrorsModule>('src/errors.ts');
    for (const id of LOOKALIKES) expect([id, host.closeCodeOf(id), device.closeCodeOf(id)]).toEqual([id, 1011, 1011]);
  });
});

describe('coreErrorName', () => {
  it('names every core id, and nothing else', async () => {
    const { CORE_ERRORS, coreErrorName } = await import('../src/core/error-ids');
    for (const [n, name] of CORE_ERRORS) expect(coreErrorName(n)).toBe(name);
    for (const n of [0, -1, 16, 1.5, NaN, Infinity, 2 ** 32 + 1]) expect(coreErrorName(n)).toBe('UNKNOWN');
  });
});

describe('causeOfError', () => {
  it('gives every id, and a few lookalikes, the cause it always did', async () => {
    const { causeOfError } = await import('../src/client/close-cause');
    const expected: { [cause: string]: string[] } = {
    'protocol-error': ['RESERVED_BITS', 'RESERVED_OPCODE', 'MASKED_FRAME', 'FRAGMENTED_CONTROL', 'CONTROL_TOO_LONG', 'LENGTH_TOP_BIT', 'NON_MINIMAL_LENGTH', 'UNEXPECTED_CONTINUATION', 'EXPECTED_CONTINUATION', 'MESSAGE_TOO_BIG', 'INVALID_UTF8', 'TRUNCATED_UTF8', 'CLOSE_PAYLOAD_ONE_BYTE', 'INVALID_CLOSE_CODE', 'INVALID_CLOSE_REASON', 'INVALID_HANDSHAKE_OPTIONS', 'NOT_OPEN', 'SEND_TOO_BIG', 'INVALID_CLOSE_ARGS', 'NOT_ON_DEVICE', 'INTERNAL_ERROR', 'UNKNOWN', 'CONNECT', 'CONNECTION_LOSTX'],
    'transport-error': ['INVALID_URL', 'TLS_UNAVAILABLE', 'CONNECT_FAILED', 'CONNECTION_LOST', 'TRANSPORT_ERROR'],
    'handshake-rejected': ['HANDSHAKE_STATUS'],
    'handshake-failed': ['HANDSHAKE_BAD_RESPONSE', 'HANDSHAKE_UPGRADE', 'HANDSHAKE_CONNECTION', 'HANDSHAKE_ACCEPT', 'HANDSHAKE_SUBPROTOCOL', 'HANDSHAKE_EXTENSION', 'HANDSHAKE_TOO_LARGE'],
    'handshake-timeout': ['HANDSHAKE_TIMEOUT'],
    'connect-timeout': ['CONNECT_TIMEOUT'],
    'pong-timeout': ['PONG_TIMEOUT'],
    'wifi-lost': ['WIFI_LOST'],
    'close-timeout': ['CLOSE_TIMEOUT'],
    };
    for (const cause in expected) for (const id of expected[cause]) expect([id, causeOfError(id)]).toEqual([id, cause]);
  });
});
