/**
 * picows' sans-I/O WebSocket protocol for a client: RFC 6455 sections 5-7 once the
 * opening handshake is done. Bytes in (receiveData, receiveEof), events out to a
 * sink, frames out through nextOutgoing(). No socket, no timer: the I/O layer owns
 * both, and asks closeExpected() when to end TCP. Shaped after python-websockets'
 * Protocol; the framing rules themselves live in the core's FrameValidator.
 *
 * Decisions the client layer relies on:
 * - Sending after our Close: sendText/sendBinary throw NOT_OPEN whenever the state is
 *   not OPEN (silently dropped data is worse on a device than an exception);
 *   sendPing/sendPong and the automatic pong are ignored then, and sendClose does
 *   nothing once closing (WHATWG close()). Our Close is always the last frame.
 * - Control frames jump ahead of queued data (they may go between the fragments of
 *   a message, RFC 6455 5.4), so a pong is not delayed by a backlog; the Close goes
 *   after all data queued before it.
 * - A failure (fail(), a validator error, a sink that throws) drops unsent data and
 *   ignores further input (RFC 6455 7.1.7), queues a Close with the error's code when
 *   that code may be on the wire and no Close was queued yet, and stays CLOSING until
 *   receiveEof(). The outcome reports the error's code (1002/1007/1009/1011, or 1006),
 *   wasClean false.
 * - The peer's Close first: unsent data is dropped (RFC 6455 5.5.1: answer as soon as
 *   practical) and an empty Close or one echoing its code is queued.
 * - Sink handlers run synchronously inside receiveData and must not call receiveData.
 */
import { isSendableCloseCode, PicowsError } from '../errors';
import { coreErrorName } from '../core/error-ids';
import {
  DEFAULT_MAX_MESSAGE, EV_DATA, FLAG_FIN, FLAG_FIRST, FLAG_LAST, FLAG_OPCODE_MASK,
  OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RECORD_SLOTS,
  type Core, type FrameValidator,
} from '../core/types';
import { closeReasonBytes, encodeClosePayload, parseCloseCode } from './close-payload';
import { buildMaskedFrame, FIN, maskedHeaderSize } from './frame-writer';
import { hexAround } from './hex-around';
import { CLOSED, CLOSING, OPEN } from './ready-state';
import { orDefault } from '../or-default';

export { CLOSED, CLOSING, CONNECTING, OPEN } from './ready-state';

/**
 * Outgoing messages above this many bytes are fragmented. 504 payload bytes plus an
 * 8-byte header (16-bit length, masking key) make a 512-byte frame: exactly one write
 * per event-loop turn on Kaluma (kaluma.md 3: <= 512 B per turn for the C stack), so
 * the I/O layer never splits a frame, at most 512 B of frame is allocated at a time,
 * and a pong waits for at most one such frame. Overhead: 8 bytes per 504 (1.6 %).
 */
export const DEFAULT_FRAGMENT_SIZE = 504;

/** Largest control frame payload (RFC 6455 5.5). */
const MAX_CONTROL_PAYLOAD = 125;
const EMPTY = new Uint8Array(0);

export interface ProtocolSink {
  onText(data: string): void;
  /** A view of the received chunk when the message was in one chunk (no copy), else the reassembled bytes (a fresh Uint8Array owned by the receiver). */
  onBinary(data: Uint8Array): void;
  /** After the automatic pong was queued; payload is a view of a reused buffer or of the chunk: copy to keep. */
  onPing(payload: Uint8Array): void;
  onPong(payload: Uint8Array): void;
  /** The peer's Close arrived (1005 when it had no code). */
  onCloseFrame(code: number, reason: string): void;
}

