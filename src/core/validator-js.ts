/**
 * The plain-JS twin of the WebAssembly frame validator, for engines without
 * WebAssembly (Kaluma's JerryScript 2.4). The contract is assembly/README.md: the same
 * records, error ids and offsets as the WebAssembly build, whatever the chunking.
 *
 * Written for a 180 KiB heap: every bit of stream state is a number field of this
 * object, the record buffer is allocated once, and scan() allocates nothing.
 */
import {
  E_CLOSE_PAYLOAD_ONE_BYTE, E_CONTROL_TOO_LONG, E_EXPECTED_CONTINUATION, E_FRAGMENTED_CONTROL,
  E_INVALID_CLOSE_CODE, E_INVALID_CLOSE_REASON, E_INVALID_UTF8, E_LENGTH_TOP_BIT, E_MASKED_FRAME,
  E_MESSAGE_TOO_BIG, E_NON_MINIMAL_LENGTH, E_RESERVED_BITS, E_RESERVED_OPCODE, E_TRUNCATED_UTF8,
  E_UNEXPECTED_CONTINUATION,
} from './error-numbers';
import {
  CFG_ACCEPT_NON_MINIMAL, DEFAULT_MAX_MESSAGE, EV_DATA, EV_ERROR, FLAG_FIN, FLAG_FIRST, FLAG_LAST,
  FLAG_RSV1, RECORD_SLOTS, type FrameValidator,
} from './types';
import { isValidCloseCode } from './close-codes';
import { utf8Scan } from './utf8-js';
import {
  AT_BYTE0, AT_BYTE1, AT_LENGTH16, AT_LENGTH64, AT_PAYLOAD, DEAD, PAYLOAD_CLOSE, PAYLOAD_TEXT, PAYLOAD_UNCHECKED,
} from './validator-states';

/** Records the buffer holds when no capacity is given: 512 bytes of heap. */
export const DEFAULT_RECORD_CAPACITY = 32;

const TWO_POW_32 = 4294967296;
/** The largest maximum a JS number holds exactly (the contract's 2^53-1). */
const MAX_MESSAGE_LIMIT = 9007199254740991;
/** A 64-bit length with hi >= 2^21 is >= 2^53: over any maximum (max is at most 2^53-1). */
const HI_OVER_ANY_MAX = 0x200000;

/**
 * Private members start with `_` (as in ws's receiver), so a device build can shorten
 * them with esbuild's `mangleProps: /^_/`.
 */
export class JsFrameValidator implements FrameValidator {
  readonly events: Int32Array;
  pos = 0;
  // configure()'s values, and the copy latched at each frame's first byte ("applies from the next frame").
  private _cfgMax!: number;
  private _cfgFlags!: number;
  private _max!: number;
  private _flags!: number;
  private _step!: number;
  /** Extended length bytes still due. */
  private _lengthBytes!: number;
  private _lengthHi!: number;
  private _lengthLo!: number;
  /** Opcode | FIN | RSV1 of the current frame, as put into DATA records. */
  private _frameFlags!: number;
  private _payloadKind!: number;
  /** Payload bytes of the current frame still due (up to 2^53-1). */
  private _payloadLeft!: number;
  private _firstRun!: boolean;
  /** A fragmented message is open (its first frame had no FIN). */
  private _messageOpen!: boolean;
  private _messageIsText!: boolean;
  /** Sum of the open message's frame lengths so far. */
  private _messageSize!: number;
  private _textState!: number;
  private _closeCode!: number;
  private _closeCodeBytes!: number;
  private _reasonState!: number;

  constructor(maxMessage: number = DEFAULT_MAX_MESSAGE, flags = 0, recordCapacity = DEFAULT_RECORD_CAPACITY) {
    this.events = new Int32Array((recordCapacity > 1 ? recordCapacity : 1) * RECORD_SLOTS);
    this.configure(maxMessage, flags);
    this.reset();
  }

  /** Clamped like the WebAssembly wrapper's: a whole number in 0..2^53-1 (NaN is 0). */
  configure(maxMessage: number, flags: number): void {
    this._cfgMax = maxMessage > MAX_MESSAGE_LIMIT ? MAX_MESSAGE_LIMIT : maxMessage >= 0 ? Math.floor(maxMessage) : 0;
    this._cfgFlags = flags | 0;
  }

  reset(): void {
    this.pos = 0;
    this._max = this._cfgMax;
    this._flags = this._cfgFlags;
    this._step = AT_BYTE0;
    this._lengthBytes = 0;
    this._lengthHi = 0;
    this._lengthLo = 0;
    this._frameFlags = 0;
    this._payloadKind = PAYLOAD_UNCHECKED;
    this._payloadLeft = 0;
    this._firstRun = true;
    this._messageOpen = false;
    this._messageIsText = false;
    this._messageSize = 0;
    this._textState = 0;
    this._closeCode = 0;
    this._closeCodeBytes = 0;
    this._reasonState = 0;
  }

