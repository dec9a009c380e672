/**
 * picows' fuzzing server: what the Autobahn TestSuite's fuzzingserver does to a
 * client under test, in-project and over real sockets. A raw node:net server that
 * does the server side of the opening handshake itself (RFC 6455 4.2.2), then runs
 * the case named by the request path (`/case/<id>/<run>`): it writes the case's
 * scripted server frames (unmasked, whole or chopped, optionally delayed), collects
 * and unmasks what the client sends, and judges it against the case's expectation.
 *
 * The judge checks, for every connection:
 *  - every client frame is masked, has no RSV bit, a known opcode and a minimal length;
 *  - the data messages that came back are the expected echoes, same opcode, same
 *    bytes, in order, and nothing else;
 *  - pongs carry the pings' payloads, in order;
 *  - the client's Close (or its absence) and its code; nothing after it;
 *  - who ended TCP: after a protocol error the client must close TCP itself; after
 *    the server's Close the server ends it first (RFC 6455 7.1.1);
 *  - fail-fast: a step marked afterClientClose is written only once the client's
 *    Close arrived, which it must without that step's bytes.
 */
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Step {
  bytes: Uint8Array;
  /** Write in pieces of this many bytes, one per event-loop turn. Default: one write. */
  chop?: number;
  /** Wait this many ms before writing. */
  delayMs?: number;
  /** Before writing, wait until every expected echo and pong has arrived. */
  afterEchoes?: boolean;
  /** Fail-fast: before writing, wait (up to failFastMs) for the client's Close, which must come without these bytes. */
  afterClientClose?: boolean;
}

export interface EchoedMessage {
  opcode: number;
  payload: Uint8Array;
}

/** How the connection must end. */
export type Outcome =
  /** The client finds a protocol error: it sends a Close with one of `close` and ends TCP itself. */
  | 'fail'
  /** The server sent a Close: the client answers with one of `close`; the server then ends TCP. */
  | 'answer'
  /** The script ends without a Close (a truncated stream): the server ends TCP; the client must send no Close. */
  | 'eof';

export interface Expectation {
  echoes: EchoedMessage[];
  pongs: Uint8Array[];
  /** false: a prefix of `pongs` is enough (a failure or a Close in the same chunk may drop a queued pong). */
  pongsExact: boolean;
  outcome: Outcome;
  /** The codes the client's Close may carry (1005: an empty Close payload); empty for 'eof'. */
  close: number[];
  /** What the client must report locally (runEcho's result). */
  report: { code: number; wasClean: boolean; cause: string; errorId: string | null };
}

export interface FuzzCase {
  /** URL-safe, unique. */
  id: string;
  /** The Autobahn section, or 'vector'. */
  group: string;
  description: string;
  steps: Step[];
  /** Put the first step in the same write as the 101 response (frames right behind the head). */
  withHandshake?: boolean;
  /** Client options the case is written for. */
  client: { maxMessage: number; validatorFlags?: number };
  expect: Expectation;
}

export interface Verdict {
  caseId: string;
  /** Empty when the client behaved. */
  problems: string[];
  echoes: number;
  pongs: number;
  /** The client's Close code (1005 for an empty payload), or null. */
  close: number | null;
}

export interface FuzzServerOptions {
  /** How long the server waits for any one thing the client should do. Default 3000 ms. */
  waitMs?: number;
  /** How long a fail-fast step waits for the client's Close before writing anyway (and failing the case). Default 1500 ms. */
  failFastMs?: number;
}
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

interface Pending {
  caseId: string;
  resolve(v: Verdict): void;
}

export class FuzzServer {
  private readonly server: Server;
  private readonly cases = new Map<string, FuzzCase>();
  private readonly pending = new Map<string, Pending>();
  private readonly sockets = new Set<Socket>();
  private readonly limits: Limits;
  private runs = 0;
  readonly port: number;

  private constructor(server: Server, port: number, cases: FuzzCase[], options: FuzzServerOptions) {
    this.server = server;
    this.port = port;
    this.limits = { waitMs: options.waitMs || 3000, failFastMs: options.failFastMs || 1500 };
    for (const c of cases) {
      if (this.cases.has(c.id)) throw new Error('duplicate fuzz case id ' + c.id);
      this.cases.set(c.id, c);
    }
  }

