/**
 * The fuzzing server's cases (test/peers/fuzz-server.ts), two families:
 *  - 'vector': every vector of test/vectors/frames.ts, replayed whole (in the same
 *    write as the 101) and chopped; legal ones must come back echoed, illegal ones
 *    must draw the vector's close code.
 *  - the Autobahn TestSuite's client cases for framing re-created (sections 1-7:
 *    framing, ping/pong, reserved bits, opcodes, fragmentation, UTF-8 with
 *    fail-fast, close handling), with Autobahn's ids in the descriptions.
 * Expectations are computed here from the vectors' own expectations and from
 * Node's fatal TextDecoder (for the UTF-8 table), never from picows' code.
 */
import { CORE_ERRORS, coreErrorName, E_RESERVED_BITS } from '../../src/core/error-ids';
import { CFG_RSV_MASK, DEFAULT_MAX_MESSAGE } from '../../src/core/types';
import { closePayload, concat, frame, hex, RSV1, RSV2, RSV3, utf8, type ExpectedFrame } from '../vectors/build';
import { VECTORS, type Vector } from '../vectors/frames';
import type { EchoedMessage, Expectation, FuzzCase, Step } from './fuzz-server';

const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

/** Client maxMessage for the Autobahn-style cases: their largest message is 65536 bytes. */
const AUTOBAHN_MAX = 65536;

export const CASES: FuzzCase[] = [];

function add(c: FuzzCase): void {
  CASES.push(c);
}

const SERVER_CLOSE_1000: Step = { bytes: frame(CLOSE, closePayload(1000)), afterEchoes: true };

/** A legal exchange: the server sends `steps`, waits for every echo and pong, then closes with 1000. */
function legal(group: string, id: string, description: string, steps: Step[], echoes: EchoedMessage[], pongs: Uint8Array[] = [], client = { maxMessage: AUTOBAHN_MAX }): void {
  add({
    id,
    group,
    description,
    steps: [...steps, SERVER_CLOSE_1000],
    client,
    expect: { echoes, pongs, pongsExact: true, outcome: 'answer', close: [1000], report: { code: 1000, wasClean: true, cause: 'peer-closed', errorId: null } },
  });
}

/** A protocol error: the client must echo what came before it, then send Close `code` and end TCP. */
function failing(group: string, id: string, description: string, steps: Step[], echoes: EchoedMessage[], code: number, errorId: string, pongs: Uint8Array[] = [], client = { maxMessage: AUTOBAHN_MAX }): void {
  add({
    id,
    group,
    description,
    steps,
    client,
    expect: { echoes, pongs, pongsExact: false, outcome: 'fail', close: [code], report: { code, wasClean: false, cause: 'protocol-error', errorId } },
  });
}

/** The server's Close inside `steps`: the client answers it (with one of `close`) and reports `code` cleanly. */
function answered(group: string, id: string, description: string, steps: Step[], echoes: EchoedMessage[], code: number, close: number[], pongs: Uint8Array[] = []): void {
  add({
    id,
    group,
    description,
    steps,
    client: { maxMessage: AUTOBAHN_MAX },
    expect: { echoes, pongs, pongsExact: true, outcome: 'answer', close, report: { code, wasClean: true, cause: 'peer-closed', errorId: null } },
  });
}

const text = (s: string | Uint8Array): EchoedMessage => ({ opcode: TEXT, payload: typeof s === 'string' ? utf8(s) : s });
const binary = (b: Uint8Array): EchoedMessage => ({ opcode: BINARY, payload: b });
const one = (bytes: Uint8Array, more: Partial<Step> = {}): Step => ({ bytes, ...more });
const steps = (...frames: Uint8Array[]): Step[] => frames.map((b) => ({ bytes: b }));

function ascii(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 0x20 + ((i * 7 + seed) % 95);
  return out;
}

function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + seed) & 0xff;
  return out;
}

/** Chop size for "chopped" cases: single bytes for small frames, Autobahn's 997 for large ones. */
function chopFor(bytes: Uint8Array): number {
  return bytes.length <= 4096 ? 1 : 997;
}

function codeOf(id: string): number {
  for (const e of CORE_ERRORS) if (e[1] === id) return e[2];
  throw new Error('unknown error ' + id);
}

// ===================================================================== 'vector': the shared vectors

interface Derived {
  echoes: EchoedMessage[];
  pongs: Uint8Array[];
  /** The server's Close, when one is delivered before anything else ends the stream. */
  close: { code: number } | null;
}

