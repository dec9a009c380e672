/**
 * A TCP proxy on loopback that makes Wi-Fi-like faults on demand.
 *
 * Tests and the simulator put it between a WebSocket client and a server to prove
 * the client notices dead links, reconnects, and loses nothing. It is Node-only
 * test tooling (never bundled for Kaluma) and binds to 127.0.0.1 alone.
 *
 * Each connection has two lanes, client→server and server→client. A chunk that
 * arrives on a lane goes through, in order:
 *   1. blackhole: dropped (counted in bytesDropped) and never delivered later;
 *   2. corruption: the seeded random bit flips, then any armed corruptNext;
 *   3. delay: held until arrival + delayMs (order kept even if delayMs changes);
 *   4. slice / throttle: cut into segments, paced by a token bucket;
 *   5. write to the other socket (counted in bytesToServer / bytesToClient).
 * A lane with more than LANE_HIGH_WATER bytes queued, or whose write returned
 * false, pauses its source socket: TCP backpressure reaches the sender, as it
 * would through a slow link, instead of the proxy buffering without bound.
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { clearImmediate, clearTimeout, setImmediate, setTimeout } from 'node:timers';
import { mulberry32 } from '../sim/prng';

export type Direction = 'toClient' | 'toServer';

export interface CorruptMode {
  direction: Direction;
  /** Chance, per forwarded byte, that one random bit of it is flipped (0..1). */
  probability: number;
}

/**
 * The faults in force. They apply to current and future connections alike.
 * `setMode` replaces the whole mode: a field left out returns to normal.
 */
export interface FaultMode {
  /**
   * Stop forwarding in both directions without closing: like Wi-Fi gone.
   * Bytes that arrive, and bytes still queued in the proxy, are DROPPED: lifting
   * the blackhole does not deliver them, and a connection that lost bytes is RESET
   * when it lifts (a stream with a hole in it cannot resume; see reconsider()).
   * A FIN or reset that arrives meanwhile is HELD and passed on when it lifts, as
   * a peer's TCP keeps retransmitting its FIN or answers later segments with RST;
   * so dead connections wind down once the "Wi-Fi" is back instead of lingering.
   * The proxy's own TCP still acknowledges what it drops, so a sender's write
   * buffer does not fill: to the application the loss is silent.
   */
  blackhole: boolean;
  /** One-way latency added to each direction, in ms. Order is kept. */
  delayMs: number;
  /** Throttle each direction to this rate (0 = unlimited). Bursts are at most ~20 ms worth. */
  bytesPerSecond: number;
  /** Forward in segments of this many bytes with a setImmediate between them (0 = whole chunks). */
  slice: number;
  /** Flip random bits, from the proxy's seeded PRNG, in one direction. */
  corrupt: CorruptMode | null;
  /**
   * Like a load balancer: reset (RST both sides) a connection that has forwarded no
   * byte in either direction for this long, in ms (0 = never). Dropped (blackholed)
   * bytes are not traffic, so a blackholed connection is killed too. The kill reaches
   * both peers even while blackholed. Setting or changing it restarts every connection's clock.
   */
  idleKillMs: number;
  /** New connections are accepted and reset at once (the client sees ECONNRESET); existing ones are untouched. */
  refuse: boolean;
}

export interface FaultProxyOptions {
  target: { host: string; port: number };
  /** Port to listen on, on 127.0.0.1 (0 or absent = any free port). */
  listenPort?: number;
  /** Seed of the PRNG behind `corrupt` (default 1). Same seed and same traffic, same bit flips. */
  seed?: number;
}

/** Totals over the proxy's life (connections and bytes, including closed connections). */
export interface ProxyCounters {
  /** Connections accepted and forwarded. */
  accepted: number;
  /** Connections reset on arrival because `refuse` was on. */
  refused: number;
  /** Connections reset by `idleKillMs`. */
  idleKilled: number;
  bytesToServer: number;
  bytesToClient: number;
  /** Bytes that arrived but were never delivered (blackhole, or the far side already gone). */
  bytesDropped: number;
}

