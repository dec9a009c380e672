/**
 * The Node transport: TCP through node:net, or TLS through node:tls for wss://.
 * Node reports resets and refusals (unlike Kaluma), but the client does not depend
 * on it: the same deadlines and liveness run everywhere.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ConnectTarget, Transport, TransportHandler } from '../../src/client/transport';

export interface NodeTransportOptions {
  /** TLS options for wss:// (ca, rejectUnauthorized, ...). */
  tls?: tls.ConnectionOptions;
  /** Bytes per write() (one per event-loop turn): 512 reproduces the Pico W's pacing on Node. Default: unlimited. */
  maxWrite?: number;
}

export class NodeTransport implements Transport {
  /** Node buffers writes itself: no per-turn limit unless asked for one. */
  readonly maxWrite: number;
  private socket: net.Socket | null = null;
  private readonly options: NodeTransportOptions;

  constructor(options: NodeTransportOptions = {}) {
    this.options = options;
    this.maxWrite = options.maxWrite || Number.MAX_SAFE_INTEGER;
  }

  connect(target: ConnectTarget, handler: TransportHandler): void {
    const isIp = net.isIP(target.host) !== 0;
    const socket = target.secure
      ? tls.connect({ host: target.host, port: target.port, servername: isIp ? undefined : target.servername || target.host, ...this.options.tls })
      : net.connect({ host: target.host, port: target.port });
    this.socket = socket;
    socket.setNoDelay(true);
    let closed = false;
    socket.once(target.secure ? 'secureConnect' : 'connect', () => handler.onOpen());
    socket.on('data', (chunk: Buffer) => handler.onData(chunk));
    socket.on('error', (err) => handler.onError(err));
    socket.once('close', () => {
      if (closed) return;
      closed = true;
      handler.onClose();
    });
    // A remote FIN: end our side too, so 'close' follows (allowHalfOpen is false by default).
  }

  write(bytes: Uint8Array): void {
    if (this.socket && !this.socket.destroyed) this.socket.write(bytes);
  }

  end(): void {
    if (this.socket && !this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.removeAllListeners('data');
      s.on('error', () => undefined); // late errors after abandoning are not news
      s.destroy();
    }
  }
}