/** What the client must do with the frames a correct core delivers: echo data messages, pong pings, stop at a Close. */
function deriveFromFrames(frames: ExpectedFrame[]): Derived {
  const echoes: EchoedMessage[] = [];
  const pongs: Uint8Array[] = [];
  let open: { opcode: number; parts: Uint8Array[] } | null = null;
  for (const f of frames) {
    if (!f.complete) break;
    if (f.opcode === CLOSE) {
      const p = f.payload;
      return { echoes, pongs, close: { code: p.length >= 2 ? (p[0] << 8) | p[1] : 1005 } };
    }
    if (f.opcode === PING) pongs.push(f.payload);
    if (f.opcode >= CLOSE) continue;
    if (f.opcode !== 0) open = { opcode: f.opcode, parts: [] };
    if (!open) throw new Error('a vector delivers a continuation with no message');
    open.parts.push(f.payload);
    if (f.fin) {
      echoes.push({ opcode: open.opcode, payload: concat(open.parts) });
      open = null;
    }
  }
  return { echoes, pongs, close: null };
}

/** Walks frame headers: the offset of the first frame with an RSV bit, or -1; and whether the bytes end on a frame boundary. */
function walkFrames(bytes: Uint8Array): { firstRsv: number; endsOnBoundary: boolean } {
  let at = 0;
  let firstRsv = -1;
  const n = bytes.length;
  while (at < n) {
    if (firstRsv < 0 && (bytes[at] & 0x70) !== 0) firstRsv = at;
    if (n - at < 2) return { firstRsv, endsOnBoundary: false };
    const b1 = bytes[at + 1];
    let length = b1 & 0x7f;
    let headerSize = 2;
    if (length === 126) {
      if (n - at < 4) return { firstRsv, endsOnBoundary: false };
      length = (bytes[at + 2] << 8) | bytes[at + 3];
      headerSize = 4;
    } else if (length === 127) {
      if (n - at < 10) return { firstRsv, endsOnBoundary: false };
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + bytes[at + i];
      headerSize = 10;
    }
    if (b1 & 0x80) headerSize += 4;
    if (at + headerSize + length > n) return { firstRsv, endsOnBoundary: false };
    at += headerSize + length;
  }
  return { firstRsv, endsOnBoundary: true };
}

function vectorCase(v: Vector, index: number, chopped: boolean): FuzzCase {
  const flags = v.flags || 0;
  let frames = v.expect.frames || [];
  let error = v.expect.error;
  const walk = walkFrames(v.bytes);
  if (flags & CFG_RSV_MASK) {
    // The vector allows RSV bits, as a negotiated extension would; picows offers none, so
    // the client's validator allows none: the first frame with an RSV bit fails it (1002).
    const h = walk.firstRsv;
    if (h >= 0 && (!error || h <= error.offset)) {
      frames = frames.filter((f) => f.complete && f.start + f.payload.length <= h);
      error = { id: E_RESERVED_BITS, code: codeOf('RESERVED_BITS'), offset: h };
    }
  }
  const d = deriveFromFrames(frames);
  const id = 'v' + index + (chopped ? '-chop' : '');
  const step: Step = chopped ? { bytes: v.bytes, chop: chopFor(v.bytes) } : { bytes: v.bytes };
  const client = { maxMessage: v.maxMessage === undefined ? DEFAULT_MAX_MESSAGE : v.maxMessage, validatorFlags: flags & ~CFG_RSV_MASK };
  const base = { id, group: 'vector', description: v.name + (chopped ? ' (chopped)' : ''), withHandshake: !chopped, client };
  let expect: Expectation;
  let script: Step[] = [step];
  if (d.close) {
    expect = { echoes: d.echoes, pongs: d.pongs, pongsExact: false, outcome: 'answer', close: [d.close.code], report: { code: d.close.code, wasClean: true, cause: 'peer-closed', errorId: null } };
  } else if (error) {
    const name = coreErrorName(error.id);
    expect = { echoes: d.echoes, pongs: d.pongs, pongsExact: false, outcome: 'fail', close: [error.code], report: { code: error.code, wasClean: false, cause: 'protocol-error', errorId: name } };
  } else if (walk.endsOnBoundary) {
    script = [step, SERVER_CLOSE_1000];
    expect = { echoes: d.echoes, pongs: d.pongs, pongsExact: true, outcome: 'answer', close: [1000], report: { code: 1000, wasClean: true, cause: 'peer-closed', errorId: null } };
  } else {
    // The stream stops inside a frame: nothing to fail, nothing to close; the server just ends TCP.
    expect = { echoes: d.echoes, pongs: d.pongs, pongsExact: true, outcome: 'eof', close: [], report: { code: 1006, wasClean: false, cause: 'transport-error', errorId: 'CONNECTION_LOST' } };
  }
  return { ...base, steps: script, expect };
}

