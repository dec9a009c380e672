/**
 * picows on Node: `new WebSocket(url, protocols?, options?)`, WHATWG-shaped, with
 * the Node runtime wired in.
 */
import { WebSocket as CoreWebSocket, type WebSocketOptions } from '../../src/client/websocket';
import { nodeRuntime, type NodeRuntimeOptions } from './runtime';

export interface NodeWebSocketOptions extends WebSocketOptions, NodeRuntimeOptions {}

export class WebSocket extends CoreWebSocket {
  constructor(url: string, protocols?: string | string[], options: NodeWebSocketOptions = {}) {
    super(url, nodeRuntime(options), protocols === undefined ? options : { ...options, protocols });
  }
}
