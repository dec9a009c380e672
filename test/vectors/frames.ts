/**
 * The shared test vectors for picows' frame validator: one table that both cores
 * (WebAssembly and the plain-JS twin) are held to, and that a fuzzing server can
 * replay over real sockets. Each vector is plain data:
 *
 *   { name, rule, bytes, maxMessage?, flags?, expect: { frames, error? } }
 *
 * `rule` names the row of the contract's table (assembly/README.md) the vector is
 * about; good cases sit next to the bad ones. `error.offset` is the absolute stream
 * offset of the byte whose arrival makes the stream invalid, as the contract puts it.
 * `frames` are the frames a correct core delivers (in DATA records) before that.
 * maxMessage/flags undefined: the validator is made with createValidator() defaults.
 */
import {
  CORE_ERRORS,
  E_CLOSE_PAYLOAD_ONE_BYTE,
  E_CONTROL_TOO_LONG,
  E_EXPECTED_CONTINUATION,
  E_FRAGMENTED_CONTROL,
  E_INVALID_CLOSE_CODE,
  E_INVALID_CLOSE_REASON,
  E_INVALID_UTF8,
  E_LENGTH_TOP_BIT,
  E_MASKED_FRAME,
  E_MESSAGE_TOO_BIG,
  E_NON_MINIMAL_LENGTH,
  E_RESERVED_BITS,
  E_RESERVED_OPCODE,
  E_TRUNCATED_UTF8,
  E_UNEXPECTED_CONTINUATION,
} from '../../src/core/error-ids';
import { CFG_ACCEPT_NON_MINIMAL } from '../../src/core/types';
import { RSV1, RSV2, RSV3, concat, hex, stream, type ExpectedFrame, type Stream } from './build';

export interface VectorError {
  id: number;
  code: number;
  /** Absolute stream offset of the failing byte. */
  offset: number;
}

export interface Vector {
  name: string;
  rule: string;
  bytes: Uint8Array;
  maxMessage?: number;
  flags?: number;
  expect: { frames?: ExpectedFrame[]; error?: VectorError };
}

interface Config {
  maxMessage?: number;
  flags?: number;
}

const CLOSE = 0x8;

const ALLOW_RSV1 = RSV1;
const NON_MINIMAL = CFG_ACCEPT_NON_MINIMAL;

export const VECTORS: Vector[] = [];

function codeOf(id: number): number {
  for (let i = 0; i < CORE_ERRORS.length; i++) if (CORE_ERRORS[i][0] === id) return CORE_ERRORS[i][2];
  throw new Error('unknown error id ' + id);
}

function push(rule: string, name: string, s: Stream, cfg: Config, expect: Vector['expect']): void {
  for (const v of VECTORS) if (v.name === name) throw new Error('duplicate vector name: ' + name);
  const v: Vector = { name, rule, bytes: s.bytes(), expect };
  if (cfg.maxMessage !== undefined) v.maxMessage = cfg.maxMessage;
  if (cfg.flags !== undefined) v.flags = cfg.flags;
  VECTORS.push(v);
}

/** A legal stream: every frame whose header arrived is delivered (a header alone delivers nothing). */
function ok(rule: string, name: string, s: Stream, cfg: Config = {}): void {
  push(rule, name, s, cfg, { frames: s.frames.filter((f) => f.complete || f.payload.length > 0) });
}

/**
 * An illegal stream failing at `offset`: the frames delivered are those complete
 * before the failing byte (an empty frame counts once its header is past it).
 */
function bad(rule: string, name: string, s: Stream, id: number, offset: number, cfg: Config = {}): void {
  const frames = s.frames.filter(
    (f) => f.complete && (f.payload.length > 0 ? f.start + f.payload.length <= offset : f.start <= offset),
  );
  push(rule, name, s, cfg, { frames, error: { id, code: codeOf(id), offset } });
}

const s = stream;

function repeat(b: Uint8Array, times: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < times; i++) parts.push(b);
  return concat(parts);
}

function ascii(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 0x21 + ((i * 7 + seed) % 90);
  return out;
}

function withByteAt(base: Uint8Array, at: number, bytes: Uint8Array): Uint8Array {
  const out = base.slice();
  out.set(bytes, at);
  return out;
}

// ---------------------------------------------------------------- legal basics
ok('valid', 'single text frame', s().text('Hello'));
ok('valid', 'single binary frame', s().binary(hex('00 01 fe ff')));
ok('valid', 'empty text frame', s().text(''));
ok('valid', 'empty binary frame', s().binary(''));
ok('valid', 'text frame of 125 bytes (largest 7-bit length)', s().text(ascii(125)));
ok('valid', 'text frame of 126 bytes (smallest 16-bit length)', s().text(ascii(126)));
ok('valid', 'several messages back to back', s().text('a').binary(hex('ff')).text('bc').binary(''));
ok('valid', 'ping, pong and text', s().ping('p').pong('').text('t'));
ok('valid', 'empty ping', s().ping());
ok('valid', 'ping of 125 bytes', s().ping(ascii(125)));
ok('valid', 'pong of 125 bytes', s().pong(ascii(125, 3)));
ok('valid', 'empty stream', s());
ok('valid', 'stream ends after byte 0 of a header', s().raw([0x81]));
ok('valid', 'stream ends inside a 16-bit length', s().raw([0x82, 0x7e, 0x01]));
ok('valid', 'stream ends inside a 64-bit length', s().raw([0x82, 0x7f, 0, 0, 0, 0, 0]));
ok('valid', 'stream ends after a header whose payload never comes', s().binary('hello', { sent: 0 }));
ok('valid', 'stream ends inside a payload', s().binary('hello', { sent: 3 }));
ok('valid', 'stream ends inside a text payload between characters', s().text('h\u00e9llo', { sent: 3 }));
ok('valid', 'stream ends inside a text payload mid-character', s().text('h\u00e9llo', { sent: 2 }));
ok('valid', 'valid frames then an unfinished one', s().text('one').ping('x').binary(ascii(40), { sent: 17 }));

// Many small frames in one chunk: more records than a record buffer holds, so scan()
// must stop with pos < chunk.length and continue from there.
{
  const many = s();
  for (let i = 0; i < 300; i++) many.ping();
  ok('valid', '300 empty pings (record buffer fills)', many);
  const mixed = s();
  for (let i = 0; i < 200; i++) mixed.binary(Uint8Array.of(i & 0xff)).text('');
  ok('valid', '200 one-byte binary and 200 empty text frames', mixed);
  const frag = s().text('a', { fin: false });
  for (let i = 0; i < 250; i++) frag.cont(i % 2 ? '\u00e9' : '', { fin: false }).ping();
  frag.cont('z');
  ok('valid', 'a text message in 252 fragments with pings between', frag);
  const tail = s();
  for (let i = 0; i < 300; i++) tail.pong();
  tail.raw([0x83]);
  bad('RESERVED_OPCODE', 'reserved opcode after 300 empty pongs', tail, E_RESERVED_OPCODE, 600);
}

