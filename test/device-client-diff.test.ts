/**
 * Differential test of the size-first device client (board/kaluma/device-client.ts, the
 * flashed bundle) against the layered stack (src/resilience/resilient-client.ts and what
 * is under it: the REFERENCE bundle, buildFirmware({ client: 'layered' })). Both bundles
 * are built here, then run one after the other on the same emulated board (same seed:
 * the same RNG words, so the same keys, masks, sid and jitter) against the same scripted
 * real TCP server on 127.0.0.1, on virtual time (test/helpers/device-diff-harness.ts).
 * They must agree on:
 *  - the app's console (open, closed code cause, retry delay, stopped reason, wifi);
 *  - each connection's request head (the port aside) and, where no telemetry flows,
 *    the exact bytes the client sent after it;
 *  - every frame the client sent, unmasked, with its masking key; telemetry compared
 *    with the fields that depend on wall time or on the bundle's size (up, heap, hw,
 *    the rtt's value) blanked, all of the client's counters kept;
 *  - what the ack server received (seq, new or duplicate, on which connection);
 *  - the board's counters that a client misusing Kaluma would move.
 * The first 16 scenarios are short scripts (3.5 s of board time); the others reach the
 * resilience layer over minutes of board time: at-least-once replay, a Wi-Fi outage,
 * a blackholed server, the circuit breaker and its 60 s restart, a 403 then success,
 * an 8 KiB fragmented message, a server that pings every 300 ms. Each scenario also
 * checks on the reference run that it reached what it is about.
 *
 * Timing: the two runs differ by real milliseconds (boot, loopback I/O), so no scenario
 * may hinge on two board timers falling within a few ms of each other. Hence telemetry
 * periods like 1237 ms (not 1000 or 5000, which line up with the link poll, the 500 ms
 * tick, the 5 s ping interval or the app's 60 s restart), and servers that FIN or drop a
 * connection on board time between the client's bursts, never in the middle of one.
 * DEVICE_DIFF_DUMP=<dir> writes both runs of each scenario as JSON, timeline included.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFirmware } from '../firmware/build.mjs';
import { type Conn, type Controls, type Frame, fragments, frame, ok, runScenario, type Script } from './helpers/device-diff-harness';

/** What one bundle did in one scenario: everything the two must agree on. */
interface Observed {
  console: string[];
  heads: string[];
  /** Hex of every byte each connection's client sent after its head (raw scenarios only). */
  sent: string[] | null;
  frames: string[];
  /** The ack server's log: `conn:seq data` for a new message, `conn:seq dup` for a resend. */
  received: string[];
  board: { [name: string]: number | string };
  /** Not compared (real ms move it): board ms of each frame, console line and board event, for DEVICE_DIFF_DUMP. */
  timeline: string[];
  /** Not compared: settles that gave up on bytes in flight. */
  stalls: number;
}

interface Scenario {
  name: string;
  /** A new server script per run (scripts keep state across connections). */
  server: (log: string[]) => Script;
  drive: (c: Controls) => Promise<void>;
  storage?: { [key: string]: string };
  /** Compare the raw bytes after each head too (false when telemetry, which carries wall time, flows). */
  raw?: boolean;
  /** What the reference run must show for the scenario to have reached its point. */
  reached?: (ref: Observed) => void;
}

// ---- payload normalisation ----

/** Telemetry fields that differ between two correct runs: wall time and the bundle's own size. */
function normalizeReading(d: unknown): unknown {
  if (!d || typeof d !== 'object' || Array.isArray(d)) return d;
  const r = Object.assign({}, d as { [k: string]: unknown });
  for (const k of ['up', 'heap', 'hw']) if (k in r) r[k] = '*';
  if (typeof r.rtt === 'number') r.rtt = r.rtt < 0 ? r.rtt : 'measured';
  return r;
}

function normalizeText(text: string): string {
  try {
    const m = JSON.parse(text);
    if (m && typeof m === 'object' && 'seq' in m && 'data' in m) return JSON.stringify(Object.assign({}, m, { data: normalizeReading(m.data) }));
    return JSON.stringify(normalizeReading(m));
  } catch {
    return JSON.stringify(text);
  }
}

function describeFrame(conn: number, f: Frame): string {
  let body: string;
  if (f.op === 1) body = normalizeText(f.payload.toString('utf8'));
  else if (f.op === 8 && f.payload.length >= 2) body = `${f.payload.readUInt16BE(0)} ${JSON.stringify(f.payload.subarray(2).toString('utf8'))}`;
  else body = f.payload.toString('hex');
  return `${conn}: ${f.fin ? 'fin' : 'more'} op${f.op} mask ${f.mask} ${body}`;
}

