/**
 * The transport interface: the only thing a board adapter must give the client to
 * carry bytes. Node implements it on net/tls (board/node/transport.ts), the Pico W on
 * Kaluma's net.Socket (board/kaluma/). It is deliberately small: connect, write, end,
 * destroy, and four callbacks.
 *
 * Contract for implementations:
 * - Callbacks may arrive at most once each for onOpen and onClose; after onClose (or
 *   after destroy()) nothing more is delivered. The client never relies on onClose or
 *   onError arriving at all: on Kaluma a peer reset fires neither, so liveness is the
 *   client's job (ping/pong, timeouts).
 * - write() takes at most `maxWrite` bytes per call and is called at most once per
 *   event-loop turn by the client, which paces itself: Kaluma merges one turn's writes
 *   into one native write through a ~2 KiB C stack, so the device sets maxWrite = 512.
 * - write() may not keep a reference to `bytes` after it returns (the client reuses
 *   nothing today, but the contract keeps that door open).
 */
export interface TransportHandler {
  /** TCP (and TLS, where there is one) is up. */
  onOpen(): void;
  /** Bytes from the peer, in any fragmentation. The chunk is the handler's to keep. */
  onData(chunk: Uint8Array): void;
  /** The byte stream ended (FIN, reset or local destroy). */
  onClose(): void;
  /** A failure the runtime reported; onClose follows when the runtime says so. */
  onError(err: Error): void;
}

export interface ConnectTarget {
  host: string;
  port: number;
  secure: boolean;
  /** TLS server name; the host unless it is an IP literal. */
  servername?: string;
}

export interface Transport {
  /** Bytes per write() call; the client never passes more. */
  readonly maxWrite: number;
  /** Starts connecting. May throw synchronously (Kaluma throws when Wi-Fi is down or DNS fails). */
  connect(target: ConnectTarget, handler: TransportHandler): void;
  write(bytes: Uint8Array): void;
  /** Graceful end of our side (TCP FIN). */
  end(): void;
  /** Abort now; drop every reference to the socket (Kaluma reuses socket numbers). */
  destroy(): void;
}

export type TransportFactory = () => Transport;