// ---------------------------------------------------------------- RSV bits (byte 0)
bad('RESERVED_BITS', 'RSV1 without an extension', s().text('hi', { rsv: RSV1 }), E_RESERVED_BITS, 0);
bad('RESERVED_BITS', 'RSV2 without an extension', s().text('hi', { rsv: RSV2 }), E_RESERVED_BITS, 0);
bad('RESERVED_BITS', 'RSV3 without an extension', s().binary('hi', { rsv: RSV3 }), E_RESERVED_BITS, 0);
bad('RESERVED_BITS', 'RSV1-3 without an extension', s().binary('hi', { rsv: RSV1 | RSV2 | RSV3 }), E_RESERVED_BITS, 0);
bad('RESERVED_BITS', 'RSV2 on a ping', s().ping('x', { rsv: RSV2 }), E_RESERVED_BITS, 0);
bad('RESERVED_BITS', 'RSV1 on the second frame', s().text('ok').text('hi', { rsv: RSV1 }), E_RESERVED_BITS, 4);
ok('RESERVED_BITS', 'RSV1 allowed: compressed text', s().text('hi', { rsv: RSV1 }), { flags: ALLOW_RSV1 });
ok('RESERVED_BITS', 'RSV1 allowed: compressed binary', s().binary('hi', { rsv: RSV1 }), { flags: ALLOW_RSV1 });
ok('RESERVED_BITS', 'RSV1 allowed: an uncompressed text frame too', s().text('hi'), { flags: ALLOW_RSV1 });
ok('RESERVED_BITS', 'RSV2 allowed', s().binary('hi', { rsv: RSV2 }), { flags: RSV2 });
ok('RESERVED_BITS', 'RSV3 allowed', s().text('hi', { rsv: RSV3 }), { flags: RSV3 });
ok('RESERVED_BITS', 'RSV1-3 allowed and set', s().text('hi', { rsv: RSV1 | RSV2 | RSV3 }), { flags: RSV1 | RSV2 | RSV3 });
bad('RESERVED_BITS', 'RSV1 allowed but RSV2 set', s().text('hi', { rsv: RSV2 }), E_RESERVED_BITS, 0, { flags: ALLOW_RSV1 });
bad('RESERVED_BITS', 'RSV2 allowed but RSV1 set', s().text('hi', { rsv: RSV1 | RSV2 }), E_RESERVED_BITS, 0, { flags: RSV2 });
ok(
  'RESERVED_BITS',
  'RSV1 allowed: compressed message in fragments, RSV1 only on the first',
  s().text('ab', { rsv: RSV1, fin: false }).cont('cd', { fin: false }).cont('e'),
  { flags: ALLOW_RSV1 },
);
{
  const v = s().text('ab', { rsv: RSV1, fin: false }).cont('cd', { rsv: RSV1 });
  bad('RESERVED_BITS', 'RSV1 on a continuation even when allowed (RFC 7692 6.1)', v, E_RESERVED_BITS, v.at(1, 0), { flags: ALLOW_RSV1 });
  const w = s().text('ab', { fin: false }).cont('cd', { rsv: RSV1 });
  bad('RESERVED_BITS', 'RSV1 on a continuation of an uncompressed message, allowed', w, E_RESERVED_BITS, w.at(1, 0), { flags: ALLOW_RSV1 });
  const x = s().text('ab', { fin: false }).cont('cd', { rsv: RSV1 });
  bad('RESERVED_BITS', 'RSV1 on a continuation, not allowed', x, E_RESERVED_BITS, x.at(1, 0));
  const y = s().binary('ab', { fin: false }).cont('cd', { rsv: RSV2 });
  ok('RESERVED_BITS', 'RSV2 on a continuation when RSV2 is allowed', y, { flags: RSV2 });
}
ok(
  'RESERVED_BITS',
  'RSV1 allowed: a compressed text payload is not UTF-8-checked',
  s().text(hex('ff c0 80 ed a0 80'), { rsv: RSV1 }),
  { flags: ALLOW_RSV1 },
);
ok(
  'RESERVED_BITS',
  'RSV1 allowed: a compressed text message may end mid-sequence',
  s().text(hex('e2'), { rsv: RSV1, fin: false }).cont(hex('82')),
  { flags: ALLOW_RSV1 },
);
{
  const v = s().text(hex('e2'), { rsv: RSV1 }).text(hex('82 ac'));
  bad('RESERVED_BITS', 'RSV1 allowed: the UTF-8 state starts fresh after a compressed message', v, E_INVALID_UTF8, v.payloadAt(1, 0), {
    flags: ALLOW_RSV1,
  });
}

// ---------------------------------------------------------------- reserved opcodes (byte 0)
for (const op of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
  const name = '0x' + op.toString(16);
  bad('RESERVED_OPCODE', 'reserved opcode ' + name, s().frame(op, 'x'), E_RESERVED_OPCODE, 0);
  bad('RESERVED_OPCODE', 'reserved opcode ' + name + ', empty, after a text frame', s().text('ok').frame(op), E_RESERVED_OPCODE, 4);
}
bad('RESERVED_OPCODE', 'reserved control opcode 0xb without FIN', s().frame(0xb, 'x', { fin: false }), E_RESERVED_OPCODE, 0);
bad('RESERVED_OPCODE', 'reserved opcode 0x3 without FIN', s().frame(0x3, 'x', { fin: false }), E_RESERVED_OPCODE, 0);
{
  const v = s().text('a', { fin: false }).frame(0x3, 'b');
  bad('RESERVED_OPCODE', 'reserved opcode while a message is open', v, E_RESERVED_OPCODE, v.at(1, 0));
}
bad('RESERVED_BITS', 'RSV bits and a reserved opcode: RSV wins', s().frame(0x3, 'x', { rsv: RSV1 | RSV2 | RSV3 }), E_RESERVED_BITS, 0);
bad('RESERVED_OPCODE', 'reserved opcode with RSV1 allowed and set', s().frame(0x4, 'x', { rsv: RSV1 }), E_RESERVED_OPCODE, 0, {
  flags: ALLOW_RSV1,
});

