/**
 * Heap measurement for the firmware bundle in QuickJS (quickjs-emscripten), the
 * nearest small engine the tests can run: JerryScript 2.4 itself is not reachable
 * from a package registry (kaluma.md §7).
 *
 * Inside QuickJS runs a minimal stand-in for what Kaluma 1.2.1 gives a program:
 * require() of built-ins (net, wifi, pico_cyw43, wdt, rp2), the `storage` global,
 * millis/setTimeout/setInterval on a clock the host drives, TextEncoder/TextDecoder,
 * process.memoryUsage and console. Sockets are bridged to an in-memory WebSocket
 * peer on the host (MemoryPeer below) that answers the handshake, acks data frames
 * ({"ack":N}, ACK-PROTOCOL.md), answers pings and can push messages.
 *
 * Accounting, all from QuickJS's own JS_ComputeMemoryUsage ("memory used"):
 *  - `empty`: a fresh context;
 *  - `standins`: after the stand-in is installed (Kaluma's modules live in flash
 *    snapshots and C, so they are not charged to picows);
 *  - `parsed`: after the bundle is compiled but before it runs. QuickJS keeps each
 *    function's source text (for toString) and its own bytecode format, so this
 *    figure says little about JerryScript and is reported, not budgeted;
 *  - everything the program allocates once it runs is measured above `parsed`.
 * QuickJS frees by reference counting at once but only collects cycles past a
 * malloc threshold, so uncollected cycles are included: the figures are upper bounds.
 *
 * Peaks are found by sampling, not by a memory limit: this emscripten build has no
 * malloc_usable_size, so QuickJS's limit (setMemoryLimit) counts 8 bytes per block
 * whatever the block's size ("memory allocated ... 8.0 per block" in its dump) and
 * cannot stand for a 180 KiB heap. Samples are taken after every call into the VM,
 * inside the stand-in's built-ins while large values are live (TextDecoder.decode
 * before it returns, each 'data' chunk, TextEncoder.encode) and whenever the app
 * calls process.memoryUsage() (it does on every inbound message). A spike between
 * two samples can be missed; on the device, JerryScript's own heapPeak is exact.
 */
import { createHash } from 'node:crypto';
import { getQuickJS, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime } from 'quickjs-emscripten';
import { ackFrame, parseData } from '../../src/resilience/ack-protocol';

/** Kaluma's JS heap on the RP2040 (kaluma.md §2). */
export const KALUMA_HEAP = 184312;

