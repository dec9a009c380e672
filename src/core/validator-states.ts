/**
 * The JS validator's (validator-js.ts) state numbers. A file of constants only: esbuild
 * inlines them into the device bundle instead of keeping a variable for each.
 */

// Where the parser is (RFC 6455 5.2 base framing).
export const AT_BYTE0 = 0;
export const AT_BYTE1 = 1;
export const AT_LENGTH16 = 2;
export const AT_LENGTH64 = 3;
export const AT_PAYLOAD = 4;
export const DEAD = 5;

// How the current frame's payload is checked.
export const PAYLOAD_UNCHECKED = 0; // binary, ping, pong, RSV1-compressed text
export const PAYLOAD_TEXT = 1;
export const PAYLOAD_CLOSE = 2;