// ---------------------------------------------------------------- control frames without FIN (byte 0)
bad('FRAGMENTED_CONTROL', 'close without FIN', s().close(1000, '', { fin: false }), E_FRAGMENTED_CONTROL, 0);
bad('FRAGMENTED_CONTROL', 'ping without FIN', s().ping('x', { fin: false }), E_FRAGMENTED_CONTROL, 0);
bad('FRAGMENTED_CONTROL', 'pong without FIN, empty', s().pong('', { fin: false }), E_FRAGMENTED_CONTROL, 0);
{
  const v = s().text('a', { fin: false }).ping('x', { fin: false });
  bad('FRAGMENTED_CONTROL', 'ping without FIN while a message is open', v, E_FRAGMENTED_CONTROL, v.at(1, 0));
}
bad('RESERVED_BITS', 'ping without FIN and RSV1: RSV wins', s().ping('x', { fin: false, rsv: RSV1 }), E_RESERVED_BITS, 0);
bad('FRAGMENTED_CONTROL', 'close without FIN and masked: byte 0 wins', s().close(1000, '', { fin: false, maskKey: 0x01020304 }), E_FRAGMENTED_CONTROL, 0);

// ---------------------------------------------------------------- continuation rules (byte 0)
bad('UNEXPECTED_CONTINUATION', 'continuation with no message', s().cont('x'), E_UNEXPECTED_CONTINUATION, 0);
bad('UNEXPECTED_CONTINUATION', 'continuation without FIN with no message', s().cont('x', { fin: false }), E_UNEXPECTED_CONTINUATION, 0);
bad('UNEXPECTED_CONTINUATION', 'continuation after a finished message', s().text('a').cont('b'), E_UNEXPECTED_CONTINUATION, 3);
{
  const v = s().text('a', { fin: false }).cont('b').cont('c');
  bad('UNEXPECTED_CONTINUATION', 'continuation after the final fragment', v, E_UNEXPECTED_CONTINUATION, v.at(2, 0));
  const w = s().ping('p').cont('');
  bad('UNEXPECTED_CONTINUATION', 'empty continuation after a ping', w, E_UNEXPECTED_CONTINUATION, w.at(1, 0));
}
bad('UNEXPECTED_CONTINUATION', 'continuation with RSV1 allowed and no message: row 4 before row 6', s().cont('x', { rsv: RSV1 }), E_UNEXPECTED_CONTINUATION, 0, {
  flags: ALLOW_RSV1,
});
bad('RESERVED_BITS', 'continuation with RSV1 not allowed and no message: RSV wins', s().cont('x', { rsv: RSV1 }), E_RESERVED_BITS, 0);
{
  const v = s().text('a', { fin: false }).text('b');
  bad('EXPECTED_CONTINUATION', 'text while a text message is open', v, E_EXPECTED_CONTINUATION, v.at(1, 0));
  const w = s().text('a', { fin: false }).binary('b');
  bad('EXPECTED_CONTINUATION', 'binary while a text message is open', w, E_EXPECTED_CONTINUATION, w.at(1, 0));
  const x = s().binary('a', { fin: false }).text('', { fin: false });
  bad('EXPECTED_CONTINUATION', 'empty unfinished text while a binary message is open', x, E_EXPECTED_CONTINUATION, x.at(1, 0));
  const y = s().text('a', { fin: false }).ping('p').pong('q').binary('b');
  bad('EXPECTED_CONTINUATION', 'binary after pings inside an open message', y, E_EXPECTED_CONTINUATION, y.at(3, 0));
  const z = s().text('a', { fin: false }).text('b', { rsv: RSV1 });
  bad('EXPECTED_CONTINUATION', 'compressed text while a message is open, RSV1 allowed', z, E_EXPECTED_CONTINUATION, z.at(1, 0), {
    flags: ALLOW_RSV1,
  });
  const r = s().text('a', { fin: false }).text('b', { rsv: RSV1 });
  bad('RESERVED_BITS', 'RSV1 text while a message is open, not allowed: RSV wins', r, E_RESERVED_BITS, r.at(1, 0));
}
ok('valid', 'text in three fragments', s().text('a', { fin: false }).cont('b', { fin: false }).cont('c'));
ok('valid', 'binary in two fragments', s().binary(hex('ff'), { fin: false }).cont(hex('fe')));
ok('valid', 'empty fragments', s().text('', { fin: false }).cont('', { fin: false }).cont(''));
ok(
  'valid',
  'control frames between fragments',
  s().text('a', { fin: false }).ping('1').cont('b', { fin: false }).pong('2').ping().cont('c'),
);
ok('valid', 'a close between fragments', s().text('a', { fin: false }).close(1000, 'x').cont('b'));
ok('valid', 'a new message after a fragmented one', s().binary('a', { fin: false }).cont('b').text('c', { fin: false }).cont('d'));

// ---------------------------------------------------------------- masked frames (byte 1)
bad('MASKED_FRAME', 'masked text frame', s().text('hi', { maskKey: 0x12345678 }), E_MASKED_FRAME, 1);
bad('MASKED_FRAME', 'masked empty binary frame', s().binary('', { maskKey: 0 }), E_MASKED_FRAME, 1);
bad('MASKED_FRAME', 'masked ping', s().ping('x', { maskKey: 0xdeadbeef }), E_MASKED_FRAME, 1);
bad('MASKED_FRAME', 'masked 16-bit length frame', s().binary(ascii(200), { maskKey: 0xa1b2c3d4 }), E_MASKED_FRAME, 1);
bad('MASKED_FRAME', 'masked frame after a valid one', s().text('ok').binary('x', { maskKey: 1 }), E_MASKED_FRAME, 5);
bad('MASKED_FRAME', 'masked ping with length 126: MASK wins', s().ping(ascii(126), { maskKey: 7 }), E_MASKED_FRAME, 1);
bad('MASKED_FRAME', 'masked close of one byte: MASK wins', s().frame(CLOSE, hex('03'), { maskKey: 7 }), E_MASKED_FRAME, 1);
bad('MASKED_FRAME', 'masked data frame over the maximum: MASK wins', s().binary(ascii(11), { maskKey: 9 }), E_MASKED_FRAME, 1, { maxMessage: 10 });
{
  const v = s().text('a', { fin: false }).cont('b', { maskKey: 0x01010101 });
  bad('MASKED_FRAME', 'masked continuation', v, E_MASKED_FRAME, v.at(1, 1));
}