/** The stand-in for Kaluma's globals and built-in modules, evaluated inside QuickJS. */
const KALUMA_STANDIN = String.raw`
(function (g) {
  'use strict';
  var now = 0, nextId = 1, timers = [], outq = [], sockets = {}, nextSock = 1;
  g.__wifiUp = true; g.__led = null; g.__feeds = 0; g.__errors = [];
  function Emitter() { this._l = {}; }
  Emitter.prototype.on = function (ev, fn) { (this._l[ev] || (this._l[ev] = [])).push(fn); return this; };
  Emitter.prototype.removeAllListeners = function (ev) { if (ev === undefined) this._l = {}; else delete this._l[ev]; };
  Emitter.prototype.emit = function (ev, a) {
    var l = this._l[ev];
    if (!l) { if (ev === 'error') throw a; return false; }
    l = l.slice();
    for (var i = 0; i < l.length; i++) l[i].call(this, a);
    return true;
  };
  function arm(fn, ms, every) {
    if (typeof fn !== 'function' || typeof ms !== 'number') throw new TypeError('setTimeout(fn, number)');
    var id = nextId++;
    timers.push({ id: id, at: now + ms, every: every ? Math.max(1, ms) : 0, fn: fn });
    return id;
  }
  g.setTimeout = function (fn, ms) { return arm(fn, ms, false); };
  g.setInterval = function (fn, ms) { return arm(fn, ms, true); };
  g.clearTimeout = g.clearInterval = function (id) {
    if (typeof id !== 'number') throw new TypeError('clearTimeout(number)');
    for (var i = 0; i < timers.length; i++) if (timers[i].id === id) { timers.splice(i, 1); return; }
  };
  g.millis = function () { return now; };
  g.__now = function () { return now; };
  g.__setNow = function (t) { now = t; };
  /** Runs the earliest timer due at or before limit; 1 if one ran, 0 if none. */
  g.__runDue = function (limit) {
    var best = -1;
    for (var i = 0; i < timers.length; i++) if (timers[i].at <= limit && (best < 0 || timers[i].at < timers[best].at)) best = i;
    if (best < 0) return 0;
    var t = timers[best];
    if (t.at > now) now = t.at;
    if (t.every) t.at += t.every; else timers.splice(best, 1);
    try { t.fn(); } catch (e) { g.__errors.push(String(e && e.stack || e)); }
    return 1;
  };
  g.__timers = function () { return timers.length; };
  // Socket traffic to the host: one string per item, "<kind><id>|<data>". The host reads
  // strings as C strings, so NUL travels as U+0100 (Kaluma's write never has units >= 0x100).
  g.__pull = function () {
    if (!outq.length) return null;
    var s = outq.shift();
    return s.indexOf('\0') < 0 ? s : s.replace(/\x00/g, '\u0100');
  };
  function Socket() { Emitter.call(this); this._id = 0; }
  Socket.prototype = Object.create(Emitter.prototype);
  Socket.prototype.connect = function (opts, cb) {
    if (!g.__wifiUp) throw new Error('Network device not ready');
    this._id = nextSock++;
    sockets[this._id] = this;
    if (cb) this.on('connect', cb);
    outq.push('c' + this._id + '|' + opts.host + ':' + opts.port);
    this.emit('ready');
    return this;
  };
  Socket.prototype.write = function (data, cb) {
    if (typeof data !== 'string') throw new TypeError('write(string)');
    if (this._id && sockets[this._id] === this && g.__wifiUp) outq.push('w' + this._id + '|' + data);
    if (cb) cb(0);
    return false;
  };
  Socket.prototype.end = function () { if (this._id) outq.push('e' + this._id + '|'); this.emit('end'); };
  Socket.prototype.destroy = function () { if (this._id) { outq.push('d' + this._id + '|'); delete sockets[this._id]; } };
  g.__accept = function (id) { var s = sockets[id]; if (s) s.emit('connect'); };
  g.__deliver = function (id, ab) { var s = sockets[id]; if (s) { g.__sample(); s.emit('data', new Uint8Array(ab)); } };
  g.__remoteClose = function (id) { var s = sockets[id]; if (s) { delete sockets[id]; s.emit('close'); } };
  function WiFi() { Emitter.call(this); }
  WiFi.prototype = Object.create(Emitter.prototype);
  WiFi.prototype.connect = function (info, cb) {
    if (g.__wifiUp) { this.emit('associated'); this.emit('connected'); }
    if (cb) cb(0, info);
  };
  WiFi.prototype.getConnection = function (cb) { cb(null, g.__wifiUp ? { ssid: 'lab', bssid: '00:00:00:00:00:00' } : undefined); };
  function PicoCYW43() {}
  PicoCYW43.prototype.putGpio = function (pin, v) {
    if (typeof pin !== 'number' || typeof v !== 'boolean') throw new TypeError('putGpio(number, boolean)');
    if (pin === 0) g.__led = v;
  };
  function WDT(ms) { if (typeof ms !== 'number') throw new TypeError('"timeout" must be a number'); }
  WDT.prototype.feed = function () { g.__feeds++; };
  var mods = {
    net: { Socket: Socket },
    wifi: { WiFi: WiFi },
    pico_cyw43: { PicoCYW43: PicoCYW43 },
    wdt: { WDT: WDT },
    rp2: { randomBigInt: function () {
      var r = BigInt(0);
      for (var i = 0; i < 4; i++) r = (r << BigInt(32)) | BigInt((Math.random() * 4294967296) >>> 0);
      return r;
    } },
  };
  g.require = function (name) { var m = mods[name]; if (!m) throw new Error('not a built-in module: ' + name); return m; };
  // __sample (a host function) records QuickJS's memory in use: called wherever large
  // values are live inside a built-in, and by the app through process.memoryUsage().
  g.process = { memoryUsage: function () { var u = g.__sample(); return { heapTotal: 184312, heapUsed: u }; } };
  g.__logs = null; // set to [] to keep console.log lines (costs heap: off while measuring)
  g.console = {
    log: function () { if (g.__logs) g.__logs.push(Array.prototype.join.call(arguments, ' ')); },
    error: function () { g.__errors.push(Array.prototype.join.call(arguments, ' ')); },
  };
  function TextEncoder() {}
  TextEncoder.prototype.encode = function (s) {
    var out = [], i = 0;
    for (; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) { c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00); }
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    var u8 = new Uint8Array(out);
    out = null;
    g.__sample();
    return u8;
  };
  function TextDecoder() {}
  TextDecoder.prototype.decode = function (b) {
    var s = '', i = 0;
    while (i < b.length) {
      var c = b[i++];
      if (c >= 0xf0) { c = ((c & 7) << 18) | ((b[i++] & 63) << 12) | ((b[i++] & 63) << 6) | (b[i++] & 63); c -= 0x10000; s += String.fromCharCode(0xd800 + (c >> 10), 0xdc00 + (c & 1023)); continue; }
      if (c >= 0xe0) c = ((c & 15) << 12) | ((b[i++] & 63) << 6) | (b[i++] & 63);
      else if (c >= 0xc0) c = ((c & 31) << 6) | (b[i++] & 63);
      s += String.fromCharCode(c);
    }
    g.__sample();
    return s;
  };
  g.TextEncoder = TextEncoder; g.TextDecoder = TextDecoder;
})(globalThis);
`;

