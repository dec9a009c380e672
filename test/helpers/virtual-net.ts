/**
 * A whole WebSocket connection without sockets: an in-memory Transport and a scripted
 * server peer, both driven by a VirtualClock, so reconnect storms, 10-second liveness
 * deadlines and 1000 reconnect cycles run in milliseconds and exactly the same way
 * every time.
 *
 * The server side is a small RFC 6455 server written from the RFC, not from picows:
 * it reads the client's upgrade request, answers 101 with Sec-WebSocket-Accept from
 * node:crypto (RFC 6455 4.2.2), unmasks the client's frames (5.3), reassembles
 * fragments, answers pings and Close, and speaks the at-least-once protocol
 * (src/resilience/ACK-PROTOCOL.md) with its own dedup. Tests script the faults: a
 * blackhole, a reset, a FIN, a refusal, a 401 or a 503 with Retry-After, a bad frame,
 * a Close with any code, a large frame trickled in slowly.
 *
 * Each byte takes `latencyMs` to cross, one way, on a timer of the shared clock.
 * Like TCP, a connection never skips bytes: a blackhole kills it for good (nothing
 * after the hole is ever delivered), and a Wi-Fi outage (linkUp = false) holds bytes
 * until the link is back, as retransmission would. A net that skipped bytes would
 * let a later cumulative ack release a message the server never saw.
 */
import { createHash } from 'node:crypto';
import { VirtualClock } from '../../src/client/clock';
import type { Runtime } from '../../src/client/runtime';
import type { ConnectTarget, Transport, TransportHandler } from '../../src/client/transport';
import type { LinkMonitor } from '../../src/resilience/resilient-client';
import { nodeCore } from '../../board/node/core';
import { ackFrame, parseData } from '../../src/resilience/ack-protocol';
import { closePayload, concat, frame } from '../vectors/build';
import { mulberry32Words as seededRandom32 } from '../../board/sim/prng';

export { seededRandom32 };

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const encoder = new TextEncoder();
const decoder = new TextDecoder();


/** How the server answers an upgrade request. */
export type HandshakeAnswer =
  | { status: 101; accept?: string }
  | { status: number; headers?: { [name: string]: string } }
  /** Read the request and never answer (a hung server: the handshake timeout's case). */
  | 'silent';

export interface VirtualNetOptions {
  /** One-way latency, ms. Default 1. */
  latencyMs?: number;
  /** The transport's maxWrite. Default 512 (the Pico W's per-turn limit, kaluma.md §3). */
  maxWrite?: number;
}

/** A message the server received (reassembled, unmasked). */
export interface ServerMessage {
  opcode: number;
  data: Uint8Array;
  text: string;
}

/** The server's at-least-once state: what reached "the application", per sid. */
export class AckLedger {
  readonly highest = new Map<string, number>();
  readonly delivered = new Map<string, number[]>();
  /** data per delivery, in order, per sid. */
  readonly data = new Map<string, unknown[]>();
  duplicates = 0;
  acksSent = 0;
  /** false: deliver but never ack. */
  acking = true;

  /** Handles one data frame; returns the ack to send (or null). */
  receive(text: string): string | null {
    const m = parseData(text);
    if (!m) return null;
    const last = this.highest.get(m.sid) || 0;
    if (m.seq > last) {
      this.highest.set(m.sid, m.seq);
      if (!this.delivered.has(m.sid)) {
        this.delivered.set(m.sid, []);
        this.data.set(m.sid, []);
      }
      (this.delivered.get(m.sid) as number[]).push(m.seq);
      (this.data.get(m.sid) as unknown[]).push(m.data);
    } else this.duplicates++;
    if (!this.acking) return null;
    this.acksSent++;
    return ackFrame(this.highest.get(m.sid) || 0);
  }
}

type Lane = 'toServer' | 'toClient';

/** The server's end of one connection. */
export class ServerConn {
  readonly id: number;
  state: 'tcp' | 'open' | 'closing' | 'closed' = 'tcp';
  /** The upgrade request head, once read. */
  requestHead = '';
  readonly requestHeaders: { [name: string]: string } = {};
  readonly messages: ServerMessage[] = [];
  pingsReceived = 0;
  /** When each ping from the client arrived (virtual ms). */
  readonly pingTimes: number[] = [];
  /** When the client was last handed bytes on this connection (virtual ms; -1 never). */
  lastToClientAt = -1;
  /** The Close code the client sent (-1 none yet; 1005 when it had no code). */
  clientCloseCode = -1;
  /** Bytes from the client, as they arrived (the raw stream). */
  bytesFromClient = 0;
  /** Answer pings (RFC 6455 5.5.2). Turn off for a peer that sends data but no pongs. */
  autoPong: boolean;
  /** Drop every byte both ways, silently (a NAT entry expired, a dead access point). */
  blackholed = false;
  /** Bytes were lost on this connection: it never delivers anything again, even once the blackhole lifts. */
  holed = false;
  openedAt = -1;
  closedAt = -1;
  private inbuf: Uint8Array = new Uint8Array(0);
  private fragments: Uint8Array[] = [];
  private fragOpcode = 0;
  private sentClose = false;
  /** @internal */ client: TransportHandler | null;

