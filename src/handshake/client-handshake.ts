/**
 * The client's side of the opening handshake (RFC 6455 4.1), sans-I/O like
 * python-websockets' client.py: strings and bytes in, a request head and a
 * verdict out. No sockets, no timers (the handshake timeout belongs to the
 * client layer, which owns time).
 *
 * Use:
 *   const hs = new ClientHandshake({ url: parseWsUrl(u, { tls }), key: rng16() });
 *   socket.write(hs.request());
 *   // for each chunk from the socket, until it returns >= 0:
 *   const end = hs.receive(chunk);
 *   if (end >= 0) {
 *     if (hs.error) fail(hs.error);                           // a PicowsError, never thrown
 *     else open(hs.result, chunk.subarray(end));             // frames may follow the head
 *   }
 *
 * Errors from the server's bytes are recorded in `error`, not thrown: a throw out
 * of a Kaluma event handler that nobody catches resets the VM (kaluma.md §4).
 * Only misuse throws: invalid options (constructor) and receive() after the outcome.
 *
 * Line endings are strict CRLF, like python-websockets: a bare LF, or a CR not
 * followed by LF, fails the handshake (HANDSHAKE_BAD_RESPONSE) at that byte, so a
 * server speaking something other than HTTP is caught early, not at the timeout.
 * RFC 7230 3.5 only permits (not requires) accepting bare LF, and every server
 * that implements RFC 6455 sends CRLF.
 */
import { PicowsError } from '../errors';
import { OWN_HEADERS, parseResponseHead, SENDABLE_VALUE, TOKEN } from './http-head';
import { base64Encode } from './base64';
import { sha1 } from './sha1';
import { orDefault } from '../or-default';

/** RFC 6455 1.3: appended to the key before hashing. */
const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** base64(SHA-1(key + GUID)), the Sec-WebSocket-Accept a server must send for `key` (RFC 6455 4.2.2). */
export function acceptKey(key: string): string {
  // The key is base64, so every unit is ASCII: one byte each.
  return base64Encode(sha1(latin1Bytes(key + ACCEPT_GUID)));
}

/** ASCII/latin1 string to bytes, one byte per char (HTTP heads are ASCII). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); // a Uint8Array store keeps the low 8 bits
  return out;
}


export interface ClientHandshakeOptions {
  /** From parseWsUrl(): the Host header's value and the request target. */
  url: { readonly hostHeader: string; readonly path: string };
  /** 16 bytes from a strong RNG (RFC 6455 4.1: a fresh random nonce per connection). */
  key: Uint8Array;
  /** Subprotocols to offer, in order of preference: distinct HTTP tokens. */
  protocols?: string[];
  /** Extra request headers: printable ASCII values; none may replace the handshake's own. */
  headers?: { [name: string]: string };
  /** Largest response head, in bytes up to and including the blank line. */
  maxHeadBytes?: number;
}

export interface HandshakeSuccess {
  /** The subprotocol the server chose, '' when it chose none (RFC 6455 4.1 allows that). */
  readonly protocol: string;
  /** Always '': picows offers no extension, so none can be accepted. */
  readonly extensions: string;
  /** The response headers: lowercase names, repeated headers comma-joined (RFC 7230 3.2.2). */
  readonly headers: { [name: string]: string };
}

export const DEFAULT_MAX_HEAD_BYTES = 4096;

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

/** `message` is '' in the device build (src/device.d.ts): the id is then the message. */
function badOption(message: string): PicowsError {
  return new PicowsError('INVALID_HANDSHAKE_OPTIONS', undefined, message);
}

function badResponse(detail: { [key: string]: unknown }): PicowsError {
  return new PicowsError('HANDSHAKE_BAD_RESPONSE', detail);
}

/** An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 7231 7.1.1.1) in seconds since the epoch, else NaN. */
function httpDateSeconds(s: string): number {
  const m = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) ([A-Z][a-z][a-z]) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/.exec(s);
  const month = m ? MONTHS.indexOf(m[2]) : -1;
  if (!m || month % 3) return NaN;
  return Date.UTC(+m[3], month / 3, +m[1], +m[4], +m[5], +m[6]) / 1000;
}

/**
 * Host only: a Retry-After in the HTTP-date form (RFC 7231 7.1.3), in seconds, or
 * undefined when absent or unusable. It is measured against the response's own Date
 * header: both are the server's clock, and the device has no wall clock (Kaluma's
 * Date.now() starts near 0 at boot, kaluma.md §3). Without a Date header it stays
 * undefined; the raw value is still in headers['retry-after'].
 */
