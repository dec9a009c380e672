/**
 * Builders for server-to-client frames, used by the shared vectors and the fuzzers.
 * They can write what a correct server never would (non-minimal lengths, masks,
 * reserved bits, a 64-bit length with its top bit set) so each rule can be broken
 * on purpose. RFC 6455 5.2 is the layout throughout.
 */

export const FIN = 0x80;
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;

/** What a vector expects for one frame: the frame's flags and the payload delivered in DATA records. */
export interface ExpectedFrame {
  opcode: number;
  fin: boolean;
  /** RSV1 as reported by the core (FLAG_RSV1): only set when configure() allows it. */
  rsv1: boolean;
  /** Absolute stream offset of the first payload byte (just past the header). */
  start: number;
  /** The payload bytes delivered so far; all of it when `complete`. */
  payload: Uint8Array;
  /** false: the stream ends before the frame's payload does. */
  complete: boolean;
}

export interface HeaderSpec {
  opcode: number;
  /** Default true. */
  fin?: boolean;
  /** RSV bits as they sit in byte 0 (RSV1 0x40, RSV2 0x20, RSV3 0x10). */
  rsv?: number;
  /** The declared payload length; a bigint reaches past 2^53 (and the top bit). */
  length: number | bigint;
  /** Length encoding: 7 (in byte 1), 16 (126 + 2 bytes) or 64 (127 + 8 bytes). Default: the minimal one. */
  form?: 7 | 16 | 64;
  /** Sets the MASK bit and appends this 32-bit key (byte 0 = most significant). */
  maskKey?: number;
}

export function minimalForm(length: number | bigint): 7 | 16 | 64 {
  const n = BigInt(length);
  if (n <= BigInt(125)) return 7;
  if (n <= BigInt(0xffff)) return 16;
  return 64;
}

/** Encodes a frame header exactly as asked, legal or not. */
export function header(h: HeaderSpec): Uint8Array {
  const fin = h.fin === undefined ? true : h.fin;
  const form = h.form || minimalForm(h.length);
  const n = BigInt(h.length);
  const masked = h.maskKey !== undefined;
  const lengthBytes = form === 7 ? 0 : form === 16 ? 2 : 8;
  const out = new Uint8Array(2 + lengthBytes + (masked ? 4 : 0));
  out[0] = (fin ? FIN : 0) | ((h.rsv || 0) & 0x70) | (h.opcode & 0x0f);
  let b1: number;
  if (form === 7) {
    if (n > BigInt(127)) throw new Error('7-bit form cannot hold ' + n);
    b1 = Number(n);
  } else {
    b1 = form === 16 ? 126 : 127;
    if (form === 16 && n > BigInt(0xffff)) throw new Error('16-bit form cannot hold ' + n);
    for (let i = 0; i < lengthBytes; i++) {
      out[2 + i] = Number((n >> BigInt(8 * (lengthBytes - 1 - i))) & BigInt(0xff));
    }
  }
  out[1] = (masked ? 0x80 : 0) | b1;
  if (masked) {
    const k = h.maskKey as number;
    const at = 2 + lengthBytes;
    out[at] = (k >>> 24) & 0xff;
    out[at + 1] = (k >>> 16) & 0xff;
    out[at + 2] = (k >>> 8) & 0xff;
    out[at + 3] = k & 0xff;
  }
  return out;
}

/** XOR with a 4-byte key from phase 0 (RFC 6455 5.3): the reference the cores' mask() is held to. */
export function xorMask(bytes: Uint8Array, key: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] ^ ((key >>> (24 - 8 * (i & 3))) & 0xff);
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder does). */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Bytes from hex, spaces allowed: hex('e2 82 ac'). */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (clean.length % 2 !== 0) throw new Error('odd hex: ' + s);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(2 * i, 2), 16);
  return out;
}