/** Parsed data message `{"seq":N,"sid":..,"data":..}` of a client frame, or null. */
function dataMessage(f: Frame): { seq: number; sid: string; data: unknown } | null {
  if (f.op !== 1) return null;
  try {
    const m = JSON.parse(f.payload.toString('utf8'));
    return m && typeof m.seq === 'number' && typeof m.sid === 'string' ? m : null;
  } catch {
    return null;
  }
}

// ---- server building blocks ----

/** Whether to ack now: after this new or duplicate message on this connection (`n`: messages seen on it). */
type AckRule = (conn: Conn, seq: number, n: number) => 'ack' | 'hold';

/**
 * An ack server per ACK-PROTOCOL.md: keeps highest[sid], logs each message as new or a
 * duplicate, acks `{"ack":highest}` when the rule says so. Answers pings. State spans
 * the connections of one run.
 */
function ackServer(log: string[], rule: AckRule = () => 'ack'): (conn: Conn) => void {
  const highest = new Map<string, number>();
  return (conn) => {
    let n = 0;
    conn.onFrame = (f) => {
      if (f.op === 9) conn.write(frame(0x8a, f.payload));
      const m = dataMessage(f);
      if (!m) return;
      n++;
      const last = highest.get(m.sid) || 0;
      if (m.seq > last) {
        highest.set(m.sid, m.seq);
        log.push(`${conn.id}:${m.seq} ${JSON.stringify(normalizeReading(m.data))}`);
      } else log.push(`${conn.id}:${m.seq} dup`);
      if (rule(conn, m.seq, n) === 'ack') conn.write(frame(0x81, JSON.stringify({ ack: highest.get(m.sid) })));
    };
  };
}

/** Completes the handshake, then serves per ackServer. */
function upgradeAndAck(log: string[], rule?: AckRule): Script {
  const serve = ackServer(log, rule);
  return (c) => {
    c.write(ok(c.key));
    serve(c);
  };
}

/** Completes the handshake and answers pings (no acks). */
const upgradeAndPong: Script = (c) => {
  c.write(ok(c.key));
  c.onFrame = (f) => {
    if (f.op === 9) c.write(frame(0x8a, f.payload));
  };
};

/** A different script per connection number; the last one for every later connection. */
function perConnection(...scripts: Script[]): Script {
  return (c) => scripts[Math.min(c.id, scripts.length - 1)](c);
}

const run = (ms: number) => (c: Controls) => c.advance(ms);

/** Runs the board 100 ms at a time until `done` (at most `max` ms of board time). */
async function until(c: Controls, done: () => boolean, max = 120000): Promise<void> {
  for (let t = 0; !done(); t += 100) {
    if (t >= max) throw new Error('the scenario did not reach its next step in time');
    await c.advance(100);
  }
}

/** The largest message the client accepts by default (maxMessage, 8 KiB): 8192 bytes. */
const MESSAGE_8K = '{"cmd":"config","pad":"' + 'y'.repeat(8 * 1024 - 25) + '"}';

// ---- 16 short scripts: the handshake, protocol errors, closes ----