/** A data frame the peer received: the parsed {"seq","sid","data"}. */
export interface PeerDelivery {
  seq: number;
  sid: string;
  data: unknown;
}

/**
 * The server side of one connection at a time, in memory: the RFC 6455 handshake
 * (4.2.2), unmasking client frames (5.3), acks for data frames, pongs for pings, a
 * Close answered with a Close.
 */
export class MemoryPeer {
  readonly deliveries: PeerDelivery[] = [];
  pings = 0;
  connections = 0;
  /**
   * A dead link, as flaky Wi-Fi makes one: connects are never answered and bytes in
   * either direction vanish. Kaluma reports nothing, so only the client's own
   * deadlines (connect, handshake, pong) can end what it was doing.
   */
  silent = false;
  /** Extra header lines for the 101 response (each ending in CRLF): a large response head. */
  extraHead = '';
  /** When set, upgrades are refused with this HTTP status (and TCP ended), as a server that rejects the device. */
  refuseStatus = 0;
  /** Upgrade requests refused so far. */
  refused = 0;
  private sock = 0;
  private inbuf = Buffer.alloc(0);
  private upgraded = false;
  constructor(private readonly board: HeapBoard) {}

  get connected(): boolean {
    return this.sock !== 0 && this.upgraded;
  }

  accept(id: number): void {
    if (this.silent) return;
    this.sock = id;
    this.inbuf = Buffer.alloc(0);
    this.upgraded = false;
    this.connections++;
    this.board.call('__accept', id);
  }

  closed(id: number): void {
    if (id === this.sock) this.sock = 0;
  }

  /** The server ends the connection: the device's socket gets 'close' (a FIN; Kaluma reports no reset). */
  drop(): void {
    const id = this.sock;
    this.sock = 0;
    if (id) this.board.call('__remoteClose', id);
  }

