/**
 * The client people already know: a WHATWG-style WebSocket over an injected Runtime.
 * The connection itself (transport, handshake, protocol, deadlines, paced writes) is
 * src/client/connection.ts; this file adds the WHATWG surface: the readyState
 * constants, `on*` handlers and listener lists, an 'error' event before the 'close' of
 * a failure, binaryType, ArrayBuffer sends. Liveness hooks (`onactivity`, `onpong`,
 * `abort()`, `handshakeRtt`) are picows' own additions.
 */
import { CLOSED, CLOSING, CONNECTING, OPEN } from '../protocol/ready-state';
import { Connection, type ConnectionOptions } from './connection';
import { EventSource } from './events';
import { keepable, sendable, type Runtime } from './runtime';

export type WebSocketOptions = ConnectionOptions;

export type BinaryType = 'arraybuffer' | 'uint8array';

export class WebSocket extends EventSource {
  // WHATWG's readyState constants, on the class and its prototype (set below the class).
  declare static readonly CONNECTING: typeof CONNECTING;
  declare static readonly OPEN: typeof OPEN;
  declare static readonly CLOSING: typeof CLOSING;
  declare static readonly CLOSED: typeof CLOSED;
  declare readonly CONNECTING: typeof CONNECTING;
  declare readonly OPEN: typeof OPEN;
  declare readonly CLOSING: typeof CLOSING;
  declare readonly CLOSED: typeof CLOSED;

  readonly url: string;
  /** Extensions in use: always '' (none are offered). */
  readonly extensions = '';
  binaryType: BinaryType = 'arraybuffer';
  /** Liveness hooks (src/resilience/liveness.ts): any inbound chunk, and each pong. */
  onactivity: (() => void) | null = null;
  onpong: ((payload: Uint8Array) => void) | null = null;

  private readonly conn: Connection;

  constructor(url: string, rt: Runtime, options?: WebSocketOptions) {
    super();
    this.url = url;
    // Throws INVALID_URL or TLS_UNAVAILABLE now, as WHATWG's constructor throws SyntaxError;
    // connects on the next turn, so listeners attached after `new` see every event.
    this.conn = new Connection(url, rt, options, {
      open: () => this.dispatch({ type: 'open' }),
      text: (data) => this.dispatch({ type: 'message', data }),
      binary: (data) => {
        if (this.binaryType === 'uint8array') this.dispatch({ type: 'message', data: keepable(rt, data) });
        else {
          const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
          this.dispatch({ type: 'message', data: (whole ? data : new Uint8Array(data)).buffer as ArrayBuffer });
        }
      },
      pong: (payload) => {
        if (this.onpong) this.onpong(payload);
      },
      activity: () => {
        if (this.onactivity) this.onactivity();
      },
      closed: (ev) => {
        if (ev.error && !ev.wasClean) this.dispatch({ type: 'error', error: ev.error, message: ev.error.message });
        this.dispatch(ev);
      },
    });
  }

  get readyState(): number {
    return this.conn.readyState;
  }

  /** The subprotocol the server chose ('' for none). */
  get protocol(): string {
    return this.conn.protocol;
  }

  /** ms from the upgrade request written to the 101 read: the first RTT sample (-1 before). */
  get handshakeRtt(): number {
    return this.conn.handshakeRtt;
  }

  /** Bytes queued by send() and not yet handed to the transport. */
  get bufferedAmount(): number {
    return this.conn.bufferedAmount;
  }

  /**
   * Sends a text (string) or binary (Uint8Array, ArrayBuffer) message. Throws NOT_OPEN
   * while CONNECTING and SEND_TOO_BIG over maxMessage; once closing it is discarded.
   */
  send(data: string | Uint8Array | ArrayBuffer): void {
    // The state first, as WHATWG: NOT_OPEN while connecting, silence once closing, whatever `data` is.
    if (this.conn.readyState !== OPEN) this.conn.send('');
    else this.conn.send(sendable(data));
  }

  /** Sends a ping (liveness). Returns false when not open. */
  ping(payload?: Uint8Array): boolean {
    return this.conn.ping(payload);
  }

  /**
   * Starts the close handshake: 1000 or 3000-4999 and a reason of at most 123 UTF-8
   * bytes (else INVALID_CLOSE_ARGS is thrown). Waits closeTimeout for the peer's Close.
   */
  close(code?: number, reason?: string): void {
    this.conn.close(code, reason);
  }

  /**
   * Ends the connection now without a close handshake and reports 1006 with this
   * failure (liveness: PONG_TIMEOUT, WIFI_LOST). A Close frame is not attempted: the
   * link is presumed dead.
   */
  abort(id: string, detail?: { [key: string]: unknown }): void {
    this.conn.abort(id, detail);
  }
}

for (const o of [WebSocket, WebSocket.prototype]) Object.assign(o, { CONNECTING, OPEN, CLOSING, CLOSED });
