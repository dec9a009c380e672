/**
 * The sender's side of a YMODEM transfer, as a reader of the receiver's replies.
 *
 * @kaluma/cli's lib/ymodem.js sends the program (header block, 1 KiB STX data blocks,
 * EOT, the empty header that ends the session) but tells its caller nothing useful:
 * its progress callback is one block ahead (it counts the header as data), it
 * resends on every NAK forever, it reports a CAN from the board as success, it pads
 * its EOT with 255 bytes of 0xFF (see receiveByte), and it has no timeout. `picows flash` lets it send, and reads the same reply bytes here
 * to know which block the board has taken, and when to give up.
 *
 * No I/O: bytes in (`receive`), events out, like the protocol core (style.md).
 */

/** YMODEM control bytes (the ones Kaluma's src/ymodem.c and lib/ymodem.js use). */
export const STX = 0x02;
export const EOT = 0x04;
export const ACK = 0x06;
export const NAK = 0x15;
export const CAN = 0x18;
/** 'C': the receiver asks for a block with CRC16 (and, first of all, for the header). */
export const CRC_REQUEST = 0x43;

/** lib/ymodem.js sends 1 KiB (STX) blocks only. */
export const YMODEM_BLOCK_SIZE = 1024;

export type YmodemReply =
  /** The first 'C': the receiver is ready for the header block. */
  | { type: 'ready' }
  /** The receiver took the header block (file name and size). */
  | { type: 'header-acked' }
  /** The receiver took data block `block` (1-based) of `blocks`; `bytes` of the program are through. */
  | { type: 'block-acked'; block: number; blocks: number; bytes: number }
  /** The receiver took the end of the file (EOT). */
  | { type: 'eot-acked' }
  /** The receiver took the empty header block: the session is over. */
  | { type: 'done' }
  /** The receiver asked again for what is in flight; `naks` in a row so far. */
  | { type: 'nak'; naks: number }
  /** The receiver cancelled (CAN). Kaluma sends two; lib/ymodem.js stops at the first. */
  | { type: 'cancelled' };

export class YmodemReplyReader {
  /** Data blocks in the transfer. */
  readonly blocks: number;
  /** ACKs so far: 0 = none; 1 = header; 1 + k = data block k; blocks + 2 = EOT; blocks + 3 = end of session. */
  private acks = 0;
  private naks = 0;
  private started = false;
  private ended = false;

  constructor(readonly totalBytes: number) {
    this.blocks = Math.ceil(totalBytes / YMODEM_BLOCK_SIZE);
  }

  /** Data blocks the receiver has acknowledged. */
  get blocksAcked(): number {
    return Math.max(0, Math.min(this.acks - 1, this.blocks));
  }

  get done(): boolean {
    return this.acks === this.blocks + 3;
  }

  /** The receiver has asked for the header: it is in its YMODEM receive. */
  get receiving(): boolean {
    return this.started;
  }

  /** The receiver has the whole file (EOT acknowledged); only the end of the session is left. */
  get fileDone(): boolean {
    return this.acks >= this.blocks + 2;
  }

  /** What the next ACK would acknowledge, for messages: "block 3 of 24". */
  inFlight(): string {
    if (!this.started) return 'the start of the transfer';
    if (this.acks === 0) return 'the header block';
    if (this.acks <= this.blocks) return `block ${this.acks} of ${this.blocks}`;
    if (this.acks === this.blocks + 1) return 'the end of the file (EOT)';
    return 'the end of the session';
  }

  receive(data: Uint8Array): YmodemReply[] {
    const replies: YmodemReply[] = [];
    for (let i = 0; i < data.length && !this.ended; i++) {
      const reply = this.receiveByte(data[i]);
      if (reply) replies.push(reply);
    }
    return replies;
  }

  private receiveByte(byte: number): YmodemReply | null {
    if (byte === CAN && this.acks >= this.blocks + 2) {
      // After the EOT: lib/ymodem.js sends EOT through splitBuffer(), which pads it to
      // 256 bytes with 0xFF. Kaluma's receiver takes each 0xFF as a bad packet start:
      // 'C' for the first five, then CAN CAN for each of the other 250, without ending
      // the session (src/ymodem.c sends CA CA once errors > MAX_ERRORS but keeps its
      // result OK), and then ACKs the empty header that follows them. lib/ymodem.js
      // stops at the first of those CANs and reports success; the ACK is what counts.
      return null;
    }
    if (byte === CAN) {
      this.ended = true;
      return { type: 'cancelled' };
    }
    if (!this.started) {
      // Before the first 'C' the sender sends nothing, so nothing else means anything yet.
      if (byte !== CRC_REQUEST) return null;
      this.started = true;
      return { type: 'ready' };
    }
    if (byte === NAK) {
      this.naks++;
      return { type: 'nak', naks: this.naks };
    }
    // Kaluma answers the header with ACK then 'C', and asks with 'C' again after each
    // second without a block; lib/ymodem.js ignores those once it is sending, and so do we.
    if (byte !== ACK) return null;
    this.naks = 0;
    this.acks++;
    if (this.acks === 1) return { type: 'header-acked' };
    if (this.acks <= this.blocks + 1) {
      const block = this.acks - 1;
      return { type: 'block-acked', block, blocks: this.blocks, bytes: Math.min(block * YMODEM_BLOCK_SIZE, this.totalBytes) };
    }
    if (this.acks === this.blocks + 2) return { type: 'eot-acked' };
    this.ended = true;
    return { type: 'done' };
  }
}