// ---------------------------------------------------------------- control frame length (byte 1)
bad('CONTROL_TOO_LONG', 'ping of 126 bytes (16-bit form)', s().ping(ascii(126)), E_CONTROL_TOO_LONG, 1);
bad('CONTROL_TOO_LONG', 'pong of 126 bytes (16-bit form)', s().pong(ascii(126)), E_CONTROL_TOO_LONG, 1);
bad('CONTROL_TOO_LONG', 'close of 126 bytes (16-bit form)', s().close(1000, ascii(124)), E_CONTROL_TOO_LONG, 1);
bad('CONTROL_TOO_LONG', 'ping with a 64-bit length', s().ping(ascii(3), { form: 64 }), E_CONTROL_TOO_LONG, 1);
bad('CONTROL_TOO_LONG', 'ping of 5 bytes in the 16-bit form', s().ping(ascii(5), { form: 16 }), E_CONTROL_TOO_LONG, 1);
bad('CONTROL_TOO_LONG', 'ping of 5 bytes in the 16-bit form, non-minimal accepted', s().ping(ascii(5), { form: 16 }), E_CONTROL_TOO_LONG, 1, {
  flags: NON_MINIMAL,
});
bad('CONTROL_TOO_LONG', 'close of 1 byte in the 16-bit form: too long wins', s().frame(CLOSE, hex('03'), { form: 16 }), E_CONTROL_TOO_LONG, 1);
bad('CONTROL_TOO_LONG', 'ping with a 64-bit length and its top bit set', s().ping('', { length: BigInt(2) ** BigInt(63), sent: 0 }), E_CONTROL_TOO_LONG, 1);
{
  const v = s().text('a', { fin: false }).ping(ascii(130));
  bad('CONTROL_TOO_LONG', 'long ping inside an open message', v, E_CONTROL_TOO_LONG, v.at(1, 1));
}
ok('CONTROL_TOO_LONG', 'close of 125 bytes', s().close(1000, ascii(123)));

// ---------------------------------------------------------------- close payload of one byte (byte 1)
bad('CLOSE_PAYLOAD_ONE_BYTE', 'close of one byte', s().frame(CLOSE, hex('03')), E_CLOSE_PAYLOAD_ONE_BYTE, 1);
bad('CLOSE_PAYLOAD_ONE_BYTE', 'close of one byte, header only', s().frame(CLOSE, hex('03'), { sent: 0 }), E_CLOSE_PAYLOAD_ONE_BYTE, 1);
bad('CLOSE_PAYLOAD_ONE_BYTE', 'close of one byte after a ping', s().ping('x').frame(CLOSE, hex('e8')), E_CLOSE_PAYLOAD_ONE_BYTE, 4);
ok('CLOSE_PAYLOAD_ONE_BYTE', 'empty close', s().close());
ok('CLOSE_PAYLOAD_ONE_BYTE', 'close with a code and no reason', s().close(1000));

// ---------------------------------------------------------------- 64-bit length top bit (byte 2)
bad('LENGTH_TOP_BIT', '64-bit length 2^63', s().binary('', { length: BigInt(2) ** BigInt(63), sent: 0 }), E_LENGTH_TOP_BIT, 2);
bad('LENGTH_TOP_BIT', '64-bit length 2^64-1', s().binary('', { length: BigInt(2) ** BigInt(64) - BigInt(1), sent: 0 }), E_LENGTH_TOP_BIT, 2);
bad('LENGTH_TOP_BIT', '64-bit length with the top bit, non-minimal accepted', s().text('', { length: BigInt(2) ** BigInt(63) + BigInt(5), sent: 0 }), E_LENGTH_TOP_BIT, 2, {
  flags: NON_MINIMAL,
  maxMessage: Number.MAX_SAFE_INTEGER,
});
{
  const v = s().binary('a', { fin: false }).cont('', { length: BigInt('0x8000000000000001'), sent: 0 });
  bad('LENGTH_TOP_BIT', 'continuation with the top bit set', v, E_LENGTH_TOP_BIT, v.at(1, 2));
}
bad('MESSAGE_TOO_BIG', '64-bit length 2^63-1 (top bit clear) is only too big', s().binary('', { length: BigInt(2) ** BigInt(63) - BigInt(1), sent: 0 }), E_MESSAGE_TOO_BIG, 9);

// ---------------------------------------------------------------- non-minimal lengths (byte 3 / byte 9)
for (const n of [0, 1, 5, 125]) {
  bad('NON_MINIMAL_LENGTH', 'length ' + n + ' in the 16-bit form', s().binary(ascii(n), { form: 16 }), E_NON_MINIMAL_LENGTH, 3);
  ok('NON_MINIMAL_LENGTH', 'length ' + n + ' in the 16-bit form, accepted', s().binary(ascii(n), { form: 16 }), { flags: NON_MINIMAL });
}
for (const n of [0, 5, 125, 126, 65535]) {
  // The failing byte is the header's last: a few payload bytes are enough behind it.
  const v = s().binary(ascii(n), { form: 64, sent: Math.min(n, 6) });
  bad('NON_MINIMAL_LENGTH', 'length ' + n + ' in the 64-bit form', v, E_NON_MINIMAL_LENGTH, 9);
}
for (const n of [0, 5, 126]) {
  ok('NON_MINIMAL_LENGTH', 'length ' + n + ' in the 64-bit form, accepted', s().text(ascii(n), { form: 64 }), { flags: NON_MINIMAL });
}
ok('NON_MINIMAL_LENGTH', 'length 65535 in the 64-bit form, accepted (header only)', s().binary('', { form: 64, length: 65535, sent: 0 }), {
  flags: NON_MINIMAL,
  maxMessage: 70000,
});
ok('NON_MINIMAL_LENGTH', 'length 126 in the 16-bit form is minimal', s().binary(ascii(126)));
ok('NON_MINIMAL_LENGTH', 'length 65535 in the 16-bit form is minimal (header and a little)', s().binary(ascii(65535), { sent: 9 }), {
  maxMessage: 65535,
});
ok('NON_MINIMAL_LENGTH', 'length 65536 in the 64-bit form is minimal (header only)', s().binary('', { length: 65536, sent: 0 }), {
  maxMessage: 65536,
});
bad('NON_MINIMAL_LENGTH', 'non-minimal before too big (16-bit)', s().binary(ascii(5), { form: 16 }), E_NON_MINIMAL_LENGTH, 3, { maxMessage: 3 });
bad('MESSAGE_TOO_BIG', 'non-minimal accepted, then too big (16-bit)', s().binary(ascii(5), { form: 16 }), E_MESSAGE_TOO_BIG, 3, {
  maxMessage: 3,
  flags: NON_MINIMAL,
});
bad('NON_MINIMAL_LENGTH', 'non-minimal before too big (64-bit)', s().binary(ascii(5), { form: 64 }), E_NON_MINIMAL_LENGTH, 9, { maxMessage: 3 });
bad('MESSAGE_TOO_BIG', 'non-minimal accepted, then too big (64-bit)', s().binary(ascii(5), { form: 64 }), E_MESSAGE_TOO_BIG, 9, {
  maxMessage: 3,
  flags: NON_MINIMAL,
});
{
  const v = s().text('ab', { fin: false }).cont('c', { form: 16 });
  bad('NON_MINIMAL_LENGTH', 'non-minimal continuation', v, E_NON_MINIMAL_LENGTH, v.at(1, 3));
  const w = s().text('ab', { fin: false }).cont('c', { form: 64 });
  ok('NON_MINIMAL_LENGTH', 'non-minimal continuation, accepted', w, { flags: NON_MINIMAL });
}