  receive(id: number, bytes: Buffer): void {
    if (id !== this.sock || this.silent) return;
    this.inbuf = Buffer.concat([this.inbuf, bytes]);
    if (!this.upgraded) {
      const end = this.inbuf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.inbuf.subarray(0, end).toString('latin1');
      this.inbuf = this.inbuf.subarray(end + 4);
      if (this.refuseStatus) {
        this.refused++;
        this.write(Buffer.from('HTTP/1.1 ' + this.refuseStatus + ' Refused\r\nContent-Length: 0\r\n\r\n', 'latin1'));
        this.drop();
        return;
      }
      const key = /\r\nsec-websocket-key:\s*(\S+)/i.exec(head);
      const accept = createHash('sha1')
        .update((key ? key[1] : '') + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        .digest('base64');
      this.upgraded = true;
      this.write(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n' + this.extraHead + '\r\n', 'latin1'));
    }
    for (;;) {
      const f = this.nextFrame();
      if (!f) return;
      if (f.opcode === 1) {
        const m = parseData(f.payload.toString('utf8'));
        if (m) {
          this.deliveries.push(m);
          this.sendText(ackFrame(m.seq));
        }
      } else if (f.opcode === 9) {
        this.pings++;
        this.sendFrame(10, f.payload);
      } else if (f.opcode === 8) {
        this.sendFrame(8, f.payload.subarray(0, 2));
      }
    }
  }

  sendText(text: string): void {
    this.sendFrame(1, Buffer.from(text, 'utf8'));
  }

  /** One text message in `parts` frames (a first frame, then continuations), each delivered on its own. */
  sendFragmented(text: string, parts: number): void {
    const bytes = Buffer.from(text, 'utf8');
    const size = Math.ceil(bytes.length / parts);
    for (let i = 0, at = 0; i < parts; i++, at += size) {
      this.sendFrame(i === 0 ? 1 : 0, bytes.subarray(at, at + size), i === parts - 1);
    }
  }

  private sendFrame(opcode: number, payload: Buffer, fin = true): void {
    if (this.silent || !this.sock) return;
    const n = payload.length;
    const b0 = (fin ? 0x80 : 0) | opcode;
    const head = n < 126 ? Buffer.from([b0, n]) : Buffer.from([b0, 126, n >> 8, n & 255]);
    this.write(Buffer.concat([head, payload]));
  }

  /** Delivered in TCP-segment-sized chunks (lwIP's MSS on the Pico W is 1460). */
  private write(bytes: Buffer): void {
    for (let i = 0; i < bytes.length; i += 1460) this.board.deliver(this.sock, bytes.subarray(i, i + 1460));
  }

  private nextFrame(): { opcode: number; payload: Buffer } | null {
    const b = this.inbuf;
    if (b.length < 2) return null;
    let len = b[1] & 127;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(b.readBigUInt64BE(2));
      off = 10;
    }
    const masked = (b[1] & 128) !== 0;
    const total = off + (masked ? 4 : 0) + len;
    if (b.length < total) return null;
    const payload = Buffer.from(b.subarray(total - len, total));
    if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[off + (i & 3)];
    this.inbuf = b.subarray(total);
    return { opcode: b[0] & 15, payload };
  }
}

export interface HeapFigures {
  empty: number;
  standins: number;
  parsed: number;
}

/** One QuickJS runtime running the firmware against MemoryPeer, on a clock the host drives. */
export class HeapBoard {
  readonly peer: MemoryPeer;
  readonly figures: HeapFigures = { empty: 0, standins: 0, parsed: 0 };
  /** The most memory in use at any sample since resetPeak() (QuickJS "memory used"). */
  peakUsed = 0;
  private constructor(readonly runtime: QuickJSRuntime, readonly vm: QuickJSContext) {
    this.peer = new MemoryPeer(this);
    // Samples come from inside the VM too (built-ins holding large values, the app's
    // process.memoryUsage()), so peaks inside one callback are seen, not only between them.
    const sampler = vm.newFunction('__sample', () => vm.newNumber(this.sample() - this.figures.parsed));
    vm.setProp(vm.global, '__sample', sampler);
    sampler.dispose();
  }

  /**
   * A runtime with the stand-in installed and the bundle compiled (not run).
   * `storage`: Kaluma storage keys.
   */
  static async create(bundle: string, storage: { [key: string]: string }): Promise<HeapBoard> {
    const QuickJS = await getQuickJS();
    const runtime = QuickJS.newRuntime();
    const vm = runtime.newContext();
    const empty = memoryUsed(runtime);
    const board = new HeapBoard(runtime, vm);
    run(vm, KALUMA_STANDIN, 'kaluma-standin.js');
    run(vm, 'globalThis.storage = { getItem: function (k) { var v = ' + JSON.stringify(storage) + '[k]; return v === undefined ? null : v; }, setItem: function () {} };', 'storage.js');
    const standins = memoryUsed(runtime);
    // Compiled as a function so that compiling and running are measured apart.
    run(vm, 'globalThis.__main = function () {' + bundle + '\n};', 'firmware.js');
    Object.assign(board.figures, { empty, standins, parsed: memoryUsed(runtime) });
    board.resetPeak();
    return board;
  }

  /** Records the memory in use now into peakUsed; returns it. */
  sample(): number {
    const u = memoryUsed(this.runtime);
    if (u > this.peakUsed) this.peakUsed = u;
    return u;
  }

  resetPeak(): void {
    this.peakUsed = 0;
    this.sample();
  }

  /** The peak since resetPeak(), above the compiled program. */
  peakData(): number {
    return this.peakUsed - this.figures.parsed;
  }

  /** Bytes in use now (QuickJS "memory used"). */
  used(): number {
    return memoryUsed(this.runtime);
  }

  /** Bytes the program has allocated since it was compiled. */
  data(): number {
    return this.used() - this.figures.parsed;
  }

  /** Runs the flashed program (Kaluma runs it at boot). */
  boot(): void {
    this.call('__main');
    this.pump();
  }

  /** Moves the clock forward, running each timer when due and carrying socket traffic in between. */
  advance(ms: number): void {
    const end = this.num('__now') + ms;
    while (this.call('__runDue', end) === 1) this.pump();
    this.call('__setNow', end);
    this.pump();
  }