const NORMAL_MODE: FaultMode = {
  blackhole: false,
  delayMs: 0,
  bytesPerSecond: 0,
  slice: 0,
  corrupt: null,
  idleKillMs: 0,
  refuse: false,
};

/** Above this many queued bytes a lane pauses its source socket (a bandwidth-delay window). */
const LANE_HIGH_WATER = 64 * 1024;
/** The token bucket holds at most this long's worth of bytes: the largest burst a throttled lane sends. */
const THROTTLE_BURST_MS = 20;


/** Send RST where Node can (18.3+), else a plain destroy. A socket still connecting has nothing to reset. */
function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting || typeof socket.resetAndDestroy !== 'function') {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function checkMode(mode: FaultMode): void {
  const nonNegative: Array<keyof FaultMode> = ['delayMs', 'bytesPerSecond', 'slice', 'idleKillMs'];
  for (const key of nonNegative) {
    const value = mode[key] as number;
    if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`fault mode ${key} must be a finite number >= 0, got ${String(value)}`);
    }
  }
  if (!Number.isInteger(mode.slice)) throw new RangeError(`fault mode slice must be an integer, got ${mode.slice}`);
  const corrupt = mode.corrupt;
  if (corrupt) {
    if (corrupt.direction !== 'toClient' && corrupt.direction !== 'toServer') {
      throw new RangeError(`fault mode corrupt.direction must be 'toClient' or 'toServer'`);
    }
    if (!(corrupt.probability >= 0 && corrupt.probability <= 1)) {
      throw new RangeError(`fault mode corrupt.probability must be within 0..1, got ${corrupt.probability}`);
    }
  }
}

interface QueuedChunk {
  bytes: Buffer;
  offset: number;
  /** performance.now() at which the delay is over. */
  dueAt: number;
}

interface ArmedCorruption {
  /** Index in the lane's accepted-byte count. */
  at: number;
  mask: number;
}

/** One direction of one connection: source socket → faults → destination socket. */
class Lane {
  private readonly queue: QueuedChunk[] = [];
  private queuedBytes = 0;
  private lastDueAt = 0;
  /** Bytes that got past the blackhole: what corruptNext indices count. */
  private acceptedBytes = 0;
  private readonly armed: ArmedCorruption[] = [];
  private tokens = 0;
  private tokensAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private waitingDrain = false;
  private sourcePaused = false;
  /** The source sent FIN; the destination gets it once the queue is empty. */
  private sourceEnded = false;
  /** A FIN or reset that arrived while blackholed, to pass on when it lifts. */
  private heldEnd = false;
  private heldReset = false;

  constructor(
    readonly direction: Direction,
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    private readonly conn: ProxyConnection,
  ) {
    this.tokensAt = performance.now();
  }

  /** Bytes from the source socket. */
  accept(chunk: Buffer): void {
    const proxy = this.conn.proxy;
    if (this.conn.isBlackholed() || this.conn.finished) {
      this.conn.countDropped(chunk.length);
      return;
    }
    this.conn.touch();
    const start = this.acceptedBytes;
    this.acceptedBytes += chunk.length;
    const corrupt = proxy.mode.corrupt;
    if (corrupt && corrupt.direction === this.direction && corrupt.probability > 0) {
      const random = proxy.random;
      for (let i = 0; i < chunk.length; i++) {
        if (random() < corrupt.probability) chunk[i] ^= 1 << Math.floor(random() * 8);
      }
    }
    for (let i = this.armed.length - 1; i >= 0; i--) {
      const armed = this.armed[i];
      if (armed.at < this.acceptedBytes) {
        chunk[armed.at - start] ^= armed.mask;
        this.armed.splice(i, 1);
      }
    }
    const now = performance.now();
    // Never before the chunk ahead of it: a shorter delay set later must not reorder bytes.
    const dueAt = Math.max(now + proxy.mode.delayMs, this.lastDueAt);
    this.lastDueAt = dueAt;
    this.queue.push({ bytes: chunk, offset: 0, dueAt });
    this.queuedBytes += chunk.length;
    this.pump();
  }