// ---------------------------------------------------------------- message too big (1009)
bad('MESSAGE_TOO_BIG', '7-bit length over the maximum', s().text(ascii(11)), E_MESSAGE_TOO_BIG, 1, { maxMessage: 10 });
ok('MESSAGE_TOO_BIG', '7-bit length exactly at the maximum', s().text(ascii(10)), { maxMessage: 10 });
bad('MESSAGE_TOO_BIG', '16-bit length over the maximum', s().binary(ascii(201)), E_MESSAGE_TOO_BIG, 3, { maxMessage: 200 });
ok('MESSAGE_TOO_BIG', '16-bit length exactly at the maximum', s().binary(ascii(200)), { maxMessage: 200 });
bad('MESSAGE_TOO_BIG', '16-bit length over the maximum, header only', s().binary('', { length: 300, sent: 0 }), E_MESSAGE_TOO_BIG, 3, {
  maxMessage: 299,
});
bad('MESSAGE_TOO_BIG', '64-bit length over the maximum', s().binary('', { length: 65537, sent: 0 }), E_MESSAGE_TOO_BIG, 9, { maxMessage: 65536 });
bad('MESSAGE_TOO_BIG', '64-bit length 2^32+5 (not 5)', s().binary('', { length: BigInt(2) ** BigInt(32) + BigInt(5), sent: 0 }), E_MESSAGE_TOO_BIG, 9, {
  maxMessage: 100,
  flags: NON_MINIMAL,
});
ok('MESSAGE_TOO_BIG', '64-bit length 2^32 (not 0) under a huge maximum', s().binary('x', { length: BigInt(2) ** BigInt(32), sent: 1 }), {
  maxMessage: Number.MAX_SAFE_INTEGER,
});
ok('MESSAGE_TOO_BIG', '64-bit length 2^53-1 at a maximum of 2^53-1', s().binary('', { length: BigInt(2) ** BigInt(53) - BigInt(1), sent: 0 }), {
  maxMessage: Number.MAX_SAFE_INTEGER,
});
bad('MESSAGE_TOO_BIG', '64-bit length 2^53 over a maximum of 2^53-1', s().binary('', { length: BigInt(2) ** BigInt(53), sent: 0 }), E_MESSAGE_TOO_BIG, 9, {
  maxMessage: Number.MAX_SAFE_INTEGER,
});
bad('MESSAGE_TOO_BIG', '64-bit length 2^53+2 over a maximum of 2^53-1', s().binary('', { length: BigInt(2) ** BigInt(53) + BigInt(2), sent: 0 }), E_MESSAGE_TOO_BIG, 9, {
  maxMessage: Number.MAX_SAFE_INTEGER,
});
bad('MESSAGE_TOO_BIG', 'default maximum: 8193 bytes', s().binary(ascii(8193), { sent: 10 }), E_MESSAGE_TOO_BIG, 3);
ok('MESSAGE_TOO_BIG', 'default maximum: 8192 bytes', s().binary(ascii(8192)));
ok('MESSAGE_TOO_BIG', 'maximum 0: empty text', s().text('').text(''), { maxMessage: 0 });
bad('MESSAGE_TOO_BIG', 'maximum 0: one byte', s().text('').text('a'), E_MESSAGE_TOO_BIG, 3, { maxMessage: 0 });
ok('MESSAGE_TOO_BIG', 'control frames do not count', s().ping(ascii(100)).close(1000, ascii(50)), { maxMessage: 10 });
{
  const v = s().text(ascii(4), { fin: false }).cont(ascii(7));
  bad('MESSAGE_TOO_BIG', 'fragments sum over the maximum (7-bit)', v, E_MESSAGE_TOO_BIG, v.at(1, 1), { maxMessage: 10 });
  ok('MESSAGE_TOO_BIG', 'fragments sum exactly to the maximum', s().text(ascii(4), { fin: false }).cont(ascii(6)), { maxMessage: 10 });
  ok(
    'MESSAGE_TOO_BIG',
    'fragments at the maximum with control frames between',
    s().text(ascii(4), { fin: false }).ping(ascii(100)).pong(ascii(20)).cont(ascii(6)),
    { maxMessage: 10 },
  );
  const w = s().binary(ascii(4), { fin: false }).cont(ascii(4), { fin: false }).cont(ascii(3));
  bad('MESSAGE_TOO_BIG', 'three fragments sum over the maximum', w, E_MESSAGE_TOO_BIG, w.at(2, 1), { maxMessage: 10 });
  ok('MESSAGE_TOO_BIG', 'each message counts alone', s().binary(ascii(8)).binary(ascii(8)).text(ascii(4), { fin: false }).cont(ascii(6)), {
    maxMessage: 10,
  });
  const x = s().binary(ascii(150), { fin: false }).cont(ascii(51));
  bad('MESSAGE_TOO_BIG', 'fragments sum over the maximum (16-bit then 7-bit)', x, E_MESSAGE_TOO_BIG, x.at(1, 1), { maxMessage: 200 });
  const y = s().binary(ascii(50), { fin: false }).cont(ascii(151));
  bad('MESSAGE_TOO_BIG', 'fragments sum over the maximum (7-bit then 16-bit)', y, E_MESSAGE_TOO_BIG, y.at(1, 3), { maxMessage: 200 });
  const z = s().binary(ascii(8000), { fin: false }).cont(ascii(193), { sent: 1 });
  bad('MESSAGE_TOO_BIG', 'default maximum across fragments', z, E_MESSAGE_TOO_BIG, z.at(1, 3));
  const u = s().binary(ascii(5), { fin: false }).cont('', { form: 64, length: 6, sent: 0 });
  bad('MESSAGE_TOO_BIG', 'fragments sum over the maximum (64-bit, non-minimal accepted)', u, E_MESSAGE_TOO_BIG, u.at(1, 9), {
    maxMessage: 10,
    flags: NON_MINIMAL,
  });
  ok('MESSAGE_TOO_BIG', 'an empty fragment at the maximum', s().binary(ascii(10), { fin: false }).cont(''), { maxMessage: 10 });
  const t = s().text(ascii(10), { fin: false }).cont('', { fin: false }).cont('x');
  bad('MESSAGE_TOO_BIG', 'one byte past the maximum after an empty fragment', t, E_MESSAGE_TOO_BIG, t.at(2, 1), { maxMessage: 10 });
}

