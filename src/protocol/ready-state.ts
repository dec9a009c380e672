/**
 * WHATWG WebSocket readyState numbering, shared by the protocol and the client. A file
 * of constants only: esbuild inlines them into the device bundle.
 */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;