VECTORS.forEach((v, i) => {
  add(vectorCase(v, i, false));
  add(vectorCase(v, i, true));
});

// ===================================================================== 1. framing (Autobahn 1.1.x text, 1.2.x binary)
for (const n of [0, 125, 126, 127, 128, 65535, 65536]) {
  const t = ascii(n, n);
  const b = pattern(n, n);
  for (const chop of [false, true]) {
    const tf = frame(TEXT, t);
    const bf = frame(BINARY, b);
    const sfx = chop ? '-chop' : '';
    legal('framing', `f-text-${n}${sfx}`, `1.1: text message of ${n} bytes${chop ? ', chopped' : ''}`, [chop ? one(tf, { chop: chopFor(tf) }) : one(tf)], [text(t)]);
    legal('framing', `f-binary-${n}${sfx}`, `1.2: binary message of ${n} bytes${chop ? ', chopped' : ''}`, [chop ? one(bf, { chop: chopFor(bf) }) : one(bf)], [binary(b)]);
  }
}
legal('framing', 'f-two-in-one', 'a text and a binary message in one write', [one(concat([frame(TEXT, 'first'), frame(BINARY, hex('00 ff'))]))], [text('first'), binary(hex('00 ff'))]);
add({
  id: 'f-with-101',
  group: 'framing',
  description: 'frames right behind the 101, in the same write',
  withHandshake: true,
  steps: [one(concat([frame(TEXT, 'behind the head'), frame(PING, 'p')])), SERVER_CLOSE_1000],
  client: { maxMessage: AUTOBAHN_MAX },
  expect: { echoes: [text('behind the head')], pongs: [utf8('p')], pongsExact: true, outcome: 'answer', close: [1000], report: { code: 1000, wasClean: true, cause: 'peer-closed', errorId: null } },
});
{
  // 1009 is decided from the header (fail fast): the payload is written only after the client's Close.
  const head = frame(BINARY, undefined, { length: AUTOBAHN_MAX + 1 });
  failing('framing', 'f-too-big-header', 'binary header declaring maxMessage + 1 bytes: 1009 before any payload', [one(head), one(pattern(AUTOBAHN_MAX + 1), { afterClientClose: true, chop: 997 })], [], 1009, 'MESSAGE_TOO_BIG');
  failing('framing', 'f-too-big-fragments', 'fragments adding up to maxMessage + 1: 1009', steps(frame(TEXT, ascii(AUTOBAHN_MAX - 10), { fin: false }), frame(0, ascii(11))), [], 1009, 'MESSAGE_TOO_BIG');
}

// ===================================================================== 2. ping/pong
{
  const bin = hex('00 ff fe fd fc fb 00 ff');
  legal('pingpong', 'p-ping-empty', '2.1: ping without payload', steps(frame(PING)), [], [new Uint8Array(0)]);
  legal('pingpong', 'p-ping-text', '2.2: ping with a small text payload', steps(frame(PING, 'Hello, world!')), [], [utf8('Hello, world!')]);
  legal('pingpong', 'p-ping-binary', '2.3: ping with a small binary payload', steps(frame(PING, bin)), [], [bin]);
  legal('pingpong', 'p-ping-125', '2.4: ping with 125 bytes of binary payload', steps(frame(PING, pattern(125))), [], [pattern(125)]);
  failing('pingpong', 'p-ping-126', '2.5: ping with 126 bytes: 1002', steps(frame(PING, pattern(126))), [], 1002, 'CONTROL_TOO_LONG');
  legal('pingpong', 'p-ping-125-chop', '2.6: ping with 125 bytes, chopped into 1-byte writes', [one(frame(PING, pattern(125, 3)), { chop: 1 })], [], [pattern(125, 3)]);
  legal('pingpong', 'p-pong-unsolicited', '2.7: unsolicited pong without payload: ignored', steps(frame(PONG)), []);
  legal('pingpong', 'p-pong-unsolicited-payload', '2.8: unsolicited pong with payload: ignored', steps(frame(PONG, 'unsolicited pong payload')), []);
  legal('pingpong', 'p-pong-then-ping', '2.9: unsolicited pong, then a ping: one pong', steps(frame(PONG, 'unsolicited'), frame(PING, 'ping payload')), [], [utf8('ping payload')]);
  const ten: Uint8Array[] = [];
  for (let i = 0; i < 10; i++) ten.push(utf8('payload-' + i));
  legal('pingpong', 'p-ping-10', '2.10: 10 pings: 10 pongs in order', [one(concat(ten.map((p) => frame(PING, p))))], [], ten);
  legal('pingpong', 'p-ping-10-chop', '2.11: 10 pings, chopped into 1-byte writes', [one(concat(ten.map((p) => frame(PING, p))), { chop: 1 })], [], ten);
  legal('pingpong', 'p-ping-between', 'pings between messages', steps(frame(TEXT, 'a'), frame(PING, '1'), frame(BINARY, hex('01')), frame(PING, '2')), [text('a'), binary(hex('01'))], [utf8('1'), utf8('2')]);
  failing('pingpong', 'p-ping-masked', 'a masked ping: 1002', steps(frame(TEXT, 'before'), frame(PING, 'x', { maskKey: 0x01020304 })), [text('before')], 1002, 'MASKED_FRAME');
}

