/**
 * A fake Kaluma 1.2.1 REPL on one end of a pseudo-terminal pair, for testing
 * `picows flash` without a board. It does what src/repl.c and src/ymodem.c do with
 * the bytes `kaluma write` sends:
 *  - REPL: echoes what it is typed, runs a line on '\r' and prints the "> " prompt;
 *  - `.flash -w`: prints Kaluma's banner, then receives by YMODEM: asks with 'C' after
 *    every second without a packet, checks block numbers and CRC16 (its own CRC code,
 *    not the sender's), ACKs the header with ACK 'C', ACKs data blocks, ACKs EOT,
 *    ends on the empty header block, keeps the program trimmed to the header's size,
 *    and 500 ms later prints its verdict ("Done", "Aborted", ...);
 *  - `.load`: counts it (the real board would restart its VM and run the program).
 * Test modes: 'silent' (never writes a byte), 'nak' (NAKs every packet), 'cancel'
 * (ACKs some data blocks, then cancels with CAN CAN as Kaluma does when flash fails).
 */
import { createRequire } from 'node:module';

const STX = 0x02;
const SOH = 0x01;
const EOT = 0x04;
const ACK = 0x06;
const NAK = 0x15;
const CAN = 0x18;
const C = 0x43;
/** src/ymodem.c MAX_ERRORS: past this many errors in a session the receiver answers CAN CAN. */
const MAX_ERRORS = 5;

export type FakeBoardMode = 'normal' | 'silent' | 'nak' | 'cancel';

export interface FakeKalumaReplOptions {
  mode?: FakeBoardMode;
  /** 'cancel' mode: ACK this many data blocks, then cancel on the next. Default 2. */
  cancelAfterBlocks?: number;
  /** How long the receiver waits for a packet before asking again with 'C' (src/ymodem.c DOWNLOAD_TIMEOUT: 1 s). */
  packetTimeoutMs?: number;
}

export interface ReceivedFile {
  name: string;
  size: number;
  program: Buffer;
}

