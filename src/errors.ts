/**
 * picows' one error vocabulary. Every failure has a stable id (like ws's
 * WS_ERR_INVALID_OPCODE), the close code it maps to, and a message a person
 * understands. Ids are what logs, tests and diagnostics match on: never rename one.
 *
 * closeCode is what the client sends (1002, 1007, 1009, 1011) or, for failures that
 * end a connection without a Close frame, what it reports locally (1006, or 1015
 * for TLS). 1005, 1006 and 1015 are never put on the wire (RFC 6455 7.4.1).
 */
import { CORE_ERRORS } from './core/error-ids';

export interface ErrorSpec {
  readonly closeCode: number;
  readonly message: string;
}

/**
 * In the device build (src/device.d.ts) the English text drops out of the bundle (about
 * 3 KB of bytecode on a 180 KiB heap) and a device error's message is its id, which the
 * host-side docs and this file explain.
 */
const CORE_MESSAGES: { [name: string]: string } = PICOWS_DEVICE ? {} : {
  RESERVED_BITS: 'the server set RSV bits that no negotiated extension defines',
  RESERVED_OPCODE: 'the server sent a frame with a reserved opcode',
  MASKED_FRAME: 'the server sent a masked frame (servers must not mask, RFC 6455 5.1)',
  FRAGMENTED_CONTROL: 'the server fragmented a control frame (FIN not set)',
  CONTROL_TOO_LONG: 'the server sent a control frame with a payload over 125 bytes',
  LENGTH_TOP_BIT: 'the server sent a 64-bit payload length with the top bit set',
  NON_MINIMAL_LENGTH: 'the server encoded a payload length in more bytes than needed',
  UNEXPECTED_CONTINUATION: 'the server sent a continuation frame with no message open',
  EXPECTED_CONTINUATION: 'the server started a new message before finishing the fragmented one',
  MESSAGE_TOO_BIG: 'the server sent a message larger than the configured maximum',
  INVALID_UTF8: 'the server sent a text message that is not valid UTF-8',
  TRUNCATED_UTF8: 'the server ended a text message in the middle of a UTF-8 character',
  CLOSE_PAYLOAD_ONE_BYTE: 'the server sent a Close frame with a 1-byte payload',
  INVALID_CLOSE_CODE: 'the server sent a Close frame with a code that may not be sent',
  INVALID_CLOSE_REASON: 'the server sent a Close reason that is not valid UTF-8',
};

/**
 * Failures outside the frame validator (handshake, transport, liveness, API misuse) that
 * map to 1006, as one expression: no table of 24 properties in the device heap.
 *  - The opening handshake (RFC 6455 4.1): no Close frame can be sent yet.
 *  - Transport and liveness: the connection vanished without a Close frame.
 *  - Local policy: NOT_OPEN, NOT_ON_DEVICE.
 * test/error-table.test.ts pins every id's code, and that lookalikes are unknown.
 */
const REPORTED_AS_1006 =
  /^(?:INVALID_URL|HANDSHAKE_(?:STATUS|BAD_RESPONSE|UPGRADE|CONNECTION|ACCEPT|SUBPROTOCOL|EXTENSION|TOO_LARGE|TIMEOUT)|INVALID_HANDSHAKE_OPTIONS|CONNECT(?:_FAILED|_TIMEOUT|ION_LOST)|TRANSPORT_ERROR|PONG_TIMEOUT|WIFI_LOST|CLOSE_TIMEOUT|NOT_OPEN|NOT_ON_DEVICE)$/;

/**
 * Every id outside the frame validator, in order, with what it means (closeCodeOf()
 * gives its code). Host only: the device build has no English (its message is the id).
 */
