/**
 * require('net') on the Pico W, over real node:net TCP. Two layers, as on the device:
 *
 * NetDevice emulates the PicoCYW43Network driver and lwIP (module_pico_cyw43.c,
 * lwipopts.h): 16 numbered slots, each a native socket record whose callbacks the JS
 * Socket sets. Quirks kept:
 *  - socket() throws synchronously unless the Wi-Fi link is up ("WiFi is not
 *    connected."); the lowest free number is taken; no number left: SystemError;
 *  - connect() resolves the host first (IPv4 literal or the simulated DNS table),
 *    throwing on failure; the slot stays allocated either way;
 *  - tcp_err(pcb, NULL): a refused connect, a peer reset, a retransmission abort are
 *    never reported. The slot keeps pointing at the freed pcb; writes vanish;
 *  - a remote FIN closes the slot (frees its number) and fires close_cb only;
 *  - write() takes a string, one byte per UTF-16 unit (>= 0x100 become 0x00), converted
 *    through a C-stack VLA of its CESU-8 size: over the stack, the board crashes;
 *  - tcp_write() fails when the send buffer (TCP_SND_BUF) cannot take the whole write:
 *    the data is dropped, and like every error it reaches JS as errno 0 (success);
 *  - operations go by number: a stale Socket object whose number was reused writes into
 *    the new connection.
 *
 * The Socket class is net.js over stream.js, ported line for line: `ready` fires inside
 * connect() from the driver's synchronous callback; `connect` fires from lwIP's
 * connected callback, i.e. when the real handshake completes (or, with the board option
 * connectEvent: 'sync', right after `ready`).
 */
import * as net from 'node:net';
import type { BootSession } from './session';
import type { StreamModule } from './stream';
import { TcpConn } from './tcp-conn';
import { asciiBytes, cesu8Size } from './text';

export const MAX_SOCKETS = 16;
const EREMOTEIO = 121;

const STATE_CLOSED = 0;
const STATE_CONNECTED = 2;

/** The object the driver keeps per slot; net.js sets the *_cb properties on it. */
export interface NativeSocket {
  fd: number;
  ptcl: 'STREAM';
  state: number;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  connect_cb?: () => void;
  close_cb?: () => void;
  read_cb?: (data: Uint8Array) => void;
  shutdown_cb?: () => void;
}

export interface Slot {
  fd: number;
  sck: NativeSocket;
  conn: TcpConn | null;
  /** The JS Socket that opened the slot (diagnostics only: the device knows nothing of it). */
  owner: object | null;
}

/** PicoCYW43Network: the numbered socket table and lwIP, one per boot. */
export class NetDevice {
  errno = 0;
  private readonly slots: (Slot | null)[] = new Array(MAX_SOCKETS).fill(null);

  constructor(readonly session: BootSession) {}

  socket(_domain: string, protocol: string): number {
    const realm = this.session.realm;
    if (protocol !== 'STREAM' && protocol !== 'DGRAM') throw new realm.TypeError('un-supported domain or protocol.');
    if (protocol === 'DGRAM') throw new realm.Error('emulation: UDP sockets are not emulated');
    if (!this.session.wifi.linkUp()) {
      this.session.board.counters.connectThrows++;
      throw new realm.Error('WiFi is not connected.');
    }
    const fd = this.slots.indexOf(null);
    if (fd < 0) {
      this.session.board.counters.connectThrows++;
      throw this.session.systemError(EREMOTEIO, 'EREMOTEIO');
    }
    const ip = this.session.wifi.ip;
    this.slots[fd] = {
      fd,
      sck: { fd, ptcl: 'STREAM', state: STATE_CLOSED, laddr: ip, lport: 0, raddr: '0.0.0.0', rport: 0 },
      conn: null,
      owner: null,
    };
    this.session.board.counters.socketsOpened++;
    this.session.record('socket-open', `fd ${fd}`);
    return fd;
  }

  get(fd: number): NativeSocket | undefined {
    const slot = this.slotOf(fd);
    return slot ? slot.sck : undefined;
  }

  /** Diagnostics: which JS Socket opened fd. */
  claim(fd: number, owner: object): void {
    const slot = this.slotOf(fd);
    if (slot) slot.owner = owner;
  }

