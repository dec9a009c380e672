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
import { closeArgsProblem, encodeClosePayload, NO_STATUS_CODE, parseCloseCode } from './close-payload';
import { buildMaskedFrame, FIN, maskedHeaderSize } from './frame-writer';
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
/** dataOps entry for a message already built as its one and only frame. */
const READY_FRAME = -1;
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
  private readonly core: Core;
  private readonly random32: () => number;
  private readonly encodeText: (s: string) => Uint8Array;
  private readonly alloc: ((n: number) => Uint8Array) | undefined;
  private readonly decodeText: (bytes: Uint8Array, start: number, end: number) => string;
  /** Largest message, either direction (options.maxMessage). */
  private readonly messageLimit: number;
  /** Outgoing messages above this are fragmented (options.fragmentSize). */
  private readonly fragmentLimit: number;

  private _state = OPEN;
  private _closeCode = 0;
  private _closeReason = '';
  private _wasClean = false;
  private _failure: PicowsError | null = null;

  // Incoming.
  private validator: FrameValidator | null;
  /** Stream offset of the chunk being scanned: error offsets are reported absolute. */
  private received = 0;
  /** Set once no more input is processed: the peer's Close, a failure, EOF. */
  private inputDone = false;
  /** OP_TEXT or OP_BINARY while a message is being received. */
  private messageOpcode = 0;
  /** Reassembly of messages that span records; grown on demand up to maxMessage. */
  private messageBuffer = EMPTY;
  private messageLength = 0;
  /** A control frame's payload when it spans records (RFC 6455 5.5: at most 125 bytes). */
  private readonly controlBuffer = new Uint8Array(MAX_CONTROL_PAYLOAD);
  private controlLength = 0;

  // Outgoing: control frames first, then data messages in order, then our Close.
  private readonly controlFrames: Uint8Array[] = [];
  /** Data messages: a ready frame (READY_FRAME) or the bytes of a message to fragment. */
  private readonly dataQueue: Uint8Array[] = [];
  private readonly dataOps: number[] = [];
  /** How much of dataQueue[0] has been framed already. */
  private dataSent = 0;
  private closeFrame: Uint8Array | null = null;
  private closeQueued = false;
  private outgoingBytes = 0;

  constructor(sink: ProtocolSink, opts: ProtocolOptions) {
    this.sink = sink;
    this.core = opts.core;
    this.random32 = opts.random32;
    this.encodeText = opts.encodeText;
    this.alloc = opts.allocBytes;
    this.decodeText = opts.decodeText;
    // 0 is a valid maximum (only empty messages), not "the default".
    this.messageLimit = orDefault(opts.maxMessage, DEFAULT_MAX_MESSAGE);
    this.fragmentLimit = opts.fragmentSize || DEFAULT_FRAGMENT_SIZE;
    this.validator = opts.core.createValidator(this.messageLimit, opts.validatorFlags || 0);
  }

  get state(): number { return this._state; }
  /** Bytes of frames queued and not yet taken by nextOutgoing() (headers included). */
  get bufferedAmount(): number { return this.outgoingBytes; }
  get closeCode(): number { return this._closeCode; }
  get closeReason(): string { return this._closeReason; }
  get wasClean(): boolean { return this._wasClean; }
  get failure(): PicowsError | null { return this._failure; }

  /** True once the I/O layer should end TCP, after writing what nextOutgoing() still gives. */
  closeExpected(): boolean {
    return this._state === CLOSED || this._failure !== null;
  }

  // ---- Incoming ----

  receiveData(chunk: Uint8Array): void {
    const validator = this.validator;
    if (this.inputDone || validator === null) return;
    try {
      let from = 0;
      for (;;) {
        const count = validator.scan(chunk, from);
        const events = validator.events;
        for (let i = 0; i < count * RECORD_SLOTS; i += RECORD_SLOTS) {
          if (events[i] === EV_DATA) this.receiveRecord(chunk, events[i + 1], events[i + 2], events[i + 3]);
          else this.fail(coreErrorName(events[i + 1]), { offset: this.received + events[i + 3], bytes: hexAround(chunk, events[i + 3]) });
          if (this.inputDone) return;
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
    if (this._state === CLOSED) return;
    this.stopInput();
    this.dropOutgoing();
    this.closeFrame = null;
    this.outgoingBytes = 0;
    // No Close exchanged: 1006, reported locally only (RFC 6455 7.1.5, 7.4.1).
    if (this._failure === null) this.settle(1006, '', false, new PicowsError('CONNECTION_LOST'));
    this._state = CLOSED;
  }

  private receiveRecord(chunk: Uint8Array, flags: number, start: number, length: number): void {
    const opcode = flags & FLAG_OPCODE_MASK;
    const complete = (flags & FLAG_FIN) !== 0 && (flags & FLAG_LAST) !== 0;
    if (opcode >= OP_CLOSE) {
      let bytes = chunk;
      let end = start + length;
      if ((flags & (FLAG_FIRST | FLAG_LAST)) !== (FLAG_FIRST | FLAG_LAST)) {
        // The control frame spans chunks: gather it (control frames never interleave with each other).
        if (flags & FLAG_FIRST) this.controlLength = 0;
        copyInto(this.controlBuffer, this.controlLength, chunk, start, end);
        this.controlLength += length;
        if (!(flags & FLAG_LAST)) return;
        bytes = this.controlBuffer;
        start = 0;
        end = this.controlLength;
      }
      if (opcode === OP_CLOSE) this.receiveClose(bytes, start, end);
      else if (opcode === OP_PING) this.receivePing(bytes.subarray(start, end));
      else this.sink.onPong(bytes.subarray(start, end));
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
    if (opcode === OP_TEXT) this.sink.onText(this.decodeText(bytes, start, end));
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

  private receivePing(payload: Uint8Array): void {
    // RFC 6455 5.5.2: answer with the same payload; nothing is sent after our Close.
    if (this._state === OPEN) this.queueControl(OP_PONG, payload);
    this.sink.onPing(payload);
  }

  private receiveClose(bytes: Uint8Array, start: number, end: number): void {
    const code = parseCloseCode(bytes, start, end);
    if (code < 0) {
      // The core rejects these already; kept so a core bug cannot put a forbidden code in the outcome.
      this.fail('INVALID_CLOSE_CODE', { offset: this.received });
      return;
    }
    const reason = end - start > 2 ? this.decodeText(bytes, start + 2, end) : '';
    this.stopInput();
    if (this._state === OPEN) {
      // RFC 6455 5.5.1: answer the peer's Close, echoing its code; an empty Close when it had none.
      this.dropOutgoing();
      this.queueClose(code === NO_STATUS_CODE ? undefined : code, null);
    }
    this._state = CLOSED;
    this.settle(code, reason, true, null);
    this.sink.onCloseFrame(code, reason);
  }

  /**
   * Releases the validator (a WebAssembly state slot) and the reassembly buffer, and
   * ignores input from now on. Happens by itself on the peer's Close, a failure or
   * receiveEof(); call it when abandoning a connection any other way.
   */
  dispose(): void {
    this.stopInput();
  }

  private stopInput(): void {
    this.inputDone = true;
    this.messageBuffer = EMPTY;
    if (this.validator !== null) {
      this.validator.dispose();
      this.validator = null;
    }
  }

  private settle(code: number, reason: string, wasClean: boolean, failure: PicowsError | null): void {
    this._closeCode = code;
    this._closeReason = reason;
    this._wasClean = wasClean;
    this._failure = failure;
  }

  // ---- Commands ----

  sendText(s: string): void {
    this.requireOpen();
    // UTF-8 never has fewer bytes than UTF-16 units: refuse before allocating the encoding.
    if (s.length > this.messageLimit) this.tooBig(s.length, this.messageLimit);
    const bytes = this.encodeText(s);
    if (bytes.length > this.messageLimit) this.tooBig(bytes.length, this.messageLimit);
    this.queueMessage(OP_TEXT, bytes, true);
  }

  sendBinary(b: Uint8Array): void {
    this.requireOpen();
    if (b.length > this.messageLimit) this.tooBig(b.length, this.messageLimit);
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
    const reasonBytes = reason ? this.encodeText(reason) : null;
    const problem = closeArgsProblem(code, reasonBytes ? reasonBytes.length : 0, anyWireCode === true);
    if (problem) throw new PicowsError('INVALID_CLOSE_ARGS', { code, reason, problem });
    if (this._state !== OPEN) return;
    this.queueClose(code, reasonBytes);
    this._state = CLOSING;
  }

  /**
   * The one way to abort (RFC 6455 7.1.7 "Fail the WebSocket Connection"): records the
   * failure, drops unsent data, queues a Close with the error's code when the code may
   * be on the wire and no Close was queued yet, and stops reading. The first outcome wins.
   */
  fail(errorId: string, detail?: { [key: string]: unknown }): void {
    if (this._state === CLOSED || this._failure !== null) return;
    const failure = new PicowsError(errorId, detail);
    this.stopInput();
    this.dropOutgoing();
    if (!this.closeQueued && isSendableCloseCode(failure.closeCode)) {
      // The id as the reason tells the server's logs what went wrong (ids are short ASCII).
      this.queueClose(failure.closeCode, errorId.length <= 123 ? this.encodeText(errorId) : null);
    }
    this._state = CLOSING;
    this.settle(failure.closeCode, '', false, failure);
  }

  /** The next frame to write, whole, or null. */
  nextOutgoing(): Uint8Array | null {
    let frame: Uint8Array | null = null;
    if (this.controlFrames.length > 0) {
      frame = this.controlFrames.shift() as Uint8Array;
    } else if (this.dataQueue.length > 0) {
      frame = this.nextDataFrame();
    } else if (this.closeFrame !== null) {
      frame = this.closeFrame;
      this.closeFrame = null;
    }
    if (frame !== null) this.outgoingBytes -= frame.length;
    return frame;
  }

  private nextDataFrame(): Uint8Array {
    const message = this.dataQueue[0];
    const opcode = this.dataOps[0];
    if (opcode === READY_FRAME) {
      this.dataQueue.shift();
      this.dataOps.shift();
      return message;
    }
    // RFC 6455 5.4: the first fragment carries the opcode, the others continuation (0), the last FIN.
    const start = this.dataSent;
    let end = start + this.fragmentLimit;
    if (end >= message.length) end = message.length;
    const last = end === message.length;
    const frame = buildMaskedFrame((last ? FIN : 0) | (start === 0 ? opcode : 0), message, start, end, this.random32(), this.core, this.alloc);
    if (last) {
      this.dataQueue.shift();
      this.dataOps.shift();
      this.dataSent = 0;
    } else {
      this.dataSent = end;
    }
    return frame;
  }

  private requireOpen(): void {
    if (this._state !== OPEN) throw new PicowsError('NOT_OPEN', { state: this._state }, PICOWS_DEVICE ? undefined : 'the connection is not open (state ' + this._state + ')');
  }

  private tooBig(size: number, limit: number): never {
    throw new PicowsError('SEND_TOO_BIG', { size, limit });
  }

  private queueMessage(opcode: number, bytes: Uint8Array, owned: boolean): void {
    const length = bytes.length;
    if (length <= this.fragmentLimit) {
      // One frame: build it now, which also snapshots a caller's buffer at no extra cost.
      this.dataQueue.push(buildMaskedFrame(FIN | opcode, bytes, 0, length, this.random32(), this.core, this.alloc));
      this.dataOps.push(READY_FRAME);
      this.outgoingBytes += maskedHeaderSize(length) + length;
      return;
    }
    // Fragmented lazily, one frame per nextOutgoing(); a caller's buffer is copied so later changes do not leak in.
    this.dataQueue.push(owned ? bytes : new Uint8Array(bytes));
    this.dataOps.push(opcode);
    const size = this.fragmentLimit;
    const whole = Math.floor(length / size);
    const rest = length - whole * size;
    this.outgoingBytes += length + whole * maskedHeaderSize(size) + (rest > 0 ? maskedHeaderSize(rest) : 0);
  }

  private sendControl(opcode: number, payload: Uint8Array | undefined): void {
    const bytes = payload || EMPTY;
    if (bytes.length > MAX_CONTROL_PAYLOAD) throw new PicowsError('SEND_TOO_BIG', { size: bytes.length, limit: MAX_CONTROL_PAYLOAD }, PICOWS_DEVICE ? undefined : 'a ping or pong carries at most 125 bytes (RFC 6455 5.5)');
    if (this._state === OPEN) this.queueControl(opcode, bytes);
  }

  private queueControl(opcode: number, payload: Uint8Array): void {
    const frame = buildMaskedFrame(FIN | opcode, payload, 0, payload.length, this.random32(), this.core, this.alloc);
    this.controlFrames.push(frame);
    this.outgoingBytes += frame.length;
  }

  private queueClose(code: number | undefined, reason: Uint8Array | null): void {
    const payload = encodeClosePayload(code, reason);
    const frame = buildMaskedFrame(FIN | OP_CLOSE, payload, 0, payload.length, this.random32(), this.core, this.alloc);
    this.closeFrame = frame;
    this.closeQueued = true;
    this.outgoingBytes += frame.length;
  }

  private dropOutgoing(): void {
    this.controlFrames.length = 0;
    this.dataQueue.length = 0;
    this.dataOps.length = 0;
    this.dataSent = 0;
    this.outgoingBytes = this.closeFrame !== null ? this.closeFrame.length : 0;
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

/** Up to 8 bytes either side of chunk[offset], hex, the offending byte in brackets: for diagnostics. */
function hexAround(chunk: Uint8Array, offset: number): string {
  let text = '';
  const end = Math.min(chunk.length, offset + 9);
  for (let i = Math.max(0, offset - 8); i < end; i++) {
    const hex = (chunk[i] < 16 ? '0' : '') + chunk[i].toString(16);
    text += (text ? ' ' : '') + (i === offset ? '[' + hex + ']' : hex);
  }
  return text;
}
