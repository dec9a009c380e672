/**
 * SIZE-FIRST SPIKE: the device's whole client in one class. It does what the layered
 * stack does in the device bundle (ResilientClient, Connection, Protocol,
 * ClientHandshake, liveness, backoff, policy, outbox and KalumaTransport, with
 * PICOWS_DEVICE true), with the same API the app uses, but with no objects or event
 * objects between the layers: one object, one set of fields, one timer helper.
 * The incoming frames still go through the JS core (src/core/js-core.ts) exactly as
 * src/protocol/protocol.ts uses it. Comments name the layered file each part mirrors;
 * the reasons behind each rule are written there.
 */
import type { KalumaSocket } from '../../board/kaluma/kaluma';
import { putUint32 } from '../bytes';
import { causeOfError, type CloseCause } from '../client/close-cause';
import { coreErrorName } from '../core/error-ids';
import { createJsCore } from '../core/js-core';
import { DEFAULT_MAX_MESSAGE, EV_DATA, FLAG_FIN, FLAG_FIRST, FLAG_LAST, RECORD_SLOTS, type FrameValidator } from '../core/types';
import { isSendableCloseCode, PicowsError } from '../errors';
import { base64Encode } from '../handshake/base64';
import { sha1 } from '../handshake/sha1';
import { parseWsUrl, type WsUrl } from '../handshake/url';
import { orDefault as or } from '../or-default';
import { closeReasonBytes, encodeClosePayload, parseCloseCode } from '../protocol/close-payload';
import { buildMaskedFrame, maskedHeaderSize } from '../protocol/frame-writer';
import { dataFrame, newSid, parseAck } from '../resilience/ack-protocol';
import type { DeviceRuntime } from './runtime';

declare const millis: () => number;

export interface LinkMonitor {
  isUp(cb: (up: boolean) => void): void;
}

/** ResilientOptions as the device build reads them (src/resilience/resilient-client.ts and the option types it extends). */
export interface DeviceOptions {
  protocols?: string | string[];
  headers?: { [name: string]: string };
  maxMessage?: number;
  fragmentSize?: number;
  maxHeadBytes?: number;
  connectTimeout?: number;
  handshakeTimeout?: number;
  closeTimeout?: number;
  validatorFlags?: number;
  pingInterval?: number;
  pongTimeout?: number;
  pongTimeoutFloor?: number;
  backoff?: { baseMs?: number; factor?: number; capMs?: number; minDelayMs?: number; minUptimeMs?: number; maxRetries?: number; dropWindowMs?: number };
  policy?: { overrides?: unknown; classes?: unknown; decide?: unknown; breakerAfter?: number; diagnostics?: number; maxRetryAfterMs?: number; now?: () => number };
  outbox?: { maxCount?: number; maxBytes?: number; overflow?: string; acks?: boolean; firstSeq?: number; window?: number; now?: () => number };
  atLeastOnce?: boolean;
  link?: LinkMonitor;
  linkPollInterval?: number;
  maxBuffered?: number;
}

export type ClientState = 'idle' | 'connecting' | 'open' | 'backoff' | 'waiting-link' | 'stopped';

export interface DeviceLastClose {
  code: number;
  reason: string;
  cause: string;
  wasClean: boolean;
  errorId: string | null;
  at: number;
}

export interface DeviceDecision {
  action: 'retry' | 'stop';
  class: string;
  harder: number;
  delayMs?: number;
  reason: string;
  tripped?: boolean;
}

export interface DeviceDiagnostic {
  at: number;
  class: string;
  cause: string;
  code: number;
  id: string;
  detail: unknown;
  reason: string;
}

export interface DeviceStats {
  state: ClientState;
  attempts: number;
  connects: number;
  uptimeMs: number;
  totalUptimeMs: number;
  backoffMs: number;
  attempt: number;
  lastClose: DeviceLastClose | null;
  rttMs: number;
  queued: number;
  queuedBytes: number;
  inFlight: number;
  sent: number;
  acked: number;
  resent: number;
  dropped: number;
  droppedBy: { [reason: string]: number };
  closesByCause: { [cause: string]: number };
}

export type DeviceEvent =
  | { type: 'state'; state: ClientState }
  | { type: 'open'; attempt: number; protocol: string }
  | { type: 'close'; code: number; reason: string; cause: string; wasClean: boolean; errorId: string | null; decision: DeviceDecision | null }
  | { type: 'reconnect-scheduled'; delayMs: number; attempt: number; class: string }
  | { type: 'sent'; seq: number; resend: boolean }
  | { type: 'acked'; seq: number; count: number }
  | { type: 'dropped'; reason: string }
  | { type: 'message'; data: string | Uint8Array }
  | { type: 'stopped'; reason: string };

type Msg = string | Uint8Array;

// Connection states (src/protocol/ready-state.ts).
const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');
const encode = (s: string): Uint8Array => encoder.encode(s);
const decode = (b: Uint8Array, start: number, end: number): string => decoder.decode(start === 0 && end === b.length ? b : b.subarray(start, end));
const core = createJsCore();

// The handshake's patterns (src/handshake/client-handshake.ts).
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SENDABLE_VALUE = /^[\t -~]*$/;
const RECEIVED_LINE = /^[\t -~\x80-\xff]*$/;
const OWN_HEADERS = /^(?:host|upgrade|connection|sec-websocket-(?:key|version|protocol|extensions))$/i;

/** Cancels a Kaluma timer (clearTimeout(undefined) throws there); returns undefined for the field. */
function off(h: unknown): undefined {
  if (h !== undefined) clearTimeout(h as number);
  return undefined;
}

function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

