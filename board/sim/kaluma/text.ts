/**
 * Kaluma's text conversions, emulated byte for byte (src/global.c, src/jerryxx.c,
 * src/base64.c of 1.2.x). JerryScript keeps strings as CESU-8, which explains most of
 * the quirks:
 *  - "ascii" conversion (net writes, btoa(string), TextEncoder('ascii')) takes one byte
 *    per UTF-16 unit; units >= 0x100 become 0x00, and it goes through a C-stack VLA of
 *    the string's CESU-8 size (0x80-0x7FF count 2, the rest 3);
 *  - TextEncoder('utf-8') turns surrogate pairs into 4 bytes but keeps a lone surrogate
 *    as its 3-byte CESU-8 form [I];
 *  - TextDecoder('utf-8') does not validate: bytes are taken as CESU-8 by their lead
 *    byte, so `ff 41` decodes to garbage rather than U+FFFD (kaluma.md §9) [T];
 *  - btoa breaks lines every 72 characters (base64.c) and drops only the final newline;
 *    atob skips non-alphabet characters and returns undefined on a bad length.
 */

/** Bytes JerryScript's internal CESU-8 form of `s` takes: what a VLA of "its UTF-8 size" costs. */
export function cesu8Size(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    n += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
  }
  return n;
}

/** jerryxx_string_to_ascii_char_buffer: one byte per UTF-16 unit, units >= 0x100 become 0x00. */
export function asciiBytes(s: string, out: Uint8Array): Uint8Array {
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    out[i] = u < 0x100 ? u : 0;
  }
  return out;
}

/** jerry_string_to_utf8_char_buffer: pairs become 4 bytes, a lone surrogate stays 3 (CESU-8). */
export function utf8Bytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
        continue;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return out;
}

/**
 * jerry_create_string_sz_from_utf8 without validation: a 4-byte lead (11110xxx) is
 * converted to a surrogate pair, everything else is read as CESU-8 by its lead byte
 * (0xxxxxxx: 1, 110xxxxx: 2, anything else: 3), continuation bits taken as they are,
 * missing bytes at the end read as 0. Never throws, never produces U+FFFD.
 */
export function decodeUtf8Lenient(bytes: Uint8Array): string {
  let out = '';
  const n = bytes.length;
  const at = (i: number) => (i < n ? bytes[i] : 0);
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i += 1;
    } else if ((b & 0xe0) === 0xc0) {
      out += String.fromCharCode(((b & 0x1f) << 6) | (at(i + 1) & 0x3f));
      i += 2;
    } else if ((b & 0xf8) === 0xf0) {
      const cp = ((b & 0x07) << 18) | ((at(i + 1) & 0x3f) << 12) | ((at(i + 2) & 0x3f) << 6) | (at(i + 3) & 0x3f);
      const v = cp - 0x10000;
      out += v >= 0 ? String.fromCharCode(0xd800 + ((v >> 10) & 0x3ff), 0xdc00 + (v & 0x3ff)) : String.fromCharCode(cp);
      i += 4;
    } else {
      out += String.fromCharCode(((b & 0x0f) << 12) | ((at(i + 1) & 0x3f) << 6) | (at(i + 2) & 0x3f));
      i += 3;
    }
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** base64.c's base64_encode (a '\n' after every 72 characters and at the end), minus the last character, as btoa does. */
export function kalumaBase64(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined; // out_len 0: btoa returns undefined
  let out = '';
  let line = 0;
  let i = 0;
  for (; bytes.length - i >= 3; i += 3) {
    out += B64[bytes[i] >> 2] + B64[((bytes[i] & 3) << 4) | (bytes[i + 1] >> 4)];
    out += B64[((bytes[i + 1] & 0x0f) << 2) | (bytes[i + 2] >> 6)] + B64[bytes[i + 2] & 0x3f];
    line += 4;
    if (line >= 72) {
      out += '\n';
      line = 0;
    }
  }
  const rest = bytes.length - i;
  if (rest) {
    out += B64[bytes[i] >> 2];
    if (rest === 1) out += B64[(bytes[i] & 3) << 4] + '=';
    else out += B64[((bytes[i] & 3) << 4) | (bytes[i + 1] >> 4)] + B64[(bytes[i + 1] & 0x0f) << 2];
    out += '=';
    line += 4;
  }
  if (line) out += '\n';
  // btoa: jerry_create_string_sz(encoded, encoded_sz - 1) drops the final '\n'.
  return out.slice(0, -1);
}

/** base64.c's base64_decode: non-alphabet characters are skipped; undefined when the count is 0 or not a multiple of 4. */
export function kalumaBase64Decode(text: Uint8Array): number[] | undefined {
  const table = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) table[B64.charCodeAt(i)] = i;
  table[0x3d] = 0; // '='
  let count = 0;
  for (let i = 0; i < text.length; i++) if (table[text[i]] >= 0) count++;
  if (count === 0 || count % 4) return undefined;
  const out: number[] = [];
  const block = [0, 0, 0, 0];
  let pad = 0;
  count = 0;
  for (let i = 0; i < text.length; i++) {
    const v = table[text[i]];
    if (v < 0) continue;
    if (text[i] === 0x3d) pad++;
    block[count++] = v;
    if (count === 4) {
      out.push(((block[0] << 2) | (block[1] >> 4)) & 0xff, ((block[1] << 4) | (block[2] >> 2)) & 0xff, ((block[2] << 6) | block[3]) & 0xff);
      count = 0;
      if (pad) {
        if (pad === 1) out.length -= 1;
        else if (pad === 2) out.length -= 2;
        else return undefined;
        break;
      }
    }
  }
  return out;
}
