/**
 * One WebSocket connection, as picows' own layers use it. It drives three things and
 * knows no framing rule itself:
 *  - the transport (TCP, paced: at most `transport.maxWrite` bytes per event-loop turn),
 *  - the opening handshake (src/handshake/client-handshake.ts),
 *  - the sans-I/O protocol (src/protocol/protocol.ts), once the handshake succeeded.
 * Deadlines (connect, handshake, close) run on the injected Clock, so tests use virtual
 * time. It reports to one ConnectionHandler. ResilientClient drives it directly; the
 * WHATWG WebSocket (websocket.ts) wraps it for applications, so the device bundle, whose
 * one client is ResilientClient, carries no WHATWG surface (event objects, listener
 * lists, binaryType, readyState constants). Liveness (ping/pong, Wi-Fi) attaches through
 * the handler's `activity` and `pong`, and `abort()`.
 */
import { PicowsError } from '../errors';
import { ClientHandshake, latin1Bytes } from '../handshake/client-handshake';
import { parseWsUrl, type WsUrl } from '../handshake/url';
import { closeReasonBytes } from '../protocol/close-payload';
import { CLOSED, CLOSING, CONNECTING, OPEN, Protocol, type ProtocolSink } from '../protocol/protocol';
import { causeOfError, type CloseCause } from './close-cause';
import { listenerThrew, type CloseEvent } from './events';
import { randomBytes, type Runtime } from './runtime';
import type { Transport, TransportHandler } from './transport';
import { orDefault } from '../or-default';

export interface ConnectionOptions {
  /** Subprotocols to offer (Sec-WebSocket-Protocol). */
  protocols?: string | string[];
  /** Extra request headers, such as an auth token. */
  headers?: { [name: string]: string };
  /** Largest message in either direction, bytes. Default 8 KiB (a 180 KiB heap). */
  maxMessage?: number;
  /** Outgoing messages above this are fragmented. */
  fragmentSize?: number;
  /** Largest HTTP response head, bytes. Default 4096. */
  maxHeadBytes?: number;
  /** ms for TCP to connect. Default 10000. */
  connectTimeout?: number;
  /** ms from TCP up to a valid 101 response. Default 10000. */
  handshakeTimeout?: number;
  /** ms to wait for the peer's Close (and then for TCP to end). Default 2000: short, the link may be dead. */
  closeTimeout?: number;
  /** Validator flags (CFG_* in src/core/types.ts). */
  validatorFlags?: number;
}

/**
 * What a Connection reports. Every callback runs inside the connection's own turn; each
 * may call close() or abort(). A callback that throws is reported (listenerThrew) and
 * the connection goes on: the callbacks run inside transport and timer callbacks, where
 * an uncaught throw resets Kaluma's VM (kaluma.md §4), and inside the protocol's
 * receiveData, which would otherwise fail the connection for the handler's bug.
 */
export interface ConnectionHandler {
  /** The handshake succeeded: OPEN. */
  open(): void;
  text(data: string): void;
  /** The received bytes: a view of the chunk (which the runtime may recycle when `rt.volatileChunks`: copy to keep) or a fresh reassembled array. */
  binary(data: Uint8Array): void;
  pong(payload: Uint8Array): void;
  /** Any inbound chunk (liveness: every byte is proof of life). */
  activity(): void;
  /** Exactly once, last: how it ended (`error` set for every failure). */
  closed(ev: CloseEvent): void;
}

export class Connection implements ProtocolSink, TransportHandler {
  /** The subprotocol the server chose ('' for none). */
  protocol = '';
  readyState: number = CONNECTING;
  /** ms from the upgrade request written to the 101 read: the first RTT sample (-1 before). */
  handshakeRtt = -1;

  private readonly rt: Runtime;
  private readonly opts: ConnectionOptions;
  /** Called through report() only. */
  private readonly on: ConnectionHandler;
  private readonly target: WsUrl;
  /** Null until connecting and once dropped: callbacks of a dropped transport are then ignored (Kaluma reuses socket numbers). */
  private transport: Transport | null = null;
  private handshake: ClientHandshake | null;
  private proto: Protocol | null = null;
  private timer: unknown;
  /** The frame being written and how far; the transport takes maxWrite bytes a turn. */
  private writing: Uint8Array | null = null;
  private writtenOfCurrent = 0;
  /** The protocol's outcome is known and the final closeTimeout is armed. */
  private settling = false;
  /** The cause when the protocol ends without a failure: the peer closed first, unless close() started the closing handshake. */
  private closeCause: CloseCause = 'peer-closed';
  private requestAt = 0;