  /** Nothing to release: the JS twin holds only garbage-collected memory. */
  dispose(): void {}

  scan(chunk: Uint8Array, from: number): number {
    const end = chunk.length;
    const events = this.events;
    const capacity = events.length / RECORD_SLOTS;
    let records = 0;
    let i = from;
    if (this._step === DEAD) {
      this.pos = end;
      return 0;
    }
    while (i < end) {
      if (this._step !== AT_PAYLOAD) {
        const error = this._headerByte(chunk[i]);
        if (error !== 0) return this._fail(error, i, records, end);
        i++;
        if (this._step !== AT_PAYLOAD || this._payloadLeft !== 0) continue;
        // An empty payload: one FIRST|LAST record just past the header, unless a FIN
        // text frame leaves a character unfinished.
        if (this._payloadKind === PAYLOAD_TEXT && this._frameFlags & FLAG_FIN && this._textState !== 0) {
          return this._fail(E_TRUNCATED_UTF8, i - 1, records, end);
        }
        this._record(records++, FLAG_FIRST | FLAG_LAST, i, 0);
        this._step = AT_BYTE0;
      } else {
        const left = this._payloadLeft;
        // An int32 index (left may be a double up to 2^53): keeps V8's UTF-8 loops on int32
        // arithmetic (measured about 2x on 1460-byte chunks).
        const stop = end - i < left ? end : (i + left) | 0;
        const complete = stop - i === left;
        const kind = this._payloadKind;
        if (kind === PAYLOAD_TEXT) {
          const r = utf8Scan(chunk, i, stop, this._textState);
          if (r < 0) return this._fail(E_INVALID_UTF8, ~r, records, end);
          // RFC 6455 8.1: a text message must end on a character boundary.
          if (r !== 0 && complete && this._frameFlags & FLAG_FIN) return this._fail(E_TRUNCATED_UTF8, stop - 1, records, end);
          this._textState = r;
        } else if (kind === PAYLOAD_CLOSE) {
          const error = this._closePayload(chunk, i, stop, complete);
          if (error !== 0) return this._fail(error, this.pos, records, end);
        }
        this._record(records++, complete ? FLAG_LAST : 0, i, stop - i);
        this._payloadLeft = left - (stop - i);
        if (complete) this._step = AT_BYTE0;
        i = stop;
      }
      if (records === capacity) break;
    }
    this.pos = i;
    return records;
  }