  constructor(readonly net: VirtualNet, id: number, client: TransportHandler) {
    this.id = id;
    this.client = client;
    this.autoPong = net.autoPong;
  }

  // ---- the server's actions ----

  /** Raw bytes to the client (a frame from test/vectors/build.ts, or garbage). */
  sendBytes(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    this.net.deliver(this, 'toClient', bytes);
  }

  sendText(s: string): void {
    this.sendBytes(frame(0x1, s));
  }

  sendPing(payload?: Uint8Array): void {
    this.sendBytes(frame(0x9, payload));
  }

  /**
   * Starts the close handshake; ends TCP once the client answers. Without a code: an
   * empty Close (1005). Before the upgrade it is a broken server's: the frame goes out
   * where the client expects the response, and the request is still read as one.
   */
  sendClose(code?: number, reason?: string): void {
    if (this.sentClose || this.state === 'closed') return;
    this.sentClose = true;
    if (this.state !== 'tcp') this.state = 'closing';
    this.sendBytes(frame(0x8, code === undefined ? undefined : closePayload(code, reason)));
  }

  /**
   * Sends `bytes` in pieces of `chunk` bytes, one every `everyMs` (a large frame on
   * a slow link). Returns the ms the whole transfer takes.
   */
  trickle(bytes: Uint8Array, chunk: number, everyMs: number): number {
    let i = 0;
    const step = (): void => {
      if (this.state === 'closed') return;
      this.sendBytes(bytes.subarray(i, Math.min(bytes.length, i + chunk)));
      i += chunk;
      if (i < bytes.length) this.net.clock.after(everyMs, step);
    };
    step();
    return (Math.ceil(bytes.length / chunk) - 1) * everyMs;
  }

  /** RST: the client hears an error and the end of the stream (after the latency). */
  reset(): void {
    if (this.state === 'closed') return;
    this.markClosed();
    this.net.later(() => {
      const c = this.client;
      this.client = null;
      if (!c) return;
      c.onError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      c.onClose();
    });
  }

  /** FIN: the server ends TCP (Node ends our side too, so the client sees the stream close). */
  fin(): void {
    if (this.state === 'closed') return;
    this.markClosed();
    this.net.later(() => {
      const c = this.client;
      this.client = null;
      if (c) c.onClose();
    });
  }

  blackhole(on: boolean): void {
    this.blackholed = on;
  }

  // ---- bytes from the client ----

  /** @internal */
  receive(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    this.bytesFromClient += bytes.length;
    this.inbuf = this.inbuf.length ? concat([this.inbuf, bytes]) : bytes.slice();
    if (this.state === 'tcp') {
      const head = this.readHead();
      if (head < 0) return;
      this.inbuf = this.inbuf.slice(head);
      this.answerHandshake();
      if ((this.state as string) !== 'open') return;
    }
    this.readFrames();
  }

  /** @internal The client destroyed its socket. */
  clientGone(): void {
    this.client = null;
    this.markClosed();
  }

  /** @internal The client ended its side (FIN): a server closes too. */
  clientEnded(): void {
    this.fin();
  }