export interface ProtocolOptions {
  core: Core;
  /** A strong RNG: one fresh masking key per frame (RFC 6455 5.3). */
  random32(): number;
  encodeText(s: string): Uint8Array;
  /** Where frames are built; default new Uint8Array (Node: Buffer.allocUnsafe, from its pool). */
  allocBytes?(n: number): Uint8Array;
  /** bytes[start, end) are already validated UTF-8. */
  decodeText(bytes: Uint8Array, start: number, end: number): string;
  /** Largest message in either direction; default DEFAULT_MAX_MESSAGE. */
  maxMessage?: number;
  /** Outgoing messages above this are fragmented; default DEFAULT_FRAGMENT_SIZE. */
  fragmentSize?: number;
  /** CFG_* flags for the validator. */
  validatorFlags?: number;
}

export class Protocol {
  private readonly sink: ProtocolSink;
  /** The core and the runtime's functions, read where used: one field, not five per connection. */
  private readonly opts: ProtocolOptions;
  /** Largest message, either direction (options.maxMessage). */
  private readonly messageLimit: number;
  /** Outgoing messages above this are fragmented (options.fragmentSize). */
  private readonly fragmentLimit: number;

  // Read by the I/O layer; only the protocol sets them.
  state = OPEN;
  /** Bytes of frames queued and not yet taken by nextOutgoing() (headers included). */
  bufferedAmount = 0;
  closeCode = 0;
  closeReason = '';
  wasClean = false;
  failure: PicowsError | null = null;

  // Incoming.
  /** Null once no more input is processed: the peer's Close, a failure, EOF, dispose(). */
  private validator: FrameValidator | null;
  /** Stream offset of the chunk being scanned: error offsets are reported absolute. */
  private received = 0;
  /** OP_TEXT or OP_BINARY while a message is being received. */
  private messageOpcode = 0;
  /** Reassembly of messages that span records; grown on demand up to maxMessage. */
  private messageBuffer = EMPTY;
  private messageLength = 0;
  /** A control frame's payload when it spans records (RFC 6455 5.5: at most 125 bytes); made when first needed. */
  private controlBuffer = EMPTY;
  private controlLength = 0;

  // Outgoing, one queue in the order written: control frames first (the first `controls`
  // entries), then data messages in order, then our Close, always last (nothing is
  // queued once it is: the state is no longer OPEN). An entry is a frame already built,
  // or an opcode followed by the bytes of a message still to fragment.
  private readonly queue: (Uint8Array | number)[] = [];
  private controls = 0;
  /** How much of the first data message has been framed already. */
  private dataSent = 0;

  /**
   * maxMessage, fragmentSize and validatorFlags are read from `limits`, by default
   * `opts`: a Connection passes its Runtime and its ConnectionOptions as they are.
   */
  constructor(sink: ProtocolSink, opts: ProtocolOptions, limits: Partial<ProtocolOptions> = opts) {
    this.sink = sink;
    this.opts = opts;
    // 0 is a valid maximum (only empty messages), not "the default".
    this.messageLimit = orDefault(limits.maxMessage, DEFAULT_MAX_MESSAGE);
    this.fragmentLimit = limits.fragmentSize || DEFAULT_FRAGMENT_SIZE;
    this.validator = opts.core.createValidator(this.messageLimit, limits.validatorFlags || 0);
  }

  /** True once the I/O layer should end TCP, after writing what nextOutgoing() still gives. */
  closeExpected(): boolean {
    return this.state === CLOSED || this.failure !== null;
  }

  // ---- Incoming ----

  receiveData(chunk: Uint8Array): void {
    const validator = this.validator;
    if (validator === null) return;
    try {
      let from = 0;
      for (;;) {
        const count = validator.scan(chunk, from);
        const events = validator.events;
        for (let i = 0; i < count * RECORD_SLOTS; i += RECORD_SLOTS) {
          if (events[i] === EV_DATA) this.receiveRecord(chunk, events[i + 1], events[i + 2], events[i + 3]);
          else this.fail(coreErrorName(events[i + 1]), { offset: this.received + events[i + 3], bytes: hexAround(chunk, events[i + 3]) });
          if (this.validator === null) return;
        }
        if (validator.pos >= chunk.length) return;
        if (count === 0) throw new Error(PICOWS_DEVICE ? 'core stalled' : 'the validator stopped at ' + validator.pos + ' without a record');
        from = validator.pos;
      }
    } catch (e) {
      // A throwing sink (or a broken core) leaves the stream half-read: fail it cleanly, then let the caller see the error.
      this.fail('INTERNAL_ERROR', { cause: String(e) });
      throw e;
    } finally {
      this.received += chunk.length;
    }
  }

