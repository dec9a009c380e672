/**
 * The device's client, size first: the one the flashed bundle runs (firmware/app.ts).
 * It does what the layered stack does in the device build (ResilientClient, Connection,
 * Protocol, ClientHandshake, liveness, backoff, policy, outbox and KalumaTransport, with
 * PICOWS_DEVICE true), with the API the app uses of ResilientClient, but with no objects
 * or event objects between the layers: one closure, one set of variables, one timer
 * helper. 24 KiB for the whole bundle, where the layered stack needed 31.8 KB
 * (firmware/README.md, "Size"); the host keeps the layered stack.
 *
 * It is that stack's twin, as the JS core is the WebAssembly core's:
 * test/device-client-diff.test.ts runs the app over each (buildFirmware() and
 * buildFirmware({ client: 'layered' })) on the same emulated board against the same
 * scripted servers and requires the same console and the same bytes on the wire. So a
 * change to a rule here is a change there too. The incoming frames go through the JS
 * core (src/core/js-core.ts) exactly as src/protocol/protocol.ts uses it. Comments name
 * the layered file each part mirrors; the reasons behind each rule are written there.
 */
import type { KalumaSocket } from './kaluma';
import { putUint32 } from '../../src/bytes';
import { causeOfError, type CloseCause } from '../../src/client/close-cause';
import { coreErrorName } from '../../src/core/error-ids';
import { createJsCore } from '../../src/core/js-core';
import { DEFAULT_MAX_MESSAGE, EV_DATA, FLAG_FIN, FLAG_FIRST, FLAG_LAST, RECORD_SLOTS, type FrameValidator } from '../../src/core/types';
import { isSendableCloseCode, PicowsError } from '../../src/errors';
import { base64Encode } from '../../src/handshake/base64';
import { sha1 } from '../../src/handshake/sha1';
import { OWN_HEADERS, parseResponseHead, SENDABLE_VALUE, TOKEN } from '../../src/handshake/http-head';
import { parseWsUrl, type WsUrl } from '../../src/handshake/url';
import { orDefault as or } from '../../src/or-default';
import { closeReasonBytes, encodeClosePayload, parseCloseCode } from '../../src/protocol/close-payload';
import { hexAround } from '../../src/protocol/hex-around';
import { buildMaskedFrame, maskedHeaderSize } from '../../src/protocol/frame-writer';
import { dataFrame, newSid, parseAck } from '../../src/resilience/ack-protocol';
import { classify, type Decision, type Diagnostic } from '../../src/resilience/policy';
import type { PushOptions } from '../../src/resilience/outbox';
import type { ClientState, LastClose, ResilientEvent, ResilientOptions, ResilientStats } from '../../src/resilience/resilient-client';
import { abandonSocket } from './abandon-socket';
import type { DeviceRuntime } from './device-runtime';

declare const millis: () => number;

// The API's types are the layered stack's (ResilientClient's options, events and stats,
// the policy's decisions and diagnostics): one declaration for both clients.

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