// ---------------------------------------------------------------- UTF-8 in text messages
// One text frame each: [name, payload hex, index of the failing byte | -1 valid | 'end' truncated]
const UTF8_CASES: [string, string, number | 'end'][] = [
  ['ASCII', '48 65 6c 6c 6f', -1],
  ['NUL and DEL', '00 7f', -1],
  ['C0 80 (overlong NUL)', 'c0 80', 0],
  ['C1 BF (overlong)', 'c1 bf', 0],
  ['C2 80 (U+0080, smallest 2-byte)', 'c2 80', -1],
  ['DF BF (U+07FF)', 'df bf', -1],
  ['E0 80 80 (overlong 3-byte)', 'e0 80 80', 1],
  ['E0 9F BF (overlong U+07FF)', 'e0 9f bf', 1],
  ['E0 A0 80 (U+0800, smallest 3-byte)', 'e0 a0 80', -1],
  ['E1 80 80', 'e1 80 80', -1],
  ['EC BF BF', 'ec bf bf', -1],
  ['ED 9F BF (U+D7FF)', 'ed 9f bf', -1],
  ['ED A0 80 (U+D800 surrogate)', 'ed a0 80', 1],
  ['ED AF BF (U+DBFF surrogate)', 'ed af bf', 1],
  ['ED B0 80 (U+DC00 surrogate)', 'ed b0 80', 1],
  ['ED BF BF (U+DFFF surrogate)', 'ed bf bf', 1],
  ['ED A0 80 ED B0 80 (surrogate pair, CESU-8)', 'ed a0 80 ed b0 80', 1],
  ['EE 80 80 (U+E000)', 'ee 80 80', -1],
  ['EF BF BF (U+FFFF)', 'ef bf bf', -1],
  ['EF BB BF (BOM)', 'ef bb bf', -1],
  ['F0 80 80 80 (overlong 4-byte)', 'f0 80 80 80', 1],
  ['F0 8F BF BF (overlong U+FFFF)', 'f0 8f bf bf', 1],
  ['F0 90 80 80 (U+10000, smallest 4-byte)', 'f0 90 80 80', -1],
  ['F0 9F 98 80 (emoji)', 'f0 9f 98 80', -1],
  ['F1 80 80 80', 'f1 80 80 80', -1],
  ['F3 BF BF BF', 'f3 bf bf bf', -1],
  ['F4 80 80 80 (U+100000)', 'f4 80 80 80', -1],
  ['F4 8F BF BF (U+10FFFF, largest)', 'f4 8f bf bf', -1],
  ['F4 90 80 80 (U+110000)', 'f4 90 80 80', 1],
  ['F4 BF BF BF', 'f4 bf bf bf', 1],
  ['F5 80 80 80', 'f5 80 80 80', 0],
  ['F7 BF BF BF', 'f7 bf bf bf', 0],
  ['F8 88 80 80 80 (5-byte form)', 'f8 88 80 80 80', 0],
  ['FC 84 80 80 80 80 (6-byte form)', 'fc 84 80 80 80 80', 0],
  ['FE', 'fe', 0],
  ['FF', 'ff', 0],
  ['stray continuation 80', '80', 0],
  ['stray continuation BF', 'bf', 0],
  ['stray continuation after ASCII', '61 80', 1],
  ['continuation after a complete 2-byte character', 'c2 80 80', 2],
  ['continuation after a complete 4-byte character', 'f0 9f 98 80 bf', 4],
  ['ASCII where a continuation is due (2-byte)', 'c2 41', 1],
  ['ASCII where the second continuation is due', 'e2 82 41', 2],
  ['ASCII where the third continuation is due', 'f0 9f 98 7f', 3],
  ['lead byte where a continuation is due', 'c2 c2 80', 1],
  ['lead byte where the second continuation is due', 'e2 82 e2 82 ac', 2],
  ['lead byte where the third continuation is due', 'f0 9f 98 f0 9f 98 80', 3],
  ['C0 where a continuation is due', 'e1 c0', 1],
  ['7F after E1', 'e1 7f', 1],
  ['80 after F1 is fine, C0 after it is not', 'f1 80 c0', 2],
  ['A0 after ED then a good tail', 'ed 80 80 ed a0', 4],
  ['mixed valid text', '61 c3 a9 e2 82 ac f0 9f 98 80 7a', -1],
  ['truncated: C2 at the end', '61 c2', 'end'],
  ['truncated: E2 82 at the end', 'e2 82', 'end'],
  ['truncated: lone E0', 'e0', 'end'],
  ['truncated: E0 A0', 'e0 a0', 'end'],
  ['truncated: ED 9F', 'ed 9f', 'end'],
  ['truncated: F0 9F 98', 'f0 9f 98', 'end'],
  ['truncated: F4 8F BF', 'f4 8f bf', 'end'],
  ['truncated: lone F1', 'f1', 'end'],
];
for (const [label, h, at] of UTF8_CASES) {
  const v = s().text(hex(h));
  if (at === -1) ok('INVALID_UTF8', 'text ' + label, v);
  else if (at === 'end') bad('TRUNCATED_UTF8', 'text ' + label, v, E_TRUNCATED_UTF8, v.lastByte(0));
  else bad('INVALID_UTF8', 'text ' + label, v, E_INVALID_UTF8, v.payloadAt(0, at));
}
{
  const v = s().text('ok').text(hex('c0 80'));
  bad('INVALID_UTF8', 'invalid UTF-8 in the second message', v, E_INVALID_UTF8, v.payloadAt(1, 0));
  const w = s().text(hex('e2 82 ac')).text(hex('82 ac'));
  bad('INVALID_UTF8', 'each message starts between characters', w, E_INVALID_UTF8, w.payloadAt(1, 0));
  const x = s().binary(hex('e2')).text(hex('82 ac'));
  bad('INVALID_UTF8', 'a binary message does not feed the text state', x, E_INVALID_UTF8, x.payloadAt(1, 0));
}
ok('INVALID_UTF8', 'valid 3-byte character split 1+2 across frames', s().text(hex('e2'), { fin: false }).cont(hex('82 ac')));
ok('INVALID_UTF8', 'valid 3-byte character split 2+1 across frames', s().text(hex('e2 82'), { fin: false }).cont(hex('ac')));
ok('INVALID_UTF8', 'valid 4-byte character split 2+2 across frames', s().text(hex('f0 9f'), { fin: false }).cont(hex('98 80')));
ok(
  'INVALID_UTF8',
  'valid 4-byte character split across three frames with a ping between',
  s().text(hex('f0'), { fin: false }).cont(hex('9f'), { fin: false }).ping(hex('ff fe')).cont(hex('98 80')),
);
ok(
  'INVALID_UTF8',
  'valid 4-byte character across four frames, empty ones and a pong between',
  s().text(hex('f4'), { fin: false }).cont('', { fin: false }).cont(hex('8f'), { fin: false }).pong(hex('c0')).cont(hex('bf'), { fin: false }).cont(hex('bf')),
);
{
  const v = s().text(hex('f0'), { fin: false }).ping('x').cont(hex('8f bf bf'));
  bad('INVALID_UTF8', 'overlong 4-byte split by a ping', v, E_INVALID_UTF8, v.payloadAt(2, 0));
  const w = s().text(hex('e2'), { fin: false }).cont(hex('41'));
  bad('INVALID_UTF8', 'ASCII in the next frame where a continuation is due', w, E_INVALID_UTF8, w.payloadAt(1, 0));
  const x = s().text(hex('ed'), { fin: false }).cont(hex('a0 80'));
  bad('INVALID_UTF8', 'surrogate split across frames', x, E_INVALID_UTF8, x.payloadAt(1, 0));
  const y = s().text(hex('61 62'), { fin: false }).cont(hex('63 ff'));
  bad('INVALID_UTF8', 'FF in the second frame', y, E_INVALID_UTF8, y.payloadAt(1, 1));
}
{
  const v = s().text(hex('e2 82'), { fin: false }).cont('');
  bad('TRUNCATED_UTF8', 'message ends mid-character with an empty final frame', v, E_TRUNCATED_UTF8, v.at(1, 1));
  const w = s().text(hex('61 62'), { fin: false }).cont(hex('63 e2'));
  bad('TRUNCATED_UTF8', 'message ends mid-character in the final frame', w, E_TRUNCATED_UTF8, w.lastByte(1));
  const x = s().text(hex('f0 9f'), { fin: false }).cont('', { form: 16 });
  bad('TRUNCATED_UTF8', 'empty final frame in the 16-bit form, accepted: the header\u2019s last byte', x, E_TRUNCATED_UTF8, x.at(1, 3), {
    flags: NON_MINIMAL,
  });
  const y = s().text(hex('f0 9f'), { fin: false }).cont('', { form: 64 });
  bad('TRUNCATED_UTF8', 'empty final frame in the 64-bit form, accepted', y, E_TRUNCATED_UTF8, y.at(1, 9), { flags: NON_MINIMAL });
  const z = s().text(hex('f0 9f 98'), { fin: false }).ping('p').cont(hex(''));
  bad('TRUNCATED_UTF8', 'message ends mid-character after a ping', z, E_TRUNCATED_UTF8, z.at(2, 1));
}
ok('TRUNCATED_UTF8', 'an unfinished message may pause mid-character', s().text(hex('e2 82'), { fin: false }).ping('x'));
ok('TRUNCATED_UTF8', 'an empty text frame is complete UTF-8', s().text(''));
ok('INVALID_UTF8', 'binary with invalid UTF-8 bytes', s().binary(hex('c0 80 ed a0 80 ff fe f5 80')));
ok('INVALID_UTF8', 'binary ending mid-sequence', s().binary(hex('e2 82')));
ok('INVALID_UTF8', 'fragmented binary with invalid UTF-8', s().binary(hex('e2'), { fin: false }).cont(hex('ff')));
ok('INVALID_UTF8', 'ping with non-UTF-8 payload', s().ping(hex('ff c0 80 ed a0 80')));
ok('INVALID_UTF8', 'pong with non-UTF-8 payload', s().pong(hex('80 e2')));
ok('INVALID_UTF8', 'ping with non-UTF-8 payload between text fragments', s().text(hex('e2'), { fin: false }).ping(hex('ff')).cont(hex('82 ac')));