/** Lower-case hex of the bytes (test code on Node: Buffer is fine here). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesOf(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  return typeof payload === 'string' ? utf8(payload) : payload;
}

/** A Close payload: the 2-byte big-endian code, then the reason (RFC 6455 5.5.1). */
export function closePayload(code: number, reason?: Uint8Array | string): Uint8Array {
  const r = bytesOf(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = (code >>> 8) & 0xff;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

export interface FrameOptions {
  fin?: boolean;
  rsv?: number;
  form?: 7 | 16 | 64;
  maskKey?: number;
  /** Declared length when it should differ from the payload's (e.g. a header for a payload never sent). */
  length?: number | bigint;
  /** Payload bytes actually written (default: all): the stream ends inside the frame. Stream only. */
  sent?: number;
}

/** Header + payload (masked with maskKey when given). */
export function frame(opcode: number, payload?: Uint8Array | string, opts: FrameOptions = {}): Uint8Array {
  const p = bytesOf(payload);
  const h = header({
    opcode,
    fin: opts.fin,
    rsv: opts.rsv,
    form: opts.form,
    maskKey: opts.maskKey,
    length: opts.length === undefined ? p.length : opts.length,
  });
  return concat([h, opts.maskKey === undefined ? p : xorMask(p, opts.maskKey)]);
}

/**
 * A byte stream built frame by frame, remembering where each frame's header and
 * payload sit so vectors can name error offsets as "frame 2, header byte 1" rather
 * than magic numbers, and so the expected frames come for free.
 */
export class Stream {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  /** Absolute offset of each frame's first header byte, in order of frame() calls. */
  readonly headers: number[] = [];
  /** Absolute offset of each frame's first payload byte. */
  readonly starts: number[] = [];
  /** Per frame: the frame as a correct core would report it, if its header were accepted. */
  readonly frames: ExpectedFrame[] = [];

  get length(): number {
    return this.size;
  }

  /**
   * Appends a frame. `sent` cuts the payload short (the stream ends inside the frame).
   * The expected frame reports RSV1 when the bit is set: a core that accepts the frame
   * at all must have been configured to allow RSV1, and then it reports FLAG_RSV1.
   */
  frame(opcode: number, payload?: Uint8Array | string, opts: FrameOptions = {}): this {
    const p = bytesOf(payload);
    const declared = opts.length === undefined ? p.length : opts.length;
    const h = header({ opcode, fin: opts.fin, rsv: opts.rsv, form: opts.form, maskKey: opts.maskKey, length: declared });
    const sent = opts.sent === undefined ? p.length : opts.sent;
    const body = (opts.maskKey === undefined ? p : xorMask(p, opts.maskKey)).subarray(0, sent);
    this.headers.push(this.size);
    this.starts.push(this.size + h.length);
    this.frames.push({
      opcode: opcode & 0x0f,
      fin: opts.fin === undefined ? true : opts.fin,
      rsv1: ((opts.rsv || 0) & RSV1) !== 0,
      start: this.size + h.length,
      payload: p.subarray(0, sent),
      complete: BigInt(sent) === BigInt(declared),
    });
    this.push(h);
    this.push(body);
    return this;
  }

  text(payload?: Uint8Array | string, opts: FrameOptions = {}): this {
    return this.frame(0x1, payload, opts);
  }
  binary(payload?: Uint8Array | string, opts: FrameOptions = {}): this {
    return this.frame(0x2, payload, opts);
  }
  cont(payload?: Uint8Array | string, opts: FrameOptions = {}): this {
    return this.frame(0x0, payload, opts);
  }
  ping(payload?: Uint8Array | string, opts: FrameOptions = {}): this {
    return this.frame(0x9, payload, opts);
  }
  pong(payload?: Uint8Array | string, opts: FrameOptions = {}): this {
    return this.frame(0xa, payload, opts);
  }
  close(code?: number, reason?: Uint8Array | string, opts: FrameOptions = {}): this {
    return this.frame(0x8, code === undefined ? undefined : closePayload(code, reason), opts);
  }

  /** Bytes that are not a frame the builder tracks (a torn header, garbage). */
  raw(bytes: Uint8Array | number[]): this {
    this.push(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
    return this;
  }

  /** Absolute offset of header byte `k` of frame `i` (k = 0: FIN/RSV/opcode, 1: MASK/length). */
  at(i: number, k: number): number {
    return this.headers[i] + k;
  }

  /** Absolute offset of payload byte `k` of frame `i`. */
  payloadAt(i: number, k: number): number {
    return this.starts[i] + k;
  }

  /** Absolute offset of the last byte of frame `i` (its header's last byte when the payload is empty). */
  lastByte(i: number): number {
    const f = this.frames[i];
    return f.start + f.payload.length - 1;
  }

  bytes(): Uint8Array {
    return concat(this.parts);
  }

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }
}

export function stream(): Stream {
  return new Stream();
}