  /** Flip `mask` into the byte `index` bytes after the last one accepted so far. */
  corruptNext(index: number, mask: number): void {
    this.armed.push({ at: this.acceptedBytes + index, mask: mask & 0xff });
  }

  /** The source sent FIN. */
  sourceEnd(): void {
    if (this.conn.isBlackholed()) {
      this.heldEnd = true;
      return;
    }
    this.sourceEnded = true;
    this.pump();
  }

  /** The source vanished without a FIN (reset, error, or refused): reset the destination. */
  sourceReset(): void {
    if (this.conn.isBlackholed()) {
      this.heldReset = true;
      return;
    }
    this.dropQueue();
    resetSocket(this.dest);
  }

  /** The mode or the connection's blackhole changed: drop, release held events, re-pace. */
  reconsider(): void {
    if (this.conn.isBlackholed()) {
      this.dropQueue();
      return;
    }
    if (this.heldReset) {
      this.heldReset = false;
      this.sourceReset();
      return;
    }
    if (this.heldEnd) {
      this.heldEnd = false;
      this.sourceEnded = true;
    }
    // A throttle or delay that was lifted should not leave us waiting on its timer.
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.pump();
  }

  /** Start the throttle's token bucket empty, so a throttled transfer is paced from its first byte. */
  restartThrottle(): void {
    this.tokens = 0;
    this.tokensAt = performance.now();
  }

  /** Forget everything queued (nothing more will be delivered on this lane). */
  dropQueue(): void {
    if (this.queuedBytes > 0) this.conn.countDropped(this.queuedBytes);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.updateFlow();
  }

  /** Cancel every timer and immediate this lane holds. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  /** Deliver what is due, within the slice and throttle limits, then wait for the next moment. */
  private pump(): void {
    if (this.timer || this.immediate || this.waitingDrain) return;
    const mode = this.conn.proxy.mode;
    const dest = this.dest;
    while (this.queue.length > 0) {
      if (this.conn.isBlackholed() || dest.destroyed || dest.writableEnded) {
        this.dropQueue();
        break;
      }
      const head = this.queue[0];
      const now = performance.now();
      if (head.dueAt > now) {
        this.wait(head.dueAt - now);
        return;
      }
      let size = head.bytes.length - head.offset;
      if (mode.slice > 0 && size > mode.slice) size = mode.slice;
      if (mode.bytesPerSecond > 0) {
        const burst = Math.max(1, Math.floor((mode.bytesPerSecond * THROTTLE_BURST_MS) / 1000));
        if (size > burst) size = burst;
        this.tokens = Math.min(burst, this.tokens + ((now - this.tokensAt) * mode.bytesPerSecond) / 1000);
        this.tokensAt = now;
        if (this.tokens < size) {
          this.wait(((size - this.tokens) * 1000) / mode.bytesPerSecond);
          return;
        }
        this.tokens -= size;
      }
      const segment = head.bytes.subarray(head.offset, head.offset + size);
      head.offset += size;
      if (head.offset === head.bytes.length) this.queue.shift();
      this.queuedBytes -= size;
      this.conn.countDelivered(this.direction, size);
      const flushed = dest.write(segment);
      if (!flushed) {
        this.waitingDrain = true;
        dest.once('drain', () => {
          this.waitingDrain = false;
          this.updateFlow();
          this.pump();
        });
        this.updateFlow();
        return;
      }
      if (mode.slice > 0 && this.queue.length > 0) {
        // The brief's "setImmediate between segments": lets the receiver read each one on its own.
        this.immediate = setImmediate(() => {
          this.immediate = null;
          this.pump();
        });
        this.updateFlow();
        return;
      }
    }
    this.updateFlow();
    if (this.queue.length === 0 && this.sourceEnded && !dest.destroyed && !dest.writableEnded) dest.end();
  }

  private wait(ms: number): void {
    // Timers have 1 ms resolution and may fire a fraction early: pump() re-checks the clock.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, Math.max(1, Math.ceil(ms)));
  }