const SHORT: { [name: string]: Script } = {
  'status 503 retry-after 1': (c) => c.write('HTTP/1.1 503 Busy\r\nRetry-After: 1\r\n\r\n'),
  'status 401': (c) => c.write('HTTP/1.1 401 Unauthorized\r\n\r\n'),
  'status 404': (c) => c.write('HTTP/1.1 404 Not Found\r\n\r\n'),
  'bad accept': (c) => c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: xxxx\r\n\r\n'),
  'no upgrade header': (c) => c.write(ok(c.key).replace('Upgrade: websocket\r\n', '')),
  'extension': (c) => c.write(ok(c.key).replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: x\r\n\r\n')),
  'subprotocol': (c) => c.write(ok(c.key).replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: chat\r\n\r\n')),
  'LF without CR': (c) => c.write('HTTP/1.1 101 Switching Protocols\n\r\n'),
  'head too large': (c) => c.write('HTTP/1.1 101 OK\r\nX: ' + 'a'.repeat(5000) + '\r\n\r\n'),
  'reserved opcode after 101': (c) => c.write(Buffer.concat([Buffer.from(ok(c.key)), frame(0x83, Buffer.alloc(0))])),
  'invalid utf-8': (c) => c.write(Buffer.concat([Buffer.from(ok(c.key)), frame(0x81, Buffer.from([0xff, 0x41]))])),
  'close 1013': (c) => c.write(Buffer.concat([Buffer.from(ok(c.key)), frame(0x88, Buffer.from([0x03, 0xf5, 0x68, 0x69]))])),
  'close 1000 then FIN': (c) => {
    c.write(Buffer.concat([Buffer.from(ok(c.key)), frame(0x88, Buffer.from([0x03, 0xe8]))]));
    c.later(50, () => c.end());
  },
  'ping, fragmented text, binary, then FIN': (c) => {
    c.write(Buffer.concat([Buffer.from(ok(c.key)), frame(0x89, Buffer.from('hi')), frame(0x01, Buffer.from('ab')), frame(0x80, Buffer.from('cd')), frame(0x82, Buffer.from([1, 2, 3]))]));
    c.later(100, () => c.end());
  },
  'FIN during handshake': (c) => c.end(),
  'silence (handshake timeout is 10 s: not reached)': () => {},
};

const has = (lines: string[], re: RegExp, what: string) => expect(lines.some((l) => re.test(l)), `${what}: ${re} in\n${lines.join('\n')}`).toBe(true);
/** The reading numbers (n) the server got as new messages, in arrival order. */
const readingNumbers = (received: string[]): number[] =>
  received.filter((l) => !l.endsWith(' dup')).map((l) => (JSON.parse(l.slice(l.indexOf(' ') + 1)) as { n: number }).n);
const lastReading = (received: string[]): { [k: string]: unknown } => {
  const fresh = received.filter((l) => !l.endsWith(' dup'));
  const l = fresh[fresh.length - 1];
  return JSON.parse(l.slice(l.indexOf(' ') + 1));
};

const SCENARIOS: Scenario[] = [
  ...Object.keys(SHORT).map((name): Scenario => ({ name, server: () => SHORT[name], drive: run(3500), raw: true })),

  {
    // Seqs 1-3 acked, then acks held; at 6.5 s the server drops the connection (RST: Kaluma
    // never tells JS, liveness finds it). The next server acks once (its 2nd message) and
    // ends TCP (FIN) 2.5 s in, the rest unacked. The third acks everything: every
    // reading arrives once as new, the resends as duplicates. (The server acts on board
    // time, between the client's bursts: a FIN racing a burst would be decided by real time.)
    name: 'at-least-once: acks withheld, connection dropped (RST, then FIN), replay',
    storage: { TELEMETRY_MS: '1237' },
    server: (log) => upgradeAndAck(log, (c, seq, n) => (c.id === 0 ? (seq <= 3 ? 'ack' : 'hold') : c.id === 1 && n !== 2 ? 'hold' : 'ack')),
    drive: async (c) => {
      await c.advance(6500);
      c.server.conns[0].destroy();
      await until(c, () => c.server.conns.length === 2);
      await c.advance(2500);
      c.server.conns[1].end();
      await c.advance(25000);
    },
    reached: (ref) => {
      // Resent on the second connection (4, 5) and on the third (what the second left unacked).
      expect(ref.received.filter((l) => /^1:\d+ dup$/.test(l)).length).toBeGreaterThan(1);
      expect(ref.received.filter((l) => /^2:\d+ dup$/.test(l)).length).toBeGreaterThan(1);
      const ns = readingNumbers(ref.received);
      expect(ns).toEqual(ns.map((_, i) => i + 1)); // nothing lost, nothing twice
      expect(ns.length).toBeGreaterThan(25);
      expect(lastReading(ref.received).rs).toBeGreaterThan(0);
      expect(ref.heads.length).toBe(3);
    },
  },
  {
    // Readings every second; the access point goes away for 40 s (more readings than the
    // 4 KiB outbox holds: the oldest give way) and comes back.
    name: 'Wi-Fi outage of 40 s with readings queued (and evicted), then the return',
    storage: { TELEMETRY_MS: '1037' },
    server: (log) => upgradeAndAck(log),
    drive: async (c) => {
      await c.advance(6250);
      c.radio.setUp(false);
      await c.advance(40000);
      c.radio.setUp(true);
      await c.advance(20000);
    },
    reached: (ref) => {
      has(ref.console, /wifi-lost/, 'the client noticed the link loss');
      expect(ref.heads.length).toBe(2);
      const ns = readingNumbers(ref.received);
      expect(ns.length).toBeGreaterThan(30);
      const last = lastReading(ref.received);
      expect(last.drop).toBeGreaterThan(0);
      expect(last.last).toBe('wifi-lost');
    },
  },
  {
    // The first server completes the handshake and then says nothing (no pong, no ack):
    // liveness ends it (PONG_TIMEOUT); the next one answers and acks.
    name: 'blackholed server: PONG_TIMEOUT, then a live server gets the replay',
    storage: { TELEMETRY_MS: '1450' },
    server: (log) => perConnection((c) => c.write(ok(c.key)), upgradeAndAck(log)),
    drive: run(30250),
    reached: (ref) => {
      has(ref.console, /^closed 1006 pong-timeout/, 'liveness fired');
      expect(ref.frames.some((f) => /^0: fin op9 /.test(f)), 'the client pinged the silent server').toBe(true);
      expect(lastReading(ref.received).err).toBe('PONG_TIMEOUT');
      expect(readingNumbers(ref.received)[0]).toBe(1); // the readings the silent server swallowed came again
    },
  },
  {
    // Five broken-peer endings in a row, each of another kind: the breaker stops the
    // client; the app starts it again 60 s later, and by then the server is fixed.
    name: 'circuit breaker: 5 broken-peer endings in a row, the 60 s restart',
    storage: { TELEMETRY_MS: '1737' },
    server: (log) =>
      perConnection(
        SHORT['bad accept'],
        SHORT['reserved opcode after 101'],
        SHORT['status 404'],
        SHORT['invalid utf-8'],
        (c) => c.write(Buffer.concat([Buffer.from(ok(c.key)), frame(0x88, Buffer.from([0x03, 0xea]))])), // close 1002
        upgradeAndAck(log),
      ),
    drive: run(260250),
    reached: (ref) => {
      has(ref.console, /^stopped:.*circuit breaker, 5 in a row/, 'the breaker tripped');
      expect(ref.heads.length).toBe(6);
      expect(ref.console[ref.console.length - 1]).toBe('open');
      // Four minutes of readings: the outbox kept the newest, the first delivered counts the rest as dropped.
      expect(readingNumbers(ref.received)[0]).toBeGreaterThan(1);
      expect(lastReading(ref.received).drop).toBeGreaterThan(0);
    },
  },
  {
    name: '403, then a later success (the app restarts the client after 60 s)',
    storage: { TELEMETRY_MS: '1737' },
    server: (log) => perConnection((c) => c.write('HTTP/1.1 403 Forbidden\r\n\r\n'), upgradeAndAck(log)),
    drive: run(75250),
    reached: (ref) => {
      has(ref.console, /^stopped:.*403/, 'the 403 stopped the client');
      expect(ref.heads.length).toBe(2);
      // Readings queued while stopped: the newest the outbox holds arrive, oldest first.
      const ns = readingNumbers(ref.received);
      expect(ns).toEqual(ns.map((_, i) => ns[0] + i));
      expect(ns.length).toBeGreaterThan(20);
    },
  },
  {
    // 8192 bytes in 8 fragments with a ping between the 4th and 5th (accepted: a ping a
    // second later is still answered on that connection), then 8193 bytes in 8 fragments
    // (1009), then the next connection.
    name: 'fragmented 8 KiB message with a ping inside, then one byte too many',
    server: () => perConnection(upgradeAndPong),
    drive: async (c) => {
      await c.advance(1000);
      const f = fragments(MESSAGE_8K, 8);
      c.server.conns[0].write(Buffer.concat([...f.slice(0, 4), frame(0x89, 'mid'), ...f.slice(4)]));
      await c.advance(1000);
      c.server.conns[0].write(frame(0x89, 'after'));
      await c.advance(1000);
      c.server.conns[0].write(Buffer.concat(fragments(MESSAGE_8K + ' ', 8)));
      await c.advance(20250);
    },
    raw: true,
    reached: (ref) => {
      has(ref.console, /^closed 1009/, 'the 8193-byte message was refused');
      expect(ref.console.filter((l) => /^closed/.test(l)).length).toBe(1);
      expect(ref.frames.some((f) => f.startsWith('0: fin op10 ') && f.endsWith(Buffer.from('mid').toString('hex'))), 'the ping inside was answered').toBe(true);
      expect(ref.frames.some((f) => f.startsWith('0: fin op10 ') && f.endsWith(Buffer.from('after').toString('hex'))), 'the connection lived on').toBe(true);
      expect(ref.frames.some((f) => /^0: fin op8 .* 1009 /.test(f)), 'the first connection closed 1009').toBe(true);
      expect(ref.heads.length).toBe(2);
    },
  },
  {
    // 30 pings 300 ms apart (the client answers each; no ping of its own while they come),
    // then 12 s of quiet (the client pings, the server answers), then a Close 1001.
    name: 'a server that pings every 300 ms, then goes quiet, then closes 1001',
    server: () => upgradeAndPong,
    drive: async (c) => {
      await c.advance(500);
      for (let i = 0; i < 30; i++) {
        c.server.conns[0].write(frame(0x89, Buffer.from([0, 0, 0, i])));
        await c.advance(300);
      }
      await c.advance(12000);
      c.server.conns[0].write(frame(0x88, Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('bye')])));
      await c.advance(3000);
    },
    raw: true,
    reached: (ref) => {
      expect(ref.frames.filter((f) => f.startsWith('0: fin op10 ')).length).toBe(30);
      expect(ref.frames.filter((f) => f.startsWith('0: fin op9 ')).length).toBeGreaterThan(0);
      has(ref.console, /^closed 1001/, 'the Close 1001 ended it');
    },
  },
];

