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

/** Failures outside the frame validator: handshake, transport, liveness, API misuse. */
const OTHER_CODES: { [id: string]: number } = {
  // The opening handshake (RFC 6455 4.1). No Close frame can be sent yet: reported as 1006.
  INVALID_URL: 1006,
  TLS_UNAVAILABLE: 1015,
  HANDSHAKE_STATUS: 1006,
  HANDSHAKE_BAD_RESPONSE: 1006,
  HANDSHAKE_UPGRADE: 1006,
  HANDSHAKE_CONNECTION: 1006,
  HANDSHAKE_ACCEPT: 1006,
  HANDSHAKE_SUBPROTOCOL: 1006,
  HANDSHAKE_EXTENSION: 1006,
  HANDSHAKE_TOO_LARGE: 1006,
  INVALID_HANDSHAKE_OPTIONS: 1006,
  HANDSHAKE_TIMEOUT: 1006,
  // Transport and liveness: the connection vanished without a Close frame.
  CONNECT_FAILED: 1006,
  CONNECT_TIMEOUT: 1006,
  CONNECTION_LOST: 1006,
  TRANSPORT_ERROR: 1006,
  PONG_TIMEOUT: 1006,
  WIFI_LOST: 1006,
  CLOSE_TIMEOUT: 1006,
  // Local policy.
  NOT_OPEN: 1006,
  SEND_TOO_BIG: 1009,
  INVALID_CLOSE_ARGS: 1002,
  NOT_ON_DEVICE: 1006,
  INTERNAL_ERROR: 1011,
};

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

/**
 * Every id with its close code and message. Empty in the device build, which keeps no
 * table of 39 small objects (about 1.7 KB of a 180 KiB heap): closeCodeOf() reads the
 * two code lists there, and a message is its id.
 */
export const ERRORS: { [id: string]: ErrorSpec } = {};
if (!PICOWS_DEVICE) {
  for (let i = 0; i < CORE_ERRORS.length; i++) {
    const e = CORE_ERRORS[i];
    ERRORS[e[1]] = { closeCode: e[2], message: CORE_MESSAGES[e[1]] };
  }
  for (const id in OTHER_CODES) ERRORS[id] = { closeCode: OTHER_CODES[id], message: OTHER_MESSAGES[id] };
}

/** The spec of an id; an unknown id is an internal error. Own properties only: names an object inherits ('toString', '__proto__') are not ids. */
function specOf(id: string): ErrorSpec {
  return Object.prototype.hasOwnProperty.call(ERRORS, id) ? ERRORS[id] : ERRORS.INTERNAL_ERROR;
}

/** The close code an id maps to; an unknown id is an internal error (1011). */
export function closeCodeOf(id: string): number {
  if (!PICOWS_DEVICE) return specOf(id).closeCode;
  else {
    // Own properties only, as in specOf().
    if (Object.prototype.hasOwnProperty.call(OTHER_CODES, id)) return OTHER_CODES[id];
    for (let i = 0; i < CORE_ERRORS.length; i++) if (CORE_ERRORS[i][1] === id) return CORE_ERRORS[i][2];
    return 1011; // INTERNAL_ERROR's
  }
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