  static async start(cases: FuzzCase[], options: FuzzServerOptions = {}): Promise<FuzzServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const fuzz = new FuzzServer(server, (server.address() as AddressInfo).port, cases, options);
    server.on('connection', (socket) => fuzz.accept(socket));
    return fuzz;
  }

  /** A URL for one run of a case, and the server's verdict on that run. */
  run(caseId: string): { url: string; verdict: Promise<Verdict> } {
    if (!this.cases.has(caseId)) throw new Error('no fuzz case ' + caseId);
    const token = String(++this.runs);
    const verdict = new Promise<Verdict>((resolve) => this.pending.set(token, { caseId, resolve }));
    return { url: `ws://127.0.0.1:${this.port}/case/${caseId}/${token}`, verdict };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 8192) socket.destroy();
        return;
      }
      socket.off('data', onData);
      const request = head.subarray(0, end).toString('latin1');
      const rest = head.subarray(end + 4);
      const target = /^GET (\S+) HTTP\/1\.1\r\n/.exec(request);
      const key = /\r\nsec-websocket-key:[ \t]*([^\r]+)/i.exec(request);
      const m = target ? /^\/case\/([^/]+)\/(\d+)$/.exec(target[1]) : null;
      const fuzzCase = m ? this.cases.get(m[1]) : undefined;
      const pending = m ? this.pending.get(m[2]) : undefined;
      if (!fuzzCase || !pending || !key || !/\r\nsec-websocket-version:[ \t]*13\r?$/im.test(request + '\r')) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.pending.delete(m![2]);
      const accept = createHash('sha1').update(key[1].trim() + GUID).digest('base64');
      const response = Buffer.from(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n',
        'latin1',
      );
      new CaseRun(socket, fuzzCase, response, pending.resolve, this.limits).start(rest);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  }
}

interface Limits {
  waitMs: number;
  failFastMs: number;
}

interface ClientFrame {
  opcode: number;
  fin: boolean;
  payload: Uint8Array;
}

/** One connection running one case. */
class CaseRun {
  private readonly socket: Socket;
  private readonly c: FuzzCase;
  private readonly response: Buffer;
  private readonly report: (v: Verdict) => void;
  private readonly limits: Limits;
  private readonly problems: string[] = [];
  private buffered: Buffer = Buffer.alloc(0);
  private readonly echoes: EchoedMessage[] = [];
  private readonly pongs: Uint8Array[] = [];
  private message: { opcode: number; parts: Uint8Array[] } | null = null;
  private closeCode: number | null = null;
  private framesAfterClose = 0;
  private clientEnded = false;
  private serverEnded = false;
  /** The client ended TCP before the server did. */
  private clientEndedFirst = false;
  private socketClosed = false;
  private waiters: (() => void)[] = [];

  constructor(socket: Socket, c: FuzzCase, response: Buffer, report: (v: Verdict) => void, limits: Limits) {
    this.limits = limits;
    this.socket = socket;
    this.c = c;
    this.response = response;
    this.report = report;
  }

  start(early: Buffer): void {
    const s = this.socket;
    s.on('data', (d: Buffer) => this.receive(d));
    s.on('end', () => {
      this.clientEnded = true;
      if (!this.serverEnded) this.clientEndedFirst = true;
      this.wake();
    });
    s.on('close', () => {
      this.socketClosed = true;
      this.wake();
    });
    if (early.length) this.problems.push('the client sent ' + early.length + ' bytes before the 101 response');
    // The verdict comes once the script is over and the socket is closed, so no problem goes unreported.
    this.script()
      .catch((e) => {
        this.problems.push('server script failed: ' + (e instanceof Error ? e.message : String(e)));
        this.socket.destroy();
      })
      .then(() => this.until(() => this.socketClosed, this.limits.waitMs))
      .then(() => this.finish());
  }