/** Board counters compared as they are. */
const BOARD_COUNTERS = ['boots', 'reboots', 'watchdogResets', 'crashes', 'vmResets', 'uncaughtErrors', 'socketsOpened', 'connectThrows', 'wifiJoins', 'wifiJoinFailures'] as const;
/** Counted per native write, and the two clients split their writes differently: compared as none / some. */
const BOARD_FLAGS = ['writesDropped', 'writesToClosed', 'danglingWrites', 'crossWrites', 'unreportedTcpErrors'] as const;

async function observe(code: string, s: Scenario): Promise<Observed> {
  const received: string[] = [];
  const r = await runScenario(code, s.server(received), s.drive, { storage: s.storage });
  const conns = r.server.conns;
  return {
    console: r.console,
    heads: conns.map((c) => c.head),
    sent: s.raw ? conns.map((c) => `${c.id}:${Buffer.concat(c.after).toString('hex')}`) : null,
    frames: conns.flatMap((c) => c.frames.map((f) => describeFrame(c.id, f))),
    received,
    stalls: r.stalls,
    timeline: conns
      .flatMap((c) => c.frames.map((f): [number, string] => [f.at, `conn ${c.id} op${f.op} ${f.op === 1 ? (dataMessage(f) || { seq: '?' }).seq : ''}`]))
      .concat(r.board.consoleLines.map((l): [number, string] => [l.at, `console ${l.text}`]))
      .concat(r.board.events.filter((e) => e.type !== 'native-write' && e.type !== 'led').map((e): [number, string] => [e.at, `${e.type} ${e.detail}`]))
      .sort((a, b) => a[0] - b[0])
      .map(([at, what]) => `${at} ${what}`),
    board: Object.fromEntries([
      ...BOARD_COUNTERS.map((k) => [k, r.board.counters[k]]),
      ...BOARD_FLAGS.map((k) => [k, r.board.counters[k] > 0 ? 'some' : 'none']),
    ]),
  };
}

