/**
 * The reference at-least-once server (src/resilience/ACK-PROTOCOL.md) on the `ws`
 * package: acks cumulatively, drops duplicates by "highest seq per sid", and records
 * what it delivered so tests can assert zero loss and zero duplicates. `restart()`
 * kills every connection abruptly and listens again on the same port, keeping the
 * dedup state (the "server restart" scenario: a real server keeps it in a store).
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ackFrame, parseData } from '../../src/resilience/ack-protocol';

export interface AckServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Ack once this many messages (duplicates included) are unacked. Default 1; Infinity never acks. */
  ackEvery?: number;
  /** Send each due ack this many ms later (acks falling due meanwhile merge into one). Default 0. */
  ackDelayMs?: number;
}

export interface Delivery {
  seq: number;
  data: unknown;
}

export interface AckServerStats {
  /** Data messages delivered to the application (duplicates not included). */
  messages: number;
  duplicates: number;
  /** Ack frames sent. */
  acked: number;
  /** Text that is not a data frame, and binary messages. */
  malformed: number;
  connections: number;
}

interface Peer {
  sid: string;
  unacked: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Events: 'message' (sid, seq, data) for each delivery; 'duplicate' (sid, seq);
 * 'connection' (ws); 'malformed' (text).
 */
export class AckServer extends EventEmitter {
  port = 0;
  url = '';
  /** What reached the application, per sid, in order. */
  readonly received = new Map<string, Delivery[]>();
  /** The dedup state: the highest seq delivered per sid. */
  readonly highest = new Map<string, number>();
  readonly stats: AckServerStats = { messages: 0, duplicates: 0, acked: 0, malformed: 0, connections: 0 };
  ackEvery: number;
  ackDelayMs: number;
  private readonly host: string;
  private wss: WebSocketServer | null = null;
  private readonly peers = new Map<WebSocket, Peer>();

  constructor(opts: AckServerOptions = {}) {
    super();
    this.host = opts.host || '127.0.0.1';
    this.port = opts.port || 0;
    this.ackEvery = opts.ackEvery === undefined ? 1 : opts.ackEvery;
    this.ackDelayMs = opts.ackDelayMs || 0;
  }

  /** Live connections. */
  get clients(): number {
    return this.peers.size;
  }

  /** The seqs delivered for one sid. */
  seqs(sid: string): number[] {
    return (this.received.get(sid) || []).map((d) => d.seq);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({ host: this.host, port: this.port });
      wss.once('error', reject);
      wss.once('listening', () => {
        wss.off('error', reject);
        this.port = (wss.address() as AddressInfo).port;
        this.url = 'ws://' + this.host + ':' + this.port + '/';
        resolve();
      });
      wss.on('connection', (ws) => this.accept(ws));
      this.wss = wss;
    });
  }

  /** Kills every connection without a Close frame (the client sees 1006); keeps listening. */
  dropClients(): void {
    for (const [ws, peer] of this.peers) {
      clearTimeout(peer.timer);
      ws.terminate();
    }
    this.peers.clear();
  }

  /** Kills every connection and stops listening. */
  close(): Promise<void> {
    this.dropClients();
    const wss = this.wss;
    this.wss = null;
    return new Promise((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  }

  /** A server restart: connections die abruptly, the port is down for `downMs`, then listens again on the same port. */
  async restart(downMs = 0): Promise<void> {
    await this.close();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.listen();
  }

  private accept(ws: WebSocket): void {
    const peer: Peer = { sid: '', unacked: 0, timer: undefined };
    this.peers.set(ws, peer);
    this.stats.connections++;
    ws.on('message', (raw: RawData, isBinary: boolean) => this.receive(ws, peer, isBinary ? null : raw.toString()));
    ws.on('close', () => {
      clearTimeout(peer.timer);
      this.peers.delete(ws);
    });
    ws.on('error', () => {});
    this.emit('connection', ws);
  }

  private receive(ws: WebSocket, peer: Peer, text: string | null): void {
    const m = text === null ? null : parseData(text);
    if (!m) {
      this.stats.malformed++;
      this.emit('malformed', text);
      return;
    }
    // One sid per connection is the norm; if it changes, settle the old sid's ack first.
    if (peer.sid && peer.sid !== m.sid && peer.unacked) this.flush(ws, peer);
    peer.sid = m.sid;
    const last = this.highest.get(m.sid) || 0;
    if (m.seq > last) {
      this.highest.set(m.sid, m.seq);
      let list = this.received.get(m.sid);
      if (!list) this.received.set(m.sid, (list = []));
      list.push({ seq: m.seq, data: m.data });
      this.stats.messages++;
      this.emit('message', m.sid, m.seq, m.data);
    } else {
      this.stats.duplicates++;
      this.emit('duplicate', m.sid, m.seq);
    }
    if (++peer.unacked < this.ackEvery) return;
    if (this.ackDelayMs <= 0) this.flush(ws, peer);
    else if (peer.timer === undefined) peer.timer = setTimeout(() => this.flush(ws, peer), this.ackDelayMs);
  }

  private flush(ws: WebSocket, peer: Peer): void {
    clearTimeout(peer.timer);
    peer.timer = undefined;
    peer.unacked = 0;
    if (ws.readyState !== ws.OPEN) return;
    ws.send(ackFrame(this.highest.get(peer.sid) || 0));
    this.stats.acked++;
  }
}

export async function startAckServer(opts: AckServerOptions = {}): Promise<AckServer> {
  const server = new AckServer(opts);
  await server.listen();
  return server;
}
