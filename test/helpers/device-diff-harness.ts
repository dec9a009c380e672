/**
 * The harness of test/device-client-diff.test.ts: one firmware bundle on a seeded
 * emulated Kaluma board (board/sim/kaluma, board/sim/sandbox.ts runBundle) against a
 * scripted real TCP server on 127.0.0.1, on virtual time, and a record of everything
 * the two bundles must agree on.
 *
 * Virtual time: the board runs with `virtualTime` (board/sim/kaluma/timers.ts), so its
 * clock moves only by warps, never with the host's: however loaded the machine, each
 * bundle sees the same board times. advance() moves it from one board timer's due time to the next, the
 * way Kaluma's own blocking calls do (warp, then reschedule the timer table and the
 * watchdog), and between two steps lets the real loopback I/O settle: it waits (real ms)
 * until nothing moves (no board event, no byte received by the board or the server, no
 * server action pending). So a 300 s scenario costs a few seconds, and every reply of the
 * server reaches the board before the board's next timer, however far away it is.
 *
 * Server scripts act on real time only through Conn.later() (short delays, tracked so the
 * clock waits for them); anything periodic is driven from the scenario on board time.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createKalumaBoard, type KalumaBoard, Radio } from '../../board/sim/kaluma/index';
import { runBundle } from '../../board/sim/sandbox';

/** One frame the client sent, unmasked. */
export interface Frame {
  fin: boolean;
  op: number;
  /** The masking key, hex (drawn from the board's RNG: the same draws give the same keys). */
  mask: string;
  payload: Buffer;
  /** Board ms when the server got it (for reading a failure; not compared: real ms move it). */
  at: number;
}

/** A connection the scripted server accepted (after the client's request head). */
export interface Conn {
  readonly id: number;
  readonly key: string;
  readonly sock: Socket;
  /** The request head, the port replaced by PORT. */
  readonly head: string;
  /** Every byte the client sent after its request head. */
  readonly after: Buffer[];
  /** The client's frames so far, unmasked. */
  readonly frames: Frame[];
  /** Called for each frame the client sends from now on. */
  onFrame: ((f: Frame) => void) | null;
  write(data: string | Buffer): void;
  /** A FIN (half close); the socket is destroyed 100 ms later if the client does not close. */
  end(): void;
  /** Drop at once (RST). */
  destroy(): void;
  /** fn after `ms` real milliseconds (keep it short); the virtual clock waits for it. */
  later(ms: number, fn: () => void): void;
  readonly closed: boolean;
}