  private async script(): Promise<void> {
    const c = this.c;
    const steps = c.steps;
    let first = 0;
    if (c.withHandshake && steps.length > 0 && !steps[0].chop && !steps[0].delayMs) {
      this.write(Buffer.concat([this.response, steps[0].bytes]));
      first = 1;
    } else {
      this.write(this.response);
    }
    for (let i = first; i < steps.length; i++) {
      const step = steps[i];
      if (step.delayMs) await sleep(step.delayMs);
      if (step.afterEchoes && !(await this.until(() => this.haveExpected(), this.limits.waitMs))) {
        this.problems.push(`step ${i}: the expected echoes and pongs did not arrive in ${this.limits.waitMs} ms`);
      }
      if (step.afterClientClose && !(await this.until(() => this.closeCode !== null, this.limits.failFastMs))) {
        this.problems.push(`step ${i}: no Close from the client within ${this.limits.failFastMs} ms: it did not fail fast`);
      }
      if (this.clientEnded || this.socketClosed) return this.afterScript();
      const chop = step.chop || step.bytes.length;
      for (let at = 0; at < step.bytes.length; at += chop) {
        // A client that failed stops reading: writing on would only reset the connection.
        if (this.clientEnded || this.socketClosed) return this.afterScript();
        this.write(step.bytes.subarray(at, Math.min(step.bytes.length, at + chop)));
        if (chop < step.bytes.length) await turn();
      }
    }
    await this.afterScript();
  }

  private async afterScript(): Promise<void> {
    const e = this.c.expect;
    if (e.outcome === 'fail') {
      // The client must send its Close and end TCP itself (RFC 6455 7.1.7: fail, then close).
      if (!(await this.until(() => this.clientEnded, this.limits.waitMs))) this.problems.push(`the client did not end TCP within ${this.limits.waitMs} ms after the failure`);
    } else if (e.outcome === 'answer') {
      if (!(await this.until(() => this.closeCode !== null || this.clientEnded, this.limits.waitMs))) {
        this.problems.push(`no Close from the client within ${this.limits.waitMs} ms of the server's Close`);
      }
    } else if (!(await this.until(() => this.haveExpected() || this.clientEnded, this.limits.waitMs))) {
      this.problems.push(`the expected echoes and pongs did not arrive in ${this.limits.waitMs} ms`);
    }
    // The server ends TCP (first, after a Close exchange: RFC 6455 7.1.1), then waits for the client's side.
    this.serverEnded = true;
    if (!this.socketClosed) this.socket.end();
    if (!(await this.until(() => this.socketClosed, this.limits.waitMs))) {
      this.problems.push(`the client kept TCP open ${this.limits.waitMs} ms after the server ended it`);
      this.socket.destroy();
    }
  }