  /** TCP ended (the peer closed it, or the I/O layer gave up on it). */
  receiveEof(): void {
    if (this.state === CLOSED) return;
    // No Close exchanged: 1006, reported locally only (RFC 6455 7.1.5, 7.4.1), unless a
    // failure came first (fail() keeps the first outcome). 1006 queues no Close.
    this.fail('CONNECTION_LOST');
    this.state = CLOSED;
    this.dropOutgoing(); // CLOSED: our Close goes too
  }

  private receiveRecord(chunk: Uint8Array, flags: number, start: number, length: number): void {
    const opcode = flags & FLAG_OPCODE_MASK;
    const complete = (flags & FLAG_FIN) !== 0 && (flags & FLAG_LAST) !== 0;
    if (opcode >= OP_CLOSE) {
      let bytes = chunk;
      let end = start + length;
      if ((flags & (FLAG_FIRST | FLAG_LAST)) !== (FLAG_FIRST | FLAG_LAST)) {
        // The control frame spans chunks: gather it (control frames never interleave with each other).
        if (flags & FLAG_FIRST) {
          this.controlLength = 0;
          if (this.controlBuffer === EMPTY) this.controlBuffer = new Uint8Array(MAX_CONTROL_PAYLOAD);
        }
        copyInto(this.controlBuffer, this.controlLength, chunk, start, end);
        this.controlLength += length;
        if (!(flags & FLAG_LAST)) return;
        bytes = this.controlBuffer;
        start = 0;
        end = this.controlLength;
      }
      if (opcode === OP_CLOSE) return this.receiveClose(bytes, start, end);
      const payload = bytes.subarray(start, end);
      if (opcode === OP_PING) {
        // RFC 6455 5.5.2: answer with the same payload (sendPong: nothing is sent after our Close).
        this.sendPong(payload);
        this.sink.onPing(payload);
      } else this.sink.onPong(payload);
      return;
    }
    // A data frame: text/binary opens a message, continuation frames carry opcode 0 (every record repeats the opcode).
    if (opcode !== 0 && (flags & FLAG_FIRST) !== 0) {
      this.messageOpcode = opcode;
      this.messageLength = 0;
    }
    if (complete && this.messageLength === 0) {
      // The whole message is in this chunk: deliver it without copying.
      this.deliver(chunk, start, start + length, false);
      return;
    }
    const total = this.messageLength + length;
    if (total > this.messageBuffer.length) this.growMessageBuffer(total);
    copyInto(this.messageBuffer, this.messageLength, chunk, start, start + length);
    this.messageLength = total;
    if (complete) this.deliver(this.messageBuffer, 0, total, true);
  }

  private deliver(bytes: Uint8Array, start: number, end: number, reused: boolean): void {
    const opcode = this.messageOpcode;
    this.messageOpcode = 0;
    this.messageLength = 0;
    if (opcode === OP_TEXT) this.sink.onText(this.opts.decodeText(bytes, start, end));
    else this.sink.onBinary(reused ? bytes.slice(start, end) : bytes.subarray(start, end));
  }

  private growMessageBuffer(needed: number): void {
    // Doubling keeps reassembly linear; the validator already refused anything over maxMessage (1009).
    let size = this.messageBuffer.length * 2;
    if (size < 256) size = 256;
    if (size > this.messageLimit) size = this.messageLimit;
    if (size < needed) size = needed;
    const grown = new Uint8Array(size);
    copyInto(grown, 0, this.messageBuffer, 0, this.messageLength);
    this.messageBuffer = grown;
  }

