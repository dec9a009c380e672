/**
 * The transport over Kaluma's net.Socket on the Pico W. Every quirk here is from
 * shared/platform/kaluma.md §3:
 *  - createConnection() without a listener never connects: use new Socket().connect().
 *  - connect() throws synchronously when Wi-Fi is down or DNS fails: the client
 *    catches it (CONNECT_FAILED).
 *  - write() takes a binary string. Kaluma's stream appends every write to one buffer
 *    and flushes it on a setTimeout 0 as ONE native write, converted through a C-stack
 *    VLA of its UTF-8 size (bytes >= 0x80 count double) on a ~2 KiB stack: more than
 *    512 bytes per flush overflows it. So this transport hands Kaluma at most
 *    maxWrite = 512 bytes between two flushes, whoever calls write() how often: the
 *    rest waits for a later turn. (Several client turns can also share one flush: after
 *    a blocking join or scan, every timer that came due runs before the flush timer.)
 *    drain never fires and write errors read as success: nothing here waits on either.
 *  - A peer reset fires neither close nor error: liveness is the client's job.
 *  - Socket numbers are reused: once abandoned, a socket is never written again and
 *    every reference is dropped; destroy() is deferred to a later turn.
 *  - data arrives as a Uint8Array backed by the C heap (the runtime marks chunks volatile).
 */
import type { ConnectTarget, Transport, TransportHandler } from '../../src/client/transport';
import { latin1String } from '../../src/handshake/http-head';
import type { KalumaNet, KalumaSocket } from './kaluma';
import { abandonSocket } from './abandon-socket';

export class KalumaTransport implements Transport {
  /** Most bytes handed to Kaluma's stream between two of its flushes. */
  readonly maxWrite = 512;
  private socket: KalumaSocket | null = null;
  /** Bytes given to the stream since its last flush. */
  private sinceFlush = 0;
  /** Armed after the stream's own flush timer (same delay, later): when it fires, the stream has flushed. */
  private flushWatch = false;
  /** Binary strings waiting for a later flush (copies: the caller may reuse its bytes). */
  private readonly waiting: string[] = [];
  private endWhenWritten = false;

  constructor(private readonly net: KalumaNet) {}

  connect(target: ConnectTarget, handler: TransportHandler): void {
    if (target.secure) throw new Error('Kaluma has no TLS: use ws://');
    const s = new this.net.Socket();
    this.socket = s;
    let open = false;
    let closed = false;
    s.on('connect', () => {
      if (open) return;
      open = true;
      handler.onOpen();
    });
    s.on('data', (data) => handler.onData(data));
    s.on('close', () => {
      if (closed) return;
      closed = true;
      handler.onClose();
    });
    s.on('error', (err) => handler.onError(err instanceof Error ? err : new Error(String(err))));
    s.connect({ host: target.host, port: target.port });
  }

  write(bytes: Uint8Array): void {
    if (!this.socket) return;
    // A binary string (fromCharCode.apply: the connection writes at most maxWrite bytes at a time, kaluma.md §9).
    this.waiting.push(latin1String(bytes));
    this.drain();
  }

  end(): void {
    if (this.waiting.length) this.endWhenWritten = true;
    else if (this.socket) this.socket.end();
  }

  destroy(): void {
    const s = this.socket;
    this.socket = null;
    this.waiting.length = 0;
    if (s) abandonSocket(s);
  }

  private drain(): void {
    const s = this.socket;
    const w = this.waiting;
    // No socket: destroyed, and destroy() emptied `waiting` (write() queues nothing without one).
    if (!s) return;
    while (w.length && this.sinceFlush + w[0].length <= this.maxWrite) {
      const chunk = w.shift() as string;
      this.sinceFlush += chunk.length;
      s.write(chunk);
    }
    if (!w.length && this.endWhenWritten) {
      this.endWhenWritten = false;
      s.end();
    }
    if (this.sinceFlush > 0 && !this.flushWatch) {
      this.flushWatch = true;
      setTimeout(() => {
        this.flushWatch = false;
        this.sinceFlush = 0;
        this.drain();
      }, 0);
    }
  }
}