  /** Pause the source while this lane is backed up; resume it when it is not. */
  private updateFlow(): void {
    const backedUp = this.waitingDrain || this.queuedBytes >= LANE_HIGH_WATER;
    if (backedUp && !this.sourcePaused) {
      this.sourcePaused = true;
      this.source.pause();
    } else if (!backedUp && this.sourcePaused) {
      this.sourcePaused = false;
      this.source.resume();
    }
  }
}

/** One client connection and its upstream connection to the target. */
export class ProxyConnection {
  /** 1, 2, 3... in order of acceptance. */
  readonly id: number;
  /** Bytes delivered to the server on this connection (read them; do not write). */
  bytesToServer = 0;
  /** Bytes delivered to the client on this connection. */
  bytesToClient = 0;
  /** Bytes that arrived on this connection but were never delivered. */
  bytesDropped = 0;
  /** @internal */
  readonly proxy: FaultProxy;
  /** @internal fin() was called: nothing more is forwarded. */
  finished = false;
  private readonly client: net.Socket;
  private readonly server: net.Socket;
  private readonly toServer: Lane;
  private readonly toClient: Lane;
  private ownBlackhole = false;
  private tornDown = false;
  private openSockets = 2;
  private lastActivity = performance.now();
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  /** @internal Built by FaultProxy for each accepted socket. */
  constructor(proxy: FaultProxy, id: number, client: net.Socket, target: { host: string; port: number }) {
    this.proxy = proxy;
    this.id = id;
    this.client = client;
    this.closedPromise = new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    this.server = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    client.setNoDelay(true);
    this.server.setNoDelay(true);
    this.toServer = new Lane('toServer', client, this.server, this);
    this.toClient = new Lane('toClient', this.server, client, this);
    this.wire(client, this.toServer);
    this.wire(this.server, this.toClient);
    this.armIdleTimer();
  }

  /** True once both sockets have closed. */
  get closed(): boolean {
    return this.openSockets === 0;
  }

  /** Resolves once both sockets have closed. */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  /** RST both sides now (even while blackholed: the proxy's own actions are not subject to its faults). */
  reset(): void {
    this.tornDown = true;
    this.stopTimers();
    resetSocket(this.client);
    resetSocket(this.server);
  }

  /**
   * Graceful FIN to both sides now. Bytes still queued in the proxy (delay, throttle)
   * are dropped and later arrivals are too; each peer gets what was already written, then FIN.
   */
  fin(): void {
    this.finished = true;
    this.toServer.dropQueue();
    this.toClient.dropQueue();
    if (!this.client.destroyed) this.client.end();
    if (!this.server.destroyed) this.server.end();
  }

  /** Blackhole this connection alone (on top of the proxy-wide mode). See FaultMode.blackhole. */
  blackhole(on: boolean): void {
    this.ownBlackhole = on;
    this.reconsider();
  }

  /**
   * One-shot: XOR `xorMask` into one byte that will be forwarded in `direction`: the
   * byte `byteIndexFromNow` places after the last byte this lane has taken in so far
   * (0 = the next byte to arrive). Blackholed (dropped) bytes do not count.
   */
  corruptNext(direction: Direction, byteIndexFromNow: number, xorMask: number): void {
    if (!Number.isInteger(byteIndexFromNow) || byteIndexFromNow < 0) {
      throw new RangeError(`corruptNext byteIndexFromNow must be an integer >= 0, got ${byteIndexFromNow}`);
    }
    (direction === 'toServer' ? this.toServer : this.toClient).corruptNext(byteIndexFromNow, xorMask);
  }

  /** @internal */
  isBlackholed(): boolean {
    return this.ownBlackhole || this.proxy.mode.blackhole;
  }