  /** Takes one header byte; returns an error id, or 0. Checks in the contract's order. */
  private _headerByte(b: number): number {
    const step = this._step;
    if (step === AT_BYTE0) {
      this._max = this._cfgMax;
      this._flags = this._cfgFlags;
      const opcode = b & 0x0f;
      const fin = b & 0x80;
      const rsv1 = b & 0x40;
      if (b & 0x70 & ~this._flags) return E_RESERVED_BITS;
      if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa) return E_RESERVED_OPCODE;
      if (opcode >= 0x8) {
        // RFC 6455 5.5: control frames are never fragmented.
        if (!fin) return E_FRAGMENTED_CONTROL;
        this._payloadKind = opcode === 0x8 ? PAYLOAD_CLOSE : PAYLOAD_UNCHECKED;
      } else if (opcode === 0x0) {
        if (!this._messageOpen) return E_UNEXPECTED_CONTINUATION;
        // RFC 7692 6.1: RSV1 marks a whole message, on its first frame only.
        if (rsv1) return E_RESERVED_BITS;
        this._payloadKind = this._messageIsText ? PAYLOAD_TEXT : PAYLOAD_UNCHECKED;
        this._messageOpen = !fin;
      } else {
        if (this._messageOpen) return E_EXPECTED_CONTINUATION;
        // A compressed text message is checked after inflating, not here.
        this._messageIsText = opcode === 0x1 && !rsv1;
        this._payloadKind = this._messageIsText ? PAYLOAD_TEXT : PAYLOAD_UNCHECKED;
        this._messageOpen = !fin;
        this._messageSize = 0;
        this._textState = 0;
      }
      this._frameFlags = opcode | (fin ? FLAG_FIN : 0) | (rsv1 ? FLAG_RSV1 : 0);
      this._step = AT_BYTE1;
      return 0;
    }
    if (step === AT_BYTE1) {
      // RFC 6455 5.1: a server must not mask its frames.
      if (b & 0x80) return E_MASKED_FRAME;
      const length = b & 0x7f;
      const opcode = this._frameFlags & 0x0f;
      if (opcode >= 0x8) {
        // RFC 6455 5.5: control payloads are at most 125 bytes; 5.5.1: a close body is empty or has a 2-byte code.
        if (length > 125) return E_CONTROL_TOO_LONG;
        if (opcode === 0x8 && length === 1) return E_CLOSE_PAYLOAD_ONE_BYTE;
        this._startPayload(length);
        return 0;
      }
      if (length < 126) return this._dataLength(length);
      this._step = length === 126 ? AT_LENGTH16 : AT_LENGTH64;
      this._lengthBytes = length === 126 ? 2 : 8;
      this._lengthHi = 0;
      this._lengthLo = 0;
      return 0;
    }
    const nonMinimalOk = this._flags & CFG_ACCEPT_NON_MINIMAL;
    if (step === AT_LENGTH16) {
      this._lengthLo = this._lengthLo * 256 + b;
      if (--this._lengthBytes !== 0) return 0;
      if (this._lengthLo < 126 && !nonMinimalOk) return E_NON_MINIMAL_LENGTH;
      return this._dataLength(this._lengthLo);
    }
    // AT_LENGTH64: bytes 2-5 are the high word, 6-9 the low word.
    // RFC 6455 5.2: the most significant bit must be 0.
    if (this._lengthBytes === 8 && b & 0x80) return E_LENGTH_TOP_BIT;
    if (this._lengthBytes > 4) this._lengthHi = this._lengthHi * 256 + b;
    else this._lengthLo = this._lengthLo * 256 + b;
    if (--this._lengthBytes !== 0) return 0;
    const hi = this._lengthHi;
    if (hi === 0 && this._lengthLo < 65536 && !nonMinimalOk) return E_NON_MINIMAL_LENGTH;
    if (hi >= HI_OVER_ANY_MAX) return E_MESSAGE_TOO_BIG;
    return this._dataLength(hi * TWO_POW_32 + this._lengthLo);
  }

  /** A data frame's length is known: the 1009 decision, before any payload arrives. */
  private _dataLength(length: number): number {
    const soFar = (this._frameFlags & 0x0f) === 0x0 ? this._messageSize : 0;
    // max - soFar is exact (both below 2^53); soFar + length might not be.
    if (length > this._max - soFar) return E_MESSAGE_TOO_BIG;
    this._messageSize = soFar + length;
    this._startPayload(length);
    return 0;
  }

  private _startPayload(length: number): void {
    this._payloadLeft = length;
    this._firstRun = true;
    this._closeCode = 0;
    this._closeCodeBytes = 0;
    this._reasonState = 0;
    this._step = AT_PAYLOAD;
  }

  /**
   * Checks a run of a close frame's payload: the 2-byte code, then the reason as UTF-8
   * (its own state, apart from an open text message's). Returns an error id with its
   * offset in `pos`, or 0.
   */
  private _closePayload(chunk: Uint8Array, i: number, stop: number, complete: boolean): number {
    for (; this._closeCodeBytes < 2 && i < stop; i++) {
      this._closeCode = this._closeCode * 256 + chunk[i];
      if (++this._closeCodeBytes === 2 && !isValidCloseCode(this._closeCode)) {
        this.pos = i;
        return E_INVALID_CLOSE_CODE;
      }
    }
    const r = utf8Scan(chunk, i, stop, this._reasonState);
    if (r < 0) {
      this.pos = ~r;
      return E_INVALID_CLOSE_REASON;
    }
    if (r !== 0 && complete) {
      this.pos = stop - 1;
      return E_INVALID_CLOSE_REASON;
    }
    this._reasonState = r;
    return 0;
  }

  /** Writes a DATA record for a payload run; FIRST is added on the frame's first run. */
  private _record(index: number, flags: number, start: number, length: number): void {
    const events = this.events;
    const k = index * RECORD_SLOTS;
    events[k] = EV_DATA;
    events[k + 1] = this._frameFlags | flags | (this._firstRun ? FLAG_FIRST : 0);
    events[k + 2] = start;
    events[k + 3] = length;
    this._firstRun = false;
  }

  /** Writes the ERROR record; the stream is dead from here until reset(). */
  private _fail(error: number, offset: number, records: number, end: number): number {
    const events = this.events;
    const k = records * RECORD_SLOTS;
    events[k] = EV_ERROR;
    events[k + 1] = error;
    events[k + 2] = error === E_MESSAGE_TOO_BIG ? 1009 : error === E_INVALID_UTF8 || error === E_TRUNCATED_UTF8 || error === E_INVALID_CLOSE_REASON ? 1007 : 1002;
    events[k + 3] = offset;
    this._step = DEAD;
    this.pos = end;
    return records + 1;
  }
}
