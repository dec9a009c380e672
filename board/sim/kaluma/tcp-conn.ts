/**
 * One real TCP connection (node:net to 127.0.0.1) standing in for an lwIP pcb of the
 * emulated board. Modes:
 *  - live: bytes flow; `data` arrives split into TCP segments (<= mss);
 *  - blackholed: the link is down or the board hung: nothing in or out, no events, as
 *    with a dead radio;
 *  - orphan: the board rebooted and its lwIP forgot the connection: the peer's next
 *    segment is answered with a reset;
 *  - closed: closed locally (FIN sent); more data from the peer gets a reset, as lwIP
 *    does once the receive side is closed;
 *  - gone: the real socket is closed.
 * Errors (refused, reset) only mark the pcb dead: tcp_err is NULL in Kaluma's driver,
 * so nothing reaches JS; they are recorded for the simulator.
 */
import * as net from 'node:net';
import type { NetDevice, Slot } from './net';

export type ConnMode = 'live' | 'blackholed' | 'orphan' | 'closed' | 'gone';
export type SendResult = 'sent' | 'dropped' | 'dangling' | 'blackholed';

export class TcpConn {
  readonly node: net.Socket;
  mode: ConnMode = 'live';
  established = false;
  /** lwIP freed the pcb (refused, reset, aborted); Kaluma still points at it. */
  dead = false;
  slot: Slot | null = null;

  constructor(
    private readonly dev: NetDevice,
    readonly host: string,
    readonly port: number,
  ) {
    const node = net.connect({ host, port, allowHalfOpen: true });
    this.node = node;
    dev.session.board.trackConn(this);
    node.on('connect', () => this.onConnect());
    node.on('data', (chunk: Buffer) => this.onData(chunk));
    node.on('end', () => this.onEnd());
    node.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    node.on('close', () => {
      this.mode = 'gone';
      dev.session.board.untrackConn(this);
    });
  }

  private onConnect(): void {
    this.established = true;
    const slot = this.slot;
    if (this.mode !== 'live' || !slot || !this.dev.session.live()) return;
    this.dev.session.record('socket-connected', `fd ${slot.fd} ${this.host}:${this.port}`);
    if (this.dev.session.board.options.connectEvent === 'established') {
      this.dev.session.invoke(slot.sck.connect_cb, undefined, [], 'socket connect', 'swallow');
    }
  }

  private onData(chunk: Buffer): void {
    if (this.mode === 'orphan' || this.mode === 'closed') {
      this.reset(`peer sent ${chunk.length} B to a connection the board no longer has`);
      return;
    }
    if (this.mode !== 'live') return; // blackholed: lost in the air
    const session = this.dev.session;
    session.board.counters.bytesReceived += chunk.length;
    const mss = session.board.options.mss;
    for (let off = 0; off < chunk.length; off += mss) {
      const slot = this.slot;
      if (this.mode !== 'live' || !slot || !session.live()) return;
      const piece = chunk.subarray(off, Math.min(off + mss, chunk.length));
      // A plain Uint8Array of the user's realm, never a Buffer (module_pico_cyw43.c).
      const data = new session.realm.Uint8Array(piece.length);
      data.set(piece);
      session.invoke(slot.sck.read_cb, undefined, [data], 'socket data', 'swallow');
    }
  }

  private onEnd(): void {
    if (this.mode === 'orphan') {
      this.reset('peer FIN to a connection the board no longer has');
      return;
    }
    if (this.mode === 'closed') {
      this.node.destroy();
      return;
    }
    if (this.mode !== 'live') return; // blackholed: the FIN never arrives
    const slot = this.slot;
    if (!slot || !this.dev.session.live()) return;
    this.dev.session.record('peer-fin', `fd ${slot.fd}`);
    // __net_data_received(p == NULL): __net_socket_close(fd) -> tcp_close, close_cb.
    this.dev.closeSlot(slot.fd);
  }

  private onError(err: NodeJS.ErrnoException): void {
    this.dead = true;
    if (this.slot && this.mode === 'live') {
      const session = this.dev.session;
      session.board.counters.unreportedTcpErrors++;
      session.record('tcp-error-unreported', `fd ${this.slot.fd}: ${err.code ?? err.message} (tcp_err is NULL: nothing reaches JS)`);
    }
  }

  send(bytes: Uint8Array): SendResult {
    if (this.dead || this.node.destroyed) return 'dangling';
    if (this.mode !== 'live') return 'blackholed';
    // tcp_write() refuses a write the send buffer cannot take whole (ERR_MEM): dropped.
    if (this.node.writableLength + bytes.length > this.dev.session.board.options.sndBuf) return 'dropped';
    this.node.write(bytes);
    return 'sent';
  }

  /** tcp_close(): FIN; later data from the peer is answered with a reset. */
  closeLocally(): void {
    this.slot = null;
    if (this.mode === 'live' || this.mode === 'blackholed') this.mode = 'closed';
    if (!this.dead && !this.node.destroyed) this.node.end();
  }

  /** tcp_shutdown(pcb, 0, 1): FIN, the slot stays. */
  shutdownWrite(): void {
    if (this.mode === 'live' && !this.dead && !this.node.destroyed) this.node.end();
  }

  blackhole(): void {
    if (this.mode === 'live') this.mode = 'blackholed';
  }

  /** The board rebooted: its lwIP no longer knows this connection. */
  orphan(): void {
    this.slot = null;
    if (this.mode !== 'gone') this.mode = 'orphan';
  }

  reset(why: string): void {
    if (this.mode === 'gone') return;
    this.dev.session.board.recordFor(this.dev.session, 'orphan-reset', `${this.host}:${this.port}: ${why}`);
    this.slot = null;
    this.mode = 'gone';
    this.node.resetAndDestroy();
  }
}