  /** @internal The mode changed, or this connection's blackhole did. */
  reconsider(): void {
    // A stream that lost bytes cannot resume: real TCP would have retransmitted them,
    // this proxy cannot, and a WebSocket with a hole in it would corrupt (and a later
    // cumulative ack could release a message the server never saw). So a connection
    // that dropped bytes is reset when the blackhole lifts, as a peer whose TCP gave up.
    if (this.lostBytes && !this.isBlackholed()) {
      this.lostBytes = false;
      this.reset();
      return;
    }
    this.toServer.reconsider();
    this.toClient.reconsider();
  }

  private lostBytes = false;

  /** @internal */
  restartThrottle(): void {
    this.toServer.restartThrottle();
    this.toClient.restartThrottle();
  }

  /** @internal idleKillMs changed: its clock starts now. */
  restartIdleClock(): void {
    this.lastActivity = performance.now();
    this.armIdleTimer();
  }

  /** @internal Bytes were accepted for forwarding. */
  touch(): void {
    this.lastActivity = performance.now();
  }

  /** @internal */
  countDelivered(direction: Direction, n: number): void {
    if (direction === 'toServer') this.bytesToServer += n;
    else this.bytesToClient += n;
    this.proxy.countDelivered(direction, n);
  }

  /** @internal */
  countDropped(n: number): void {
    if (this.isBlackholed()) this.lostBytes = true;
    this.bytesDropped += n;
    this.proxy.countDropped(n);
  }

  /** @internal close(): destroy both sockets and every timer, and wait for both to close. */
  destroy(): Promise<void> {
    this.tornDown = true;
    this.stopTimers();
    this.client.destroy();
    this.server.destroy();
    return this.closedPromise;
  }

  private wire(socket: net.Socket, lane: Lane): void {
    let ended = false;
    socket.on('data', (chunk: Buffer) => lane.accept(chunk));
    socket.on('end', () => {
      ended = true;
      lane.sourceEnd();
    });
    // Errors (ECONNRESET, ECONNREFUSED from the target...) show up as a close without an end below.
    socket.on('error', () => undefined);
    socket.once('close', (hadError) => {
      if (!this.tornDown && (hadError || !ended)) lane.sourceReset();
      this.openSockets--;
      if (this.openSockets === 0) {
        this.stopTimers();
        this.proxy.connectionClosed(this);
        this.resolveClosed();
      }
    });
  }

  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const limit = this.proxy.mode.idleKillMs;
    if (limit <= 0 || this.tornDown || this.closed) return;
    const remaining = this.lastActivity + limit - performance.now();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (performance.now() - this.lastActivity >= this.proxy.mode.idleKillMs) {
        this.proxy.countIdleKill();
        this.reset();
      } else {
        this.armIdleTimer();
      }
    }, Math.max(1, Math.ceil(remaining)));
  }

  private stopTimers(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.toServer.stop();
    this.toClient.stop();
  }
}

export interface FaultProxy {
  /** A connection was accepted; it is already forwarding. Arm corruptNext here to hit its first bytes. */
  on(event: 'connection', listener: (conn: ProxyConnection) => void): this;
  /** Both sockets of a connection have closed; it has left `connections`. */
  on(event: 'closed', listener: (conn: ProxyConnection) => void): this;
  /** A connection arrived while `refuse` was on and was reset. */
  on(event: 'refused', listener: () => void): this;
  once(event: 'connection' | 'closed', listener: (conn: ProxyConnection) => void): this;
  once(event: 'refused', listener: () => void): this;
}

/** The proxy: one listener on 127.0.0.1, forwarding every connection to `target` through the faults in `mode`. */
export class FaultProxy extends EventEmitter {
  /** Totals over the proxy's life. */
  readonly counters: ProxyCounters = {
    accepted: 0,
    refused: 0,
    idleKilled: 0,
    bytesToServer: 0,
    bytesToClient: 0,
    bytesDropped: 0,
  };
  /** @internal The seeded PRNG behind `corrupt`. */
  readonly random: () => number;
  private currentMode: FaultMode = { ...NORMAL_MODE };
  private readonly target: { host: string; port: number };
  private readonly listenPort: number;
  private readonly server: net.Server;
  private readonly live: ProxyConnection[] = [];
  private nextId = 1;
  private boundPort = 0;
  private closing: Promise<void> | null = null;

