/**
 * `picows flash --port <tty>`: build the firmware bundle and write it to a Pico W
 * running Kaluma 1.2.1, the way `kaluma write <file> -p <port>` does (platform/kaluma.md
 * §4), then `.load` it.
 *
 * The transfer is @kaluma/cli 1.0.0's own code: lib/protocol.js's write() sends
 * `\r.flash -w\r`, waits 500 ms and hands the program to lib/ymodem.js (1 KiB STX
 * blocks, CRC16, file name `usercode`). Beside it, a YmodemReplyReader (./ymodem)
 * reads the board's replies to print progress per block and to stop where
 * lib/ymodem.js would hang or lie: no answer, endless NAKs, a CAN it reports as success.
 *
 * Exit codes: 0 written and loaded; 1 the bundle was refused or the board failed;
 * 2 bad arguments.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CAN, YMODEM_BLOCK_SIZE, YmodemReplyReader } from './ymodem';

export const FLASH_USAGE = `usage: picows flash --port <tty> [options]

  Builds the firmware (firmware/build.mjs) and writes it to a Pico W running
  Kaluma 1.2.1 as \`kaluma write\` does (.flash -w, then YMODEM), then sends .load.

  --port <tty>        the board's serial port (Linux /dev/ttyACM0, macOS /dev/tty.usbmodem*)
  --url <ws://...>    the server URL baked into the build
  --ssid <name>       the Wi-Fi network baked into the build
  --password <text>   the Wi-Fi password baked into the build
  --file <bundle>     flash this file instead of building
  --force             flash a bundle over the size limit
  --timeout <ms>      how long to wait for the board to answer, and then for each
                      block (default 5000, at least 1000: Kaluma asks for the first
                      block about 1 s after .flash -w)
`;

const DEFAULT_TIMEOUT_MS = 5000;
/** Kaluma's receiver asks for the first block after its 1 s read timeout (src/ymodem.c DOWNLOAD_TIMEOUT). */
const MIN_TIMEOUT_MS = 1000;
/** lib/protocol.js write(): `.flash -w`, then 500 ms before lib/ymodem.js listens. */
const KALUMA_WRITE_DELAY_MS = 500;
/** lib/ymodem.js resends on every NAK, forever; a cable that corrupts 10 blocks in a row will not get better. */
const MAX_NAKS_IN_A_ROW = 10;
/** Kaluma prints its verdict 500 ms after the transfer (src/repl.c cmd_flash, km_delay(500)). */
const VERDICT_WAIT_MS = 1500;
const LOAD_ECHO_WAIT_MS = 1000;
/** The lines src/repl.c prints when `.flash -w` ends. */
const VERDICT = /\r\n(Done|The file size is too large|Verification failed|Aborted|Failed to receive)\r\n/;
const CLOSE_DRAIN_MS = 1000;
/** bin/kaluma.js opens every port this way. */
const SERIAL_OPTIONS = { autoOpen: false, baudRate: 115200 };

// The parts of serialport@9 and @kaluma/cli@1.0.0 used here (neither ships types).
interface SerialPort {
  readonly isOpen: boolean;
  open(callback: (err: Error | null) => void): void;
  close(callback?: (err: Error | null) => void): void;
  write(data: string | Uint8Array): boolean;
  drain(callback: (err: Error | null) => void): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  listeners(event: string): Function[];
}
type SerialPortConstructor = new (path: string, options: typeof SERIAL_OPTIONS) => SerialPort;
interface KalumaProtocol {
  write(serial: SerialPort, code: string, callback: (err: Error | null, result?: { writtenBytes: number }) => void): void;
}

/** A failure with the message to print. */
class FlashFailure extends Error {
  /** The board was in its YMODEM receive when the transfer failed (so it has a verdict to print). */
  boardReceiving = false;
}