  private markClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closedAt = this.net.clock.now();
  }

  private readHead(): number {
    const b = this.inbuf;
    for (let i = 3; i < b.length; i++) {
      if (b[i - 3] === 13 && b[i - 2] === 10 && b[i - 1] === 13 && b[i] === 10) {
        this.requestHead = decoder.decode(b.subarray(0, i + 1));
        const lines = this.requestHead.split('\r\n');
        for (let j = 1; j < lines.length; j++) {
          const k = lines[j].indexOf(':');
          if (k > 0) this.requestHeaders[lines[j].slice(0, k).trim().toLowerCase()] = lines[j].slice(k + 1).trim();
        }
        return i + 1;
      }
    }
    return -1;
  }

  private answerHandshake(): void {
    const answer = this.net.handshake(this);
    if (answer === 'silent') {
      this.state = 'closing';
      return;
    }
    if (answer.status !== 101) {
      let head = 'HTTP/1.1 ' + answer.status + ' Nope\r\n';
      const headers = (answer as { headers?: { [name: string]: string } }).headers || {};
      for (const k in headers) head += k + ': ' + headers[k] + '\r\n';
      head += 'Content-Length: 0\r\nConnection: close\r\n\r\n';
      this.sendBytes(encoder.encode(head));
      this.fin();
      return;
    }
    const key = this.requestHeaders['sec-websocket-key'] || '';
    const accept = (answer as { accept?: string }).accept || createHash('sha1').update(key + GUID).digest('base64');
    this.sendBytes(encoder.encode('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n'));
    this.state = 'open';
    this.openedAt = this.net.clock.now();
    if (this.net.onOpen) this.net.onOpen(this);
  }

  /** RFC 6455 5.2, the server's reading: every client frame is masked. */
  private readFrames(): void {
    for (;;) {
      const b = this.inbuf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      if (!(b[1] & 0x80)) throw new Error('virtual server: the client sent an unmasked frame');
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = (b[2] << 8) | b[3];
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = 0;
        for (let i = 2; i < 10; i++) len = len * 256 + b[i];
        at = 10;
      }
      if (b.length < at + 4 + len) return;
      const key = b.subarray(at, at + 4);
      const payload = new Uint8Array(len);
      for (let i = 0; i < len; i++) payload[i] = b[at + 4 + i] ^ key[i & 3];
      this.inbuf = b.slice(at + 4 + len);
      this.onFrame(fin, opcode, payload);
      if (this.state === 'closed') return;
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Uint8Array): void {
    if (opcode === 0x9) {
      this.pingsReceived++;
      this.pingTimes.push(this.net.clock.now());
      if (this.autoPong && !this.sentClose) this.sendBytes(frame(0xa, payload));
      if (this.net.onPing) this.net.onPing(this, payload);
      return;
    }
    if (opcode === 0xa) return;
    if (opcode === 0x8) {
      this.clientCloseCode = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
      if (!this.sentClose) {
        this.sentClose = true;
        this.sendBytes(frame(0x8, payload.length >= 2 ? payload.subarray(0, 2) : undefined));
      }
      // RFC 6455 7.1.1: the server ends TCP first.
      this.fin();
      return;
    }
    if (opcode !== 0) this.fragOpcode = opcode;
    this.fragments.push(payload);
    if (!fin) return;
    const data = this.fragments.length === 1 ? this.fragments[0] : concat(this.fragments);
    this.fragments = [];
    const m: ServerMessage = { opcode: this.fragOpcode, data, text: this.fragOpcode === 1 ? decoder.decode(data) : '' };
    this.messages.push(m);
    this.net.messagesReceived++;
    if (m.opcode === 1 && this.net.ledger) {
      const ack = this.net.ledger.receive(m.text);
      if (ack !== null) this.sendText(ack);
    }
    if (this.net.onMessage) this.net.onMessage(this, m);
  }
}

/** The client's end: the Transport the picows client is given. */
class VirtualTransport implements Transport {
  readonly maxWrite: number;
  private conn: ServerConn | null = null;

  constructor(private readonly net: VirtualNet) {
    this.maxWrite = net.maxWrite;
  }

  connect(target: ConnectTarget, handler: TransportHandler): void {
    const net = this.net;
    net.connectAttempts++;
    // Kaluma throws synchronously when Wi-Fi is down (kaluma.md §3).
    if (!net.linkUp) throw new Error('wifi is down');
    net.targets.push(target);
    if (net.refuse) {
      net.refused++;
      net.later(() => {
        handler.onError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
        handler.onClose();
      });
      return;
    }
    if (net.connectHangs) return; // SYN lost: nothing ever comes back
    const conn = new ServerConn(net, net.connections.length + 1, handler);
    this.conn = conn;
    net.connections.push(conn);
    if (net.onAccept) net.onAccept(conn);
    net.later(() => {
      if (conn.client) handler.onOpen();
    });
  }

  write(bytes: Uint8Array): void {
    if (bytes.length > this.maxWrite) throw new Error('write of ' + bytes.length + ' bytes exceeds maxWrite');
    if (this.conn) this.net.deliver(this.conn, 'toServer', bytes.slice());
  }

  end(): void {
    const c = this.conn;
    if (c && c.state !== 'closed' && !c.blackholed && !c.holed && this.net.linkUp) this.net.later(() => c.clientEnded());
  }

  destroy(): void {
    const c = this.conn;
    this.conn = null;
    if (!c) return;
    // What the peer learns of it depends on the link; the client has dropped its end either way.
    c.client = null;
    // A dead link carries no RST: the server end stays half-open, as a real one would.
    if (!c.blackholed && !c.holed && this.net.linkUp) this.net.later(() => c.clientGone());
  }
}