  constructor(opts: FaultProxyOptions) {
    super();
    this.target = { host: opts.target.host, port: opts.target.port };
    this.listenPort = opts.listenPort ?? 0;
    this.random = mulberry32(opts.seed ?? 1);
    // allowHalfOpen: a client's FIN is passed on as a FIN, not turned into a close of both directions.
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.onSocket(socket));
  }

  /** Start listening on 127.0.0.1; resolves the port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.listenPort, '127.0.0.1', () => {
        this.server.off('error', onError);
        this.boundPort = (this.server.address() as net.AddressInfo).port;
        resolve(this.boundPort);
      });
    });
  }

  /** Close the listener and destroy every connection; resolves when all sockets and the listener are closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const listenerClosed = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    const connectionsClosed = this.live.slice().map((conn) => conn.destroy());
    this.closing = Promise.all([listenerClosed, ...connectionsClosed]).then(() => undefined);
    return this.closing;
  }

  /** The port listened on (0 before listen()). */
  get port(): number {
    return this.boundPort;
  }

  /** True while the listener is open. */
  get listening(): boolean {
    return this.server.listening;
  }

  /** The live connections (a copy). */
  get connections(): ProxyConnection[] {
    return this.live.slice();
  }

  /** The faults in force (read-only; change them with setMode). */
  get mode(): Readonly<FaultMode> {
    return this.currentMode;
  }

  /** Replace the faults in force, for current and future connections. `setMode({})` is normal forwarding. */
  setMode(mode: Partial<FaultMode>): void {
    const next: FaultMode = { ...NORMAL_MODE, ...mode };
    if (next.corrupt) next.corrupt = { direction: next.corrupt.direction, probability: next.corrupt.probability };
    checkMode(next);
    const previous = this.currentMode;
    this.currentMode = next;
    for (const conn of this.live) {
      if (next.bytesPerSecond !== previous.bytesPerSecond) conn.restartThrottle();
      if (next.idleKillMs !== previous.idleKillMs) conn.restartIdleClock();
      conn.reconsider();
    }
  }

  /** RST both sides of every live connection. */
  resetAll(): void {
    for (const conn of this.live.slice()) conn.reset();
  }

  /** Graceful FIN to both sides of every live connection (see ProxyConnection.fin). */
  finAll(): void {
    for (const conn of this.live.slice()) conn.fin();
  }

  /**
   * One-shot corruption on every live connection (see ProxyConnection.corruptNext).
   * Throws when there is none: to corrupt a connection's first bytes (its handshake),
   * arm it from the 'connection' event instead, which fires before any byte is read.
   */
  corruptNext(direction: Direction, byteIndexFromNow: number, xorMask: number): void {
    if (this.live.length === 0) throw new Error('corruptNext: no live connection (arm it from the connection event)');
    for (const conn of this.live) conn.corruptNext(direction, byteIndexFromNow, xorMask);
  }

  /** @internal */
  countDelivered(direction: Direction, n: number): void {
    if (direction === 'toServer') this.counters.bytesToServer += n;
    else this.counters.bytesToClient += n;
  }

  /** @internal */
  countDropped(n: number): void {
    this.counters.bytesDropped += n;
  }

  /** @internal */
  countIdleKill(): void {
    this.counters.idleKilled++;
  }

  /** @internal */
  connectionClosed(conn: ProxyConnection): void {
    const i = this.live.indexOf(conn);
    if (i >= 0) this.live.splice(i, 1);
    this.emit('closed', conn);
  }

  private onSocket(socket: net.Socket): void {
    socket.on('error', () => undefined);
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.currentMode.refuse) {
      resetSocket(socket);
      this.counters.refused++;
      this.emit('refused');
      return;
    }
    this.counters.accepted++;
    const conn = new ProxyConnection(this, this.nextId++, socket, this.target);
    this.live.push(conn);
    this.emit('connection', conn);
  }
}
