/**
 * `picows flash`, end to end over a pseudo-terminal: socat makes a pty pair, the fake
 * Kaluma REPL (test/peers/fake-kaluma-repl.ts) opens one end, flashCommand the other,
 * and @kaluma/cli's own protocol code does the transfer between them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flashCommand } from '../board/node/flash';
import { BUNDLE_LIMIT, buildFirmware } from '../firmware/build.mjs';
import { crc16xmodem, FakeKalumaRepl, type FakeKalumaReplOptions } from './peers/fake-kaluma-repl';

const NO_SUCH_PORT = '/dev/ttyPICOWS-no-such-port';
/** The fake asks for the first block 1 s after `.flash -w`, as Kaluma does; 2 s leaves room on a busy machine. */
const TIMEOUT = '2000';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'picows-flash-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A file in the test's temporary folder. */
function bundleFile(name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** An ASCII program of exactly `size` bytes whose lines all differ (so a misplaced block shows). */
function program(size: number): Buffer {
  let text = '';
  for (let i = 0; text.length < size; i++) text += `console.log('line ${i}');\n`;
  return Buffer.from(text.slice(0, size), 'latin1');
}

async function flash(args: string[]): Promise<{ code: number; lines: string[]; text: string }> {
  const lines: string[] = [];
  const code = await flashCommand(args, (line) => lines.push(line));
  return { code, lines, text: lines.join('\n') };
}

describe('picows flash: arguments and the bundle', () => {
  it('without --port names the flag and exits 2', async () => {
    const r = await flash(['--file', bundleFile('small.js', program(100))]);
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/--port is required/);
  });

  it('a port that does not exist is named, with where to look', async () => {
    const r = await flash(['--port', NO_SUCH_PORT, '--file', bundleFile('small.js', program(100))]);
    expect(r.code).toBe(1);
    expect(r.text).toContain(`no such serial port ${NO_SUCH_PORT}; is the board plugged in? (ls /dev/ttyACM*)`);
  });

  it('a bundle over the size limit is refused with its size and the limit, before the port is touched', async () => {
    const r = await flash(['--port', NO_SUCH_PORT, '--file', bundleFile('big.js', program(BUNDLE_LIMIT + 1))]);
    expect(r.code).toBe(1);
    expect(r.text).toContain(`is ${BUNDLE_LIMIT + 1} bytes, over the ${BUNDLE_LIMIT}-byte (${BUNDLE_LIMIT / 1024} KiB) limit by 1`);
    expect(r.text).toContain('--force');
    expect(r.text).not.toContain('serial port');
  });

  it('--force lets an over-budget bundle through, and says so', async () => {
    const r = await flash(['--port', NO_SUCH_PORT, '--force', '--file', bundleFile('big.js', program(BUNDLE_LIMIT + 1))]);
    expect(r.lines[0]).toMatch(new RegExp(`--force: .* over the ${BUNDLE_LIMIT}-byte limit; flashing it anyway`));
    expect(r.text).toContain(`no such serial port ${NO_SUCH_PORT}`);
  });

  it('a NUL byte is refused with where it is', async () => {
    const bytes = Buffer.from("let a = 1;\nlet b = '\0';\n", 'latin1');
    const r = await flash(['--port', NO_SUCH_PORT, '--file', bundleFile('nul.js', bytes)]);
    expect(r.code).toBe(1);
    expect(r.text).toContain('has a NUL byte at offset 20 (line 2, column 10)');
  });

  it('a non-ASCII byte is refused with where it is', async () => {
    const r = await flash(['--port', NO_SUCH_PORT, '--file', bundleFile('utf8.js', "let s = 'caf\u00e9';\n")]);
    expect(r.code).toBe(1);
    expect(r.text).toContain('has a non-ASCII byte 0xc3 at offset 12 (line 1, column 13)');
  });
});

describe('the fake Kaluma REPL', () => {
  it('checks blocks with CRC-16/XMODEM (check value 0x31C3), computed independently of @kaluma/cli', () => {
    expect(crc16xmodem(Buffer.from('123456789'))).toBe(0x31c3);
  });
});