  private write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  private haveExpected(): boolean {
    const e = this.c.expect;
    return this.echoes.length >= e.echoes.length && this.pongs.length >= e.pongs.length;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves true once cond() holds, false after ms or once the socket is closed (nothing more will change). */
  private async until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (this.socketClosed) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  // ---- what the client sends ----

  private receive(d: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, d]) : d;
    for (;;) {
      const f = this.parseFrame();
      if (!f) break;
      this.onFrame(f);
    }
    this.wake();
  }

  /** One client frame off the front of the buffer, unmasked; null when incomplete. */
  private parseFrame(): ClientFrame | null {
    const b = this.buffered;
    if (b.length < 2) return null;
    const fin = (b[0] & 0x80) !== 0;
    const rsv = b[0] & 0x70;
    const opcode = b[0] & 0x0f;
    const masked = (b[1] & 0x80) !== 0;
    let length = b[1] & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2);
      at = 4;
      if (length < 126) this.problems.push('client frame with a non-minimal 16-bit length ' + length);
    } else if (length === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
        this.problems.push('client frame with a 64-bit length ' + big);
        this.socket.destroy();
        return null;
      }
      length = Number(big);
      at = 10;
      if (length < 65536) this.problems.push('client frame with a non-minimal 64-bit length ' + length);
    }
    if (masked) at += 4;
    if (b.length < at + length) return null;
    const payload = new Uint8Array(length);
    if (masked) {
      const k = at - 4;
      for (let i = 0; i < length; i++) payload[i] = b[at + i] ^ b[k + (i & 3)];
    } else {
      payload.set(b.subarray(at, at + length));
      this.problems.push('client frame not masked (RFC 6455 5.3)');
    }
    if (rsv) this.problems.push('client frame with RSV bits 0x' + rsv.toString(16));
    this.buffered = b.subarray(at + length);
    return { opcode, fin, payload };
  }

  private onFrame(f: ClientFrame): void {
    if (this.closeCode !== null) {
      this.framesAfterClose++;
      return;
    }
    if (f.opcode >= 0x8 && !f.fin) this.problems.push('client sent a fragmented control frame');
    if (f.opcode >= 0x8 && f.payload.length > 125) this.problems.push('client sent a control frame of ' + f.payload.length + ' bytes');
    switch (f.opcode) {
      case 0x1:
      case 0x2:
        if (this.message) this.problems.push('client started a message inside a fragmented one');
        this.message = { opcode: f.opcode, parts: [f.payload] };
        break;
      case 0x0:
        if (!this.message) {
          this.problems.push('client sent a continuation with no message open');
          return;
        }
        this.message.parts.push(f.payload);
        break;
      case 0x8:
        this.onClose(f.payload);
        return;
      case 0x9:
        this.problems.push('client sent a ping (an echo client has no reason to)');
        return;
      case 0xa:
        this.pongs.push(f.payload);
        return;
      default:
        this.problems.push('client sent reserved opcode 0x' + f.opcode.toString(16));
        return;
    }
    if (f.fin && this.message) {
      this.echoes.push({ opcode: this.message.opcode, payload: concat(this.message.parts) });
      this.message = null;
    }
  }

  private onClose(payload: Uint8Array): void {
    if (payload.length === 1) this.problems.push('client Close with a 1-byte payload');
    this.closeCode = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
    if (payload.length > 2) {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2));
      } catch {
        this.problems.push('client Close reason is not UTF-8');
      }
    }
  }

  // ---- the verdict ----

  private finish(): void {
    const e = this.c.expect;
    const p = this.problems;
    if (this.buffered.length) p.push(this.buffered.length + ' bytes of an unfinished client frame');
    if (this.message) p.push('client left a fragmented message unfinished');
    if (this.framesAfterClose) p.push(this.framesAfterClose + ' client frame(s) after its Close');
    const got = this.echoes.map(show);
    const want = e.echoes.map(show);
    if (got.length !== want.length || got.some((g, i) => g !== want[i])) {
      p.push(`echoes: expected ${want.length} [${want.slice(0, 4).join(', ')}${want.length > 4 ? ', ...' : ''}], got ${got.length} [${got.slice(0, 4).join(', ')}${got.length > 4 ? ', ...' : ''}]`);
    }
    const pongs = this.pongs.map(hexOf);
    const wantPongs = e.pongs.map(hexOf);
    const pongsOk = e.pongsExact
      ? pongs.length === wantPongs.length && pongs.every((x, i) => x === wantPongs[i])
      : pongs.length <= wantPongs.length && pongs.every((x, i) => x === wantPongs[i]);
    if (!pongsOk) p.push(`pongs: expected ${e.pongsExact ? '' : 'a prefix of '}[${wantPongs.join(' ')}], got [${pongs.join(' ')}]`);
    if (e.outcome === 'eof') {
      if (this.closeCode !== null) p.push('client sent Close ' + this.closeCode + ' where it should have sent none');
    } else if (this.closeCode === null) {
      p.push('client sent no Close (expected ' + e.close.join('/') + ')');
    } else if (e.close.indexOf(this.closeCode) < 0) {
      p.push('client Close ' + this.closeCode + ', expected ' + e.close.join('/'));
    }
    if (e.outcome === 'fail' && !this.clientEndedFirst) p.push('client did not end TCP after failing the connection');
    if (e.outcome !== 'fail' && this.clientEndedFirst) p.push('client ended TCP before the server (RFC 6455 7.1.1: the server closes first)');
    this.report({ caseId: this.c.id, problems: p, echoes: this.echoes.length, pongs: this.pongs.length, close: this.closeCode });
  }
}

function show(m: EchoedMessage): string {
  const h = hexOf(m.payload);
  return (m.opcode === 1 ? 'text:' : m.opcode === 2 ? 'binary:' : 'op' + m.opcode + ':') + (h.length > 24 ? h.slice(0, 24) + '..(' + m.payload.length + ' B, #' + checksum(m.payload) + ')' : h);
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

function checksum(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex').slice(0, 8);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  return new Uint8Array(Buffer.concat(parts));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One event-loop turn, so each chopped piece leaves as its own TCP segment. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
