/**
 * The outbox: messages waiting for a connection, bounded by count and by bytes, in a
 * ring preallocated at construction (no growth across reconnects: esp-protocols#1104,
 * mongoose#755). Unlike RWS's queue (RWS#147: "silently drops messages"), every
 * refusal is returned and every drop is counted by reason.
 *
 * Per message (push options):
 *  - overflow 'drop-oldest': when full, this push evicts the oldest messages that are
 *    themselves 'drop-oldest' (in flight or not) until it fits. 'drop-newest': when
 *    full, this push is refused, and the message is never evicted later either.
 *  - key: coalesce. A newer message with the same key replaces the queued one (in
 *    place, when it fits). One already sent keeps its seq and is never rewritten
 *    (the server may hold that seq): it is superseded, not resent, and the new one
 *    is queued behind.
 *  - ttlMs: an expired message is dropped wherever it is met (take, rewind, a full push).
 *  - session: bound to the current connection; rewind() drops it instead of replaying
 *    it into a new session (RWS#147: a replayed "unsubscribe" broke the next session).
 *
 * At-least-once mode (`acks: true`): take() marks the message in flight and gives it
 * the next seq the first time it goes out (seqs therefore rise in send order, which
 * lets the server dedupe by "highest seq seen", see ACK-PROTOCOL.md); ack(n) releases
 * every seq ≤ n; rewind() makes every unacked message sendable again, resent with the
 * same seq. Unacked messages count against the bounds.
 *
 * The device build (src/device.d.ts) keeps the bounded ring, drop-oldest and the
 * at-least-once bookkeeping, and leaves out key, ttlMs, session and 'drop-newest'
 * (firmware/README.md, "The device profile"): push() throws NOT_ON_DEVICE for them.
 *
 * Sizes: a string counts its length (UTF-16 units: ≈ its heap cost on JerryScript for
 * ASCII, kaluma.md §2), a Uint8Array its byteLength.
 */
import { PicowsError } from '../errors';
import { orDefault } from '../or-default';

export type OutboxMessage = string | Uint8Array;
export type Overflow = 'drop-oldest' | 'drop-newest';
export type DropReason = 'too-big' | 'full' | 'evicted' | 'coalesced' | 'expired' | 'session';

export interface PushOptions {
  key?: string;
  ttlMs?: number;
  overflow?: Overflow;
  session?: boolean;
}

export interface OutboxOptions {
  /** Most messages held, sent-but-unacked included. Default 32. */
  maxCount?: number;
  /** Most bytes held. Default 4096. */
  maxBytes?: number;
  /** Default per-message overflow. Default 'drop-oldest' (telemetry: the newest reading matters). */
  overflow?: Overflow;
  /** At-least-once: keep taken messages until acked. Default false. */
  acks?: boolean;
  /** The first seq. Default 1. */
  firstSeq?: number;
  /** Most messages in flight (acks mode). Default maxCount. */
  window?: number;
  /** Time in ms, for TTLs. Default () => 0. */
  now?: () => number;
}

export interface OutboxStats {
  /** Pushes accepted. */
  queued: number;
  /** First sends. */
  sent: number;
  acked: number;
  resent: number;
  dropped: { [R in DropReason]: number };
  droppedBytes: number;
}

const KEEP = 1; // 'drop-newest': never evicted
const SESSION = 2;
const SUPERSEDED = 4;

export class Outbox {
  readonly stats: OutboxStats = {
    queued: 0,
    sent: 0,
    acked: 0,
    resent: 0,
    dropped: { 'too-big': 0, full: 0, evicted: 0, coalesced: 0, expired: 0, session: 0 },
    droppedBytes: 0,
  };
  /** Messages held (in flight included). */
  length = 0;
  /** Bytes held. */
  bytes = 0;
  /** Messages taken and not yet acked or rewound (a prefix of the queue). */
  inFlight = 0;
  /** The seq of the message take() last returned (0 without acks). */
  seq = 0;
  nextSeq: number;
  readonly maxCount: number;
  readonly maxBytes: number;
  private readonly acking: boolean;
  private readonly windowSize: number;
  private head = 0;
  // The ring, one slot per message; `seqs` 0 = not sent yet, `expiresAt` Infinity = no TTL.
  private readonly msg: (OutboxMessage | null)[];
  private readonly sizeOf: Int32Array;
  private readonly seqs: Float64Array;
  // The host's options only (key, ttlMs, session, 'drop-newest'): the device build never
  // assigns these, so its outbox holds no empty arrays for them (definite `!`: set below
  // whenever !PICOWS_DEVICE, the only case that reads them).
  private readonly defaultOverflow!: Overflow;
  private readonly clockNow!: () => number;
  private readonly keyOf!: (string | null)[];
  private readonly flagsOf!: Uint8Array;
  private readonly expiresAt!: Float64Array;