// Long text payloads: errors and characters around 8/16/32-byte boundaries, where a
// vectorised (SIMD) ASCII path hands over to the byte automaton.
{
  const base = ascii(300);
  for (const p of [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 298]) {
    const v = s().text(withByteAt(base, p, hex('c0')));
    bad('INVALID_UTF8', 'C0 at payload index ' + p + ' of 300', v, E_INVALID_UTF8, v.payloadAt(0, p));
  }
  const last = s().text(withByteAt(base, 299, hex('80')));
  bad('INVALID_UTF8', 'stray 80 at the last of 300 bytes', last, E_INVALID_UTF8, last.payloadAt(0, 299));
  const trunc = s().text(withByteAt(base, 298, hex('c3 a9')).subarray(0, 299));
  bad('TRUNCATED_UTF8', 'truncated at the last of 299 bytes', trunc, E_TRUNCATED_UTF8, trunc.lastByte(0));
  for (const p of [13, 14, 15, 29, 30, 31, 62, 63]) {
    ok('INVALID_UTF8', 'emoji at payload index ' + p + ' of 300', s().text(withByteAt(base, p, hex('f0 9f 98 80'))));
    const v = s().text(withByteAt(base, p, hex('ed a0 80')));
    bad('INVALID_UTF8', 'surrogate at payload index ' + p + ' of 300', v, E_INVALID_UTF8, v.payloadAt(0, p + 1));
    const w = s().text(withByteAt(base, p, hex('f0 9f 98 41')));
    bad('INVALID_UTF8', 'short 4-byte sequence at payload index ' + p + ' of 300', w, E_INVALID_UTF8, w.payloadAt(0, p + 3));
  }
  ok('INVALID_UTF8', 'default maximum of 2-byte characters', s().text(repeat(hex('c3 a9'), 4096)));
  const mixed = s().text(repeat(hex('61 c3 a9 e2 82 ac f0 9f 98 80'), 200), { fin: false }).cont(repeat(hex('7a'), 50));
  ok('INVALID_UTF8', '2050 bytes of mixed characters in two frames', mixed);
}
{
  // Minimal 64-bit lengths need 65536 bytes: one large legal vector of each kind.
  ok('valid', 'binary of 65536 bytes (64-bit length)', s().binary(ascii(65536)), { maxMessage: 65536 });
  ok('INVALID_UTF8', 'text of 65536 bytes of 2-byte characters', s().text(repeat(hex('c3 a9'), 32768)), { maxMessage: 65536 });
  const v = s().text(withByteAt(ascii(65540), 65537, hex('ed a0 80')).subarray(0, 65540));
  bad('INVALID_UTF8', 'surrogate near the end of 65540 bytes', v, E_INVALID_UTF8, v.payloadAt(0, 65538), { maxMessage: 70000 });
  // Around stream byte 65536, where a 64 KiB input window would end inside a whole chunk.
  const big = ascii(65600);
  const header = 10;
  ok('INVALID_UTF8', 'emoji across stream byte 65536', s().text(withByteAt(big, 65534 - header, hex('f0 9f 98 80'))), { maxMessage: 70000 });
  ok('INVALID_UTF8', '3-byte character ending at stream byte 65536', s().text(withByteAt(big, 65534 - header, hex('e2 82 ac'))), {
    maxMessage: 70000,
  });
  const w = s().text(withByteAt(big, 65535 - header, hex('ed a0 80')));
  bad('INVALID_UTF8', 'surrogate failing at stream byte 65536', w, E_INVALID_UTF8, 65536, { maxMessage: 70000 });
  const x = s().text(withByteAt(big, 65536 - header, hex('80')));
  bad('INVALID_UTF8', 'stray continuation at stream byte 65536', x, E_INVALID_UTF8, 65536, { maxMessage: 70000 });
}