/** CRC-16/XMODEM (poly 0x1021, init 0), bit by bit as src/ymodem.c computes it. */
export function crc16xmodem(data: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < data.length; i++) {
    crc ^= data[i] << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

interface SerialPort {
  readonly isOpen: boolean;
  open(callback: (err: Error | null) => void): void;
  close(callback?: (err: Error | null) => void): void;
  write(data: string | Uint8Array): boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

type State = 'repl' | 'ymodem' | 'busy';

export class FakeKalumaRepl {
  /** REPL lines run, in order (".flash -w", ".load", ...). */
  readonly lines: string[] = [];
  /** Files received completely (the session ended with the empty header block). */
  readonly files: ReceivedFile[] = [];
  /** Data blocks ACKed in the current or last transfer. */
  blocksAcked = 0;
  /** `.load` commands run. */
  loads = 0;
  /** Packets that failed a check (bad block number, bad CRC, timed out). */
  readonly protocolErrors: string[] = [];
  /**
   * Bytes outside any packet during a receive. @kaluma/cli 1.0.0 pads its EOT with 255
   * bytes of 0xFF (lib/ymodem.js sendBuffer/splitBuffer); Kaluma, and this fake, answer
   * each with 'C' (five times), then CAN CAN, and go on to the empty header block.
   */
  readonly strayBytes: number[] = [];
  /** The verdicts printed after `.flash -w` ("Done", "Aborted", ...). */
  readonly verdicts: string[] = [];

  private state: State = 'repl';
  private line = '';
  /** Bytes that arrived while the board was busy (src/repl.c km_delay(500) after a transfer). */
  private queued: Buffer[] = [];
  private packet = Buffer.alloc(0);
  private packetTimer: ReturnType<typeof setTimeout> | undefined;
  private busyTimer: ReturnType<typeof setTimeout> | undefined;
  private packetsReceived = 0;
  private sessionBegun = false;
  private errors = 0;
  private file: { name: string; size: number; chunks: Buffer[]; remaining: number } | null = null;
  private readonly mode: FakeBoardMode;
  private readonly cancelAfterBlocks: number;
  private readonly packetTimeoutMs: number;

  private constructor(
    private readonly serial: SerialPort,
    options: FakeKalumaReplOptions,
  ) {
    this.mode = options.mode || 'normal';
    this.cancelAfterBlocks = options.cancelAfterBlocks === undefined ? 2 : options.cancelAfterBlocks;
    this.packetTimeoutMs = options.packetTimeoutMs || 1000;
    serial.on('data', (data: Buffer) => this.receive(data));
    // The host closing its end can surface here as EIO; a board does not crash for that.
    serial.on('error', (err: Error) => this.protocolErrors.push('serial: ' + err.message));
  }

  /** Opens `path` (one end of the pty pair) with the serialport that @kaluma/cli uses. */
  static async open(path: string, options: FakeKalumaReplOptions = {}): Promise<FakeKalumaRepl> {
    const require = createRequire(import.meta.url);
    const SerialPort = createRequire(require.resolve('@kaluma/cli/package.json'))('serialport');
    const serial: SerialPort = new SerialPort(path, { autoOpen: false, baudRate: 115200 });
    await new Promise<void>((resolve, reject) => serial.open((err) => (err ? reject(err) : resolve())));
    return new FakeKalumaRepl(serial, options);
  }

  async close(): Promise<void> {
    clearTimeout(this.packetTimer);
    clearTimeout(this.busyTimer);
    this.state = 'busy';
    if (this.serial.isOpen) await new Promise<void>((resolve) => this.serial.close(() => resolve()));
  }

  private write(bytes: string | number[]): void {
    if (this.mode === 'silent' || !this.serial.isOpen) return;
    this.serial.write(typeof bytes === 'string' ? bytes : Uint8Array.from(bytes));
  }

  private receive(data: Buffer): void {
    if (this.mode === 'silent') return;
    for (let i = 0; i < data.length; i++) {
      if (this.state === 'busy') {
        this.queued.push(Buffer.from(data.subarray(i)));
        return;
      }
      if (this.state === 'ymodem') {
        this.receiveYmodem(data.subarray(i));
        return;
      }
      this.receiveReplByte(data[i]);
    }
  }

  // ---- REPL (src/repl.c handle_normal, simplified: no history, no escapes) ----

  private receiveReplByte(byte: number): void {
    if (byte === 0x0d) {
      this.write('\r\n');
      const line = this.line.trim();
      this.line = '';
      this.runLine(line);
      if (this.state === 'repl') this.write('> ');
    } else if (byte >= 0x20 && byte < 0x7f) {
      this.line += String.fromCharCode(byte);
      this.write(String.fromCharCode(byte));
    }
  }

  private runLine(line: string): void {
    if (line === '') return;
    this.lines.push(line);
    if (line === '.flash -w') {
      this.write("Transfer a file via YMODEM... (press 'a' to abort)\r\n");
      this.startReceive();
    } else if (line === '.load') {
      this.loads++;
    }
  }

  // ---- YMODEM receive (src/ymodem.c km_ymodem_receive) ----

  private startReceive(): void {
    this.state = 'ymodem';
    this.packet = Buffer.alloc(0);
    this.packetsReceived = 0;
    this.sessionBegun = false;
    this.errors = 0;
    this.blocksAcked = 0;
    this.file = null;
    this.waitForPacket();
  }

  /** Kaluma reads each packet with a 1 s timeout; on timeout it asks again with 'C'. */
  private waitForPacket(): void {
    clearTimeout(this.packetTimer);
    this.packetTimer = setTimeout(() => {
      // Before the first packet this timeout is how the receiver asks at all.
      if (this.packet.length > 0) this.protocolErrors.push(`packet timed out after ${this.packet.length} bytes`);
      else if (this.sessionBegun) this.protocolErrors.push(`no packet within ${this.packetTimeoutMs} ms`);
      this.packet = Buffer.alloc(0);
      this.packetError();
    }, this.packetTimeoutMs);
  }

  /**
   * src/ymodem.c after a timeout or a bad packet: 'C' to ask again; past MAX_ERRORS,
   * CAN CAN, but (as in Kaluma) without ending the session: a good packet still counts.
   */
  private packetError(): void {
    if (this.sessionBegun) this.errors++;
    this.write(this.errors > MAX_ERRORS ? [CAN, CAN] : [C]);
    this.waitForPacket();
  }

  private receiveYmodem(data: Buffer): void {
    this.packet = this.packet.length ? Buffer.concat([this.packet, data]) : Buffer.from(data);
    while (this.state === 'ymodem' && this.packet.length > 0) {
      const first = this.packet[0];
      if (first === STX || first === SOH) {
        const size = first === STX ? 1024 : 128;
        if (this.packet.length < size + 5) break;
        const packet = this.packet.subarray(0, size + 5);
        this.packet = this.packet.subarray(size + 5);
        this.receivePacket(packet, size);
      } else if (first === EOT) {
        this.packet = this.packet.subarray(1);
        this.write([ACK]);
        this.packetsReceived = 0; // the next packet is the next file's header
      } else if (first === CAN) {
        if (this.packet.length < 2) break;
        const second = this.packet[1];
        this.packet = this.packet.subarray(2);
        if (second === CAN) {
          this.write([ACK]);
          this.endReceive('Aborted');
        } else {
          this.protocolErrors.push('a single CAN');
          this.packetError();
        }
      } else if (first === 0x41 || first === 0x61) {
        this.packet = this.packet.subarray(1);
        this.write([CAN, CAN]);
        this.endReceive('Aborted');
      } else {
        this.strayBytes.push(first);
        this.packet = this.packet.subarray(1);
        this.packetError();
      }
    }
    if (this.state === 'ymodem') this.waitForPacket();
    else if (this.packet.length) this.queued.push(Buffer.from(this.packet));
  }

  private receivePacket(packet: Buffer, size: number): void {
    const seq = packet[1];
    if (seq !== (packet[2] ^ 0xff)) {
      this.protocolErrors.push(`block number ${seq} with complement ${packet[2]}`);
      return this.packetError();
    }
    const payload = packet.subarray(3, 3 + size);
    const crc = packet.readUInt16BE(3 + size);
    if (crc16xmodem(payload) !== crc) {
      this.protocolErrors.push(`bad CRC in block ${seq}`);
      return this.packetError();
    }
    this.errors = 0;
    if (this.mode === 'nak' || seq !== (this.packetsReceived & 0xff)) {
      if (this.mode !== 'nak') this.protocolErrors.push(`block ${seq} out of sequence (wanted ${this.packetsReceived & 0xff})`);
      this.write([NAK]);
      return;
    }
    if (this.packetsReceived === 0) {
      if (payload[0] === 0) {
        // The empty header block ends the session (src/ymodem.c: footer_cb).
        this.write([ACK]);
        if (this.file) this.files.push({ name: this.file.name, size: this.file.size, program: Buffer.concat(this.file.chunks) });
        this.endReceive('Done');
        return;
      }
      const nameEnd = payload.indexOf(0);
      const name = payload.subarray(0, nameEnd).toString('latin1');
      const sizeText = /^\d+/.exec(payload.subarray(nameEnd + 1, nameEnd + 17).toString('latin1'));
      const size = sizeText ? Number(sizeText[0]) : 0;
      this.file = { name, size, chunks: [], remaining: size };
      this.write([ACK, C]);
    } else {
      if (this.mode === 'cancel' && this.blocksAcked >= this.cancelAfterBlocks) {
        // What Kaluma does when writing a block to flash fails (src/ymodem.c: packet_cb < 0).
        this.write([CAN, CAN]);
        this.endReceive('Verification failed');
        return;
      }
      const file = this.file!;
      const take = Math.min(size, file.remaining);
      file.chunks.push(Buffer.from(payload.subarray(0, take)));
      file.remaining -= take;
      this.blocksAcked++;
      this.write([ACK]);
    }
    this.packetsReceived++;
    this.sessionBegun = true;
  }

  /** src/repl.c cmd_flash: back to the REPL, 500 ms of km_delay, then the verdict. */
  private endReceive(verdict: string): void {
    clearTimeout(this.packetTimer);
    this.state = 'busy';
    this.busyTimer = setTimeout(() => {
      this.verdicts.push(verdict);
      this.write(`\r\n${verdict}\r\n`);
      this.state = 'repl';
      const queued = this.queued;
      this.queued = [];
      for (const data of queued) this.receive(data);
    }, 500);
  }
}