function badOption(): PicowsError {
  return new PicowsError('INVALID_HANDSHAKE_OPTIONS');
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function copyInto(dst: Uint8Array, at: number, src: Uint8Array, start: number, end: number): void {
  dst.set(src.subarray(start, end), at);
}

/** The client: what firmware/app.ts uses of ResilientClient. */
export interface DeviceClient {
  readonly state: ClientState;
  /** This boot's session id (at-least-once mode). */
  readonly sid: string;
  onevent: ((ev: ResilientEvent) => void) | null;
  readonly stats: ResilientStats;
  start(): void;
  stop(code?: number, reason?: string): void;
  send(data: Msg | ArrayBuffer, options?: { key?: string; ttlMs?: number; overflow?: string; session?: boolean }): string;
  /** The policy's diagnostics, oldest first. */
  diagnostics(): Diagnostic[];
}

/**
 * A constructor in form (`new DeviceClient(url, runtime, options)`), a closure inside:
 * its state is in local variables, so the bundle has no `this.` (5 bytes) on each of
 * several hundred accesses.
 */
export const DeviceClient = function (url: string, rt: DeviceRuntime, o: ResilientOptions = {}): DeviceClient {
  let state: ClientState = 'idle';

  // ---- the client (resilient-client.ts) ----
  let timer: unknown;
  let linkTimer: unknown;
  let flushTimer: unknown;
  let openedAt = -1;
  let totalUptime = 0;
  let attemptsMade = 0;
  let opens = 0;
  let lastEnding: LastClose | null = null;
  let closeCounts: { [cause: string]: number } = {};
  let userStopped = false;
  let lastRtt = -1;
  /** Messages lost, per reason (the outbox's and send()'s refusals together, as stats.droppedBy shows them). */
  let drops: { [reason: string]: number } = { 'too-big': 0, full: 0, evicted: 0, coalesced: 0, expired: 0, session: 0 };
  /** The current connection's number; 0 when there is none. */
  let conn = 0;
  let gen = 0;

  // ---- the outbox (outbox.ts, device profile): [message, size, seq] per entry, oldest first ----
  let box: (Msg | number)[] = [];
  let qBytes = 0;
  let inFlight = 0;
  let lastSeq = 0;
  let nextSeq: number;
  let maxCount: number;
  let maxBytes: number;
  let acking: boolean;
  let windowSize: number;
  let sent = 0;
  let acked = 0;
  let resent = 0;

  // ---- the backoff (backoff.ts) ----
  let attempt = 0;
  let delay = -1;
  let frozen = false;
  let afterDrop = false;
  let thawed = false;

  // ---- the policy (policy.ts) ----
  let brokenInRow = 0;
  let ring: (Diagnostic | undefined)[];
  let written = 0;

  // ---- the connection (connection.ts, board/kaluma/transport.ts) ----
  // The ones without a value are set by connect() or onOpen() before anything reads them.
  let rs: number;
  let sock: KalumaSocket | null = null;
  let ctimer: unknown;
  let target!: WsUrl;
  let wsKey: string;
  let request: string;
  let hsBuf: Uint8Array | null;
  let headLength: number;
  let crlf: number;
  let requestAt = 0;
  let subproto: string;
  let cur: Uint8Array | null;
  let curAt: number;
  let left: number;
  let endPending: boolean;
  let settling: boolean;
  let closeCause: CloseCause;

  // ---- the protocol (protocol.ts) ----
  // The ones without a value are set when the protocol starts (onData(), the handshake's
  // end) before anything reads them; proto by connect().
  let proto: boolean;
  let ps: number;
  let validator: FrameValidator | null = null;
  let received: number;
  let msgOpcode: number;
  let msgBuf: Uint8Array;
  let msgLength: number;
  let ctlBuf: Uint8Array;
  let ctlLength = 0;
  let outq: (Uint8Array | number)[] = [];
  let controls: number;
  let dataSent: number;
  let queued: number;
  let closeCode: number;
  let closeReason: string;
  let clean: boolean;
  let failure: PicowsError | null;

  // ---- liveness (liveness.ts) ----
  // lastRx is set by onData() (on each chunk), pingSeq by connect(), before anything reads them.
  let srtt = -1;
  let lastRx: number;
  let pingAt = -1;
  let pingSeq: number;
  let pingBuf = new Uint8Array(4);
  let ltimer: unknown;
  let running = false;


  const p = o.policy || {};
  if (p.overrides || p.classes || p.decide) throw new PicowsError('NOT_ON_DEVICE', { option: 'policy' });
  ring = new Array(or(p.diagnostics, 8));
  const b = o.outbox || {};
  maxCount = b.maxCount || 32;
  // The layered outbox throws here too (its ring is an Array of maxCount); a negative count would never evict.
  if (!(maxCount >= 1 && maxCount % 1 === 0)) throw new RangeError('outbox.maxCount');
  maxBytes = or(b.maxBytes, 4096);
  acking = !!or(b.acks, o.atLeastOnce);
  windowSize = b.window || maxCount;
  nextSeq = b.firstSeq || 1;
  if (b.overflow === 'drop-newest') throw new PicowsError('NOT_ON_DEVICE', { option: 'overflow' });
  const sid = newSid(random);
  // The options read in more than one place, read once (the app never changes them).
  const maxMessage = or(o.maxMessage, DEFAULT_MAX_MESSAGE);
  const maxHead = or(o.maxHeadBytes, 4096);
  const fragmentSize = o.fragmentSize || 504;
  const closeTimeout = or(o.closeTimeout, 2000);
  const pingInterval = or(o.pingInterval, 5000);

  function random(): number {
    return rt.random32() / 4294967296;
  }

  // ---- connecting (resilient-client.ts connect(), Connection's constructor) ----

  function connect(): void {
    timer = off(timer);
    if (frozen) {
      setState('waiting-link');
      return;
    }
    attemptsMade++;
    setState('connecting');
    if (userStopped) return;
    srtt = -1;
    pingSeq = 0;
    try {
      target = parseWsUrl(url, { tls: false });
      const k = new Uint8Array(16);
      for (let i = 0; i < 16; i += 4) putUint32(k, i, rt.random32());
      request = requestHead(base64Encode(k));
    } catch (e) {
      const err = e instanceof PicowsError ? e : new PicowsError('INTERNAL_ERROR', { message: String(e) });
      onClose('transport-error', err.closeCode === 1015 ? 1015 : 1006, '', false, err);
      return;
    }
    conn = ++gen;
    rs = CONNECTING;
    proto = false;
    subproto = '';
    cur = null;
    left = -1;
    endPending = settling = false;
    closeCause = 'peer-closed';
    headLength = crlf = 0;
    hsBuf = new Uint8Array(maxHead);
    arm(0, startConnect);
  }

  /** The upgrade request (client-handshake.ts constructor); throws INVALID_HANDSHAKE_OPTIONS. */
  function requestHead(key: string): string {
    const p = o.protocols;
    const protocols = typeof p === 'string' ? [p] : p || [];
    const extra = o.headers || {};
    if (!(maxHead >= 1 && maxHead % 1 === 0)) throw badOption();
    wsKey = key;
    let head = 'GET ' + target.path + ' HTTP/1.1\r\nHost: ' + target.hostHeader + '\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ' + key + '\r\nSec-WebSocket-Version: 13\r\n';
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

  function startConnect(): void {
    if (rs !== CONNECTING) return;
    arm(or(o.connectTimeout, 10000), () => abort('CONNECT_TIMEOUT'));
    try {
      const s = (sock = new rt.net.Socket());
      let opened = false;
      let closed = false;
      // Every socket event runs guarded, as the layered Connection runs the client's code
      // inside report(): Kaluma's driver swallows a throw from a socket callback without a
      // word (board/sim/kaluma/session.ts, invoke), and a half-run handler goes unseen.
      s.on('connect', () => {
        if (opened) return;
        opened = true;
        guarded(s, onOpen);
      });
      s.on('data', (chunk) => guarded(s, onData, chunk));
      s.on('close', () => {
        if (closed) return;
        closed = true;
        guarded(s, onSocketClose);
      });
      s.on('error', (err) => guarded(s, onSocketError, err));
      s.connect({ host: target.host, port: target.port });
    } catch (e) {
      abort('CONNECT_FAILED', { message: messageOf(e) });
    }
  }

  // ---- the socket's events (connection.ts) ----

  function onOpen(): void {
    if (rs !== CONNECTING) return;
    arm(or(o.handshakeTimeout, 10000), () => abort('HANDSHAKE_TIMEOUT'));
    requestAt = millis();
    cur = latin1(request);
    curAt = 0;
    pump();
  }

  function onData(chunk: Uint8Array): void {
    lastRx = millis();
    if (proto) return receive(chunk);
    const head = hsBuf as Uint8Array;
    // The response head, strict CRLF (client-handshake.ts receive()).
    let n = headLength;
    let cr = crlf;
    let err: PicowsError | null = null;
    let i = 0;
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (n === head.length) {
        err = new PicowsError('HANDSHAKE_TOO_LARGE', { limit: n });
        break;
      }
      head[n++] = b;
      if ((b === 10) !== ((cr & 1) === 1)) {
        err = new PicowsError('HANDSHAKE_BAD_RESPONSE', { offset: n - 1, reason: b === 10 ? 'LF without CR' : 'CR not followed by LF' });
        break;
      }
      if (b === 10) {
        if (cr === 3) {
          try {
            subproto = verify(head, n);
          } catch (e) {
            err = e instanceof PicowsError ? e : new PicowsError('INTERNAL_ERROR', { cause: e });
          }
          break;
        }
        cr = 2;
      } else cr = b === 13 ? cr + 1 : 0;
    }
    if (i >= chunk.length) {
      headLength = n;
      crlf = cr;
      return;
    }
    hsBuf = null;
    if (err) return finish(causeOfError(err.id), err);
    const handshakeRtt = millis() - requestAt;
    // The protocol starts (protocol.ts constructor).
    validator = core.createValidator(maxMessage, o.validatorFlags || 0);
    proto = true;
    ps = OPEN;
    received = msgOpcode = msgLength = controls = dataSent = queued = closeCode = 0;
    msgBuf = ctlBuf = EMPTY;
    outq = [];
    closeReason = '';
    clean = false;
    failure = null;
    ctimer = off(ctimer);
    rs = OPEN;
    // Open (resilient-client.ts): count it, start the uptime clock and the liveness watch, send what waits.
    opens++;
    openedAt = millis();
    afterDrop = false;
    addRtt(handshakeRtt);
    if (pingInterval > 0) {
      running = true;
      lastRx = millis();
      pingAt = -1;
      liveIn(pingInterval);
    }
    setState('open');
    emit({ type: 'open', attempt: attemptsMade, protocol: subproto });
    guarded(null, flush);
    if (i + 1 < chunk.length && rs !== CLOSED) receive(chunk.subarray(i + 1));
  }

  /** Checks the response head[0, end) (client-handshake.ts verify()); returns the subprotocol or throws. */
  function verify(head: Uint8Array, end: number): string {
    const { status, headers, badLine } = parseResponseHead(head, end);
    if (status && status[1] !== '101') {
      const after = headers['retry-after'];
      throw new PicowsError('HANDSHAKE_STATUS', { status: +status[1], reason: status[2] || '', retryAfter: /^\d+$/.test(after) ? +after : undefined });
    }
    if (badLine !== null) throw new PicowsError('HANDSHAKE_BAD_RESPONSE', { line: badLine.slice(0, 80) });
    const upgrade = headers.upgrade;
    // The same test as toLowerCase() === 'websocket' for the bytes a header can hold here (undefined tests as 'undefined').
    if (!/^websocket$/i.test(upgrade)) throw new PicowsError('HANDSHAKE_UPGRADE', { upgrade });
    const connection = headers.connection;
    if (!/(^|,)[ \t]*upgrade[ \t]*(,|$)/i.test(connection || '')) throw new PicowsError('HANDSHAKE_CONNECTION', { connection });
    const accept = headers['sec-websocket-accept'];
    if (accept !== base64Encode(sha1(latin1(wsKey + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')))) throw new PicowsError('HANDSHAKE_ACCEPT', { accept });
    const extensions = headers['sec-websocket-extensions'];
    if (extensions !== undefined) throw new PicowsError('HANDSHAKE_EXTENSION', { extensions });
    const protocol = headers['sec-websocket-protocol'];
    const p = o.protocols;
    const offered = typeof p === 'string' ? [p] : p || [];
    if (protocol !== undefined && offered.indexOf(protocol) < 0) throw new PicowsError('HANDSHAKE_SUBPROTOCOL', { protocol, offered });
    return protocol || '';
  }

  function onSocketClose(): void {
    if (!proto) return abort('CONNECTION_LOST');
    // TCP ended (protocol.ts receiveEof()).
    if (ps !== CLOSED) {
      fail('CONNECTION_LOST');
      ps = CLOSED;
      dropOutgoing();
    }
    fromProtocol();
  }

  function onSocketError(err: unknown): void {
    if (proto && (failure || clean)) return fromProtocol();
    abort(proto ? 'TRANSPORT_ERROR' : 'CONNECT_FAILED', { message: messageOf(err) });
  }

  /** Feeds the protocol, writes what it queued, and ends TCP when it says so (connection.ts receive()). */
  function receive(chunk: Uint8Array): void {
    receiveData(chunk);
    pump();
    if ((ps === CLOSED || failure) && !settling) {
      settling = true;
      if (rs === OPEN) rs = CLOSING;
      arm(closeTimeout, fromProtocol);
      if (failure) {
        endPending = true;
        pump();
      }
    }
  }

  function fromProtocol(): void {
    const err = failure;
    finish(err ? causeOfError(err.id) : closeCause, err, closeCode, closeReason, clean);
  }

  function abort(id: string, detail?: { [key: string]: unknown }): void {
    finish(causeOfError(id), new PicowsError(id, detail));
  }

  /** The one way out of a connection (connection.ts finish()). */
  function finish(cause: CloseCause, err: PicowsError | null, code = 1006, reason = '', wasClean = false): void {
    if (rs === CLOSED) return;
    ctimer = off(ctimer);
    dropSocket();
    rs = CLOSED;
    hsBuf = null;
    dispose();
    guarded(null, () => onClose(cause, code, reason, wasClean, err));
  }

  /** close() on the connection (connection.ts close(), protocol.ts sendClose()); throws INVALID_CLOSE_ARGS. */
  function close(code: number, reason: string): void {
    const bytes = closeReasonBytes(code, reason, false, encode);
    rs = CLOSING;
    if (!proto) {
      // Closing while connecting: the socket goes now, the close (1006, local-close) on a later turn.
      dropSocket();
      arm(0, () => finish('local-close', null));
      return;
    }
    closeCause = 'local-close';
    if (ps === OPEN) {
      queueFrame(8, encodeClosePayload(code, bytes));
      ps = CLOSING;
    }
    pump();
    arm(closeTimeout, () => abort('CLOSE_TIMEOUT'));
  }

  /** Never written again, every reference dropped; destroyed on a later turn (inside its own callback it has crashed Kaluma). */
  function dropSocket(): void {
    const s = sock;
    sock = null;
    cur = null;
    // Frames not yet written die with the connection (the layered stack frees them with its Protocol).
    outq = [];
    queued = 0;
    if (s) abandonSocket(s);
  }

  // ---- writing, paced: at most 512 bytes handed to Kaluma per flush of its stream ----

  function pump(): void {
    const s = sock;
    if (!s) return;
    let opening = false;
    while (left) {
      let f = cur;
      if (!f) {
        f = cur = nextOutgoing();
        curAt = 0;
        if (!f) break;
      }
      if (left < 0) {
        left = 512;
        opening = true;
      }
      const n = Math.min(left, f.length - curAt);
      s.write(String.fromCharCode.apply(null, f.subarray(curAt, (curAt += n)) as unknown as number[]));
      left -= n;
      if (curAt >= f.length) cur = null;
    }
    // Armed after the first write: Kaluma's own flush timer (set by that write) runs first.
    if (opening)
      setTimeout(() => {
        if (sock !== s) return;
        left = -1;
        pump();
      }, 0);
    if (endPending && !cur && !outq.length) {
      endPending = false;
      try {
        s.end();
      } catch (e) {
        // already gone
      }
    }
  }

  // ---- the protocol, incoming (protocol.ts) ----

  function receiveData(chunk: Uint8Array): void {
    const v = validator;
    if (!v) return;
    try {
      let from = 0;
      for (;;) {
        const count = v.scan(chunk, from);
        const ev = v.events;
        for (let i = 0; i < count * RECORD_SLOTS; i += RECORD_SLOTS) {
          if (ev[i] === EV_DATA) record(chunk, ev[i + 1], ev[i + 2], ev[i + 3]);
          else fail(coreErrorName(ev[i + 1]), { offset: received + ev[i + 3], bytes: hexAround(chunk, ev[i + 3]) });
          if (!validator) return;
        }
        if (v.pos >= chunk.length) return;
        if (!count) throw new Error('core stalled');
        from = v.pos;
      }
    } catch (e) {
      fail('INTERNAL_ERROR', { cause: String(e) });
      throw e;
    } finally {
      received += chunk.length;
    }
  }

  function record(chunk: Uint8Array, flags: number, start: number, length: number): void {
    const opcode = flags & 15;
    const complete = (flags & (FLAG_FIN | FLAG_LAST)) === (FLAG_FIN | FLAG_LAST);
    let end = start + length;
    if (opcode >= 8) {
      let bytes = chunk;
      if ((flags & (FLAG_FIRST | FLAG_LAST)) !== (FLAG_FIRST | FLAG_LAST)) {
        if (flags & FLAG_FIRST) {
          ctlLength = 0;
          if (ctlBuf === EMPTY) ctlBuf = new Uint8Array(125);
        }
        copyInto(ctlBuf, ctlLength, chunk, start, end);
        ctlLength += length;
        if (!(flags & FLAG_LAST)) return;
        bytes = ctlBuf;
        start = 0;
        end = ctlLength;
      }
      if (opcode === 8) return receiveClose(bytes, start, end);
      const payload = bytes.subarray(start, end);
      if (opcode === 9) sendControl(10, payload);
      else pong(payload);
      return;
    }
    if (opcode !== 0 && flags & FLAG_FIRST) {
      msgOpcode = opcode;
      msgLength = 0;
    }
    if (complete && msgLength === 0) return deliver(chunk, start, end);
    const total = msgLength + length;
    if (total > msgBuf.length) {
      let size = msgBuf.length * 2;
      if (size < 256) size = 256;
      if (size > maxMessage) size = maxMessage;
      if (size < total) size = total;
      const grown = new Uint8Array(size);
      copyInto(grown, 0, msgBuf, 0, msgLength);
      msgBuf = grown;
    }
    copyInto(msgBuf, msgLength, chunk, start, end);
    msgLength = total;
    if (complete) deliver(msgBuf, 0, total);
  }

  function deliver(bytes: Uint8Array, start: number, end: number): void {
    const opcode = msgOpcode;
    msgOpcode = msgLength = 0;
    if (rs !== OPEN) return;
    if (opcode !== 1) return emit({ type: 'message', data: bytes.slice(start, end) });
    const data = decode(bytes, start, end);
    // At-least-once: an ack releases what it covers and makes room to send more.
    const n = o.atLeastOnce ? parseAck(data) : -1;
    if (n < 0) return emit({ type: 'message', data });
    let released = 0;
    for (const q = box; q.length && q[2] && (q[2] as number) <= n; released++) shift();
    acked += released;
    if (released > 0) emit({ type: 'acked', seq: n, count: released });
    guarded(null, flush);
  }

  function receiveClose(bytes: Uint8Array, start: number, end: number): void {
    const code = parseCloseCode(bytes, start, end);
    if (code < 0) return fail('INVALID_CLOSE_CODE', { offset: received });
    const reason = end - start > 2 ? decode(bytes, start + 2, end) : '';
    dispose();
    if (ps === OPEN) {
      dropOutgoing();
      queueFrame(8, encodeClosePayload(code, null));
    }
    ps = CLOSED;
    closeCode = code;
    closeReason = reason;
    clean = true;
  }

  function dispose(): void {
    msgBuf = EMPTY;
    if (validator) {
      validator.dispose();
      validator = null;
    }
  }

  /** Fail the WebSocket Connection (protocol.ts fail()): the first outcome wins. */
  function fail(id: string, detail?: { [key: string]: unknown }): void {
    if (ps === CLOSED || failure) return;
    const f = new PicowsError(id, detail);
    dispose();
    dropOutgoing();
    if (ps === OPEN && isSendableCloseCode(f.closeCode)) queueFrame(8, encodeClosePayload(f.closeCode, id.length <= 123 ? encode(id) : null));
    ps = CLOSING;
    closeCode = f.closeCode;
    failure = f;
  }

  // ---- the protocol, outgoing: control frames first, then data, our Close last ----

  function nextOutgoing(): Uint8Array | null {
    const q = outq;
    if (!proto || !q.length) return null;
    const head = q[0];
    let frame: Uint8Array;
    if (typeof head === 'number') {
      const message = q[1] as Uint8Array;
      const start = dataSent;
      const end = Math.min(start + fragmentSize, message.length);
      const last = end === message.length;
      dataSent = last ? 0 : end;
      frame = buildMaskedFrame((last ? 0x80 : 0) | (start === 0 ? head : 0), message, start, end, rt.random32(), core);
      if (last) q.splice(0, 2);
    } else {
      frame = head;
      q.shift();
      if (controls > 0) controls--;
    }
    queued -= frame.length;
    return frame;
  }

  function sendControl(opcode: number, payload: Uint8Array): void {
    if (ps === OPEN) queueFrame(opcode, payload, controls++);
  }

  function queueFrame(opcode: number, payload: Uint8Array, at = outq.length): void {
    const frame = buildMaskedFrame(0x80 | opcode, payload, 0, payload.length, rt.random32(), core);
    outq.splice(at, 0, frame);
    queued += frame.length;
  }

  function dropOutgoing(): void {
    const keep = ps === CLOSING && outq.length > 0 ? 1 : 0;
    outq.splice(0, outq.length - keep);
    controls = dataSent = 0;
    queued = keep ? (outq[0] as Uint8Array).length : 0;
  }

  // ---- liveness (liveness.ts) ----

  function deadline(): number {
    const max = or(o.pongTimeout, 5000);
    return srtt < 0 ? max : Math.max(Math.min(or(o.pongTimeoutFloor, 2000), max), Math.min(max, Math.ceil(4 * srtt)));
  }

  function addRtt(ms: number): void {
    srtt = srtt < 0 ? ms : 0.875 * srtt + 0.125 * ms;
  }

  function pong(p: Uint8Array): void {
    lastRx = millis();
    if (pingAt < 0 || p.length !== 4 || ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0 !== pingSeq) return;
    addRtt(lastRx - pingAt);
    pingAt = -1;
    if (running) liveIn(pingInterval);
  }

  /** Runs tick() in `ms` (at least 1) instead of any earlier plan; without `ms`, only cancels. */
  function liveIn(ms?: number): void {
    ltimer = off(ltimer);
    if (ms !== undefined)
      ltimer = setTimeout(() => {
        ltimer = undefined;
        tick();
      }, Math.max(1, ms));
  }

  function tick(): void {
    if (!running) return;
    const now = millis();
    const silent = now - lastRx;
    if (pingAt >= 0) {
      const since = now - Math.max(pingAt, lastRx);
      if (since >= deadline()) {
        running = false;
        return abort('PONG_TIMEOUT', { silentMs: silent });
      }
      if (silent < pingInterval) pingAt = -1;
      else return liveIn(deadline() - since);
    }
    if (silent >= pingInterval) {
      pingSeq = (pingSeq + 1) >>> 0;
      putUint32(pingBuf, 0, pingSeq);
      pingAt = now;
      if (rs === OPEN) {
        sendControl(9, pingBuf);
        pump();
      }
      liveIn(deadline());
    } else liveIn(pingInterval - silent);
  }

  // ---- endings (resilient-client.ts onClose(), policy.ts, backoff.ts) ----

  function onClose(cause: CloseCause, code: number, reason: string, wasClean: boolean, error: PicowsError | null): void {
    conn = 0;
    running = false;
    liveIn();
    if (srtt >= 0) lastRtt = Math.round(srtt);
    flushTimer = off(flushTimer);
    inFlight = 0;
    const now = millis();
    if (openedAt >= 0) {
      totalUptime += now - openedAt;
      // Stable (open ≥ minUptime): the backoff and the breaker start over, and the fleet window opens.
      if (now - openedAt >= or((o.backoff || {}).minUptimeMs, 5000)) {
        attempt = brokenInRow = 0;
        thawed = false;
        afterDrop = !frozen;
      }
      openedAt = -1;
    }
    const errorId = error ? error.id : null;
    lastEnding = { code, reason, cause, wasClean, errorId, at: now };
    closeCounts[cause] = (closeCounts[cause] || 0) + 1;
    const decision = cause === 'wifi-lost' && !userStopped ? null : decide(userStopped ? 'local-close' : cause, code, error);
    const stoppedBefore = userStopped;
    emit({ type: 'close', code, reason, cause, wasClean, errorId, decision });
    if (userStopped && !stoppedBefore) return;
    if (!decision) {
      frozen = true;
      setState('waiting-link');
    } else if (decision.action === 'stop') setStopped(decision.reason);
    else scheduleReconnect(decision.class, decision.harder, decision.delayMs);
  }

  /** The default policy, the breaker and the diagnostics ring (policy.ts decide()). */
  function decide(cause: CloseCause, code: number, error: PicowsError | null): Decision {
    const p = o.policy || {};
    const id = error ? error.id : '';
    const detail = error ? error.detail : undefined;
    const status = detail && typeof detail.status === 'number' ? detail.status : 0;
    const c = classify({ cause, code }, id, status);
    let d: Decision = {
      action: c === 'rejected' || c === 'user' ? 'stop' : 'retry',
      class: c,
      harder: c === 'try-later' ? 4 : c === 'broken-peer' || c === 'rejected' ? 16 : 1,
      reason: cause + (status ? ' http ' + status : ' ' + code) + (id ? ' ' + id : ''),
    };
    const ra = detail ? detail.retryAfter : undefined;
    if (typeof ra === 'number' && ra >= 0) d.delayMs = Math.min(ra * 1000, or(p.maxRetryAfterMs, 3600000));
    if (c === 'broken-peer' && ++brokenInRow >= or(p.breakerAfter, 5)) {
      d = { action: 'stop', class: c, harder: d.harder, reason: d.reason + ': circuit breaker, ' + brokenInRow + ' in a row', tripped: true };
    }
    const n = ring.length;
    if (n && (c === 'broken-peer' || c === 'rejected')) ring[written++ % n] = { at: (p.now || millis)(), class: c, cause, code, id, detail, reason: d.reason };
    return d;
  }

  /** Backs off (backoff.ts next(): full jitter after the cap) and connects again. */
  function scheduleReconnect(cls: string, harder = 1, notBeforeMs = 0): void {
    const b = o.backoff || {};
    if (frozen || attempt >= or(b.maxRetries, Infinity)) {
      if (frozen) setState('waiting-link');
      else setStopped('retry budget spent');
      return;
    }
    const cap = or(b.capMs, 30000);
    let ceiling = or(b.baseMs, 1000);
    if (thawed) thawed = false;
    else ceiling = Math.max(afterDrop ? Math.min(or(b.dropWindowMs, 5000), cap) : 0, harder * Math.min(cap, ceiling * Math.pow(or(b.factor, 2), Math.min(attempt++, 64))));
    const floor = Math.min(or(b.minDelayMs, 100), ceiling);
    const wait = (delay = Math.floor(notBeforeMs + floor + random() * (ceiling - floor)));
    timer = setTimeout(() => {
      timer = undefined;
      connect();
    }, wait);
    setState('backoff');
    emit({ type: 'reconnect-scheduled', delayMs: wait, attempt: attempt, class: cls });
  }

  function setStopped(reason: string): void {
    timer = off(timer);
    linkTimer = off(linkTimer);
    setState('stopped');
    emit({ type: 'stopped', reason });
  }

  // ---- the Wi-Fi hook ----

  function pollLink(): void {
    const link = o.link;
    if (!link || state === 'stopped') return;
    linkTimer = setTimeout(() => {
      linkTimer = undefined;
      pollLink();
    }, o.linkPollInterval || 1000);
    link.isUp(onLink);
  }

  function onLink(up: boolean): void {
    if (userStopped || state === 'stopped') return;
    if (!up) {
      frozen = true;
      if (conn) abort('WIFI_LOST');
      else if (state === 'backoff') {
        timer = off(timer);
        setState('waiting-link');
      }
      return;
    }
    if (state === 'waiting-link') {
      if (frozen) thawed = true;
      frozen = false;
      scheduleReconnect('transient');
    }
  }

  // ---- the outbox ----

  /** Removes the oldest message. */
  function shift(): void {
    qBytes -= box[1] as number;
    if (inFlight) inFlight--;
    box.splice(0, 3);
  }

  function flushIn(ms: number): void {
    if (flushTimer === undefined)
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        flush();
      }, ms);
  }

  /** Hands queued messages to the socket while fewer than maxBuffered bytes wait there. */
  function flush(): void {
    const ws = conn;
    const q = box;
    const limit = o.maxBuffered || 1024;
    while (rs === OPEN && conn === ws && queued + (cur ? cur.length - curAt : 0) < limit) {
      const i = inFlight;
      if (i * 3 >= q.length || i >= windowSize) return;
      const m = q[3 * i] as Msg;
      let resend = false;
      if (!acking) {
        sent++;
        shift();
      } else {
        if (q[3 * i + 2]) resend = !!++resent;
        else {
          q[3 * i + 2] = nextSeq++;
          sent++;
        }
        lastSeq = q[3 * i + 2] as number;
        inFlight++;
      }
      // Text is wrapped with its seq in at-least-once mode; binary goes as it is, seq 0.
      const wrap = !!o.atLeastOnce && typeof m === 'string';
      const seq = wrap ? lastSeq : 0;
      const data = wrap ? dataFrame(seq, sid, m as string) : m;
      if (typeof data === 'string') queueMessage(1, encode(data));
      else queueMessage(2, data, true);
      pump();
      emit({ type: 'sent', seq, resend: wrap && resend });
    }
    if (rs === OPEN && conn === ws && q.length > 3 * inFlight) flushIn(10);
  }

  function queueMessage(opcode: number, bytes: Uint8Array, copy?: boolean): void {
    const length = bytes.length;
    if (length <= fragmentSize) return queueFrame(opcode, bytes);
    outq.push(opcode, copy ? new Uint8Array(bytes) : bytes);
    const whole = Math.floor(length / fragmentSize);
    const rest = length - whole * fragmentSize;
    queued += length + whole * maskedHeaderSize(fragmentSize) + (rest > 0 ? maskedHeaderSize(rest) : 0);
  }

  // ---- small things ----

  function setState(s: ClientState): void {
    if (state === s) return;
    state = s;
    emit({ type: 'state', state: s });
  }

  function emit(ev: ResilientEvent): void {
    if (api.onevent) guarded(null, api.onevent, ev);
  }

  /**
   * Calls fn(a) when `s` is still this connection's socket (null: always); a throw is
   * logged, not passed up. The client's own steps (a flush, the ending) run this way
   * inside the connection's, as the layered Connection's report() runs them: a throw in
   * one leaves the connection's state whole.
   */
  function guarded<A>(s: KalumaSocket | null, fn: (a: A) => void, a?: A): void {
    if (s && sock !== s) return;
    try {
      fn(a as A);
    } catch (e) {
      console.error('picows: an event listener threw:', e);
    }
  }

  /** The connection's one deadline. */
  function arm(ms: number, fn: () => void): void {
    ctimer = off(ctimer);
    ctimer = setTimeout(() => {
      ctimer = undefined;
      fn();
    }, ms);
  }

  // The client's surface. Its methods are written here rather than as named functions
  // beside the others: nothing inside calls them, and a method costs fewer bytes.
  const api: DeviceClient = {
    get state() {
      return state;
    },
    sid,
    onevent: null,
    get stats(): ResilientStats {
      const droppedBy: { [reason: string]: number } = {};
      let dropped = 0;
      for (const k in drops) dropped += droppedBy[k] = drops[k];
      const up = openedAt >= 0 ? millis() - openedAt : 0;
      return {
        state: state,
        attempts: attemptsMade,
        connects: opens,
        uptimeMs: up,
        totalUptimeMs: totalUptime + up,
        backoffMs: delay,
        attempt: attempt,
        lastClose: lastEnding,
        rttMs: srtt >= 0 ? Math.round(srtt) : lastRtt,
        queued: box.length / 3,
        queuedBytes: qBytes,
        inFlight: inFlight,
        sent: sent,
        acked: acked,
        resent: resent,
        dropped,
        droppedBy,
        closesByCause: closeCounts,
      };
    },

    start(): void {
      if (state !== 'idle' && state !== 'stopped') return;
      userStopped = false;
      state = 'idle';
      if (o.link) pollLink();
      connect();
    },

    stop(code = 1000, reason = ''): void {
      userStopped = true;
      timer = off(timer);
      linkTimer = off(linkTimer);
      if (conn && rs <= OPEN) close(code, reason);
      else if (!conn) setStopped('stopped by the application');
    },

    send(data: Msg | ArrayBuffer, options?: { key?: string; ttlMs?: number; overflow?: string; session?: boolean }): string {
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
        if (!(data instanceof ArrayBuffer)) throw new TypeError('send()');
        data = new Uint8Array(data);
      }
      // n: its size as a message (UTF-8, wrapped in at-least-once mode); size: what the outbox counts.
      let n: number;
      let size: number;
      if (typeof data !== 'string') n = size = data.byteLength;
      else {
        n = size = data.length;
        for (let i = 0; i < data.length; i++) {
          const c = data.charCodeAt(i);
          if (c >= 0x80) n += c < 0x800 ? 1 : (c & 0xfc00) === 0xdc00 && (data.charCodeAt(i - 1) & 0xfc00) === 0xd800 ? 0 : 2;
        }
        if (o.atLeastOnce) n += 42 + sid.length;
      }
      if (n > maxMessage || size > maxBytes) {
        drops['too-big']++;
        emit({ type: 'dropped', reason: 'too-big' });
        return 'too-big';
      }
      if (options && (options.key != null || options.ttlMs !== undefined || options.session || options.overflow === 'drop-newest')) throw new PicowsError('NOT_ON_DEVICE', { option: 'push' });
      // Drop-oldest: evict from the front until it fits; each eviction is reported after the push.
      let evicted = 0;
      while (box.length >= 3 * maxCount || qBytes + size > maxBytes) {
        shift();
        drops.evicted++;
        evicted++;
      }
      box.push(data, size, 0);
      qBytes += size;
      while (evicted--) emit({ type: 'dropped', reason: 'evicted' });
      if (state === 'open') flushIn(0);
      return 'queued';
    },

    /** The policy's diagnostics, oldest first. */
    diagnostics(): Diagnostic[] {
      const out: Diagnostic[] = [];
      const n = ring.length;
      for (let i = Math.max(0, written - n); i < written; i++) out.push(ring[i % n] as Diagnostic);
      return out;
    },
  };
  return api;
} as unknown as new (url: string, rt: DeviceRuntime, o?: ResilientOptions) => DeviceClient;