  private receiveClose(bytes: Uint8Array, start: number, end: number): void {
    const code = parseCloseCode(bytes, start, end);
    if (code < 0) {
      // The core rejects these already; kept so a core bug cannot put a forbidden code in the outcome.
      this.fail('INVALID_CLOSE_CODE', { offset: this.received });
      return;
    }
    const reason = end - start > 2 ? this.opts.decodeText(bytes, start + 2, end) : '';
    this.dispose();
    if (this.state === OPEN) {
      // RFC 6455 5.5.1: answer the peer's Close, echoing its code (encodeClosePayload: an empty Close when it had none).
      this.dropOutgoing();
      this.queueFrame(OP_CLOSE, encodeClosePayload(code, null));
    }
    this.state = CLOSED;
    // The outcome is set once: the fields still hold their initial values (no failure, not clean).
    this.closeCode = code;
    this.closeReason = reason;
    this.wasClean = true;
    this.sink.onCloseFrame(code, reason);
  }

  /**
   * Releases the validator (a WebAssembly state slot) and the reassembly buffer, and
   * ignores input from now on. Happens by itself on the peer's Close, a failure or
   * receiveEof(); call it when abandoning a connection any other way.
   */
  dispose(): void {
    this.messageBuffer = EMPTY;
    if (this.validator !== null) {
      this.validator.dispose();
      this.validator = null;
    }
  }

  // ---- Commands ----

  sendText(s: string): void {
    this.requireOpen();
    // UTF-8 never has fewer bytes than UTF-16 units: refuse before allocating the encoding.
    this.checkSize(s.length);
    this.queueMessage(OP_TEXT, this.opts.encodeText(s), true);
  }

  sendBinary(b: Uint8Array): void {
    this.requireOpen();
    this.queueMessage(OP_BINARY, b, false);
  }

  sendPing(payload?: Uint8Array): void {
    this.sendControl(OP_PING, payload);
  }

  sendPong(payload?: Uint8Array): void {
    this.sendControl(OP_PONG, payload);
  }

  /**
   * Starts the closing handshake (RFC 6455 7.1.2). Application codes are 1000 and
   * 3000-4999; `anyWireCode` (picows' own callers) admits every code that may be on
   * the wire, e.g. 1001 going away. A reason needs a code and is at most 123 UTF-8
   * bytes. Throws INVALID_CLOSE_ARGS; does nothing once closing or closed.
   */
  sendClose(code?: number, reason?: string, anyWireCode?: boolean): void {
    const reasonBytes = closeReasonBytes(code, reason, anyWireCode, this.opts.encodeText);
    if (this.state !== OPEN) return;
    this.queueFrame(OP_CLOSE, encodeClosePayload(code, reasonBytes));
    this.state = CLOSING;
  }

  /**
   * The one way to abort (RFC 6455 7.1.7 "Fail the WebSocket Connection"): records the
   * failure, drops unsent data, queues a Close with the error's code when the code may
   * be on the wire and no Close was queued yet, and stops reading. The first outcome wins.
   */
  fail(errorId: string, detail?: { [key: string]: unknown }): void {
    if (this.state === CLOSED || this.failure !== null) return;
    const failure = new PicowsError(errorId, detail);
    this.dispose();
    this.dropOutgoing();
    // Still OPEN: no Close queued yet (CLOSING without a failure: sendClose queued ours).
    if (this.state === OPEN && isSendableCloseCode(failure.closeCode)) {
      // The id as the reason tells the server's logs what went wrong (ids are short ASCII).
      this.queueFrame(OP_CLOSE, encodeClosePayload(failure.closeCode, errorId.length <= 123 ? this.opts.encodeText(errorId) : null));
    }
    this.state = CLOSING;
    // The outcome is set once (closeReason '' and wasClean false as initialised).
    this.closeCode = failure.closeCode;
    this.failure = failure;
  }