  /**
   * Collects QuickJS's garbage cycles now, so that what data() reports next is live data
   * only. QuickJS frees by reference counting at once, but finds cycles (a connection
   * and the closures that point back at it) only once its block count passes a
   * threshold, which then grows by half; there is no API to run it. So: hold a cycle
   * through a WeakRef, then hold ever more small objects until the cycle is gone. The
   * objects are freed before returning. Each call needs about 1.5 times the objects of
   * the one before: call it a handful of times per runtime, not per step.
   */
  collect(): void {
    run(
      this.vm,
      `(function () {
        var a = {}; a.self = a;
        var w = new WeakRef(a); a = null;
        for (var n = 1024; n <= 1 << 23 && w.deref() !== undefined; n *= 2) {
          var keep = new Array(n);
          for (var i = 0; i < n; i++) keep[i] = {};
          keep = null;
        }
        if (w.deref() !== undefined) throw new Error('collect: no garbage collection happened');
      })();`,
      'collect.js',
    );
  }

  setWifi(up: boolean): void {
    run(this.vm, 'globalThis.__wifiUp = ' + up + ';', 'wifi.js');
  }

  /** Errors thrown by timers or logged with console.error inside QuickJS. */
  errors(): string[] {
    return this.read('__errors') as string[];
  }

  read(global: string): unknown {
    const h = this.vm.getProp(this.vm.global, global);
    try {
      return this.vm.dump(h);
    } finally {
      h.dispose();
    }
  }

  /** Hands bytes to the device's socket (a 'data' event with a Uint8Array, as Kaluma's net does). */
  deliver(id: number, bytes: Buffer): void {
    if (!id) return;
    const ab = this.vm.newArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    this.callWith('__deliver', [this.vm.newNumber(id), ab]);
  }

  /** Carries what the device wrote to the peer, and the peer's answers back, until both are quiet. */
  pump(): void {
    for (;;) {
      const h = this.callHandle('__pull', []);
      const item = this.vm.typeof(h) === 'string' ? this.vm.getString(h) : null;
      h.dispose();
      if (item === null) return;
      const bar = item.indexOf('|');
      const id = Number(item.slice(1, bar));
      const data = item.slice(bar + 1).replace(/\u0100/g, '\0');
      if (item[0] === 'c') this.peer.accept(id);
      else if (item[0] === 'w') this.peer.receive(id, Buffer.from(data, 'latin1'));
      else this.peer.closed(id);
    }
  }

  /** Calls a global function with numeric arguments; returns its number result (or NaN). */
  call(name: string, ...args: number[]): number {
    const h = this.callHandle(
      name,
      args.map((a) => this.vm.newNumber(a)),
    );
    const v = this.vm.typeof(h) === 'number' ? this.vm.getNumber(h) : NaN;
    h.dispose();
    return v;
  }

  dispose(): void {
    this.vm.dispose();
    this.runtime.dispose();
  }

  private num(name: string): number {
    return this.call(name);
  }

  private callWith(name: string, args: QuickJSHandle[]): void {
    this.callHandle(name, args).dispose();
  }

  private callHandle(name: string, args: QuickJSHandle[]): QuickJSHandle {
    const fn = this.vm.getProp(this.vm.global, name);
    try {
      return unwrap(this.vm, this.vm.callFunction(fn, this.vm.undefined, ...args));
    } finally {
      for (const a of args) if (a.alive) a.dispose();
      fn.dispose();
      this.sample();
    }
  }
}

/** QuickJS's "memory used" total (JS_ComputeMemoryUsage), read from its dump: no allocation inside the VM. */
export function memoryUsed(runtime: QuickJSRuntime): number {
  const m = /memory used\s+\d+\s+(\d+)/.exec(runtime.dumpMemoryUsage());
  if (!m) throw new Error('quickjs: no "memory used" line');
  return Number(m[1]);
}

/** Thrown when code inside the VM threw to the host. */
export class VmError extends Error {
  constructor(readonly detail: unknown) {
    super('quickjs: ' + JSON.stringify(detail));
  }
  get outOfMemory(): boolean {
    return /out of memory/i.test(this.message);
  }
}

function unwrap(vm: QuickJSContext, r: { error?: QuickJSHandle; value?: QuickJSHandle }): QuickJSHandle {
  if (r.error) {
    let detail: unknown;
    try {
      detail = vm.dump(r.error);
    } catch (e) {
      detail = 'out of memory (undumpable error)';
    }
    r.error.dispose();
    throw new VmError(detail);
  }
  return r.value as QuickJSHandle;
}

function run(vm: QuickJSContext, code: string, filename: string): void {
  unwrap(vm, vm.evalCode(code, filename)).dispose();
}