  constructor(url: string, rt: Runtime, options: ConnectionOptions | undefined, handler: ConnectionHandler) {
    this.rt = rt;
    this.opts = options || {};
    this.on = handler;
    // Throws INVALID_URL or TLS_UNAVAILABLE now, as WHATWG's constructor throws SyntaxError.
    this.target = parseWsUrl(url, rt);
    const protocols = this.opts.protocols;
    this.handshake = new ClientHandshake({
      url: this.target,
      key: randomBytes(rt, 16),
      // None when undefined (ClientHandshake's default).
      protocols: typeof protocols === 'string' ? [protocols] : protocols,
      headers: this.opts.headers,
      maxHeadBytes: this.opts.maxHeadBytes,
    });
    // Connect on the next turn: whoever created it finishes wiring first (the WHATWG
    // wrapper's listeners, ResilientClient's liveness), and a synchronous throw from the
    // runtime (Kaluma: Wi-Fi down, DNS) becomes a close event.
    this.arm(0, () => this.startConnect());
  }

  /** Bytes queued by send() and not yet handed to the transport. */
  get bufferedAmount(): number {
    // The handshake request is not application data.
    if (!this.proto) return 0;
    return this.proto.bufferedAmount + (this.writing ? this.writing.length - this.writtenOfCurrent : 0);
  }

  /** Sends a text (string) or binary (Uint8Array) message. Throws NOT_OPEN while CONNECTING, SEND_TOO_BIG over maxMessage; once closing it is discarded (as WHATWG's send()). */
  send(data: string | Uint8Array): void {
    if (this.readyState === CONNECTING) throw new PicowsError('NOT_OPEN', undefined, PICOWS_DEVICE ? undefined : 'send() before the connection is open');
    if (this.readyState !== OPEN || !this.proto) return;
    if (typeof data === 'string') this.proto.sendText(data);
    else this.proto.sendBinary(data);
    this.pump();
  }

  /** Sends a ping (liveness). Returns false when not open. */
  ping(payload?: Uint8Array): boolean {
    if (this.readyState !== OPEN || !this.proto) return false;
    this.proto.sendPing(payload);
    this.pump();
    return true;
  }

  /**
   * Starts the close handshake: 1000 or 3000-4999 and a reason of at most 123 UTF-8
   * bytes (else INVALID_CLOSE_ARGS is thrown). Waits closeTimeout for the peer's Close.
   */
  close(code?: number, reason?: string): void {
    // WHATWG close(): a reason without a code closes with 1000. Checked before any state changes.
    if (code === undefined && reason) code = 1000;
    closeReasonBytes(code, reason, false, this.rt.encodeText);
    if (this.readyState >= CLOSING) return;
    this.readyState = CLOSING;
    // Not OPEN yet (the protocol exists from the 101 on).
    if (!this.proto) {
      // WHATWG: closing a connecting socket fails the connection (1006), and the close
      // comes on a later turn, so a WHATWG handler set just after close() still sees it.
      this.dropTransport();
      this.arm(0, () => this.finish('local-close', null));
      return;
    }
    this.closeCause = 'local-close';
    this.proto.sendClose(code, reason);
    this.pump();
    // The peer's Close re-arms it (receive), so running out means it never came.
    this.arm(orDefault(this.opts.closeTimeout, 2000), () => this.abort('CLOSE_TIMEOUT'));
  }

  /**
   * Ends the connection now without a close handshake and reports 1006 with this
   * failure (liveness: PONG_TIMEOUT, WIFI_LOST). A Close frame is not attempted: the
   * link is presumed dead.
   */
  abort(id: string, detail?: { [key: string]: unknown }): void {
    // Also how the connection fails itself before the protocol exists (a 1006 locally).
    this.finish(causeOfError(id), new PicowsError(id, detail));
  }

  // ---- connection steps ----