export class VirtualNet {
  readonly clock: VirtualClock;
  readonly latencyMs: number;
  readonly maxWrite: number;
  readonly connections: ServerConn[] = [];
  readonly targets: ConnectTarget[] = [];
  /** transport.connect() calls, the ones that threw (link down) and refused included. */
  connectAttempts = 0;
  refused = 0;
  messagesReceived = 0;
  /** New connections are refused (RST on SYN: ECONNREFUSED). */
  refuse = false;
  /** New connections never complete (the connect timeout's case). */
  connectHangs = false;
  /**
   * The Wi-Fi link. Down: connect() throws, and bytes wait, as TCP retransmits them,
   * until it is back (a connection the client abandoned meanwhile is gone by then).
   */
  get linkUp(): boolean {
    return this.up;
  }
  set linkUp(up: boolean) {
    if (up === this.up) return;
    this.up = up;
    if (!up) return;
    const held = this.held;
    this.held = [];
    for (const h of held) this.deliver(h.conn, h.lane, h.bytes);
  }
  private up = true;
  private held: { conn: ServerConn; lane: Lane; bytes: Uint8Array }[] = [];
  /** Default for each connection's autoPong. */
  autoPong = true;
  /** The at-least-once server state, or null for a plain server. */
  ledger: AckLedger | null = null;
  /** Decides each upgrade's answer. Default: accept. */
  handshake: (conn: ServerConn) => HandshakeAnswer = () => ({ status: 101 });
  /** As the server accepts TCP, before the client's request. */
  onAccept: ((conn: ServerConn) => void) | null = null;
  onOpen: ((conn: ServerConn) => void) | null = null;
  onMessage: ((conn: ServerConn, m: ServerMessage) => void) | null = null;
  /** After a ping arrived (and was answered, when autoPong). */
  onPing: ((conn: ServerConn, payload: Uint8Array) => void) | null = null;
  /** The board's Wi-Fi hook for ResilientClient (reads `linkUp`). */
  readonly link: LinkMonitor;
  private runtimes = 0;

  constructor(opts: VirtualNetOptions = {}) {
    this.clock = new VirtualClock(0);
    this.latencyMs = opts.latencyMs === undefined ? 1 : opts.latencyMs;
    this.maxWrite = opts.maxWrite || 512;
    this.link = { isUp: (cb) => cb(this.linkUp) };
  }

  /** A Runtime on this net: JS core (the Pico W's), seeded RNG, virtual clock. */
  runtime(seed?: number): Runtime {
    const random32 = seededRandom32(seed === undefined ? ++this.runtimes : seed);
    return {
      core: nodeCore('js'),
      transport: () => new VirtualTransport(this),
      clock: this.clock,
      random32,
      encodeText: (s) => encoder.encode(s),
      decodeText: (b, s, e) => decoder.decode(b.subarray(s, e)),
      tls: false,
    };
  }

  /** The at-least-once server on (returns its ledger). */
  acks(): AckLedger {
    if (!this.ledger) this.ledger = new AckLedger();
    return this.ledger;
  }

  /** The newest connection. */
  get last(): ServerConn {
    const c = this.connections[this.connections.length - 1];
    if (!c) throw new Error('no connection yet');
    return c;
  }

  /** Connections whose server end is open now. */
  get openConnections(): ServerConn[] {
    return this.connections.filter((c) => c.state === 'open');
  }

  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** Advances in small steps until `cond()` or `maxMs` passed; returns the virtual ms it took (-1 if never). */
  runUntil(cond: () => boolean, maxMs: number, stepMs = 1): number {
    const start = this.clock.now();
    while (!cond()) {
      if (this.clock.now() - start >= maxMs) return -1;
      this.clock.advance(stepMs);
    }
    return this.clock.now() - start;
  }

  /** Every open connection is blackholed (or released). */
  blackholeAll(on: boolean): void {
    for (const c of this.connections) if (c.state !== 'closed') c.blackhole(on);
  }

  /** @internal */
  later(fn: () => void): void {
    this.clock.after(this.latencyMs, fn);
  }

  /**
   * @internal Bytes cross the link after the latency. A blackhole loses them, and
   * the connection with them: nothing after a hole is ever delivered (TCP never
   * skips bytes; the connection just dies). A Wi-Fi outage holds them until it ends.
   */
  deliver(conn: ServerConn, lane: Lane, bytes: Uint8Array): void {
    if (conn.blackholed) conn.holed = true;
    if (conn.holed) return;
    if (!this.up) {
      this.held.push({ conn, lane, bytes });
      return;
    }
    this.clock.after(this.latencyMs, () => {
      if (conn.blackholed) conn.holed = true;
      if (conn.holed) return;
      if (!this.up) {
        this.held.push({ conn, lane, bytes });
        return;
      }
      if (lane === 'toServer') conn.receive(bytes);
      else if (conn.client) {
        conn.lastToClientAt = this.clock.now();
        conn.client.onData(bytes);
      }
    });
  }
}