  constructor(opts: OutboxOptions = {}) {
    const cap = (this.maxCount = opts.maxCount || 32);
    this.maxBytes = orDefault(opts.maxBytes, 4096);
    this.acking = !!opts.acks;
    this.windowSize = opts.window || cap;
    this.nextSeq = opts.firstSeq || 1;
    this.msg = new Array(cap);
    for (let i = 0; i < cap; i++) this.msg[i] = null;
    this.sizeOf = new Int32Array(cap);
    this.seqs = new Float64Array(cap);
    if (PICOWS_DEVICE) {
      if (opts.overflow === 'drop-newest') throw new PicowsError('NOT_ON_DEVICE', { option: 'overflow' });
    } else {
      this.defaultOverflow = opts.overflow || 'drop-oldest';
      this.clockNow = opts.now || (() => 0);
      this.keyOf = new Array(cap);
      for (let i = 0; i < cap; i++) this.keyOf[i] = null;
      this.flagsOf = new Uint8Array(cap);
      this.expiresAt = new Float64Array(cap);
    }
  }

  /** Queues a message. Returns 'queued', or why it was not (counted in stats.dropped); a refusal changes nothing else. */
  push(m: OutboxMessage, o?: PushOptions): 'queued' | DropReason {
    const n = typeof m === 'string' ? m.length : m.byteLength;
    if (n > this.maxBytes) return this.countDrop('too-big', n);
    if (PICOWS_DEVICE) {
      // No default `{}` for o: none is allocated per push.
      if (o && (o.key != null || o.ttlMs !== undefined || o.session || o.overflow === 'drop-newest')) throw new PicowsError('NOT_ON_DEVICE', { option: 'push' });
      // Every message is drop-oldest: evict from the front until it fits.
      while (!this.fits(n)) this.remove(0, 'evicted');
      return this.put(this.slot(this.length++), m, n);
    }
    // An else, not code after a return: esbuild drops a dead branch, not dead code after one.
    else {
      if (o === undefined) o = {};
      const key = orDefault(o.key, null);
      const keep = (o.overflow || this.defaultOverflow) === 'drop-newest';
      const now = this.clockNow();
      // The live message with the same key (there is at most one).
      let match = -1;
      for (let i = 0; key !== null && i < this.length; i++) {
        const q = this.slot(i);
        if (this.keyOf[q] === key && !(this.flagsOf[q] & SUPERSEDED)) match = i;
      }
      if (match >= 0) {
        const q = this.slot(match);
        if (!this.seqs[q] && this.bytes - this.sizeOf[q] + n <= this.maxBytes) {
          this.countDrop('coalesced', this.sizeOf[q]);
          this.bytes -= this.sizeOf[q];
          return this.put(q, m, n, o, now);
        }
      }
      if (!this.fits(n)) {
        // Decide before touching anything: what could go is dead weight (expired,
        // superseded, the message this one replaces) and, for a 'drop-oldest' push,
        // every message that is itself 'drop-oldest'.
        let count = this.length;
        let bytes = this.bytes;
        for (let i = 0; i < this.length; i++) {
          const q = this.slot(i);
          if (i === match || this.expiresAt[q] <= now || this.flagsOf[q] & SUPERSEDED || !(keep || this.flagsOf[q] & KEEP)) {
            count--;
            bytes -= this.sizeOf[q];
          }
        }
        if (count >= this.maxCount || bytes + n > this.maxBytes) return this.countDrop('full', n);
      }
      if (match >= 0) {
        // Sent already: the server may hold its seq, so it is never rewritten, only not resent.
        if (this.seqs[this.slot(match)]) this.flagsOf[this.slot(match)] |= SUPERSEDED;
        else this.remove(match, 'coalesced');
      }
      for (let i = 0; i < this.length && !this.fits(n); ) {
        const q = this.slot(i);
        if (this.expiresAt[q] <= now) this.remove(i, 'expired');
        else if (this.flagsOf[q] & SUPERSEDED) this.remove(i, 'coalesced');
        else i++;
      }
      for (let i = 0; !this.fits(n); ) {
        if (this.flagsOf[this.slot(i)] & KEEP) i++;
        else this.remove(i, 'evicted');
      }
      return this.put(this.slot(this.length++), m, n, o, now);
    }
  }