  connect(fd: number, host: string, port: number, cb?: (errno: number) => void): void {
    const slot = this.slotOf(fd);
    if (slot && slot.sck.state === STATE_CLOSED) {
      const ip = this.resolve(String(host));
      if (ip === null) {
        this.errno = -1;
        this.session.board.counters.connectThrows++;
        throw new this.session.realm.Error('DNS Error: IP is not found.');
      }
      slot.sck.raddr = ip;
      slot.sck.rport = port & 0xffff;
      const conn = new TcpConn(this, ip, port & 0xffff);
      conn.slot = slot;
      slot.conn = conn;
      slot.sck.state = STATE_CONNECTED;
      this.errno = 0;
    } else {
      this.errno = -1;
    }
    this.reply(cb);
  }

  write(fd: number, data: string, cb?: (errno: number) => void, writer?: object): void {
    const session = this.session;
    const counters = session.board.counters;
    if (typeof data !== 'string') throw new session.realm.TypeError('"data" argument must be a string');
    const slot = this.slotOf(fd);
    if (!slot || slot.sck.state < STATE_CONNECTED || !slot.conn) {
      this.errno = -1;
      counters.writesToClosed++;
      session.record('write-to-closed', `fd ${fd}: ${data.length} B written to a closed socket number`);
    } else {
      // jerryxx_string_to_ascii_char_buffer copies through a VLA of the CESU-8 size.
      if (!session.checkStack(cesu8Size(data), `native write of ${data.length} B on fd ${fd}`)) return;
      const bytes = asciiBytes(data, new Uint8Array(data.length));
      if (writer && slot.owner && writer !== slot.owner) {
        counters.crossWrites++;
        session.record('cross-write', `fd ${fd}: a stale Socket wrote ${bytes.length} B into the connection that reused its number`);
      }
      counters.nativeWrites++;
      session.record('native-write', `fd ${fd}: ${bytes.length} B`);
      const result = slot.conn.send(bytes);
      if (result === 'sent') {
        counters.bytesWritten += bytes.length;
        this.errno = 0;
      } else {
        this.errno = -1;
        if (result === 'dangling') counters.danglingWrites++;
        counters.writesDropped++;
        counters.bytesDropped += bytes.length;
        const why = result === 'dropped' ? 'TCP_SND_BUF full' : result === 'dangling' ? 'pcb already freed by lwIP' : 'link down';
        session.record(result === 'dangling' ? 'dangling-write' : 'write-dropped', `fd ${fd}: ${bytes.length} B dropped (${why})`);
      }
    }
    this.reply(cb);
  }

  close(fd: number, cb?: (errno: number) => void): void {
    if (this.slotOf(fd)) this.closeSlot(fd);
    this.errno = 0;
    this.reply(cb);
  }

  shutdown(fd: number, how: number, cb?: (errno: number) => void): void {
    const slot = this.slotOf(fd);
    if (slot) {
      if ((how === 1 || how === 2) && slot.conn) slot.conn.shutdownWrite();
      this.errno = 0;
      const shutdownCb = slot.sck.shutdown_cb;
      if (typeof shutdownCb === 'function') this.session.invoke(shutdownCb, undefined, [], 'socket shutdown', 'swallow');
    } else {
      this.errno = -1;
    }
    this.reply(cb);
  }

  /** __net_socket_close: frees the number, closes the pcb (FIN), fires close_cb. */
  closeSlot(fd: number): void {
    const slot = this.slotOf(fd);
    if (!slot) return;
    this.slots[fd] = null;
    slot.sck.state = STATE_CLOSED;
    if (slot.conn) slot.conn.closeLocally();
    this.session.record('socket-close', `fd ${fd}`);
    const closeCb = slot.sck.close_cb;
    if (typeof closeCb === 'function') this.session.invoke(closeCb, undefined, [], 'socket close', 'swallow');
  }

  /** The link went down (radio, disconnect(), reset()): every connection goes silent. */
  blackholeAll(): void {
    for (const slot of this.slots) if (slot && slot.conn) slot.conn.blackhole();
  }

  /**
   * The link is back: connections that went silent stay dead (the peer has long given
   * up), so their real sockets are reset. Their slots keep their numbers until destroy().
   */
  resetBlackholed(): void {
    for (const slot of this.slots) {
      if (slot && slot.conn && slot.conn.mode === 'blackholed') {
        slot.conn.dead = true;
        slot.conn.reset('the link came back; the peer gave up long ago');
      }
    }
  }