function badOption(): PicowsError {
  return new PicowsError('INVALID_HANDSHAKE_OPTIONS');
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function copyInto(dst: Uint8Array, at: number, src: Uint8Array, start: number, end: number): void {
  dst.set(src.subarray(start, end), at);
}

/** Up to 8 bytes either side of chunk[offset], hex, the offending byte in brackets (src/protocol/protocol.ts). */
function hexAround(chunk: Uint8Array, offset: number): string {
  let text = '';
  const end = Math.min(chunk.length, offset + 9);
  for (let i = Math.max(0, offset - 8); i < end; i++) {
    const hex = (chunk[i] < 16 ? '0' : '') + chunk[i].toString(16);
    text += (text ? ' ' : '') + (i === offset ? '[' + hex + ']' : hex);
  }
  return text;
}

/** The default policy table (src/resilience/policy.ts classify()). */
function classify(cause: string, code: number, id: string, status: number): string {
  switch (cause) {
    case 'local-close':
      return 'user';
    case 'handshake-failed':
      return 'broken-peer';
    case 'handshake-rejected':
      if (status === 401 || status === 403 || status === 407) return 'rejected';
      return status === 429 || status >= 500 ? 'try-later' : 'broken-peer';
    case 'protocol-error':
      return code === 1002 || code === 1007 || code === 1009 ? 'broken-peer' : 'transient';
    case 'peer-closed':
      if (code === 1013) return 'try-later';
      if (code === 1008 || code === 3000 || code === 3003) return 'rejected';
      if (code === 1002 || code === 1003 || (code >= 1007 && code <= 1010)) return 'broken-peer';
      return code === 1001 || code === 1011 || code === 1012 || code === 1014 || code === 3008 ? 'transient' : 'server-normal';
    default:
      return id === 'INVALID_URL' || id === 'TLS_UNAVAILABLE' ? 'rejected' : 'transient';
  }
}

export class DeviceClient {
  state: ClientState = 'idle';
  /** This boot's session id (at-least-once mode). */
  readonly sid: string;
  onevent: ((ev: DeviceEvent) => void) | null = null;

  // ---- the client (resilient-client.ts) ----
  private timer: unknown;
  private linkTimer: unknown;
  private flushTimer: unknown;
  private openedAt = -1;
  private totalUptime = 0;
  private attemptsMade = 0;
  private opens = 0;
  private lastEnding: DeviceLastClose | null = null;
  private readonly closeCounts: { [cause: string]: number } = {};
  private userStopped = false;
  private lastRtt = -1;
  /** Messages lost, per reason (the outbox's and send()'s refusals together, as stats.droppedBy shows them). */
  private readonly drops: { [reason: string]: number } = { 'too-big': 0, full: 0, evicted: 0, coalesced: 0, expired: 0, session: 0 };
  /** The current connection's number; 0 when there is none. */
  private ws = 0;
  private gen = 0;

  // ---- the outbox (outbox.ts, device profile): [message, size, seq] per entry, oldest first ----
  private readonly q: (Msg | number)[] = [];
  private qBytes = 0;
  private inFlight = 0;
  private seq = 0;
  private nextSeq: number;
  private readonly maxCount: number;
  private readonly maxBytes: number;
  private readonly acking: boolean;
  private readonly windowSize: number;
  private sent = 0;
  private acked = 0;
  private resent = 0;

  // ---- the backoff (backoff.ts) ----
  private attempt = 0;
  private delay = -1;
  private frozen = false;
  private afterDrop = false;
  private thawed = false;

  // ---- the policy (policy.ts) ----
  private brokenInRow = 0;
  private readonly ring: (DeviceDiagnostic | undefined)[];
  private written = 0;

  // ---- the connection (connection.ts, board/kaluma/transport.ts) ----
  private rs = CLOSED;
  private sock: KalumaSocket | null = null;
  private ctimer: unknown;
  private target!: WsUrl;
  private key = '';
  private request = '';
  private head: Uint8Array | null = null;
  private headLength = 0;
  private crlf = 0;
  private requestAt = 0;
  private protocol = '';
  private cur: Uint8Array | null = null;
  private off = 0;
  private left = -1;
  private endPending = false;
  private settling = false;
  private closeCause: CloseCause = 'peer-closed';

  // ---- the protocol (protocol.ts) ----
  private proto = false;
  private ps = OPEN;
  private validator: FrameValidator | null = null;
  private received = 0;
  private msgOpcode = 0;
  private msgBuf = EMPTY;
  private msgLength = 0;
  private ctlBuf = EMPTY;
  private ctlLength = 0;
  private out: (Uint8Array | number)[] = [];
  private controls = 0;
  private dataSent = 0;
  private queued = 0;
  private closeCode = 0;
  private closeReason = '';
  private wasClean = false;
  private failure: PicowsError | null = null;

  // ---- liveness (liveness.ts) ----
  private srtt = -1;
  private lastRx = 0;
  private pingAt = -1;
  private pingSeq = 0;
  private readonly pingBuf = new Uint8Array(4);
  private ltimer: unknown;
  private running = false;

  constructor(readonly url: string, private readonly rt: DeviceRuntime, private readonly o: DeviceOptions = {}) {
    const p = o.policy || {};
    if (p.overrides || p.classes || p.decide) throw new PicowsError('NOT_ON_DEVICE', { option: 'policy' });
    this.ring = new Array(or(p.diagnostics, 8));
    const b = o.outbox || {};
    this.maxCount = b.maxCount || 32;
    this.maxBytes = or(b.maxBytes, 4096);
    this.acking = !!or(b.acks, o.atLeastOnce);
    this.windowSize = b.window || this.maxCount;
    this.nextSeq = b.firstSeq || 1;
    if (b.overflow === 'drop-newest') throw new PicowsError('NOT_ON_DEVICE', { option: 'overflow' });
    this.sid = newSid(() => this.random());
  }

  start(): void {
    if (this.state !== 'idle' && this.state !== 'stopped') return;
    this.userStopped = false;
    this.state = 'idle';
    if (this.o.link) this.pollLink();
    this.connect();
  }

  stop(code = 1000, reason = ''): void {
    this.userStopped = true;
    this.timer = off(this.timer);
    this.linkTimer = off(this.linkTimer);
    if (this.ws && this.rs <= OPEN) this.close(code, reason);
    else if (!this.ws) this.setStopped('stopped by the application');
  }

  send(data: Msg | ArrayBuffer, options?: { key?: string; ttlMs?: number; overflow?: string; session?: boolean }): string {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      if (!(data instanceof ArrayBuffer)) throw new TypeError('send()');
      data = new Uint8Array(data);
    }
    let n: number;
    if (typeof data !== 'string') n = data.byteLength;
    else {
      n = data.length;
      for (let i = 0; i < data.length; i++) {
        const c = data.charCodeAt(i);
        if (c >= 0x80) n += c < 0x800 ? 1 : (c & 0xfc00) === 0xdc00 && (data.charCodeAt(i - 1) & 0xfc00) === 0xd800 ? 0 : 2;
      }
      if (this.o.atLeastOnce) n += 42 + this.sid.length;
    }
    const size = typeof data === 'string' ? data.length : data.byteLength;
    if (n > or(this.o.maxMessage, DEFAULT_MAX_MESSAGE) || size > this.maxBytes) {
      this.drops['too-big']++;
      this.emit({ type: 'dropped', reason: 'too-big' });
      return 'too-big';
    }
    const op = options;
    if (op && (op.key != null || op.ttlMs !== undefined || op.session || op.overflow === 'drop-newest')) throw new PicowsError('NOT_ON_DEVICE', { option: 'push' });
    // Drop-oldest: evict from the front until it fits; each eviction is reported after the push.
    let evicted = 0;
    while (this.q.length >= 3 * this.maxCount || this.qBytes + size > this.maxBytes) {
      this.shift();
      this.drops.evicted++;
      evicted++;
    }
    this.q.push(data, size, 0);
    this.qBytes += size;
    while (evicted--) this.emit({ type: 'dropped', reason: 'evicted' });
    if (this.state === 'open') this.flushIn(0);
    return 'queued';
  }

  get stats(): DeviceStats {
    const droppedBy: { [reason: string]: number } = {};
    let dropped = 0;
    for (const k in this.drops) dropped += droppedBy[k] = this.drops[k];
    const up = this.openedAt >= 0 ? millis() - this.openedAt : 0;
    return {
      state: this.state,
      attempts: this.attemptsMade,
      connects: this.opens,
      uptimeMs: up,
      totalUptimeMs: this.totalUptime + up,
      backoffMs: this.delay,
      attempt: this.attempt,
      lastClose: this.lastEnding,
      rttMs: this.srtt >= 0 ? Math.round(this.srtt) : this.lastRtt,
      queued: this.q.length / 3,
      queuedBytes: this.qBytes,
      inFlight: this.inFlight,
      sent: this.sent,
      acked: this.acked,
      resent: this.resent,
      dropped,
      droppedBy,
      closesByCause: this.closeCounts,
    };
  }

  /** The policy's diagnostics, oldest first. */
  diagnostics(): DeviceDiagnostic[] {
    const out: DeviceDiagnostic[] = [];
    const n = this.ring.length;
    for (let i = Math.max(0, this.written - n); i < this.written; i++) out.push(this.ring[i % n] as DeviceDiagnostic);
    return out;
  }

  private random(): number {
    return this.rt.random32() / 4294967296;
  }

  // ---- connecting (resilient-client.ts connect(), Connection's constructor) ----

  private connect(): void {
    this.timer = off(this.timer);
    if (this.frozen) {
      this.setState('waiting-link');
      return;
    }
    this.attemptsMade++;
    this.setState('connecting');
    if (this.userStopped) return;
    const o = this.o;
    this.srtt = -1;
    this.pingSeq = 0;
    try {
      this.target = parseWsUrl(this.url, { tls: false });
      const k = new Uint8Array(16);
      for (let i = 0; i < 16; i += 4) putUint32(k, i, this.rt.random32());
      this.request = this.requestHead(base64Encode(k));
    } catch (e) {
      const err = e instanceof PicowsError ? e : new PicowsError('INTERNAL_ERROR', { message: String(e) });
      this.onClose('transport-error', err.closeCode === 1015 ? 1015 : 1006, '', false, err);
      return;
    }
    this.ws = ++this.gen;
    this.rs = CONNECTING;
    this.proto = false;
    this.protocol = '';
    this.cur = null;
    this.left = -1;
    this.endPending = this.settling = false;
    this.closeCause = 'peer-closed';
    this.headLength = this.crlf = 0;
    this.head = new Uint8Array(or(o.maxHeadBytes, 4096));
    this.arm(0, () => this.startConnect());
  }

  /** The upgrade request (client-handshake.ts constructor); throws INVALID_HANDSHAKE_OPTIONS. */
  private requestHead(key: string): string {
    const o = this.o;
    const p = o.protocols;
    const protocols = typeof p === 'string' ? [p] : p || [];
    const extra = o.headers || {};
    const max = or(o.maxHeadBytes, 4096);
    if (!(max >= 1 && max % 1 === 0)) throw badOption();
    this.key = key;
    let head = 'GET ' + this.target.path + ' HTTP/1.1\r\nHost: ' + this.target.hostHeader + '\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ' + key + '\r\nSec-WebSocket-Version: 13\r\n';
    for (let i = 0; i < protocols.length; i++) {
      const x = protocols[i];
      if (typeof x !== 'string' || !TOKEN.test(x) || protocols.indexOf(x) !== i) throw badOption();
    }
    if (protocols.length) head += 'Sec-WebSocket-Protocol: ' + protocols.join(', ') + '\r\n';
    for (const name of Object.keys(extra)) {
      const v = extra[name];
      if (!TOKEN.test(name) || OWN_HEADERS.test(name) || typeof v !== 'string' || !SENDABLE_VALUE.test(v)) throw badOption();
      head += name + ': ' + v + '\r\n';
    }
    return head + '\r\n';
  }

  private startConnect(): void {
    if (this.rs !== CONNECTING) return;
    this.arm(or(this.o.connectTimeout, 10000), () => this.abort('CONNECT_TIMEOUT'));
    try {
      const s = (this.sock = new this.rt.net.Socket());
      let opened = false;
      let closed = false;
      s.on('connect', () => {
        if (opened) return;
        opened = true;
        if (this.sock === s) this.onOpen();
      });
      s.on('data', (chunk) => {
        if (this.sock === s) this.onData(chunk);
      });
      s.on('close', () => {
        if (closed) return;
        closed = true;
        if (this.sock === s) this.onSocketClose();
      });
      s.on('error', (err) => {
        if (this.sock === s) this.onSocketError(err);
      });
      s.connect({ host: this.target.host, port: this.target.port });
    } catch (e) {
      this.abort('CONNECT_FAILED', { message: messageOf(e) });
    }
  }

  // ---- the socket's events (connection.ts) ----

  private onOpen(): void {
    if (this.rs !== CONNECTING) return;
    this.arm(or(this.o.handshakeTimeout, 10000), () => this.abort('HANDSHAKE_TIMEOUT'));
    this.requestAt = millis();
    this.cur = latin1(this.request);
    this.off = 0;
    this.pump();
  }

  private onData(chunk: Uint8Array): void {
    this.lastRx = millis();
    if (this.proto) return this.receive(chunk);
    const head = this.head as Uint8Array;
    // The response head, strict CRLF (client-handshake.ts receive()).
    let n = this.headLength;
    let state = this.crlf;
    let err: PicowsError | null = null;
    let i = 0;
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (n === head.length) {
        err = new PicowsError('HANDSHAKE_TOO_LARGE', { limit: n });
        break;
      }
      head[n++] = b;
      if ((b === 10) !== ((state & 1) === 1)) {
        err = new PicowsError('HANDSHAKE_BAD_RESPONSE', { offset: n - 1, reason: b === 10 ? 'LF without CR' : 'CR not followed by LF' });
        break;
      }
      if (b === 10) {
        if (state === 3) {
          try {
            this.protocol = this.verify(head, n);
          } catch (e) {
            err = e instanceof PicowsError ? e : new PicowsError('INTERNAL_ERROR', { cause: e });
          }
          break;
        }
        state = 2;
      } else state = b === 13 ? state + 1 : 0;
    }
    if (i >= chunk.length) {
      this.headLength = n;
      this.crlf = state;
      return;
    }
    this.head = null;
    if (err) return this.finish(causeOfError(err.id), err);
    const handshakeRtt = millis() - this.requestAt;
    // The protocol starts (protocol.ts constructor).
    const o = this.o;
    this.validator = core.createValidator(or(o.maxMessage, DEFAULT_MAX_MESSAGE), o.validatorFlags || 0);
    this.proto = true;
    this.ps = OPEN;
    this.received = this.msgOpcode = this.msgLength = this.controls = this.dataSent = this.queued = this.closeCode = 0;
    this.msgBuf = this.ctlBuf = EMPTY;
    this.out = [];
    this.closeReason = '';
    this.wasClean = false;
    this.failure = null;
    this.disarm();
    this.rs = OPEN;
    // Open (resilient-client.ts): count it, start the uptime clock and the liveness watch, send what waits.
    this.opens++;
    this.openedAt = millis();
    this.afterDrop = false;
    this.addRtt(handshakeRtt);
    const interval = or(o.pingInterval, 5000);
    if (interval > 0) {
      this.running = true;
      this.lastRx = millis();
      this.pingAt = -1;
      this.liveIn(interval);
    }
    this.setState('open');
    this.emit({ type: 'open', attempt: this.attemptsMade, protocol: this.protocol });
    this.flush();
    if (i + 1 < chunk.length && this.rs !== CLOSED) this.receive(chunk.subarray(i + 1));
  }

  /** Checks the response head[0, end) (client-handshake.ts verify()); returns the subprotocol or throws. */
  private verify(head: Uint8Array, end: number): string {
    const headers: { [name: string]: string } = Object.create(null);
    let status: RegExpExecArray | null = null;
    let badLine: string | null = null;
    let last = '';
    let lineStart = 0;
    for (let i = 0; i < end - 2; i++) {
      if (head[i] !== 13) continue;
      const line = String.fromCharCode.apply(null, head.subarray(lineStart, i) as unknown as number[]);
      const first = lineStart === 0;
      lineStart = i + 2;
      let ok = RECEIVED_LINE.test(line);
      if (first) {
        status = ok ? /^HTTP\/1\.[01] ([1-5]\d\d)(?: (.*))?$/.exec(line) : null;
        ok = status !== null;
      } else if (ok && (line[0] === ' ' || line[0] === '\t')) {
        ok = last !== '';
        if (ok) headers[last] = trimOws(headers[last] + ' ' + trimOws(line));
      } else if (ok) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon < 0 ? 0 : colon).toLowerCase();
        ok = TOKEN.test(name);
        if (ok) {
          const value = trimOws(line.slice(colon + 1));
          headers[name] = name in headers ? headers[name] + ', ' + value : value;
          last = name;
        }
      }
      if (!ok && badLine === null) badLine = line;
    }
    if (status && status[1] !== '101') {
      const after = headers['retry-after'];
      throw new PicowsError('HANDSHAKE_STATUS', { status: +status[1], reason: status[2] || '', retryAfter: /^\d+$/.test(after) ? +after : undefined, headers });
    }
    if (badLine !== null) throw new PicowsError('HANDSHAKE_BAD_RESPONSE', { line: badLine });
    const upgrade = headers.upgrade;
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') throw new PicowsError('HANDSHAKE_UPGRADE', { upgrade });
    const connection = headers.connection;
    if (!/(^|,)[ \t]*upgrade[ \t]*(,|$)/i.test(connection || '')) throw new PicowsError('HANDSHAKE_CONNECTION', { connection });
    const accept = headers['sec-websocket-accept'];
    if (accept !== base64Encode(sha1(latin1(this.key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')))) throw new PicowsError('HANDSHAKE_ACCEPT', { accept });
    const extensions = headers['sec-websocket-extensions'];
    if (extensions !== undefined) throw new PicowsError('HANDSHAKE_EXTENSION', { extensions });
    const protocol = headers['sec-websocket-protocol'];
    const p = this.o.protocols;
    const offered = typeof p === 'string' ? [p] : p || [];
    if (protocol !== undefined && offered.indexOf(protocol) < 0) throw new PicowsError('HANDSHAKE_SUBPROTOCOL', { protocol, offered });
    return protocol || '';
  }

  private onSocketClose(): void {
    if (!this.proto) return this.abort('CONNECTION_LOST');
    // TCP ended (protocol.ts receiveEof()).
    if (this.ps !== CLOSED) {
      this.fail('CONNECTION_LOST');
      this.ps = CLOSED;
      this.dropOutgoing();
    }
    this.fromProtocol();
  }

  private onSocketError(err: unknown): void {
    if (this.proto && (this.failure || this.wasClean)) return this.fromProtocol();
    this.abort(this.proto ? 'TRANSPORT_ERROR' : 'CONNECT_FAILED', { message: messageOf(err) });
  }

  /** Feeds the protocol, writes what it queued, and ends TCP when it says so (connection.ts receive()). */
  private receive(chunk: Uint8Array): void {
    this.receiveData(chunk);
    this.pump();
    if ((this.ps === CLOSED || this.failure) && !this.settling) {
      this.settling = true;
      if (this.rs === OPEN) this.rs = CLOSING;
      this.arm(or(this.o.closeTimeout, 2000), () => this.fromProtocol());
      if (this.failure) {
        this.endPending = true;
        this.pump();
      }
    }
  }

  private fromProtocol(): void {
    const err = this.failure;
    this.finish(err ? causeOfError(err.id) : this.closeCause, err, this.closeCode, this.closeReason, this.wasClean);
  }

  private abort(id: string, detail?: { [key: string]: unknown }): void {
    this.finish(causeOfError(id), new PicowsError(id, detail));
  }

  /** The one way out of a connection (connection.ts finish()). */
  private finish(cause: CloseCause, err: PicowsError | null, code = 1006, reason = '', wasClean = false): void {
    if (this.rs === CLOSED) return;
    this.disarm();
    this.dropSocket();
    this.rs = CLOSED;
    this.head = null;
    this.dispose();
    this.onClose(cause, code, reason, wasClean, err);
  }

  /** close() on the connection (connection.ts close(), protocol.ts sendClose()); throws INVALID_CLOSE_ARGS. */
  private close(code: number, reason: string): void {
    const bytes = closeReasonBytes(code, reason, false, encode);
    this.rs = CLOSING;
    if (!this.proto) {
      // Closing while connecting: the socket goes now, the close (1006, local-close) on a later turn.
      this.dropSocket();
      this.arm(0, () => this.finish('local-close', null));
      return;
    }
    this.closeCause = 'local-close';
    if (this.ps === OPEN) {
      this.queueFrame(8, encodeClosePayload(code, bytes));
      this.ps = CLOSING;
    }
    this.pump();
    this.arm(or(this.o.closeTimeout, 2000), () => this.abort('CLOSE_TIMEOUT'));
  }

  /** Never written again, every reference dropped; destroyed on a later turn (inside its own callback it has crashed Kaluma). */
  private dropSocket(): void {
    const s = this.sock;
    this.sock = null;
    this.cur = null;
    if (s) {
      try {
        s.removeAllListeners();
        setTimeout(() => {
          try {
            s.destroy();
          } catch (e) {
            // already gone
          }
        }, 0);
      } catch (e) {
        // a dead socket
      }
    }
  }

  // ---- writing, paced: at most 512 bytes handed to Kaluma per flush of its stream ----

  private pump(): void {
    const s = this.sock;
    if (!s) return;
    let opening = false;
    while (this.left) {
      let f = this.cur;
      if (!f) {
        f = this.cur = this.nextOutgoing();
        this.off = 0;
        if (!f) break;
      }
      if (this.left < 0) {
        this.left = 512;
        opening = true;
      }
      const n = Math.min(this.left, f.length - this.off);
      s.write(String.fromCharCode.apply(null, f.subarray(this.off, (this.off += n)) as unknown as number[]));
      this.left -= n;
      if (this.off >= f.length) this.cur = null;
    }
    // Armed after the first write: Kaluma's own flush timer (set by that write) runs first.
    if (opening)
      setTimeout(() => {
        if (this.sock !== s) return;
        this.left = -1;
        this.pump();
      }, 0);
    if (this.endPending && !this.cur && !this.out.length) {
      this.endPending = false;
      try {
        s.end();
      } catch (e) {
        // already gone
      }
    }
  }

  // ---- the protocol, incoming (protocol.ts) ----

  private receiveData(chunk: Uint8Array): void {
    const v = this.validator;
    if (!v) return;
    try {
      let from = 0;
      for (;;) {
        const count = v.scan(chunk, from);
        const ev = v.events;
        for (let i = 0; i < count * RECORD_SLOTS; i += RECORD_SLOTS) {
          if (ev[i] === EV_DATA) this.record(chunk, ev[i + 1], ev[i + 2], ev[i + 3]);
          else this.fail(coreErrorName(ev[i + 1]), { offset: this.received + ev[i + 3], bytes: hexAround(chunk, ev[i + 3]) });
          if (!this.validator) return;
        }
        if (v.pos >= chunk.length) return;
        if (!count) throw new Error('core stalled');
        from = v.pos;
      }
    } catch (e) {
      this.fail('INTERNAL_ERROR', { cause: String(e) });
      throw e;
    } finally {
      this.received += chunk.length;
    }
  }

  private record(chunk: Uint8Array, flags: number, start: number, length: number): void {
    const opcode = flags & 15;
    const complete = (flags & FLAG_FIN) !== 0 && (flags & FLAG_LAST) !== 0;
    let end = start + length;
    if (opcode >= 8) {
      let bytes = chunk;
      if ((flags & (FLAG_FIRST | FLAG_LAST)) !== (FLAG_FIRST | FLAG_LAST)) {
        if (flags & FLAG_FIRST) {
          this.ctlLength = 0;
          if (this.ctlBuf === EMPTY) this.ctlBuf = new Uint8Array(125);
        }
        copyInto(this.ctlBuf, this.ctlLength, chunk, start, end);
        this.ctlLength += length;
        if (!(flags & FLAG_LAST)) return;
        bytes = this.ctlBuf;
        start = 0;
        end = this.ctlLength;
      }
      if (opcode === 8) return this.receiveClose(bytes, start, end);
      const payload = bytes.subarray(start, end);
      if (opcode === 9) this.sendControl(10, payload);
      else this.pong(payload);
      return;
    }
    if (opcode !== 0 && flags & FLAG_FIRST) {
      this.msgOpcode = opcode;
      this.msgLength = 0;
    }
    if (complete && this.msgLength === 0) return this.deliver(chunk, start, end);
    const total = this.msgLength + length;
    if (total > this.msgBuf.length) {
      let size = this.msgBuf.length * 2;
      const limit = or(this.o.maxMessage, DEFAULT_MAX_MESSAGE);
      if (size < 256) size = 256;
      if (size > limit) size = limit;
      if (size < total) size = total;
      const grown = new Uint8Array(size);
      copyInto(grown, 0, this.msgBuf, 0, this.msgLength);
      this.msgBuf = grown;
    }
    copyInto(this.msgBuf, this.msgLength, chunk, start, end);
    this.msgLength = total;
    if (complete) this.deliver(this.msgBuf, 0, total);
  }

  private deliver(bytes: Uint8Array, start: number, end: number): void {
    const opcode = this.msgOpcode;
    this.msgOpcode = this.msgLength = 0;
    if (this.rs !== OPEN) return;
    if (opcode !== 1) return this.emit({ type: 'message', data: bytes.slice(start, end) });
    const data = decode(bytes, start, end);
    // At-least-once: an ack releases what it covers and makes room to send more.
    const n = this.o.atLeastOnce ? parseAck(data) : -1;
    if (n < 0) return this.emit({ type: 'message', data });
    let released = 0;
    for (const q = this.q; q.length && q[2] && (q[2] as number) <= n; released++) this.shift();
    this.acked += released;
    if (released > 0) this.emit({ type: 'acked', seq: n, count: released });
    this.flush();
  }

  private receiveClose(bytes: Uint8Array, start: number, end: number): void {
    const code = parseCloseCode(bytes, start, end);
    if (code < 0) return this.fail('INVALID_CLOSE_CODE', { offset: this.received });
    const reason = end - start > 2 ? decode(bytes, start + 2, end) : '';
    this.dispose();
    if (this.ps === OPEN) {
      this.dropOutgoing();
      this.queueFrame(8, encodeClosePayload(code, null));
    }
    this.ps = CLOSED;
    this.closeCode = code;
    this.closeReason = reason;
    this.wasClean = true;
  }

  private dispose(): void {
    this.msgBuf = EMPTY;
    if (this.validator) {
      this.validator.dispose();
      this.validator = null;
    }
  }

  /** Fail the WebSocket Connection (protocol.ts fail()): the first outcome wins. */
  private fail(id: string, detail?: { [key: string]: unknown }): void {
    if (this.ps === CLOSED || this.failure) return;
    const failure = new PicowsError(id, detail);
    this.dispose();
    this.dropOutgoing();
    if (this.ps === OPEN && isSendableCloseCode(failure.closeCode)) this.queueFrame(8, encodeClosePayload(failure.closeCode, id.length <= 123 ? encode(id) : null));
    this.ps = CLOSING;
    this.closeCode = failure.closeCode;
    this.failure = failure;
  }

  // ---- the protocol, outgoing: control frames first, then data, our Close last ----

  private nextOutgoing(): Uint8Array | null {
    const q = this.out;
    if (!this.proto || !q.length) return null;
    const head = q[0];
    let frame: Uint8Array;
    if (typeof head === 'number') {
      const message = q[1] as Uint8Array;
      const start = this.dataSent;
      const end = Math.min(start + (this.o.fragmentSize || 504), message.length);
      const last = end === message.length;
      this.dataSent = last ? 0 : end;
      frame = buildMaskedFrame((last ? 0x80 : 0) | (start === 0 ? head : 0), message, start, end, this.rt.random32(), core);
      if (last) q.splice(0, 2);
    } else {
      frame = head;
      q.shift();
      if (this.controls > 0) this.controls--;
    }
    this.queued -= frame.length;
    return frame;
  }

  private sendControl(opcode: number, payload: Uint8Array): void {
    if (this.ps === OPEN) this.queueFrame(opcode, payload, this.controls++);
  }

  private queueFrame(opcode: number, payload: Uint8Array, at = this.out.length): void {
    const frame = buildMaskedFrame(0x80 | opcode, payload, 0, payload.length, this.rt.random32(), core);
    this.out.splice(at, 0, frame);
    this.queued += frame.length;
  }

  private dropOutgoing(): void {
    const keep = this.ps === CLOSING && this.out.length > 0 ? 1 : 0;
    this.out.splice(0, this.out.length - keep);
    this.controls = this.dataSent = 0;
    this.queued = keep ? (this.out[0] as Uint8Array).length : 0;
  }

  // ---- liveness (liveness.ts) ----

  private deadline(): number {
    const max = or(this.o.pongTimeout, 5000);
    return this.srtt < 0 ? max : Math.max(Math.min(or(this.o.pongTimeoutFloor, 2000), max), Math.min(max, Math.ceil(4 * this.srtt)));
  }

  private addRtt(ms: number): void {
    this.srtt = this.srtt < 0 ? ms : 0.875 * this.srtt + 0.125 * ms;
  }

  private pong(p: Uint8Array): void {
    this.lastRx = millis();
    if (this.pingAt < 0 || p.length !== 4 || ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0 !== this.pingSeq) return;
    this.addRtt(this.lastRx - this.pingAt);
    this.pingAt = -1;
    if (this.running) this.liveIn(or(this.o.pingInterval, 5000));
  }

  /** Runs tick() in `ms` (at least 1) instead of any earlier plan; without `ms`, only cancels. */
  private liveIn(ms?: number): void {
    this.ltimer = off(this.ltimer);
    if (ms !== undefined)
      this.ltimer = setTimeout(() => {
        this.ltimer = undefined;
        this.tick();
      }, Math.max(1, ms));
  }

  private tick(): void {
    if (!this.running) return;
    const interval = or(this.o.pingInterval, 5000);
    const now = millis();
    const silent = now - this.lastRx;
    if (this.pingAt >= 0) {
      const since = now - Math.max(this.pingAt, this.lastRx);
      if (since >= this.deadline()) {
        this.running = false;
        return this.abort('PONG_TIMEOUT', { silentMs: silent });
      }
      if (silent < interval) this.pingAt = -1;
      else return this.liveIn(this.deadline() - since);
    }
    if (silent >= interval) {
      this.pingSeq = (this.pingSeq + 1) >>> 0;
      putUint32(this.pingBuf, 0, this.pingSeq);
      this.pingAt = now;
      if (this.rs === OPEN) {
        this.sendControl(9, this.pingBuf);
        this.pump();
      }
      this.liveIn(this.deadline());
    } else this.liveIn(interval - silent);
  }

  // ---- endings (resilient-client.ts onClose(), policy.ts, backoff.ts) ----

  private onClose(cause: CloseCause, code: number, reason: string, wasClean: boolean, error: PicowsError | null): void {
    this.ws = 0;
    this.running = false;
    this.liveIn();
    if (this.srtt >= 0) this.lastRtt = Math.round(this.srtt);
    this.flushTimer = off(this.flushTimer);
    this.inFlight = 0;
    const now = millis();
    if (this.openedAt >= 0) {
      this.totalUptime += now - this.openedAt;
      // Stable (open ≥ minUptime): the backoff and the breaker start over, and the fleet window opens.
      if (now - this.openedAt >= or((this.o.backoff || {}).minUptimeMs, 5000)) {
        this.attempt = this.brokenInRow = 0;
        this.thawed = false;
        this.afterDrop = !this.frozen;
      }
      this.openedAt = -1;
    }
    const errorId = error ? error.id : null;
    this.lastEnding = { code, reason, cause, wasClean, errorId, at: now };
    this.closeCounts[cause] = (this.closeCounts[cause] || 0) + 1;
    const decision = cause === 'wifi-lost' && !this.userStopped ? null : this.decide(this.userStopped ? 'local-close' : cause, code, error);
    const stoppedBefore = this.userStopped;
    this.emit({ type: 'close', code, reason, cause, wasClean, errorId, decision });
    if (this.userStopped && !stoppedBefore) return;
    if (!decision) {
      this.frozen = true;
      this.setState('waiting-link');
    } else if (decision.action === 'stop') this.setStopped(decision.reason);
    else this.scheduleReconnect(decision.class, decision.harder, decision.delayMs);
  }

  /** The default policy, the breaker and the diagnostics ring (policy.ts decide()). */
  private decide(cause: string, code: number, error: PicowsError | null): DeviceDecision {
    const p = this.o.policy || {};
    const id = error ? error.id : '';
    const detail = error ? error.detail : undefined;
    const status = detail && typeof detail.status === 'number' ? detail.status : 0;
    const c = classify(cause, code, id, status);
    let d: DeviceDecision = {
      action: c === 'rejected' || c === 'user' ? 'stop' : 'retry',
      class: c,
      harder: c === 'try-later' ? 4 : c === 'broken-peer' || c === 'rejected' ? 16 : 1,
      reason: cause + (status ? ' http ' + status : ' ' + code) + (id ? ' ' + id : ''),
    };
    const ra = detail ? detail.retryAfter : undefined;
    if (typeof ra === 'number' && ra >= 0) d.delayMs = Math.min(ra * 1000, or(p.maxRetryAfterMs, 3600000));
    if (c === 'broken-peer' && ++this.brokenInRow >= or(p.breakerAfter, 5)) {
      d = { action: 'stop', class: c, harder: d.harder, reason: d.reason + ': circuit breaker, ' + this.brokenInRow + ' in a row', tripped: true };
    }
    const n = this.ring.length;
    if (n && (c === 'broken-peer' || c === 'rejected')) this.ring[this.written++ % n] = { at: (p.now || millis)(), class: c, cause, code, id, detail, reason: d.reason };
    return d;
  }

  /** Backs off (backoff.ts next(): full jitter after the cap) and connects again. */
  private scheduleReconnect(cls: string, harder = 1, notBeforeMs = 0): void {
    const b = this.o.backoff || {};
    if (this.frozen || this.attempt >= or(b.maxRetries, Infinity)) {
      if (this.frozen) this.setState('waiting-link');
      else this.setStopped('retry budget spent');
      return;
    }
    const cap = or(b.capMs, 30000);
    let ceiling = or(b.baseMs, 1000);
    if (this.thawed) this.thawed = false;
    else ceiling = Math.max(this.afterDrop ? Math.min(or(b.dropWindowMs, 5000), cap) : 0, harder * Math.min(cap, ceiling * Math.pow(or(b.factor, 2), Math.min(this.attempt++, 64))));
    const floor = Math.min(or(b.minDelayMs, 100), ceiling);
    const wait = (this.delay = Math.floor(notBeforeMs + floor + this.random() * (ceiling - floor)));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, wait);
    this.setState('backoff');
    this.emit({ type: 'reconnect-scheduled', delayMs: wait, attempt: this.attempt, class: cls });
  }

  private setStopped(reason: string): void {
    this.timer = off(this.timer);
    this.linkTimer = off(this.linkTimer);
    this.setState('stopped');
    this.emit({ type: 'stopped', reason });
  }

  // ---- the Wi-Fi hook ----

  private pollLink(): void {
    const link = this.o.link;
    if (!link || this.state === 'stopped') return;
    this.linkTimer = setTimeout(() => {
      this.linkTimer = undefined;
      this.pollLink();
    }, this.o.linkPollInterval || 1000);
    link.isUp((up) => this.onLink(up));
  }

  private onLink(up: boolean): void {
    if (this.userStopped || this.state === 'stopped') return;
    if (!up) {
      this.frozen = true;
      if (this.ws) this.abort('WIFI_LOST');
      else if (this.state === 'backoff') {
        this.timer = off(this.timer);
        this.setState('waiting-link');
      }
      return;
    }
    if (this.state === 'waiting-link') {
      if (this.frozen) this.thawed = true;
      this.frozen = false;
      this.scheduleReconnect('transient');
    }
  }

  // ---- the outbox ----

  /** Removes the oldest message. */
  private shift(): void {
    this.qBytes -= this.q[1] as number;
    if (this.inFlight) this.inFlight--;
    this.q.splice(0, 3);
  }

  private flushIn(ms: number): void {
    if (this.flushTimer === undefined)
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flush();
      }, ms);
  }

  /** Hands queued messages to the socket while fewer than maxBuffered bytes wait there. */
  private flush(): void {
    const ws = this.ws;
    const q = this.q;
    const limit = this.o.maxBuffered || 1024;
    while (this.rs === OPEN && this.ws === ws && this.queued + (this.cur ? this.cur.length - this.off : 0) < limit) {
      const i = this.inFlight;
      if (i * 3 >= q.length || i >= this.windowSize) return;
      const m = q[3 * i] as Msg;
      let seq = 0;
      let resend = false;
      if (!this.acking) {
        this.sent++;
        this.shift();
      } else {
        if (q[3 * i + 2]) resend = !!++this.resent;
        else {
          q[3 * i + 2] = this.nextSeq++;
          this.sent++;
        }
        this.seq = q[3 * i + 2] as number;
        this.inFlight++;
      }
      // Text is wrapped with its seq in at-least-once mode; binary goes as it is, seq 0.
      const wrap = !!this.o.atLeastOnce && typeof m === 'string';
      if (wrap) seq = this.seq;
      const data = wrap ? dataFrame(seq, this.sid, m as string) : m;
      if (typeof data === 'string') this.queueMessage(1, encode(data));
      else this.queueMessage(2, data, true);
      this.pump();
      this.emit({ type: 'sent', seq, resend: wrap && resend });
    }
    if (this.rs === OPEN && this.ws === ws && q.length > 3 * this.inFlight) this.flushIn(10);
  }

  private queueMessage(opcode: number, bytes: Uint8Array, copy?: boolean): void {
    const size = this.o.fragmentSize || 504;
    const length = bytes.length;
    if (length <= size) return this.queueFrame(opcode, bytes);
    this.out.push(opcode, copy ? new Uint8Array(bytes) : bytes);
    const whole = Math.floor(length / size);
    const rest = length - whole * size;
    this.queued += length + whole * maskedHeaderSize(size) + (rest > 0 ? maskedHeaderSize(rest) : 0);
  }

  // ---- small things ----

  private setState(s: ClientState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit({ type: 'state', state: s });
  }

  private emit(ev: DeviceEvent): void {
    if (!this.onevent) return;
    try {
      this.onevent(ev);
    } catch (e) {
      console.error('picows: an event listener threw:', e);
    }
  }

  /** The connection's one deadline. */
  private arm(ms: number, fn: () => void): void {
    this.disarm();
    this.ctimer = setTimeout(() => {
      this.ctimer = undefined;
      fn();
    }, ms);
  }

  private disarm(): void {
    this.ctimer = off(this.ctimer);
  }
}