export async function flashCommand(args: string[], out?: (line: string) => void): Promise<number> {
  const say = out || ((line: string) => process.stdout.write(line + '\n'));
  const complain = out || ((line: string) => process.stderr.write(line + '\n'));
  const usageError = (problem: string): number => {
    complain(`picows flash: ${problem}\n\n` + FLASH_USAGE);
    return 2;
  };

  let values;
  try {
    values = parseArgs({
      args,
      options: {
        port: { type: 'string' },
        url: { type: 'string' },
        ssid: { type: 'string' },
        password: { type: 'string' },
        file: { type: 'string' },
        force: { type: 'boolean' },
        timeout: { type: 'string' },
      },
    }).values;
  } catch (e) {
    return usageError((e as Error).message);
  }
  const port = values.port;
  if (!port) return usageError('--port is required: the board\'s serial port, e.g. --port /dev/ttyACM0 (ls /dev/ttyACM*)');
  if (values.file && (values.url || values.ssid || values.password)) {
    return usageError('--url, --ssid and --password are baked in when picows builds the bundle; they do not apply to --file');
  }
  if (values.url && !/^wss?:\/\//.test(values.url)) return usageError(`--url wants a ws:// or wss:// URL, got "${values.url}"`);
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : /^\d+$/.test(values.timeout) ? Number(values.timeout) : NaN;
  if (!(timeoutMs >= MIN_TIMEOUT_MS)) return usageError(`--timeout wants milliseconds, at least ${MIN_TIMEOUT_MS}`);

  let link: BoardLink | null = null;
  try {
    const firmware = await loadFirmwareBuilder();
    const bundle = await loadBundle(values, firmware.buildFirmware);
    const pct = ((100 * bundle.bytes.length) / firmware.BUNDLE_BUDGET).toFixed(0);
    const problem = bundleProblem(bundle, firmware.BUNDLE_LIMIT, values.force === true);
    if (problem) throw new FlashFailure(problem);
    if (bundle.bytes.length - bundle.settingsBytes > firmware.BUNDLE_LIMIT) {
      say(`picows flash: --force: ${bundle.name} is ${bundle.bytes.length} bytes, over the ${firmware.BUNDLE_LIMIT}-byte limit; flashing it anyway`);
    }
    const { protocol, SerialPort } = loadKalumaCli();
    say(`picows flash: ${bundle.name}, ${bundle.bytes.length} bytes (${pct}% of the ${firmware.BUNDLE_BUDGET}-byte target; limit ${firmware.BUNDLE_LIMIT}), ${Math.ceil(bundle.bytes.length / YMODEM_BLOCK_SIZE)} blocks of 1 KiB`);
    link = await BoardLink.open(SerialPort, port);
    try {
      await sendProgram(link, protocol, bundle.bytes, timeoutMs, say);
    } catch (e) {
      if (!(e instanceof FlashFailure) || link.lost) throw e;
      // Take the board out of its YMODEM receive (src/ymodem.c aborts on two CANs in a
      // row), in case it entered it late; if it was receiving, it says why 500 ms later.
      const mark = link.mark();
      link.serial.write(Uint8Array.of(CAN, CAN));
      const verdict = e.boardReceiving ? await link.waitFor(VERDICT, mark, VERDICT_WAIT_MS) : null;
      throw new FlashFailure(e.message + (verdict && verdict !== 'Aborted' ? `; the board said "${verdict}"` : ''));
    }
    await loadProgram(link, link.mark(), say);
    return 0;
  } catch (e) {
    if (!(e instanceof FlashFailure)) throw e;
    complain(`picows flash: ${e.message}`);
    return 1;
  } finally {
    if (link) await link.close();
  }
}

type FirmwareBuilder = typeof import('../../firmware/build.mjs');

/**
 * firmware/build.mjs, imported at run time from the package folder rather than bundled
 * into dist/cli.js: bundled, its "am I the script being run?" check (import.meta.url
 * against argv[1]) would match dist/cli.js and run a default build on import.
 */
async function loadFirmwareBuilder(): Promise<FirmwareBuilder> {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'firmware', 'build.mjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new FlashFailure('cannot find firmware/build.mjs above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  const builder: string = pathToFileURL(join(dir, 'firmware', 'build.mjs')).href;
  return (await import(builder)) as FirmwareBuilder;
}

interface Bundle {
  /** What to call it in messages: the file name, or "the firmware build". */
  name: string;
  bytes: Buffer;
  /** What the baked-in --url, --ssid and --password add to it (0 for --file): the budget is the program's, the settings come on top. */
  settingsBytes: number;
}

async function loadBundle(
  values: { file?: string; url?: string; ssid?: string; password?: string },
  buildFirmware: FirmwareBuilder['buildFirmware'],
): Promise<Bundle> {
  if (values.file) {
    try {
      return { name: values.file, bytes: readFileSync(values.file), settingsBytes: 0 };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new FlashFailure(err.code === 'ENOENT' ? `no such bundle file ${values.file}` : `cannot read ${values.file}: ${err.message}`);
    }
  }
  try {
    // In memory: a baked-in Wi-Fi password stays off the disk.
    const build = await buildFirmware({ url: values.url, ssid: values.ssid, password: values.password, outfile: null, metafile: null });
    const baked = values.url || values.ssid || values.password;
    const plain = baked ? (await buildFirmware({ outfile: null, metafile: null })).bytes : build.bytes;
    return { name: 'the firmware build', bytes: Buffer.from(build.code, 'utf8'), settingsBytes: Math.max(0, build.bytes - plain) };
  } catch (e) {
    throw new FlashFailure(`building the firmware failed: ${(e as Error).message}`);
  }
}

/** Why this bundle must not be flashed, or null. */
function bundleProblem(bundle: Bundle, budget: number, force: boolean): string | null {
  const bytes = bundle.bytes;
  if (bytes.length === 0) return `${bundle.name} is empty`;
  for (let i = 0; i < bytes.length; i++) {
    // Kaluma keeps the program NUL-terminated (src/prog.c): it would end at the first NUL.
    if (bytes[i] === 0) return `${bundle.name} has a NUL byte at offset ${i} (${lineAndColumn(bytes, i)}); Kaluma would cut the program there`;
    // kaluma write sends the file as UTF-8 text; picows flashes ASCII only (build.mjs: charset ascii).
    if (bytes[i] > 0x7f) {
      return `${bundle.name} has a non-ASCII byte 0x${bytes[i].toString(16)} at offset ${i} (${lineAndColumn(bytes, i)}); picows flashes ASCII only (build with charset ascii)`;
    }
  }
  if (bytes.length - bundle.settingsBytes > budget && !force) {
    const settings = bundle.settingsBytes ? ` (${bundle.settingsBytes} of them the baked-in settings, which come on top)` : '';
    return (
      `${bundle.name} is ${bytes.length} bytes${settings}, over the ${budget}-byte (${budget / 1024} KiB) limit by ${bytes.length - bundle.settingsBytes - budget}; ` +
      'its source stays in the 180 KiB heap while it runs, so picows refuses to flash it (--force flashes it anyway)'
    );
  }
  return null;
}

function lineAndColumn(bytes: Uint8Array, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  return `line ${line}, column ${offset - start + 1}`;
}

/** @kaluma/cli's protocol, and the serialport it was written against (resolved from its own folder). */
function loadKalumaCli(): { protocol: KalumaProtocol; SerialPort: SerialPortConstructor } {
  try {
    const require = createRequire(import.meta.url);
    const fromCli = createRequire(require.resolve('@kaluma/cli/package.json'));
    return { protocol: fromCli('./lib/protocol'), SerialPort: fromCli('serialport') };
  } catch (e) {
    throw new FlashFailure(`picows flash needs @kaluma/cli 1.0.0 and its serialport (npm install; ${(e as Error).message})`);
  }
}

/**
 * The open serial port. Everything the board prints outside the YMODEM transfer goes
 * to a log (the REPL's echo, its banner, its verdict, a running program's output);
 * during the transfer the bytes go to `replies` instead.
 */
class BoardLink {
  /** Set when the port closed or failed under us. */
  lost: string | null = null;
  replies: ((data: Buffer) => void) | null = null;
  private log = '';
  private waiters = new Set<() => void>();
  private lostListeners = new Set<(why: string) => void>();

  private constructor(
    readonly path: string,
    readonly serial: SerialPort,
  ) {
    // Listening from the moment the port opens drains what a running program printed
    // before: lib/ymodem.js would take any 'C' in it (a "Connected" log line) as the
    // board asking for the header.
    serial.on('data', this.onData);
    serial.on('error', (err: Error) => this.loseWith(`serial port error on ${path}: ${err.message}`));
    serial.on('close', () => this.loseWith(`${path} closed (was the board unplugged or reset?)`));
  }

  static async open(SerialPort: SerialPortConstructor, path: string): Promise<BoardLink> {
    try {
      statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FlashFailure(`no such serial port ${path}; is the board plugged in? (ls /dev/ttyACM*)`);
      }
    }
    const serial = new SerialPort(path, SERIAL_OPTIONS);
    const err = await new Promise<Error | null>((resolve) => serial.open(resolve));
    if (err) throw new FlashFailure(openProblem(path, err.message));
    return new BoardLink(path, serial);
  }

  private readonly onData = (data: Buffer): void => {
    if (this.replies) {
      this.replies(data);
      return;
    }
    this.log += data.toString('latin1');
    for (const wake of this.waiters) wake();
  };

  private loseWith(why: string): void {
    if (this.lost) return;
    this.lost = why;
    for (const listener of this.lostListeners) listener(why);
  }

  onLost(listener: (why: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** A position in the log, for waitFor and printed. */
  mark(): number {
    return this.log.length;
  }

  /** The log from `mark` on, as one readable line (escapes and control characters dropped). */
  printed(mark: number): string {
    return this.log
      .slice(mark)
      .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
      .replace(/[^\x20-\x7e]+/g, ' ')
      .trim();
  }

  /** The first capture of `pattern` in the log after `mark`, or null after `ms`. */
  waitFor(pattern: RegExp, mark: number, ms: number): Promise<string | null> {
    return new Promise((resolve) => {
      const check = (): void => {
        const m = pattern.exec(this.log.slice(mark));
        if (m) finish(m[1] === undefined ? m[0] : m[1]);
      };
      const finish = (found: string | null): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => finish(null), ms);
      this.waiters.add(check);
      check();
    });
  }

  /** Stops @kaluma/cli's YMODEM handler (lib/ymodem.js has no abort: it would answer every NAK with the block again). */
  detachKaluma(): void {
    for (const listener of this.serial.listeners('data')) {
      if (listener !== this.onData) this.serial.removeListener('data', listener as (...args: any[]) => void);
    }
  }

  async close(): Promise<void> {
    this.detachKaluma();
    if (!this.serial.isOpen) return;
    // Let the last bytes (.load) out, but do not hang on a port whose far end is gone.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_DRAIN_MS);
      this.serial.drain(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await new Promise<void>((resolve) => this.serial.close(() => resolve()));
  }
}

function openProblem(path: string, message: string): string {
  if (/No such file/i.test(message)) return `no such serial port ${path}; is the board plugged in? (ls /dev/ttyACM*)`;
  if (/Permission denied/i.test(message)) {
    return `cannot open ${path}: permission denied; on Linux add yourself to the dialout group (sudo usermod -aG dialout $USER) and log in again`;
  }
  if (/Cannot lock port|Resource temporarily unavailable/i.test(message)) {
    return `${path} is held by another program (a serial terminal, kaluma, another picows); close it and try again`;
  }
  return `cannot open ${path}: ${message}`;
}

/**
 * Writes the program with lib/protocol.js's write() and follows the board's replies.
 * Resolves when the board took the last (empty) header block.
 */
function sendProgram(link: BoardLink, protocol: KalumaProtocol, program: Buffer, timeoutMs: number, say: (line: string) => void): Promise<void> {
  const reader = new YmodemReplyReader(program.length);
  const commandMark = link.mark();
  return new Promise((resolve, reject) => {
    let settled = false;
    /** lib/ymodem.js called back without an error. */
    let kalumaFinished = false;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    let listening: ReturnType<typeof setTimeout> | undefined;
    const settle = (failure: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(listening);
      stopLostListener();
      link.replies = null;
      if (failure === null) return resolve();
      link.detachKaluma();
      const err = new FlashFailure(failure);
      err.boardReceiving = reader.receiving;
      reject(err);
    };
    const after = (): string => `after ${reader.blocksAcked} of ${reader.blocks} blocks`;
    const expectReplyWithin = (ms: number, failure: () => string): void => {
      clearTimeout(deadline);
      deadline = setTimeout(() => settle(failure()), ms);
    };

    expectReplyWithin(timeoutMs, () => {
      const printed = link.printed(commandMark);
      return (
        `the board did not answer .flash -w within ${timeoutMs} ms; is Kaluma 1.2.1 running, and is another program holding the port? ` +
        (printed ? `(${link.path} printed: "${printed.slice(-120)}")` : `(nothing came back from ${link.path})`)
      );
    });
    const stopLostListener = link.onLost((why) => settle(`${why}, at ${reader.inFlight()} ${after()}`));

    const onReplies = (data: Buffer): void => {
      const replies = reader.receive(data);
      for (const reply of replies) {
        switch (reply.type) {
          case 'ready':
            say('picows flash: the board is receiving (YMODEM, CRC16)');
            break;
          case 'header-acked':
            say(`  header     usercode, ${program.length} bytes`);
            break;
          case 'block-acked': {
            const pct = Math.floor((100 * reply.bytes) / program.length);
            say(`  block ${`${reply.block}/${reply.blocks}`.padEnd(7)} ${`${reply.bytes}/${program.length}`.padStart(13)} bytes ${String(pct).padStart(3)}%`);
            break;
          }
          case 'nak':
            if (reply.naks >= MAX_NAKS_IN_A_ROW) {
              return settle(
                `the board rejected ${reader.inFlight()} ${reply.naks} times in a row (NAK); transfer aborted ${after()}. ` +
                  'Check the USB cable (and any hub), then run picows flash again',
              );
            }
            break;
          case 'cancelled':
            return settle(`the board cancelled the transfer (CAN) at ${reader.inFlight()}, ${after()}`);
          case 'done':
            // lib/ymodem.js sees this ACK next (its listener comes after ours) and calls back.
            if (kalumaFinished) return settle(null);
            break;
          case 'eot-acked':
            break;
        }
      }
      if (replies.length > 0) {
        expectReplyWithin(timeoutMs, () => `the board stopped answering at ${reader.inFlight()} (nothing for ${timeoutMs} ms), ${after()}`);
      }
    };

    protocol.write(link.serial, program.toString('latin1'), (err) => {
      if (err) return settle(`@kaluma/cli failed: ${err.message}`);
      kalumaFinished = true;
      // lib/ymodem.js also "succeeds" on a CAN or a failed write. Only the ACK of the
      // empty header block means the board has the whole program. Against a real board
      // it finishes on a CAN right after the EOT (see YmodemReplyReader), and that ACK
      // comes after it: keep reading.
      if (reader.done) settle(null);
      else if (!reader.fileDone) settle(`the transfer ended early at ${reader.inFlight()}, ${after()}`);
    });
    say(`picows flash: ${link.path}: sent .flash -w; waiting for the board`);
    // Created in the same tick as write()'s own 500 ms timer, so it fires in the same
    // timers phase, right after it: lib/ymodem.js and the reader see the same bytes.
    listening = setTimeout(() => {
      if (!settled) link.replies = onReplies;
    }, KALUMA_WRITE_DELAY_MS);
  });
}

/** After the transfer: wait for Kaluma's verdict, then `.load` as bin/kaluma.js does. */
async function loadProgram(link: BoardLink, transferEnd: number, say: (line: string) => void): Promise<void> {
  const verdict = await link.waitFor(VERDICT, transferEnd, VERDICT_WAIT_MS);
  if (verdict && verdict !== 'Done') throw new FlashFailure(`the board took every block but then said "${verdict}"`);
  say(verdict ? 'picows flash: written; the board says "Done"' : 'picows flash: written (the board did not print "Done"); loading anyway');
  const mark = link.mark();
  link.serial.write('\r\r\r');
  link.serial.write('.load\r');
  const echoed = await link.waitFor(/\.load/, mark, LOAD_ECHO_WAIT_MS);
  say(
    echoed
      ? 'picows flash: sent .load; the board is running the new program'
      : 'picows flash: sent .load, but the board did not echo it; press reset (the flashed program runs at boot)',
  );
}
