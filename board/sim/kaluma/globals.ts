/**
 * The globals Kaluma 1.2.1 gives a program (src/global.c, startup.js), per boot:
 *  - setTimeout/setInterval(fn, delay): `delay` must be a number, no extra arguments are
 *    passed, ids are numbers; clearTimeout/clearInterval require a number, so
 *    clearTimeout(undefined) THROWS a TypeError; an exception in a timer callback is
 *    printed and the timer cleared (an interval dies);
 *  - millis()/micros() count from boot; delay(ms) blocks (the clock jumps);
 *  - Date.now() follows the AON timer, near 0 at boot [I];
 *  - Math.random is newlib rand() never seeded: the same sequence every boot; seed(n)
 *    calls srand(n);
 *  - console has only log and error;
 *  - TextEncoder/TextDecoder ('utf-8' and 'ascii' only), btoa/atob, Kaluma's own
 *    encodeURIComponent/decodeURIComponent (byte-wise over CESU-8: astral characters
 *    come out as two 3-byte sequences, malformed input does not throw);
 *  - process { arch, platform, version, memoryUsage(), builtin_modules, stdin, stdout }
 *    with no nextTick; board { name: 'pico-w', uid }; `storage`; `global`.
 * Everything is inert once the boot is over (reboot, crash, VM reset): calls from a dead
 * boot's leftovers do nothing.
 */
import { inspect, types } from 'node:util';
import type { BootSession } from './session';
import { argMustBe, argRequired } from './types';
import { asciiBytes, cesu8Size, decodeUtf8Lenient, kalumaBase64, kalumaBase64Decode, utf8Bytes } from './text';

export const KALUMA_VERSION = '1.2.1';

/** Kaluma's built-in module names on the Pico W (approximate list [I]); the emulated ones are marked in require(). */
export const BUILTIN_MODULES = [
  'events', 'gpio', 'led', 'button', 'pwm', 'adc', 'i2c', 'spi', 'uart', 'graphics', 'at', 'stream',
  'storage', 'wdt', 'rtc', 'path', 'flash', 'fs', 'vfs_lfs', 'vfs_fat', 'sdcard', 'url', 'http', 'net',
  'dgram', 'rp2', 'pio', 'startup', 'pico_cyw43', 'wifi',
];

const MASK64 = (BigInt(1) << BigInt(64)) - BigInt(1);
const LCG_MUL = BigInt('6364136223846793005');
const RAND_MAX = 0x7fffffff;

/** newlib's rand(): a 64-bit LCG whose state starts at 1 (srand(seed) sets it). */
export class NewlibRand {
  private state = BigInt(1);

  seed(n: number): void {
    this.state = BigInt(n >>> 0);
  }

  rand(): number {
    this.state = (this.state * LCG_MUL + BigInt(1)) & MASK64;
    return Number((this.state >> BigInt(32)) & BigInt(RAND_MAX));
  }

  /** JerryScript 2.4 Math.random: rand() / RAND_MAX * (RAND_MAX - 1) / RAND_MAX, never 1 [I]. */
  random(): number {
    return (this.rand() / RAND_MAX) * (RAND_MAX - 1) / RAND_MAX;
  }
}

export interface KalumaGlobals {
  /** Properties for the program's global object. */
  values: { [name: string]: unknown };
  /** Replacement for Math.random. */
  random: () => number;
  /** Replacement for Date.now (and `new Date()`). */
  dateNow: () => number;
}

function formatArg(value: unknown): string {
  return typeof value === 'string' ? value : inspect(value, { depth: 2, breakLength: Infinity });
}

/** Kaluma's encodeURIComponent: is_uri_char() kept, everything else %XX per CESU-8 byte (char is unsigned on ARM). */
function kalumaEncodeURIComponent(s: string): string {
  const hex = '0123456789ABCDEF';
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    const bytes = u < 0x80 ? [u] : u < 0x800 ? [0xc0 | (u >> 6), 0x80 | (u & 0x3f)] : [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f)];
    for (const b of bytes) {
      const ch = String.fromCharCode(b);
      if (b < 0x80 && /[0-9A-Za-z\-_.!~*'()]/.test(ch)) out += ch;
      else out += '%' + hex[b >> 4] + hex[b & 0x0f];
    }
  }
  return out;
}

function kalumaDecodeURIComponent(s: string): string {
  const src = utf8Bytes(s);
  const out: number[] = [];
  const hexVal = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 55 : c >= 0x61 && c <= 0x66 ? c - 87 : 0);
  for (let i = 0; i < src.length; ) {
    if (src[i] === 0x25) {
      out.push(((hexVal(src[i + 1] ?? 0) << 4) | hexVal(src[i + 2] ?? 0)) & 0xff);
      i += 3;
    } else {
      out.push(src[i]);
      i += 1;
    }
  }
  return decodeUtf8Lenient(Uint8Array.from(out));
}