  /**
   * The next message to send, or null (nothing sendable, or the window is full).
   * Without acks the message leaves the outbox; with acks it stays, in flight, and
   * `seq` tells its seq.
   */
  take(): OutboxMessage | null {
    const i = this.inFlight;
    if (!PICOWS_DEVICE) {
      // Dead weight on the way to the next message goes first (removing at i moves the rest up).
      const now = this.clockNow();
      while (i < this.length && i < this.windowSize) {
        const q = this.slot(i);
        if (this.flagsOf[q] & SUPERSEDED) this.remove(i, 'coalesced');
        else if (this.expiresAt[q] <= now) this.remove(i, 'expired');
        else break;
      }
    }
    if (i >= this.length || i >= this.windowSize) return null;
    const p = this.slot(i);
    const m = this.msg[p] as OutboxMessage;
    if (!this.acking) {
      this.stats.sent++;
      this.remove(0, null);
      return m;
    }
    if (this.seqs[p]) this.stats.resent++;
    else {
      this.seqs[p] = this.nextSeq++;
      this.stats.sent++;
    }
    this.seq = this.seqs[p];
    this.inFlight++;
    return m;
  }

  /** The peer has every seq ≤ n: releases them. Returns how many were released. */
  ack(n: number): number {
    let released = 0;
    while (this.length) {
      const s = this.seqs[this.head];
      if (!s || s > n) break;
      this.remove(0, null);
      released++;
    }
    this.stats.acked += released;
    return released;
  }

  /**
   * The connection ended: every unacked message becomes sendable again (the next
   * take() resends from the oldest), and session-bound messages are dropped. Call it
   * when the connection is lost, before anything for the next session is pushed.
   */
  rewind(): void {
    this.inFlight = 0;
    for (let i = 0; !PICOWS_DEVICE && i < this.length; ) {
      if (this.flagsOf[this.slot(i)] & SESSION) this.remove(i, 'session');
      else i++;
    }
  }

  /** Stores a message in slot p. The push options and the time are the host's (the device passes neither). */
  private put(p: number, m: OutboxMessage, n: number, o?: PushOptions, now?: number): 'queued' {
    this.msg[p] = m;
    this.sizeOf[p] = n;
    this.seqs[p] = 0;
    if (!PICOWS_DEVICE) {
      const opt = o as PushOptions;
      this.keyOf[p] = orDefault(opt.key, null);
      this.flagsOf[p] = ((opt.overflow || this.defaultOverflow) === 'drop-newest' ? KEEP : 0) | (opt.session ? SESSION : 0);
      this.expiresAt[p] = opt.ttlMs === undefined ? Infinity : (now as number) + opt.ttlMs;
    }
    this.bytes += n;
    this.stats.queued++;
    return 'queued';
  }

  private slot(i: number): number {
    return (this.head + i) % this.maxCount;
  }

  private fits(n: number): boolean {
    return this.length < this.maxCount && this.bytes + n <= this.maxBytes;
  }

  /** Counts a drop of n bytes; returns why (a refusal returns it to the caller). */
  private countDrop(why: DropReason, n: number): DropReason {
    this.stats.dropped[why]++;
    this.stats.droppedBytes += n;
    return why;
  }

  /**
   * Removes the message at queue position i, keeping the order of the rest. The device
   * only ever removes the front one (an eviction, take() without acks, ack()): closing a
   * gap behind it is for the host's coalescing, expiry and session drops.
   */
  private remove(i: number, why: DropReason | null): void {
    const p = this.slot(i);
    if (why) this.countDrop(why, this.sizeOf[p]);
    this.bytes -= this.sizeOf[p];
    if (i < this.inFlight) this.inFlight--;
    let to = p;
    if (PICOWS_DEVICE || i === 0) this.head = (this.head + 1) % this.maxCount;
    else {
      for (let j = i + 1; j < this.length; j++) {
        const from = this.slot(j);
        this.msg[to] = this.msg[from];
        this.sizeOf[to] = this.sizeOf[from];
        this.seqs[to] = this.seqs[from];
        this.keyOf[to] = this.keyOf[from];
        this.flagsOf[to] = this.flagsOf[from];
        this.expiresAt[to] = this.expiresAt[from];
        to = from;
      }
    }
    this.msg[to] = null;
    if (!PICOWS_DEVICE) this.keyOf[to] = null;
    this.length--;
  }
}