export type Script = (conn: Conn) => void;

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const accept = (key: string): string => createHash('sha1').update(key + WS_GUID).digest('base64');
/** The 101 response head for this key. */
export const ok = (key: string): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`;

/** A server frame (unmasked), any length. `first` is the first byte (FIN | opcode). */
export function frame(first: number, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const n = p.length;
  let head: Buffer;
  if (n < 126) head = Buffer.from([first, n]);
  else if (n < 65536) head = Buffer.from([first, 126, n >> 8, n & 255]);
  else {
    head = Buffer.alloc(10);
    head[0] = first;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, p]);
}

/** `text` as `parts` frames: TEXT, CONTINUATION..., the last with FIN. */
export function fragments(text: string, parts: number): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const size = Math.ceil(bytes.length / parts);
  const out: Buffer[] = [];
  for (let i = 0, at = 0; i < parts; i++, at += size) {
    out.push(frame((i === parts - 1 ? 0x80 : 0) | (i === 0 ? 1 : 0), bytes.subarray(at, at + size)));
  }
  return out;
}

/** Parses whole client frames off the front of `buf`; returns them and what is left. */
function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 127;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const maskLen = masked ? 4 : 0;
    if (buf.length - p < maskLen + len) break;
    const mask = buf.subarray(p, p + maskLen);
    p += maskLen;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, op: b0 & 15, mask: masked ? mask.toString('hex') : 'unmasked', payload, at: -1 });
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** A scripted WebSocket server on 127.0.0.1: reads request heads, hands each connection to the script. */
export class ScriptedServer {
  readonly conns: Conn[] = [];
  /** Bumped by everything the server sees or does (the clock's settle test). */
  activity = 0;
  pending = 0;
  port = 0;
  /** Board time, for Frame.at (set by runScenario). */
  now: () => number = () => -1;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** Accepted sockets by the client's port (the board's socket's local port). */
  readonly byPort = new Map<number, Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(script: Script) {
    this.server = createServer((sock) => this.accept(sock, script));
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private later(ms: number, fn: () => void): void {
    this.pending++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.pending--;
      this.activity++;
      fn();
    }, ms);
    this.timers.add(t);
  }

  private accept(sock: Socket, script: Script): void {
    this.sockets.add(sock);
    if (sock.remotePort) this.byPort.set(sock.remotePort, sock);
    this.activity++;
    let buf = Buffer.alloc(0);
    let conn: (Conn & { frames: Frame[]; after: Buffer[] }) | null = null;
    let closed = false;
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
      this.activity++;
      this.sockets.delete(sock);
    });
    sock.on('data', (d) => {
      this.activity++;
      buf = Buffer.concat([buf, d]);
      if (!conn) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end + 4).toString('latin1');
        const key = (/Sec-WebSocket-Key: (\S+)/i.exec(head) || ['', ''])[1];
        buf = buf.subarray(end + 4);
        const server = this;
        conn = {
          id: this.conns.length,
          key,
          sock,
          head: head.split(String(this.port)).join('PORT'),
          after: [],
          frames: [],
          onFrame: null,
          write(data) {
            if (closed || sock.destroyed || sock.writableEnded) return;
            server.activity++;
            sock.write(data);
          },
          end() {
            if (closed || sock.destroyed) return;
            server.activity++;
            sock.end();
            server.later(100, () => sock.destroy());
          },
          destroy() {
            server.activity++;
            sock.resetAndDestroy();
          },
          later: (ms, fn) => this.later(ms, fn),
          get closed() {
            return closed;
          },
        };
        this.conns.push(conn);
        script(conn);
      }
      if (buf.length === 0) return;
      conn.after.push(Buffer.from(buf));
      const { frames, rest } = parseFrames(buf);
      buf = Buffer.from(rest);
      for (const f of frames) {
        f.at = Math.round(this.now());
        conn.frames.push(f);
        if (conn.onFrame) conn.onFrame(f);
      }
    });
  }
}

/** Steps the board's clock from timer to timer; see the file's comment. */
export class VirtualTime {
  private boardActivity = 0;

  constructor(
    readonly board: KalumaBoard,
    private readonly server: ScriptedServer,
  ) {
    board.onEvent(() => this.boardActivity++);
  }

  private activity(): number {
    return this.boardActivity + this.board.counters.bytesReceived + this.server.activity;
  }

  /**
   * Bytes one side wrote that the other has not read yet. A small write can wait in the
   * kernel for the peer's delayed ACK (Nagle, ~40 ms real): the clock must not leap meanwhile.
   */
  private inFlight(): boolean {
    for (const b of this.board.hostSockets()) {
      if (b.destroyed || b.localPort === undefined) continue;
      const s = this.server.byPort.get(b.localPort);
      if (!s || s.destroyed) continue;
      if (b.bytesWritten > s.bytesRead || s.bytesWritten > b.bytesRead) return true;
    }
    return false;
  }

  /** The earliest due time in the current boot's timer table (board ms), Infinity if none. */
  private nextDue(): number {
    return this.board.session.timers.nextDue();
  }

  /** Board time now (ms since this boot). */
  now(): number {
    return this.board.session.clock.now();
  }

  /** Settles that gave up on bytes in flight (a socket half gone): for reading a failure. */
  stalls = 0;

  /**
   * Real waits until nothing moves for two turns in a row: no board event or byte, no
   * server action pending, no byte in flight, no timer overdue. Bytes in flight are
   * waited for at most ~300 turns (a peer that will never read them).
   */
  async settle(): Promise<void> {
    let quiet = 0;
    let flying = 0;
    for (let i = 0; i < 2000 && quiet < 2; i++) {
      const before = this.activity();
      await new Promise((r) => setTimeout(r, 1));
      if (this.board.state === 'disposed') return;
      const overdue = this.nextDue() <= this.now();
      const inFlight = flying < 300 && this.inFlight();
      if (inFlight && ++flying === 300) this.stalls++;
      quiet = this.activity() === before && this.server.pending === 0 && !overdue && !inFlight ? quiet + 1 : 0;
    }
  }

  /**
   * Runs the board until `ms` of board time have passed (from one timer's due time to the
   * next; a timer that blocks, like wifi.scan, moves the clock too and counts).
   */
  async advance(ms: number): Promise<void> {
    let session = this.board.session;
    let end = session.clock.now() + ms;
    while (this.board.state !== 'disposed') {
      await this.settle();
      if (this.board.session !== session) {
        // A reboot: a new clock from 0; what was left of the run goes on in the new boot.
        const left = end - session.clock.now();
        session = this.board.session;
        end = session.clock.now() + left;
      }
      const now = session.clock.now();
      if (now >= end) break;
      const step = Math.max(0, Math.min(end - now, this.nextDue() - now));
      if (step > 0) {
        session.clock.warp(step);
        session.timers.reschedule();
        this.board.watchdog.reschedule();
      }
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

/** What the scenario's timeline can reach. */
export interface Controls {
  board: KalumaBoard;
  radio: Radio;
  server: ScriptedServer;
  time: VirtualTime;
  advance(ms: number): Promise<void>;
}

export interface RunOptions {
  /** Storage on top of WS_URL, the Wi-Fi credentials and TELEMETRY_MS 600000. */
  storage?: { [key: string]: string };
  seed?: number;
}

export interface RunResult {
  console: string[];
  server: ScriptedServer;
  board: KalumaBoard;
  /** Settles that gave up waiting for bytes in flight (VirtualTime.stalls). */
  stalls: number;
}

/** Boots `code` on a fresh seeded board against a fresh server running `script`, runs `drive`, tears down. */
export async function runScenario(code: string, script: Script, drive: (c: Controls) => Promise<void>, opts: RunOptions = {}): Promise<RunResult> {
  const server = new ScriptedServer(script);
  const port = await server.listen();
  const radio = new Radio({ up: true, ssid: 'lab', password: 'pw' });
  const storage = Object.assign({ WS_URL: `ws://127.0.0.1:${port}/`, TELEMETRY_MS: '600000', WIFI_SSID: 'lab', WIFI_PASSWORD: 'pw' }, opts.storage || {});
  const board = createKalumaBoard({ seed: opts.seed ?? 5, radio, storage, virtualTime: true });
  const time = new VirtualTime(board, server);
  server.now = () => (board.state === 'disposed' ? -1 : board.session.clock.now());
  const run = runBundle(code, board);
  if (run.loadError) throw new Error(run.loadError);
  try {
    await drive({ board, radio, server, time, advance: (ms) => time.advance(ms) });
  } finally {
    run.stop();
    await board.dispose();
    await server.close();
  }
  const console = board.consoleText().map((l) => l.split(`:${port}/`).join(':PORT/'));
  return { console, server, board, stalls: time.stalls };
}