const OTHER_MESSAGES: { [id: string]: string } = PICOWS_DEVICE ? {} : {
  INVALID_URL: 'the URL is not a valid ws:// or wss:// URL',
  TLS_UNAVAILABLE: 'wss:// needs TLS, which this runtime does not have (Kaluma has no TLS)',
  HANDSHAKE_STATUS: 'the server answered the WebSocket upgrade with a non-101 HTTP status',
  HANDSHAKE_BAD_RESPONSE: 'the server sent a malformed HTTP response to the upgrade',
  HANDSHAKE_UPGRADE: 'the response lacks "Upgrade: websocket"',
  HANDSHAKE_CONNECTION: 'the response lacks "Connection: Upgrade"',
  HANDSHAKE_ACCEPT: 'Sec-WebSocket-Accept is missing or does not match the key we sent',
  HANDSHAKE_SUBPROTOCOL: 'the server chose a subprotocol that was not offered',
  HANDSHAKE_EXTENSION: 'the server chose an extension that was not offered',
  HANDSHAKE_TOO_LARGE: 'the response head is larger than the limit',
  INVALID_HANDSHAKE_OPTIONS: 'a subprotocol, extra header, key or head limit given to the handshake is not valid',
  HANDSHAKE_TIMEOUT: 'the server did not complete the handshake in time',
  CONNECT_FAILED: 'the TCP connection could not be opened',
  CONNECT_TIMEOUT: 'the TCP connection was not established in time',
  CONNECTION_LOST: 'the connection closed without a Close frame',
  TRANSPORT_ERROR: 'the transport reported an error',
  PONG_TIMEOUT: 'no pong (nor any byte) arrived in time: the link is dead',
  WIFI_LOST: 'the Wi-Fi link went down',
  CLOSE_TIMEOUT: 'the peer did not answer our Close frame in time',
  NOT_OPEN: 'the connection is not open: nothing can be sent on it',
  SEND_TOO_BIG: 'the message is larger than the configured maximum',
  INVALID_CLOSE_ARGS: 'close() takes 1000 or 3000-4999 and a reason of at most 123 UTF-8 bytes',
  NOT_ON_DEVICE: 'this option is left out of the device build (firmware/README.md, "The device profile")',
  INTERNAL_ERROR: 'picows hit an internal error',
};

/** The close code an id maps to; an unknown id is an internal error (1011). */
export function closeCodeOf(id: string): number {
  if (REPORTED_AS_1006.test(id)) return 1006;
  if (id === 'TLS_UNAVAILABLE') return 1015; // reported locally, never sent
  if (id === 'SEND_TOO_BIG') return 1009; // local policy, like the two below
  if (id === 'INVALID_CLOSE_ARGS') return 1002;
  for (let i = 0; i < CORE_ERRORS.length; i++) if (CORE_ERRORS[i][1] === id) return CORE_ERRORS[i][2];
  return 1011; // INTERNAL_ERROR's, and any unknown id's
}

/**
 * Every id with its close code and message. Empty in the device build, which keeps no
 * table of 39 small objects (about 1.7 KB of a 180 KiB heap): closeCodeOf() reads the
 * code lists above there, and a message is its id.
 */
export const ERRORS: { [id: string]: ErrorSpec } = {};
if (!PICOWS_DEVICE) {
  for (let i = 0; i < CORE_ERRORS.length; i++) {
    const e = CORE_ERRORS[i];
    ERRORS[e[1]] = { closeCode: e[2], message: CORE_MESSAGES[e[1]] };
  }
  for (const id in OTHER_MESSAGES) ERRORS[id] = { closeCode: closeCodeOf(id), message: OTHER_MESSAGES[id] };
}

/** The spec of an id; an unknown id is an internal error. Own properties only: names an object inherits ('toString', '__proto__') are not ids. */
function specOf(id: string): ErrorSpec {
  return Object.prototype.hasOwnProperty.call(ERRORS, id) ? ERRORS[id] : ERRORS.INTERNAL_ERROR;
}

/** An Error that carries a stable id and the close code it maps to. */
export class PicowsError extends Error {
  readonly id: string;
  readonly closeCode: number;
  /** Extra facts: the HTTP status, Retry-After seconds, the stream offset, the offending bytes... */
  readonly detail: { [key: string]: unknown } | undefined;
  constructor(id: string, detail?: { [key: string]: unknown }, message?: string) {
    super(message || (PICOWS_DEVICE ? id : specOf(id).message));
    this.name = 'PicowsError';
    this.id = id;
    this.closeCode = closeCodeOf(id);
    this.detail = detail;
  }
}

/** Close codes that may appear in a Close frame we send or receive (RFC 6455 7.4, IANA registry): the core's rule. */
export { isValidCloseCode as isSendableCloseCode } from './core/close-codes';