  private startConnect(): void {
    if (this.readyState !== CONNECTING) return;
    this.arm(orDefault(this.opts.connectTimeout, 10000), () => this.abort('CONNECT_TIMEOUT'));
    try {
      this.transport = this.rt.transport();
      // The parsed URL is the ConnectTarget (host, port, secure), and this the TransportHandler.
      this.transport.connect(this.target, this);
    } catch (e) {
      this.abort('CONNECT_FAILED', { message: e instanceof Error ? e.message : String(e) });
    }
  }

  // ---- the transport's events (TransportHandler) ----

  /** A dropped transport's open finds the state past CONNECTING. */
  onOpen(): void {
    if (this.readyState !== CONNECTING || !this.handshake) return;
    this.arm(orDefault(this.opts.handshakeTimeout, 10000), () => this.abort('HANDSHAKE_TIMEOUT'));
    this.requestAt = this.rt.clock.now();
    this.writing = latin1Bytes(this.handshake.request());
    this.writtenOfCurrent = 0;
    this.pump();
  }

  onData(chunk: Uint8Array): void {
    if (!this.transport) return;
    this.report(this.on.activity);
    if (this.proto) return this.receive(this.proto, chunk);
    // With a transport and no protocol, the state is CONNECTING.
    const hs = this.handshake;
    if (!hs) return;
    const end = hs.receive(chunk);
    if (end < 0) return;
    this.handshake = null;
    if (!hs.result) {
      // Every handshake failure is a PicowsError in hs.error (never a 1015: TLS_UNAVAILABLE comes from the URL): 1006 locally.
      const e = hs.error as PicowsError;
      this.finish(causeOfError(e.id), e);
      return;
    }
    this.protocol = hs.result.protocol;
    this.handshakeRtt = this.rt.clock.now() - this.requestAt;
    const p = (this.proto = new Protocol(this, this.rt, this.opts));
    this.disarm();
    this.readyState = OPEN;
    this.report(this.on.open);
    // Servers may send frames in the same segment as the 101 response (read them even
    // if an open handler already called close(): the server's Close may be among them).
    if (end < chunk.length && this.readyState !== CLOSED) this.receive(p, chunk.subarray(end));
  }

  onClose(): void {
    // Also once CLOSED: the transport is dropped then.
    if (!this.transport) return;
    if (!this.proto) {
      this.abort('CONNECTION_LOST');
      return;
    }
    this.proto.receiveEof();
    this.reportFromProtocol();
  }

  onError(err: Error): void {
    // Node follows an error with close; Kaluma may not. Either way the connection is over.
    if (!this.transport) return;
    const p = this.proto;
    if (p && (p.failure || p.wasClean)) {
      // The outcome was settled before (Closes exchanged, or our protocol error): a reset now is not the news.
      this.reportFromProtocol();
      return;
    }
    this.abort(p ? 'TRANSPORT_ERROR' : 'CONNECT_FAILED', { message: err && err.message });
  }

  /** Feeds the protocol, writes what it queued, and ends TCP when it says so. */
  private receive(p: Protocol, chunk: Uint8Array): void {
    p.receiveData(chunk);
    this.pump();
    if (p.closeExpected() && !this.settling) {
      this.settling = true;
      if (this.readyState === OPEN) this.readyState = CLOSING;
      // RFC 6455 7.1.1: the server should close TCP first; give it closeTimeout (once: bytes
      // that keep arriving are ignored and must not extend it), then end it ourselves.
      this.arm(orDefault(this.opts.closeTimeout, 2000), () => this.reportFromProtocol());
      if (p.failure) {
        // Our failure: we end TCP, once our Close (if any) is written (pump).
        this.endPending = true;
        this.pump();
      }
    }
  }

  /** Reports the close the protocol arrived at (wire code, reason, cleanliness). */
  private reportFromProtocol(): void {
    const p = this.proto;
    if (!p) return;
    const err = p.failure;
    // wasClean: the Closes were exchanged, which no failure follows.
    this.finish(err ? causeOfError(err.id) : this.closeCause, err, p.closeCode, p.closeReason, p.wasClean);
  }