// ===================================================================== 3. reserved bits
for (let rsv = 1; rsv <= 7; rsv++) {
  // Autobahn numbers RSV as a 3-bit value: 4 = RSV1, 2 = RSV2, 1 = RSV3.
  const bits = (rsv & 4 ? RSV1 : 0) | (rsv & 2 ? RSV2 : 0) | (rsv & 1 ? RSV3 : 0);
  const kinds: [string, Uint8Array][] = [
    ['text', frame(TEXT, 'Hello, world!', { rsv: bits })],
    ['binary', frame(BINARY, pattern(10), { rsv: bits })],
    ['ping', frame(PING, 'ping', { rsv: bits })],
    ['close', frame(CLOSE, closePayload(1000), { rsv: bits })],
  ];
  const [kind, bad] = kinds[rsv % kinds.length];
  failing('rsv', `r-rsv-${rsv}`, `3.${rsv}: a valid text, then a ${kind} frame with RSV=${rsv}, then a ping: 1002`, steps(frame(TEXT, 'valid before'), bad, frame(PING, 'after')), [text('valid before')], 1002, 'RESERVED_BITS');
  failing('rsv', `r-rsv-${rsv}-chop`, `3.${rsv}: the same, chopped into 1-byte writes`, [one(concat([frame(TEXT, 'valid before'), bad, frame(PING, 'after')]), { chop: 1 })], [text('valid before')], 1002, 'RESERVED_BITS');
}
failing('rsv', 'r-rsv1-continuation', 'RSV1 on a continuation frame: 1002', steps(frame(TEXT, 'a', { fin: false }), frame(0, 'b', { rsv: RSV1 })), [], 1002, 'RESERVED_BITS');

// ===================================================================== 4. opcodes
for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
  const name = op.toString(16);
  failing('opcode', `o-op-${name}`, `4.${op < 8 ? 1 : 2}: a valid text, then reserved opcode 0x${name}, then a ping: 1002`, steps(frame(TEXT, 'valid before'), frame(op), frame(PING, 'after')), [text('valid before')], 1002, 'RESERVED_OPCODE');
  failing('opcode', `o-op-${name}-payload`, `4.${op < 8 ? 1 : 2}: reserved opcode 0x${name} with a payload, alone`, [one(frame(op, 'reserved payload'), { chop: 1 })], [], 1002, 'RESERVED_OPCODE');
}