function retryAfterDate(value: string | undefined, date: string | undefined): number | undefined {
  const delay = httpDateSeconds(value || '') - httpDateSeconds(date || '');
  return delay >= 0 ? delay : delay < 0 ? 0 : undefined; // NaN: either date unusable
}

export class ClientHandshake {
  /** The Sec-WebSocket-Key sent (base64 of the 16 key bytes). */
  readonly key: string;
  /** Set once the response head was accepted. */
  result: HandshakeSuccess | null = null;
  /** Set once the handshake failed: HANDSHAKE_STATUS, _BAD_RESPONSE, _UPGRADE, _CONNECTION, _ACCEPT, _EXTENSION, _SUBPROTOCOL or _TOO_LARGE. */
  error: PicowsError | null = null;

  private readonly protocols: string[];
  private readonly requestHead: string;
  /** The response head so far; null (released) once the outcome is known, when receive() only throws. */
  private head: Uint8Array | null;
  private headLength = 0;
  /** How much of the closing CR LF CR LF was just seen: 0 none, 1 CR, 2 CR LF, 3 CR LF CR. */
  private crlfState = 0;

  /** Throws PicowsError INVALID_HANDSHAKE_OPTIONS on a bad key, subprotocol or extra header. */
  constructor(opts: ClientHandshakeOptions) {
    const url = opts.url;
    const protocols = opts.protocols || [];
    const extra = opts.headers || {};
    const maxHeadBytes = orDefault(opts.maxHeadBytes, DEFAULT_MAX_HEAD_BYTES);

    if (!opts.key || opts.key.length !== 16) throw badOption(PICOWS_DEVICE ? '' : 'the key must be 16 random bytes (RFC 6455 4.1)');
    if (!/^[!-~]+$/.test(url.hostHeader) || !/^\/[!-~]*$/.test(url.path)) {
      throw badOption(PICOWS_DEVICE ? '' : 'the URL parts are not a valid Host and request target (use parseWsUrl)');
    }
    if (!(maxHeadBytes >= 1 && maxHeadBytes % 1 === 0)) throw badOption(PICOWS_DEVICE ? '' : 'maxHeadBytes must be a positive integer');
    this.key = base64Encode(opts.key);

    let head =
      'GET ' + url.path + ' HTTP/1.1\r\n' +
      'Host: ' + url.hostHeader + '\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Key: ' + this.key + '\r\n' +
      'Sec-WebSocket-Version: 13\r\n';
    for (let i = 0; i < protocols.length; i++) {
      const p = protocols[i];
      // RFC 6455 4.1: non-empty tokens, all unique.
      if (typeof p !== 'string' || !TOKEN.test(p)) throw badOption(PICOWS_DEVICE ? '' : 'the subprotocol ' + JSON.stringify(p) + ' is not an HTTP token');
      if (protocols.indexOf(p) !== i) throw badOption(PICOWS_DEVICE ? '' : 'the subprotocol "' + p + '" is offered twice');
    }
    if (protocols.length) head += 'Sec-WebSocket-Protocol: ' + protocols.join(', ') + '\r\n';
    const names = Object.keys(extra);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const value = extra[name];
      if (!TOKEN.test(name)) throw badOption(PICOWS_DEVICE ? '' : 'the header name ' + JSON.stringify(name) + ' is not an HTTP token');
      if (OWN_HEADERS.test(name)) throw badOption(PICOWS_DEVICE ? '' : 'the handshake sets "' + name + '" itself');
      if (typeof value !== 'string' || !SENDABLE_VALUE.test(value)) {
        throw badOption(PICOWS_DEVICE ? '' : 'the value of "' + name + '" must be printable ASCII, without CR or LF');
      }
      head += name + ': ' + value + '\r\n';
    }
    this.requestHead = head + '\r\n';
    this.protocols = protocols.slice();
    this.head = new Uint8Array(maxHeadBytes);
  }

  /** The HTTP/1.1 GET request head to write, ASCII, ending with the blank line. */
  request(): string {
    return this.requestHead;
  }

  /**
   * Feeds response bytes, in chunks of any size. Returns -1 while the outcome is
   * open; once it is known, the index in `chunk` just past the last byte used:
   * past the head's CR LF CR LF on completion (the rest of the chunk is frame data,
   * or a body after a non-101 status, which is not read), past the offending byte
   * on an early failure. Then read `result` or `error`.
   * HANDSHAKE_TOO_LARGE is reported at the first byte beyond maxHeadBytes.
   */
  receive(chunk: Uint8Array): number {
    if (this.result || this.error) {
      throw new PicowsError('INTERNAL_ERROR', undefined, PICOWS_DEVICE ? '' : 'ClientHandshake.receive() after the outcome was known');
    }
    const head = this.head as Uint8Array;
    let n = this.headLength;
    let state = this.crlfState;
    // Every break is an outcome, at byte i.
    let i = 0;
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (n === head.length) {
        this.error = new PicowsError('HANDSHAKE_TOO_LARGE', { limit: n });
        break;
      }
      head[n++] = b;
      // state & 1: the byte before was a CR. Strict CRLF: a LF needs it, anything else must not follow it.
      if ((b === 10) !== ((state & 1) === 1)) {
        this.error = badResponse({ offset: n - 1, reason: b === 10 ? 'LF without CR' : 'CR not followed by LF' });
        break;
      }
      if (b === 10 /* LF */) {
        if (state === 3) {
          try {
            this.result = this.verify(n);
          } catch (e) {
            // A PicowsError from the checks; anything else would be a bug here, and still fails only this handshake.
            this.error = e instanceof PicowsError ? e : new PicowsError('INTERNAL_ERROR', { cause: e });
          }
          break;
        }
        state = 2;
      } else {
        state = b === 13 /* CR */ ? state + 1 : 0;
      }
    }
    if (i < chunk.length) {
      this.head = null;
      return i + 1;
    }
    this.headLength = n;
    this.crlfState = state;
    return -1;
  }

  /**
   * Parses head[0, end) (it ends with CR LF CR LF, and every CR in it is followed
   * by LF) and checks it (RFC 6455 4.1, the client's steps 1-6). A malformed header
   * line does not hide a non-101 status: a 401 stays a 401. Throws the PicowsError
   * of the first failed check.
   */
  private verify(end: number): HandshakeSuccess {
    const { status, headers, badLine } = parseResponseHead(this.head as Uint8Array, end);

    // The head has a first line (it ends with CR LF CR LF): without a status, it is badLine.
    if (status && status[1] !== '101') {
      const code = +status[1];
      const reason = status[2] || '';
      // Retry-After (RFC 7231 7.1.3) in delta-seconds, else undefined (test() reads a missing one as "undefined").
      // The device build reads delta-seconds only (src/device.d.ts): an HTTP-date leaves the
      // delay to the policy's own backoff, as a missing Date header does on the host.
      const after = headers['retry-after'];
      // 401/403/503... are reported with their status, never as a bare 1006.
      throw new PicowsError(
        'HANDSHAKE_STATUS',
        { status: code, reason, retryAfter: /^\d+$/.test(after) ? +after : PICOWS_DEVICE ? undefined : retryAfterDate(after, headers.date), headers },
        PICOWS_DEVICE ? '' : 'the server answered the WebSocket upgrade with HTTP ' + code + (reason ? ' ' + reason : '') + ', not 101',
      );
    }
    if (badLine !== null) throw badResponse({ line: badLine });
    const upgrade = headers.upgrade;
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') throw new PicowsError('HANDSHAKE_UPGRADE', { upgrade });
    const connection = headers.connection;
    if (!/(^|,)[ \t]*upgrade[ \t]*(,|$)/i.test(connection || '')) throw new PicowsError('HANDSHAKE_CONNECTION', { connection });
    const accept = headers['sec-websocket-accept'];
    if (accept !== acceptKey(this.key)) throw new PicowsError('HANDSHAKE_ACCEPT', { accept });
    // We offer no extension, so any answer names one we did not offer (RFC 6455 4.1 step 5).
    const extensions = headers['sec-websocket-extensions'];
    if (extensions !== undefined) throw new PicowsError('HANDSHAKE_EXTENSION', { extensions });
    // Exactly one of the offered names, or no header at all (step 6); "a, b" is never offered.
    const protocol = headers['sec-websocket-protocol'];
    if (protocol !== undefined && this.protocols.indexOf(protocol) < 0) {
      throw new PicowsError('HANDSHAKE_SUBPROTOCOL', { protocol, offered: this.protocols });
    }
    return { protocol: protocol || '', extensions: '', headers };
  }
}