  /** The one way out: drop the transport, report error (if any) then close, exactly once. A failure ends 1006, unclean. */
  private finish(cause: CloseCause, err: PicowsError | null, code = 1006, reason = '', wasClean = false): void {
    if (this.readyState === CLOSED) return;
    this.disarm();
    this.dropTransport();
    this.readyState = CLOSED;
    this.handshake = null;
    // Frees the validator (a WebAssembly state slot) and the reassembly buffer.
    if (this.proto) this.proto.dispose();
    this.report(this.on.closed, { type: 'close', code, reason, wasClean, cause, error: err });
  }

  private dropTransport(): void {
    const t = this.transport;
    this.transport = null;
    this.writing = null;
    if (t) {
      try {
        t.destroy();
      } catch (e) {
        // A runtime that throws on destroying a dead socket changes nothing here.
      }
    }
  }

  // ---- writing, paced ----

  /** Writes up to maxWrite bytes this turn and schedules the rest for the next turns. */
  private pump(): void {
    const t = this.transport;
    // No 'TCP is up' flag: nothing is pending before onOpen queues the request, and the
    // transport is dropped once TCP is gone.
    if (t && this.hasPending()) this.writeTurn(t);
    // Ends our side of TCP once everything queued (the Close frame) has been written; once.
    if (this.endPending && !this.hasPending()) {
      this.endPending = false;
      if (this.transport) {
        try {
          this.transport.end();
        } catch (e) {
          // Ending a socket that is already gone is not a new failure.
        }
      }
    }
  }

  private writeTurn(t: Transport): void {
    // The budget is per event-loop turn, not per call: Kaluma merges every write of
    // one turn into one native write through a ~2 KiB C stack (kaluma.md §3).
    const paced = t.maxWrite < 1e9;
    const opening = this.turnLeft < 0;
    if (opening) this.turnLeft = t.maxWrite;
    while (this.turnLeft > 0) {
      if (!this.writing) {
        this.writing = this.proto ? this.proto.nextOutgoing() : null;
        this.writtenOfCurrent = 0;
        if (!this.writing) break;
      }
      const cur = this.writing;
      const n = Math.min(this.turnLeft, cur.length - this.writtenOfCurrent);
      t.write(n === cur.length ? cur : cur.subarray(this.writtenOfCurrent, this.writtenOfCurrent + n));
      this.writtenOfCurrent += n;
      this.turnLeft -= n;
      if (this.writtenOfCurrent >= cur.length) this.writing = null;
    }
    if (!paced) this.turnLeft = -1;
    else if (opening)
      // Set after the first write: Kaluma's own flush timer (set by that write) runs first,
      // so the next turn's bytes never join this turn's native write.
      this.rt.clock.after(0, () => {
        this.turnLeft = -1;
        this.pump();
      });
  }

  /** Bytes still allowed this turn; -1 when no turn is open. */
  private turnLeft = -1;
  /** Set once, when the protocol failed: end TCP when nothing is left to write. */
  private endPending = false;

  /** The handshake request (not counted in bufferedAmount) or any frame left to write. */
  private hasPending(): boolean {
    return !!this.writing || this.bufferedAmount > 0;
  }

  // ---- the protocol's events (ProtocolSink) ----

  onText(data: string): void {
    if (this.readyState === OPEN) this.report(this.on.text, data);
  }

  onBinary(data: Uint8Array): void {
    if (this.readyState === OPEN) this.report(this.on.binary, data);
  }

  /** The protocol answers pings itself. */
  onPing(): void {}

  onPong(payload: Uint8Array): void {
    this.report(this.on.pong, payload);
  }

  /** The outcome comes from the protocol (reportFromProtocol): a peer's Close after our close() is still 'local-close'. */
  onCloseFrame(): void {}

  /**
   * Calls back the handler, guarded: a callback that throws is reported (listenerThrew)
   * and the connection goes on (see ConnectionHandler). A method, not wrapped
   * callbacks: no closures per connection.
   */
  private report<A>(fn: (a: A) => void, a?: A): void {
    try {
      fn.call(this.on, a as A);
    } catch (e) {
      listenerThrew(e);
    }
  }

  // ---- deadlines ----

  private arm(ms: number, fn: () => void): void {
    this.disarm();
    this.timer = this.rt.clock.after(ms, () => {
      this.timer = undefined;
      fn();
    });
  }

  private disarm(): void {
    if (this.timer !== undefined) {
      this.rt.clock.cancel(this.timer);
      this.timer = undefined;
    }
  }
}