// ===================================================================== 5. fragmentation
{
  const c = 0;
  failing('fragmentation', 'g-ping-fragmented', '5.1: a ping in 2 fragments: 1002', steps(frame(PING, 'frag', { fin: false }), frame(c, 'ment')), [], 1002, 'FRAGMENTED_CONTROL');
  failing('fragmentation', 'g-pong-fragmented', '5.2: a pong in 2 fragments: 1002', steps(frame(PONG, 'frag', { fin: false }), frame(c, 'ment')), [], 1002, 'FRAGMENTED_CONTROL');
  const two = [frame(TEXT, 'fragment1', { fin: false }), frame(c, 'fragment2')];
  legal('fragmentation', 'g-text-2', '5.3: a text message in 2 fragments', steps(...two), [text('fragment1fragment2')]);
  legal('fragmentation', 'g-text-2-chop', '5.4: the same, chopped into 1-byte writes', [one(concat(two), { chop: 1 })], [text('fragment1fragment2')]);
  legal('fragmentation', 'g-text-2-delay', '5.5: the same, fragments 30 ms apart', [one(two[0]), one(two[1], { delayMs: 30 })], [text('fragment1fragment2')]);
  const withPing = [frame(TEXT, 'fragment1', { fin: false }), frame(PING, 'pongme!'), frame(c, 'fragment2')];
  legal('fragmentation', 'g-text-ping', '5.6: 2 fragments with a ping between', steps(...withPing), [text('fragment1fragment2')], [utf8('pongme!')]);
  legal('fragmentation', 'g-text-ping-chop', '5.7: the same, chopped', [one(concat(withPing), { chop: 1 })], [text('fragment1fragment2')], [utf8('pongme!')]);
  legal('fragmentation', 'g-text-ping-delay', '5.8: the same, 20 ms apart', withPing.map((b, i) => one(b, { delayMs: i ? 20 : 0 })), [text('fragment1fragment2')], [utf8('pongme!')]);
  const lone = [frame(c, 'non-continuation payload'), frame(TEXT, 'Hello, world!')];
  failing('fragmentation', 'g-cont-fin', '5.9: a continuation (FIN) with no message, then a text: 1002', steps(...lone), [], 1002, 'UNEXPECTED_CONTINUATION');
  failing('fragmentation', 'g-cont-fin-chop', '5.10: the same, chopped', [one(concat(lone), { chop: 1 })], [], 1002, 'UNEXPECTED_CONTINUATION');
  failing('fragmentation', 'g-cont-fin-delay', '5.11: the same, 20 ms apart', [one(lone[0]), one(lone[1], { delayMs: 20 })], [], 1002, 'UNEXPECTED_CONTINUATION');
  const loneOpen = [frame(c, 'non-continuation payload', { fin: false }), frame(TEXT, 'Hello, world!')];
  failing('fragmentation', 'g-cont-nofin', '5.12: a continuation (no FIN) with no message: 1002', steps(...loneOpen), [], 1002, 'UNEXPECTED_CONTINUATION');
  failing('fragmentation', 'g-cont-nofin-chop', '5.13: the same, chopped', [one(concat(loneOpen), { chop: 1 })], [], 1002, 'UNEXPECTED_CONTINUATION');
  failing(
    'fragmentation',
    'g-cont-after-message',
    '5.15: a message in 2 fragments, then a continuation (no FIN) and a text: 1002 after the echo',
    steps(frame(TEXT, 'fragment1', { fin: false }), frame(c, 'fragment2'), frame(c, 'fragment3', { fin: false }), frame(TEXT, 'fragment4')),
    [text('fragment1fragment2')],
    1002,
    'UNEXPECTED_CONTINUATION',
  );
  failing('fragmentation', 'g-cont-first', '5.16: continuation, text (no FIN), continuation: 1002 at the first', steps(frame(c, 'fragment1', { fin: false }), frame(TEXT, 'fragment2', { fin: false }), frame(c, 'fragment3')), [], 1002, 'UNEXPECTED_CONTINUATION');
  failing('fragmentation', 'g-cont-fin-first', '5.17: continuation (FIN), text (no FIN), continuation: 1002', steps(frame(c, 'fragment1'), frame(TEXT, 'fragment2', { fin: false }), frame(c, 'fragment3')), [], 1002, 'UNEXPECTED_CONTINUATION');
  failing('fragmentation', 'g-text-in-text', '5.18: a new text message inside a fragmented one: 1002', steps(frame(TEXT, 'fragment1', { fin: false }), frame(TEXT, 'fragment2')), [], 1002, 'EXPECTED_CONTINUATION');
  failing('fragmentation', 'g-binary-in-text', 'a binary message inside a fragmented text: 1002', steps(frame(TEXT, 'a', { fin: false }), frame(BINARY, hex('01'))), [], 1002, 'EXPECTED_CONTINUATION');
  const five = [
    frame(TEXT, 'fragment1', { fin: false }),
    frame(PING, 'pongme 1!'),
    frame(c, 'fragment2', { fin: false }),
    frame(PING, 'pongme 2!'),
    frame(c, 'fragment3', { fin: false }),
    frame(c, 'fragment4', { fin: false }),
    frame(PING, 'pongme 3!'),
    frame(c, 'fragment5'),
  ];
  const fivePongs = [utf8('pongme 1!'), utf8('pongme 2!'), utf8('pongme 3!')];
  legal('fragmentation', 'g-five-pings-delay', '5.19: 5 fragments with 3 pings between, 15 ms apart', five.map((b, i) => one(b, { delayMs: i ? 15 : 0 })), [text('fragment1fragment2fragment3fragment4fragment5')], fivePongs);
  legal('fragmentation', 'g-five-pings-chop', '5.20: the same, chopped', [one(concat(five), { chop: 1 })], [text('fragment1fragment2fragment3fragment4fragment5')], fivePongs);
  const big = pattern(20000, 5);
  const bigFrames: Uint8Array[] = [];
  for (let at = 0; at < big.length; at += 3000) bigFrames.push(frame(at === 0 ? BINARY : c, big.subarray(at, Math.min(big.length, at + 3000)), { fin: at + 3000 >= big.length }));
  legal('fragmentation', 'g-binary-large', 'a 20000-byte binary message in 7 fragments: echoed whole', steps(...bigFrames), [binary(big)]);
  legal('fragmentation', 'g-empty-fragments', 'a text message of empty fragments', steps(frame(TEXT, '', { fin: false }), frame(c, '', { fin: false }), frame(c, '')), [text('')]);
}