interface PtyPair {
  /** The end flashCommand opens. */
  host: string;
  /** The end the fake board opens. */
  board: string;
  stop(): Promise<void>;
}

/** `socat -d -d pty,raw,echo=0 pty,raw,echo=0`; the two /dev/pts names come from its stderr. */
function startPtyPair(): Promise<PtyPair> {
  return new Promise((resolve, reject) => {
    const child = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => {
      void stopChild(child);
      reject(new Error('socat did not report two ptys within 5 s:\n' + log));
    }, 5000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited (${code}) before the ptys were ready:\n${log}`));
    });
    child.stderr!.on('data', (chunk) => {
      log += chunk;
      const ptys = [...log.matchAll(/PTY is (\S+)/g)].map((m) => m[1]);
      if (ptys.length === 2 && log.includes('starting data transfer loop')) {
        clearTimeout(timer);
        resolve({ host: ptys[0], board: ptys[1], stop: () => stopChild(child) });
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

describe('picows flash: writing to a fake Kaluma REPL over a pty', () => {
  let pair: PtyPair | null = null;
  let board: FakeKalumaRepl | null = null;

  afterEach(async () => {
    if (board) await board.close();
    if (pair) await pair.stop();
    board = null;
    pair = null;
  });

  async function boardOnPty(options: FakeKalumaReplOptions = {}): Promise<{ host: string; board: FakeKalumaRepl }> {
    // Without socat every test here fails (never skips) and says how to get it.
    const probe = spawnSync('socat', ['-V']);
    if (probe.error) {
      throw new Error(
        `test/flash.test.ts needs socat to make a pseudo-terminal pair (${probe.error.message}). ` +
          'Install it: apt-get install socat (Debian/Ubuntu), brew install socat (macOS).',
      );
    }
    pair = await startPtyPair();
    board = await FakeKalumaRepl.open(pair.board, options);
    return { host: pair.host, board };
  }

  it('writes a program byte for byte, prints each block as the board takes it, then loads it', async () => {
    const { host, board } = await boardOnPty();
    const bytes = program(2500);
    const seen: { line: string; blocksAtBoard: number }[] = [];
    const code = await flashCommand(['--port', host, '--timeout', TIMEOUT, '--file', bundleFile('small.js', bytes)], (line) =>
      seen.push({ line, blocksAtBoard: board.blocksAcked }),
    );
    expect(code, seen.map((s) => s.line).join('\n')).toBe(0);

    expect(board.files).toHaveLength(1);
    expect(board.files[0].name).toBe('usercode');
    expect(board.files[0].size).toBe(2500);
    expect(board.files[0].program.equals(bytes)).toBe(true);
    expect(board.lines).toEqual(['.flash -w', '.load']);
    expect(board.loads).toBe(1);
    expect(board.verdicts).toEqual(['Done']);
    expect(board.protocolErrors).toEqual([]);
    // @kaluma/cli 1.0.0 pads its EOT to 256 bytes with 0xFF; the board answers those with
    // 'C' x5 and 250 CAN pairs, which lib/ymodem.js takes for the end. picows waits for
    // the ACK of the empty header block instead, and still ends with a whole program.
    expect(board.strayBytes).toEqual(new Array(255).fill(0xff));

    // Progress: 2500 bytes are 3 blocks of 1 KiB; each line is printed when the board has
    // ACKed that block and before the next one is sent.
    const progress = seen
      .map((s) => ({ m: /^\s+block (\d+)\/(\d+)\s+(\d+)\/2500 bytes\s+(\d+)%$/.exec(s.line), blocksAtBoard: s.blocksAtBoard }))
      .filter((p) => p.m)
      .map((p) => ({ block: Number(p.m![1]), of: Number(p.m![2]), bytes: Number(p.m![3]), pct: Number(p.m![4]), blocksAtBoard: p.blocksAtBoard }));
    expect(progress).toEqual([
      { block: 1, of: 3, bytes: 1024, pct: 40, blocksAtBoard: 1 },
      { block: 2, of: 3, bytes: 2048, pct: 81, blocksAtBoard: 2 },
      { block: 3, of: 3, bytes: 2500, pct: 100, blocksAtBoard: 3 },
    ]);
    expect(seen[seen.length - 1].line).toBe('picows flash: sent .load; the board is running the new program');
  });

  it('builds the firmware with --url, --ssid and --password, and the board receives exactly that build', async () => {
    const { host, board } = await boardOnPty();
    // The longest an SSID (32) and a WPA passphrase (63) can be, and a URL long enough to
    // take the file past the limit: the budget is the program's, so what the settings add
    // comes on top (no --force).
    const plain = await buildFirmware({ outfile: null, metafile: null });
    expect(plain.bytes).toBeLessThanOrEqual(BUNDLE_LIMIT);
    const path = 'd'.repeat(Math.max(64, BUNDLE_LIMIT - plain.bytes + 100));
    const baked = { url: 'ws://192.168.4.2:8080/telemetry/' + path, ssid: 'lab-net-' + 's'.repeat(24), password: 'pw-' + 'p'.repeat(60) };
    const r = await flash(['--port', host, '--timeout', TIMEOUT, '--url', baked.url, '--ssid', baked.ssid, '--password', baked.password]);
    expect(r.code, r.text).toBe(0);
    const expected = await buildFirmware({ ...baked, outfile: null, metafile: null });
    expect(board.files).toHaveLength(1);
    expect(board.files[0].program.equals(Buffer.from(expected.code, 'latin1'))).toBe(true);
    expect(board.files[0].program.toString('latin1')).toContain(baked.url);
    expect(r.text).toContain(`the firmware build, ${expected.bytes} bytes`);
    expect(expected.bytes - plain.bytes).toBeGreaterThan(baked.url.length + baked.ssid.length + baked.password.length - 3);
    // Over the limit as a file, within it as a program: flashed without --force.
    expect(expected.bytes).toBeGreaterThan(BUNDLE_LIMIT);
    expect(r.text).not.toContain('--force');
    expect(board.loads).toBe(1);
  }, 30_000);

  it('a board that never answers: "did not answer" once --timeout has passed', async () => {
    const { host } = await boardOnPty({ mode: 'silent' });
    const started = Date.now();
    const r = await flash(['--port', host, '--timeout', '1200', '--file', bundleFile('small.js', program(500))]);
    const elapsed = Date.now() - started;
    expect(r.code).toBe(1);
    expect(r.text).toContain(
      'the board did not answer .flash -w within 1200 ms; is Kaluma 1.2.1 running, and is another program holding the port? (nothing came back from',
    );
    expect(elapsed).toBeGreaterThanOrEqual(1200);
    expect(elapsed).toBeLessThan(1200 + 1500);
  });

  it('a board that NAKs every block: gives up after 10 NAKs in a row and takes the board out of YMODEM', async () => {
    const { host, board } = await boardOnPty({ mode: 'nak' });
    const r = await flash(['--port', host, '--timeout', TIMEOUT, '--file', bundleFile('small.js', program(500))]);
    expect(r.code).toBe(1);
    expect(r.text).toContain('the board rejected the header block 10 times in a row (NAK); transfer aborted after 0 of 1 blocks');
    // Our CAN CAN ended the board's receive: it printed "Aborted" and is back at its REPL.
    expect(board.verdicts).toEqual(['Aborted']);
    expect(board.files).toEqual([]);
  });

  it('a board that cancels midway: reports the CAN, where, and what the board said', async () => {
    const { host, board } = await boardOnPty({ mode: 'cancel', cancelAfterBlocks: 2 });
    const r = await flash(['--port', host, '--timeout', TIMEOUT, '--file', bundleFile('medium.js', program(5000))]);
    expect(r.code).toBe(1);
    expect(r.text).toContain('the board cancelled the transfer (CAN) at block 3 of 5, after 2 of 5 blocks; the board said "Verification failed"');
    expect(r.lines.filter((l) => /^\s+block /.test(l)).map((l) => l.trim().split(/\s+/)[1])).toEqual(['1/5', '2/5']);
    expect(board.files).toEqual([]);
    expect(board.loads).toBe(0);
  });
});