  /** The board rebooted or the VM was reset. */
  teardown(mode: 'orphan' | 'close'): void {
    for (let fd = 0; fd < MAX_SOCKETS; fd++) {
      const slot = this.slots[fd];
      if (!slot) continue;
      this.slots[fd] = null;
      if (slot.conn) {
        if (mode === 'close') slot.conn.closeLocally();
        else slot.conn.orphan();
      }
    }
  }

  /** Numbers in use (for the simulator and tests). */
  inUse(): number[] {
    const out: number[] = [];
    this.slots.forEach((s, i) => {
      if (s) out.push(i);
    });
    return out;
  }

  private slotOf(fd: number): Slot | null {
    if (typeof fd !== 'number' || !(fd >= 0 && fd < MAX_SOCKETS)) return null;
    return this.slots[fd | 0];
  }

  private resolve(host: string): string | null {
    if (net.isIPv4(host)) return host;
    const table = this.session.board.options.dns;
    return Object.prototype.hasOwnProperty.call(table, host) ? table[host] : null;
  }

  /**
   * Calls a JS callback the way the driver does: jerry_call_function with the errno, the
   * result ignored (an exception thrown inside vanishes). The errno is stored as a double
   * into a jerry_value_t, so -1 reads as 0 on the RP2040: every error looks like success
   * (kaluma.md §3).
   */
  private reply(cb: ((errno: number) => void) | undefined): void {
    if (cb) this.session.invoke(cb, undefined, [0], 'driver callback', 'swallow');
  }
}

/** require('net'): net.js on top of stream.js, per boot. */
export function createNetModule(session: BootSession, stream: StreamModule) {
  const dev = session.net;

  class Socket extends stream.Duplex {
    localAddress: string | null = null;
    localPort: number | null = null;
    remoteAddress: string | null = null;
    remotePort: number | null = null;
    _fd = -1;
    _dev: NetDevice = dev;

    _socket(fd: number, sck?: NativeSocket): void {
      this._fd = fd;
      if (!sck) sck = this._dev.get(this._fd);
      if (sck) {
        const s = sck;
        this._dev.claim(fd, this);
        this.localAddress = s.laddr;
        this.localPort = s.lport;
        this.remoteAddress = s.raddr;
        this.remotePort = s.rport;
        s.connect_cb = () => {
          this.localAddress = s.laddr;
          this.localPort = s.lport;
          this.remoteAddress = s.raddr;
          this.remotePort = s.rport;
          this.emit('connect');
        };
        s.close_cb = () => {
          this._afterDestroy();
        };
        s.read_cb = (data) => {
          this.push(data);
        };
        s.shutdown_cb = () => {
          this._afterEnd();
        };
      }
    }

    connect(options: { host: string; port: number }, connectListener?: () => void): this {
      if (!session.live()) return this;
      const fd = this._dev.socket('AF_INET', 'STREAM');
      if (connectListener) this.on('connect', connectListener);
      if (fd > -1) {
        this._socket(fd);
        this._dev.connect(this._fd, options.host, options.port, (err) => {
          if (err) {
            this.emit('error', session.systemError(this._dev.errno));
          } else {
            this.emit('ready');
            if (session.board.options.connectEvent === 'sync') {
              const sck = this._dev.get(this._fd);
              if (sck && sck.connect_cb) sck.connect_cb();
            }
          }
        });
      }
      return this;
    }

    override _destroy(cb: (err?: unknown) => void): void {
      if (!session.live()) return;
      this._dev.close(this._fd, (err) => {
        if (err) cb(session.systemError(this._dev.errno));
        else cb();
      });
    }

    override _write(chunk: string, cb: (err?: unknown) => void): void {
      if (!session.live()) return;
      this._dev.write(
        this._fd,
        chunk,
        (err) => {
          if (err) cb(session.systemError(this._dev.errno));
          else cb();
        },
        this,
      );
    }

    override _final(cb: (err?: unknown) => void): void {
      if (!session.live()) return;
      this._dev.shutdown(this._fd, 1, (err) => {
        if (err) cb(session.systemError(this._dev.errno));
        else cb();
      });
    }
  }

  function createConnection(options: { host: string; port: number }, connectListener?: () => void): Socket {
    const client = new Socket();
    // net.js: only a listener makes it connect.
    if (connectListener) client.connect(options, connectListener);
    return client;
  }

  return { Socket, createConnection, connect: createConnection };
}