// ===================================================================== 6. UTF-8
{
  const kosme = hex('ce ba e1 bd b9 cf 83 ce bc ce b5');
  const decoder = () => new TextDecoder('utf-8', { fatal: true });
  /** Node's own verdict (ICU/simdutf), independent of picows' automaton. */
  const classify = (b: Uint8Array): 'valid' | 'invalid' | 'truncated' => {
    const d = decoder();
    try {
      d.decode(b, { stream: true });
    } catch {
      return 'invalid';
    }
    try {
      d.decode();
      return 'valid';
    } catch {
      return 'truncated';
    }
  };
  legal('utf8', 'u-empty', '6.1: empty text messages, whole and in 3 empty fragments', steps(frame(TEXT, ''), frame(TEXT, '', { fin: false }), frame(0, '', { fin: false }), frame(0, '')), [text(''), text('')]);
  const hello = utf8('Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!');
  legal('utf8', 'u-hello-frags', '6.2.2: valid multibyte text, fragmented at every byte', steps(...Array.from(hello, (b, i) => frame(i ? 0 : TEXT, Uint8Array.of(b), { fin: i === hello.length - 1 }))), [text(hello)]);
  legal('utf8', 'u-hello-chop', '6.2.4: valid multibyte text in one frame, chopped', [one(frame(TEXT, hello), { chop: 1 })], [text(hello)]);
  legal('utf8', 'u-kosme-split', '6.2.3: a multibyte character split across two fragments', steps(frame(TEXT, kosme.subarray(0, 3), { fin: false }), frame(0, kosme.subarray(3))), [text(kosme)]);

  // [label, hex] from Markus Kuhn's UTF-8 decoder capability and stress test, as Autobahn 6.3-6.23 uses it.
  const TABLE: [string, string][] = [
    ['kosme', 'ce ba e1 bd b9 cf 83 ce bc ce b5'],
    ['kosme with a surrogate in the middle', 'ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64'],
    ['first 1-byte U+0000', '00'],
    ['first 2-byte U+0080', 'c2 80'],
    ['first 3-byte U+0800', 'e0 a0 80'],
    ['first 4-byte U+10000', 'f0 90 80 80'],
    ['last 1-byte U+007F', '7f'],
    ['last 2-byte U+07FF', 'df bf'],
    ['last 3-byte U+FFFF', 'ef bf bf'],
    ['last 4-byte U+10FFFF', 'f4 8f bf bf'],
    ['U+D7FF', 'ed 9f bf'],
    ['U+E000', 'ee 80 80'],
    ['U+FFFD', 'ef bf bd'],
    ['noncharacter U+FFFE', 'ef bf be'],
    ['noncharacter U+1FFFE', 'f0 9f bf be'],
    ['U+110000', 'f4 90 80 80'],
    ['F7 BF BF BF', 'f7 bf bf bf'],
    ['5-byte F8 88 80 80 80', 'f8 88 80 80 80'],
    ['6-byte FC 84 80 80 80 80', 'fc 84 80 80 80 80'],
    ['lone continuation 80', '80'],
    ['lone continuation BF', 'bf'],
    ['continuations 80 BF 80 BF', '80 bf 80 bf'],
    ['all 64 continuation bytes', Array.from({ length: 64 }, (_, i) => (0x80 + i).toString(16)).join(' ')],
    ['lonely start C0 then space', 'c0 20'],
    ['lonely start DF then space', 'df 20'],
    ['lonely start E0 then space', 'e0 20'],
    ['lonely start F0 then space', 'f0 20'],
    ['lonely start F8 then space', 'f8 20'],
    ['2-byte sequence missing its last byte (C2)', 'c2'],
    ['3-byte sequence missing its last byte (E0 A0)', 'e0 a0'],
    ['4-byte sequence missing its last byte (F0 90 80)', 'f0 90 80'],
    ['last byte missing, DF', 'df'],
    ['last byte missing, EF BF', 'ef bf'],
    ['last byte missing, F4 8F BF', 'f4 8f bf'],
    ['incomplete sequences concatenated', 'c0 e0 80 f0 80 80 df ef bf f7 bf bf'],
    ['impossible FE', 'fe'],
    ['impossible FF', 'ff'],
    ['impossible FE FE FF FF', 'fe fe ff ff'],
    ['overlong / C0 AF', 'c0 af'],
    ['overlong / E0 80 AF', 'e0 80 af'],
    ['overlong / F0 80 80 AF', 'f0 80 80 af'],
    ['maximum overlong C1 BF', 'c1 bf'],
    ['maximum overlong E0 9F BF', 'e0 9f bf'],
    ['maximum overlong F0 8F BF BF', 'f0 8f bf bf'],
    ['overlong NUL C0 80', 'c0 80'],
    ['overlong NUL E0 80 80', 'e0 80 80'],
    ['overlong NUL F0 80 80 80', 'f0 80 80 80'],
    ['surrogate U+D800', 'ed a0 80'],
    ['surrogate U+DB7F', 'ed ad bf'],
    ['surrogate U+DB80', 'ed ae 80'],
    ['surrogate U+DBFF', 'ed af bf'],
    ['surrogate U+DC00', 'ed b0 80'],
    ['surrogate U+DF80', 'ed be 80'],
    ['surrogate U+DFFF', 'ed bf bf'],
    ['paired surrogates U+D800 U+DC00', 'ed a0 80 ed b0 80'],
    ['paired surrogates U+DBFF U+DFFF', 'ed af bf ed bf bf'],
    ['valid text then FF at the end', '48 65 6c 6c 6f ff'],
  ];
  TABLE.forEach(([label, h], i) => {
    const b = hex(h);
    const verdict = classify(b);
    const perByte = Array.from(b, (x, k) => frame(k ? 0 : TEXT, Uint8Array.of(x), { fin: k === b.length - 1 }));
    for (const [form, sfx, s] of [
      ['one frame', '', steps(frame(TEXT, b))],
      ['one frame per byte', '-frags', steps(...perByte)],
    ] as const) {
      const id = `u-${i}${sfx}`;
      const description = `6.x: ${label} (${verdict}), ${form}`;
      if (verdict === 'valid') legal('utf8', id, description, [...s], [text(b)]);
      else failing('utf8', id, description, [...s], [], 1007, verdict === 'truncated' ? 'TRUNCATED_UTF8' : 'INVALID_UTF8');
    }
  });

  // 6.4: fail fast. The invalid bytes arrive, and the rest is only written once the client's Close came.
  const edited = utf8('edited');
  failing('utf8', 'u-failfast-frame1', '6.4.1: invalid bytes in the 1st of 3 fragments: 1007 before the rest', [
    one(frame(TEXT, concat([kosme, hex('f4 90 80 80'), edited]), { fin: false })),
    one(concat([frame(0, edited, { fin: false }), frame(0, edited)]), { afterClientClose: true }),
  ], [], 1007, 'INVALID_UTF8');
  failing('utf8', 'u-failfast-frame2', '6.4.2: a sequence that turns invalid in the 2nd fragment: 1007 before the 3rd', [
    one(frame(TEXT, concat([kosme, hex('f4')]), { fin: false })),
    one(frame(0, hex('90'), { fin: false })),
    one(frame(0, concat([hex('80 80'), edited])), { afterClientClose: true }),
  ], [], 1007, 'INVALID_UTF8');
  const single = frame(TEXT, concat([kosme, hex('f4 90 80 80'), edited]));
  const cut = single.length - edited.length;
  failing('utf8', 'u-failfast-payload', '6.4.3: one frame, the invalid part of its payload sent apart: 1007 before the rest', [
    one(single.subarray(0, 2 + kosme.length)),
    one(single.subarray(2 + kosme.length, cut), { delayMs: 20 }),
    one(single.subarray(cut), { afterClientClose: true }),
  ], [], 1007, 'INVALID_UTF8');
  failing('utf8', 'u-failfast-payload-chop', '6.4.4: the same, the invalid part written one byte at a time', [
    one(single.subarray(0, 2 + kosme.length)),
    one(single.subarray(2 + kosme.length, cut), { chop: 1, delayMs: 20 }),
    one(single.subarray(cut), { afterClientClose: true }),
  ], [], 1007, 'INVALID_UTF8');
  failing('utf8', 'u-failfast-long', 'a 6000-byte text message invalid at byte 10: 1007 before the rest is sent', [
    one(frame(TEXT, concat([ascii(10), hex('c0'), ascii(5989)])).subarray(0, 4 + 20)),
    one(frame(TEXT, concat([ascii(10), hex('c0'), ascii(5989)])).subarray(4 + 20), { afterClientClose: true }),
  ], [], 1007, 'INVALID_UTF8');
}

