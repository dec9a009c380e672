import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64Decode, base64Encode } from '../src/handshake/base64';
import { acceptKey } from '../src/handshake/client-handshake';
import { sha1 } from '../src/handshake/sha1';

const nodeSha1 = (b: Uint8Array) => new Uint8Array(createHash('sha1').update(b).digest());
const nodeBase64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Lengths where SHA-1 padding changes shape: 55 is the last that fits one block with its length, 56-63 spill into a second. */
const BLOCK_EDGES = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128];

const anyBytes = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 300 }),
  fc.constantFrom(...BLOCK_EDGES).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
);

describe('sha1', () => {
  it('matches node:crypto on random inputs of 0..300 bytes', () => {
    fc.assert(fc.property(anyBytes, (b) => {
      expect(sha1(b)).toEqual(nodeSha1(b));
    }), { numRuns: 500 });
  });

  it.each(BLOCK_EDGES)('matches node:crypto at the block edge of %i bytes', (n) => {
    const b = new Uint8Array(randomBytes(n));
    expect(sha1(b)).toEqual(nodeSha1(b));
  });

  it('gives the FIPS 180 test vectors', () => {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    expect(hex(sha1(new TextEncoder().encode('abc')))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(hex(sha1(new Uint8Array(0)))).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
  });

  it('does not depend on state left by an earlier call', () => {
    const a = new Uint8Array(randomBytes(200));
    const b = new Uint8Array(randomBytes(3));
    const first = sha1(b);
    sha1(a);
    expect(sha1(b)).toEqual(first);
  });

  it('leaves its input untouched', () => {
    const b = new Uint8Array(randomBytes(70));
    const copy = b.slice();
    sha1(b);
    expect(b).toEqual(copy);
  });
});

describe('base64Encode', () => {
  it('matches Buffer on random inputs, with padding and no line breaks', () => {
    fc.assert(
      fc.property(anyBytes, (b) => {
        const s = base64Encode(b);
        expect(s).toBe(nodeBase64(b));
        expect(s).not.toMatch(/\s/);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes the RFC 4648 section 10 vectors', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of cases) expect(base64Encode(new TextEncoder().encode(plain))).toBe(encoded);
  });
});

describe('base64Decode', () => {
  it('inverts base64Encode on random inputs', () => {
    fc.assert(fc.property(anyBytes, (b) => {
      expect(base64Decode(base64Encode(b))).toEqual(b);
    }), { numRuns: 500 });
  });

  it('accepts exactly the canonical encodings (Buffer re-encodes them unchanged)', () => {
    const chars = 'AZaz09+/=-_ \nQgh'.split('');
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...chars), { maxLength: 12 }), (arr) => {
        const s = arr.join('');
        const canonical = Buffer.from(s, 'base64').toString('base64') === s;
        if (canonical) expect(base64Decode(s)).toEqual(new Uint8Array(Buffer.from(s, 'base64')));
        else expect(() => base64Decode(s)).toThrow(TypeError);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['a length that is not a multiple of 4', 'Zm9'],
    ['missing padding', 'Zg'],
    ['a character outside the alphabet', 'Zm9*'],
    ['URL-safe characters', 'ab-_'],
    ['a line break (what Kaluma btoa inserts)', 'Zm9v\nYmFy'],
    ['a trailing newline', 'Zm8=\n'],
    ['leading whitespace', ' Zm8='],
    ['padding in the middle', 'Zg==Zg=='],
    ['padding before a digit', 'Zm=v'],
    ['three padding characters', 'Z==='],
    ['only padding', '===='],
    ['non-zero bits under one pad', 'Zm9='],
    ['non-zero bits under two pads', 'Zh=='],
  ])('rejects %s', (_what, s) => {
    expect(() => base64Decode(s)).toThrow(TypeError);
  });
});

describe('acceptKey', () => {
  it('gives the RFC 6455 1.3 example', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('matches node:crypto for random 16-byte keys', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (k) => {
        const key = nodeBase64(k);
        const expected = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        expect(acceptKey(key)).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });
});