  /** The next frame to write, whole, or null. */
  nextOutgoing(): Uint8Array | null {
    const queue = this.queue;
    if (queue.length === 0) return null;
    const head = queue[0];
    let frame: Uint8Array;
    if (typeof head === 'number') {
      // RFC 6455 5.4: the first fragment carries the opcode, the others continuation (0), the last FIN.
      const message = queue[1] as Uint8Array;
      const start = this.dataSent;
      const end = Math.min(start + this.fragmentLimit, message.length);
      const last = end === message.length;
      this.dataSent = last ? 0 : end;
      frame = buildMaskedFrame((last ? FIN : 0) | (start === 0 ? head : 0), message, start, end, this.opts.random32(), this.opts.core, this.opts.allocBytes);
      if (last) queue.splice(0, 2);
    } else {
      frame = head;
      queue.shift();
      if (this.controls > 0) this.controls--;
    }
    this.bufferedAmount -= frame.length;
    return frame;
  }

  private requireOpen(): void {
    if (this.state !== OPEN) throw new PicowsError('NOT_OPEN', { state: this.state }, PICOWS_DEVICE ? undefined : 'the connection is not open (state ' + this.state + ')');
  }

  /** SEND_TOO_BIG over `limit`, by default maxMessage. */
  private checkSize(size: number, limit = this.messageLimit, message?: string): void {
    if (size > limit) throw new PicowsError('SEND_TOO_BIG', { size, limit }, message);
  }

  /** Throws SEND_TOO_BIG over maxMessage, else queues the message. */
  private queueMessage(opcode: number, bytes: Uint8Array, owned: boolean): void {
    const length = bytes.length;
    this.checkSize(length);
    // One frame: build it now, which also snapshots a caller's buffer at no extra cost.
    if (length <= this.fragmentLimit) return this.queueFrame(opcode, bytes);
    // Fragmented lazily, one frame per nextOutgoing(); a caller's buffer is copied so later changes do not leak in.
    this.queue.push(opcode, owned ? bytes : new Uint8Array(bytes));
    const size = this.fragmentLimit;
    const whole = Math.floor(length / size);
    const rest = length - whole * size;
    this.bufferedAmount += length + whole * maskedHeaderSize(size) + (rest > 0 ? maskedHeaderSize(rest) : 0);
  }

  private sendControl(opcode: number, payload: Uint8Array | undefined): void {
    const bytes = payload || EMPTY;
    this.checkSize(bytes.length, MAX_CONTROL_PAYLOAD, PICOWS_DEVICE ? undefined : 'a ping or pong carries at most 125 bytes (RFC 6455 5.5)');
    // Control frames go ahead of queued data, after those queued before them.
    if (this.state === OPEN) this.queueFrame(opcode, bytes, this.controls++);
  }

  /** Builds one whole frame and queues it at `at`, by default last. */
  private queueFrame(opcode: number, payload: Uint8Array, at = this.queue.length): void {
    const frame = buildMaskedFrame(FIN | opcode, payload, 0, payload.length, this.opts.random32(), this.opts.core, this.opts.allocBytes);
    this.queue.splice(at, 0, frame);
    this.bufferedAmount += frame.length;
  }

  /** Drops unsent frames; only once CLOSING (a failure after sendClose) does our Close, the last entry, stay. */
  private dropOutgoing(): void {
    const keep = this.state === CLOSING && this.queue.length > 0 ? 1 : 0;
    this.queue.splice(0, this.queue.length - keep);
    this.controls = 0;
    this.dataSent = 0;
    this.bufferedAmount = keep ? (this.queue[0] as Uint8Array).length : 0;
  }
}

/** Copies src[start, end) to dst at `at`: a loop for short runs, a native copy (one view) for long ones. */
function copyInto(dst: Uint8Array, at: number, src: Uint8Array, start: number, end: number): void {
  if (end - start > 32) {
    dst.set(src.subarray(start, end), at);
    return;
  }
  for (let i = start; i < end; i++) dst[at++] = src[i];
}
