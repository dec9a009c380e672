/**
 * picows on Node: what `import ... from 'picows/node'` gives.
 */
export { WebSocket, type NodeWebSocketOptions } from './websocket';
export { nodeRuntime, type NodeRuntimeOptions } from './runtime';
export { ResilientClient, type ResilientOptions, type ResilientEvent, type ResilientStats } from '../../src/resilience/resilient-client';
export { startAckServer } from './ack-server';
export { FaultProxy } from './fault-proxy';
export { PicowsError, ERRORS, closeCodeOf } from '../../src/errors';