// ===================================================================== 7. close handling
{
  const closeFrame = (code?: number, reason?: Uint8Array | string) => frame(CLOSE, code === undefined ? undefined : closePayload(code, reason));
  answered('close', 'c-after-message', '7.1.1: a text message, then a Close 1000', steps(frame(TEXT, 'Hello World!'), closeFrame(1000)), [text('Hello World!')], 1000, [1000]);
  answered('close', 'c-twice', '7.1.2: two Close frames: one answer', steps(closeFrame(1000), closeFrame(1000)), [], 1000, [1000]);
  answered('close', 'c-then-ping', '7.1.3: a Close, then a ping: no pong', steps(closeFrame(1000), frame(PING, 'after close')), [], 1000, [1000]);
  answered('close', 'c-then-text', '7.1.4: a Close, then a text message: not echoed', steps(closeFrame(1000), frame(TEXT, 'after close')), [], 1000, [1000]);
  answered('close', 'c-in-fragments', '7.1.5: a fragment, a Close, the last fragment: nothing echoed', steps(frame(TEXT, 'fragment1', { fin: false }), closeFrame(1000), frame(0, 'fragment2')), [], 1000, [1000]);
  const big = ascii(60000, 1);
  answered('close', 'c-after-large', '7.1.6: a 60000-byte message, a Close, then a ping: the message echoed, no pong', steps(frame(TEXT, big), closeFrame(1000), frame(PING, 'x')), [text(big)], 1000, [1000]);
  answered('close', 'c-empty', '7.3.1: a Close without payload: answered with an empty Close (or 1000)', steps(closeFrame()), [], 1005, [1005, 1000]);
  failing('close', 'c-one-byte', '7.3.2: a Close with a 1-byte payload: 1002', steps(frame(CLOSE, hex('03'))), [], 1002, 'CLOSE_PAYLOAD_ONE_BYTE');
  answered('close', 'c-1000', '7.3.3: Close 1000 without reason', steps(closeFrame(1000)), [], 1000, [1000]);
  answered('close', 'c-1000-reason', '7.3.4: Close 1000 with a reason', steps(closeFrame(1000, 'Hello World!')), [], 1000, [1000]);
  answered('close', 'c-1000-reason-123', '7.3.5: Close 1000 with a 123-byte reason', steps(closeFrame(1000, ascii(123))), [], 1000, [1000]);
  failing('close', 'c-reason-124', '7.3.6: Close 1000 with a 124-byte reason (payload 126): 1002', steps(closeFrame(1000, ascii(124))), [], 1002, 'CONTROL_TOO_LONG');
  failing('close', 'c-reason-invalid-utf8', '7.5.1: Close 1000 with an invalid UTF-8 reason: 1007', steps(closeFrame(1000, concat([kosmeBytes(), hex('ed a0 80'), utf8('edited')]))), [], 1007, 'INVALID_CLOSE_REASON');
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    answered('close', `c-code-${code}`, `7.7: Close ${code}: echoed`, steps(closeFrame(code, 'reason')), [], code, [code]);
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    failing('close', `c-code-${code}`, `7.9: Close with invalid code ${code}: 1002`, steps(closeFrame(code)), [], 1002, 'INVALID_CLOSE_CODE');
  }
  answered('close', 'c-chop', 'a Close with a reason, chopped into 1-byte writes', [one(closeFrame(4000, 'chopped reason \u00e9'), { chop: 1 })], [], 4000, [4000]);
}

function kosmeBytes(): Uint8Array {
  return hex('ce ba e1 bd b9 cf 83 ce bc ce b5');
}

/** The cases by id. */
export function caseById(id: string): FuzzCase {
  for (const c of CASES) if (c.id === id) return c;
  throw new Error('no fuzz case ' + id);
}
