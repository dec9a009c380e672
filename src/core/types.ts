/**
 * The contract of picows' fast core: the streaming frame validator, shared by
 * the WebAssembly build (assembly/) and its plain-JS twin (src/core/validator-js.ts).
 * Both must give the same records for the same bytes, whatever the chunking.
 * The full rules are in assembly/README.md ("The core's contract").
 */

/** Int32 slots per event record in `FrameValidator.events`. */
export const RECORD_SLOTS = 4;

/** Record kinds (slot 0). */
export const EV_DATA = 1;
export const EV_ERROR = 2;

/**
 * DATA record: [EV_DATA, flags, start, length]
 *   start/length: the payload slice inside the chunk passed to scan().
 * ERROR record: [EV_ERROR, errorId, closeCode, offset]
 *   offset: index, inside the chunk passed to scan(), of the byte whose arrival
 *   made the stream invalid.
 */
export const FLAG_OPCODE_MASK = 0x0f;
/** The frame has FIN set. */
export const FLAG_FIN = 0x10;
/** First record of this frame (the header was just completed). */
export const FLAG_FIRST = 0x20;
/** Last record of this frame (its payload is complete). */
export const FLAG_LAST = 0x40;
/** RSV1 was set on this frame (only possible when allowed by configure()). */
export const FLAG_RSV1 = 0x80;

/** configure() flags. */
/** Allowed RSV bits, in the positions they have in a frame's first byte (0x40 RSV1, 0x20 RSV2, 0x10 RSV3). */
export const CFG_RSV_MASK = 0x70;
/** Accept 16/64-bit lengths that would have fit a shorter form (RFC 6455 5.2 says MUST NOT send them). */
export const CFG_ACCEPT_NON_MINIMAL = 0x100;

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Default largest message (sum of a message's frames), sized for a 180 KiB heap (kaluma.md §8: "well under 10 KB"). */
export const DEFAULT_MAX_MESSAGE = 8192;

/** A streaming RFC 6455 server-to-client frame validator. */
export interface FrameValidator {
  /** Records written by the last scan(); RECORD_SLOTS ints each. Reused: read before the next scan(). */
  readonly events: Int32Array;
  /** Where the last scan() stopped in its chunk. Scan again from here while it is < chunk.length. */
  readonly pos: number;
  /**
   * Validates chunk[from..] and writes records to `events`. Stops when the chunk is
   * consumed, when the record buffer is full, or after an ERROR record. Returns the
   * number of records written. Once an error was reported the stream is dead: every
   * later scan() writes nothing and sets pos to chunk.length, until reset().
   * A scan() with from > 0 must continue the same chunk the previous scan() stopped in.
   */
  scan(chunk: Uint8Array, from: number): number;
  /** Largest message in bytes (up to 2^53-1) and CFG_* flags. Applies from the next frame. */
  configure(maxMessage: number, flags: number): void;
  /** Forget all stream state (a new connection). Keeps the configuration. */
  reset(): void;
  /** Release what the validator holds (a WebAssembly state slot). */
  dispose(): void;
}

/** What a core offers: validators, a one-shot UTF-8 check, and payload masking. */
export interface Core {
  readonly kind: 'wasm' | 'js';
  createValidator(maxMessage?: number, flags?: number): FrameValidator;
  /** -1 when bytes[start..end) is complete valid UTF-8, else the index of the first byte that cannot start or continue a valid sequence (or `end` when it stops mid-sequence). */
  utf8ErrorOffset(bytes: Uint8Array, start: number, end: number): number;
  /** XOR bytes[start..end) in place with the 4-byte key (key byte 0 = the most significant byte of `key`, as on the wire), starting at key phase 0. */
  mask(bytes: Uint8Array, start: number, end: number, key: number): void;
}