let layered = '';
let device = '';

beforeAll(async () => {
  // Both built here, from the tree under test: no file from an earlier build is read.
  const [ref, dev] = await Promise.all([
    buildFirmware({ outfile: null, metafile: null, client: 'layered' }),
    buildFirmware({ outfile: null, metafile: null }),
  ]);
  layered = ref.code;
  device = dev.code;
  if (!layered || !device) throw new Error('buildFirmware returned no code');
  if (layered === device) throw new Error('the reference and the device bundle are the same: the layered build did not swap the client');
}, 60000);

describe('the device client against the layered stack, same board, same scripted server', () => {
  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const ref = await observe(layered, s);
      const dev = await observe(device, s);
      // DEVICE_DIFF_DUMP=<dir>: both runs as JSON, with a timeline (board ms: frames, console, board events) to read a failure by.
      const dump = process.env.DEVICE_DIFF_DUMP;
      if (dump) writeFileSync(join(dump, s.name.replace(/[^a-z0-9]+/gi, '_').slice(0, 60) + '.json'), JSON.stringify({ ref, dev }, null, 1));
      if (s.reached) s.reached(ref);
      expect(dev.console, 'console').toEqual(ref.console);
      expect(dev.heads, 'request heads').toEqual(ref.heads);
      expect(dev.frames, 'frames sent').toEqual(ref.frames);
      expect(dev.sent, 'bytes sent after the head').toEqual(ref.sent);
      expect(dev.received, 'what the ack server received').toEqual(ref.received);
      expect(dev.board, 'board counters').toEqual(ref.board);
    }, 30000);
  }
});