export function createGlobals(session: BootSession): KalumaGlobals {
  const board = session.board;
  const realmOf = () => session.realm;
  const live = () => session.live();

  const checkCallback = (fn: unknown): void => {
    if (typeof fn !== 'function') throw argMustBe(realmOf(), 'callback', 'function');
  };
  const checkNumber = (value: unknown, name: string): number => {
    if (typeof value !== 'number') throw argMustBe(realmOf(), name, 'number');
    return value;
  };

  function setTimeout(callback: () => void, delay: number): number {
    checkCallback(callback);
    checkNumber(delay, 'delay');
    if (!live()) return 0;
    // jerry_call_function(cb, undefined, NULL, 0): no extra arguments.
    return session.timers.add(() => callback.call(undefined), delay, false);
  }

  function setInterval(callback: () => void, delay: number): number {
    checkCallback(callback);
    checkNumber(delay, 'delay');
    if (!live()) return 0;
    return session.timers.add(() => callback.call(undefined), delay, true);
  }

  function clearTimer(id: number): void {
    checkNumber(id, 'id');
    if (!live()) return;
    session.timers.remove(Math.trunc(id));
  }

  function delay(msec?: number): void {
    if (arguments.length > 0) checkNumber(msec, 'msec');
    if (!live()) return;
    session.block((msec as number) >>> 0, 'delay()');
  }

  function delayMicroseconds(usec?: number): void {
    if (arguments.length > 0) checkNumber(usec, 'usec');
    if (!live()) return;
    session.block(((usec as number) >>> 0) / 1000, 'delayMicroseconds()');
  }

  const millis = () => session.clock.millis();
  const micros = () => Math.floor(session.clock.now() * 1000);

  function seed(n: number): void {
    checkNumber(n, 'seed');
    session.random.seed(n);
  }

  const print = (level: 'log' | 'error') =>
    function (...args: unknown[]): void {
      if (args.length === 0 || !live()) return;
      board.consoleLine(session, level, args.map(formatArg).join(' '));
    };
  const console = { log: print('log'), error: print('error') };

  class TextEncoder {
    encoding: string;

    constructor(label?: string) {
      if (arguments.length > 0 && typeof label !== 'string') throw argMustBe(realmOf(), 'label', 'string');
      this.encoding = arguments.length > 0 ? (label as string) : 'utf-8';
    }

    encode(input: string): Uint8Array {
      if (typeof input !== 'string') throw argMustBe(realmOf(), 'input', 'string');
      const realm = realmOf();
      if (this.encoding === 'ascii') {
        if (!session.checkStack(cesu8Size(input), `TextEncoder('ascii').encode of ${input.length} chars`)) return new realm.Uint8Array(0);
        return asciiBytes(input, new realm.Uint8Array(input.length));
      }
      if (this.encoding === 'utf-8') return realm.Uint8Array.from(utf8Bytes(input));
      throw new realm.Error('Unsupported encoding.');
    }
  }

  class TextDecoder {
    encoding: string;

    constructor(label?: string) {
      if (arguments.length > 0 && typeof label !== 'string') throw argMustBe(realmOf(), 'label', 'string');
      this.encoding = arguments.length > 0 ? (label as string) : 'utf-8';
    }

    decode(input: Uint8Array): string {
      const realm = realmOf();
      if (arguments.length === 0) throw argRequired(realm, 'input');
      if (!types.isUint8Array(input)) throw new realm.Error('input must be Uint8Array.');
      if (this.encoding === 'ascii') return session.binaryString(input);
      if (this.encoding === 'utf-8') return decodeUtf8Lenient(input);
      throw new realm.Error('Unsupported encoding.');
    }
  }

  function btoa(data: unknown): string | undefined {
    const realm = realmOf();
    if (arguments.length === 0) throw argRequired(realm, 'data');
    if (types.isUint8Array(data)) return kalumaBase64(data);
    if (typeof data === 'string') {
      // `uint8_t buf[len]` plus the conversion's own VLA: both on the C stack.
      if (!session.checkStack(data.length + cesu8Size(data), `btoa of a ${data.length}-char string`)) return undefined;
      return kalumaBase64(asciiBytes(data, new Uint8Array(data.length)));
    }
    throw new realm.TypeError('Unsupported binary data.');
  }

  function atob(encodedData: string): Uint8Array | undefined {
    if (typeof encodedData !== 'string') throw argMustBe(realmOf(), 'encodedData', 'string');
    const out = kalumaBase64Decode(Uint8Array.from(utf8Bytes(encodedData)));
    return out === undefined ? undefined : realmOf().Uint8Array.from(out);
  }

  function encodeURIComponent(data: unknown): string {
    if (arguments.length === 0) throw argRequired(realmOf(), 'data');
    const s = String(data);
    if (!session.checkStack(2 * cesu8Size(s) + 3 * s.length, `encodeURIComponent of ${s.length} chars`)) return '';
    return kalumaEncodeURIComponent(s);
  }

  function decodeURIComponent(data: unknown): string {
    if (arguments.length === 0) throw argRequired(realmOf(), 'data');
    const s = String(data);
    if (!session.checkStack(2 * cesu8Size(s), `decodeURIComponent of ${s.length} chars`)) return '';
    return kalumaDecodeURIComponent(s);
  }

  const stdout = {
    write(chunk: unknown): boolean {
      if (live()) board.consoleLine(session, 'log', String(chunk));
      return true;
    },
  };
  const process = {
    arch: 'arm',
    platform: 'rp2',
    version: KALUMA_VERSION,
    builtin_modules: realmOf().Array.from(BUILTIN_MODULES),
    memoryUsage: () => session.makeObject(board.memoryUsage()),
    stdout,
    stdin: { read: () => null },
  };

  const values: { [name: string]: unknown } = {
    require: (name: string) => session.require(name),
    setTimeout,
    setInterval,
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
    delay,
    delayMicroseconds,
    millis,
    micros,
    seed,
    console,
    process,
    board: { name: 'pico-w', uid: board.uid },
    TextEncoder,
    TextDecoder,
    btoa,
    atob,
    encodeURIComponent,
    decodeURIComponent,
    storage: session.storageGlobal(),
  };

  return {
    values,
    random: () => session.random.random(),
    dateNow: () => session.clock.millis(),
  };
}