// ---------------------------------------------------------------- close frames
for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
  const v = s().close(code);
  bad('INVALID_CLOSE_CODE', 'close code ' + code, v, E_INVALID_CLOSE_CODE, v.payloadAt(0, 1));
}
for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
  ok('INVALID_CLOSE_CODE', 'close code ' + code, s().close(code));
}
{
  const v = s().close(1005, 'bye');
  bad('INVALID_CLOSE_CODE', 'close code 1005 with a reason', v, E_INVALID_CLOSE_CODE, v.payloadAt(0, 1));
  const w = s().close(999, hex('ff'));
  bad('INVALID_CLOSE_CODE', 'bad code and bad reason: the code is first', w, E_INVALID_CLOSE_CODE, w.payloadAt(0, 1));
  const x = s().text('a', { fin: false }).close(1016);
  bad('INVALID_CLOSE_CODE', 'bad close code between fragments', x, E_INVALID_CLOSE_CODE, x.payloadAt(1, 1));
}
ok('INVALID_CLOSE_REASON', 'close with an ASCII reason', s().close(1000, 'bye'));
ok('INVALID_CLOSE_REASON', 'close with a multibyte reason', s().close(1001, '\u00e9\u20ac\ud83d\ude00'));
ok('INVALID_CLOSE_REASON', 'close with a binary-looking but valid reason', s().close(4000, hex('00 7f c2 80')));
ok('INVALID_CLOSE_REASON', 'close of 125 bytes with multibyte reason', s().close(1000, concat([repeat(hex('e2 82 ac'), 41)])));
{
  const v = s().close(1000, hex('6f 6b ff'));
  bad('INVALID_CLOSE_REASON', 'close reason with FF', v, E_INVALID_CLOSE_REASON, v.payloadAt(0, 4));
  const w = s().close(1000, hex('c0 80'));
  bad('INVALID_CLOSE_REASON', 'close reason with an overlong', w, E_INVALID_CLOSE_REASON, w.payloadAt(0, 2));
  const x = s().close(1000, hex('ed a0 80'));
  bad('INVALID_CLOSE_REASON', 'close reason with a surrogate', x, E_INVALID_CLOSE_REASON, x.payloadAt(0, 3));
  const y = s().close(1000, hex('f4 90 80 80'));
  bad('INVALID_CLOSE_REASON', 'close reason above U+10FFFF', y, E_INVALID_CLOSE_REASON, y.payloadAt(0, 3));
  const z = s().close(1000, hex('61 e2 82'));
  bad('INVALID_CLOSE_REASON', 'close reason truncated mid-character', z, E_INVALID_CLOSE_REASON, z.lastByte(0));
  const u = s().close(3000, hex('f0'));
  bad('INVALID_CLOSE_REASON', 'close reason of one lead byte', u, E_INVALID_CLOSE_REASON, u.lastByte(0));
  const t = s().close(1000, concat([ascii(120), hex('e2 82')]));
  bad('INVALID_CLOSE_REASON', 'close of 124 bytes truncated mid-character', t, E_INVALID_CLOSE_REASON, t.lastByte(0));
}
// The open message's UTF-8 state and a close reason's are apart (README: "kept apart").
ok('INVALID_CLOSE_REASON', 'close reason between text fragments, both mid-character', s().text(hex('e2'), { fin: false }).close(1000, hex('c3 a9')).cont(hex('82 ac')));
{
  const v = s().text(hex('e2'), { fin: false }).close(1000, hex('82 ac'));
  bad('INVALID_CLOSE_REASON', 'a close reason does not continue the message\u2019s character', v, E_INVALID_CLOSE_REASON, v.payloadAt(1, 2));
  const w = s().text(hex('e2 82'), { fin: false }).close(1000, hex('e2'));
  bad('INVALID_CLOSE_REASON', 'a close reason ends mid-character while the message is mid-character', w, E_INVALID_CLOSE_REASON, w.lastByte(1));
  const x = s().text(hex('61'), { fin: false }).close(1000, hex('e2')).cont(hex('82'));
  bad('INVALID_CLOSE_REASON', 'a truncated close reason fails at its own last byte', x, E_INVALID_CLOSE_REASON, x.lastByte(1));
  const y = s().close(1000, hex('e2 82 ac')).text(hex('82'));
  bad('INVALID_UTF8', 'a close reason leaves no state for the next message', y, E_INVALID_UTF8, y.payloadAt(1, 0));
}

export const VECTOR_COUNT = VECTORS.length;
