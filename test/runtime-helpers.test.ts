/** The small byte helpers the client builds its handshake from. */
import { describe, expect, it } from 'vitest';
import { randomBytes, type Runtime } from '../src/client/runtime';
import { latin1Bytes } from '../src/handshake/client-handshake';

describe('byte helpers', () => {
  it('randomBytes takes 32 bits at a time, most significant byte first, for any length', () => {
    const words = [0x01020304, -0x0a090808 /* 0xf5f6f7f8 */, 0x7f000080];
    let i = 0;
    const rt = { random32: () => words[i++] } as unknown as Runtime;
    expect(Array.from(randomBytes(rt, 10))).toEqual([1, 2, 3, 4, 0xf5, 0xf6, 0xf7, 0xf8, 0x7f, 0]);
    expect(i).toBe(3);
    i = 0;
    expect(Array.from(randomBytes(rt, 0))).toEqual([]);
    expect(i).toBe(0);
  });

  it('latin1Bytes keeps one byte per UTF-16 unit, its low 8 bits', () => {
    expect(Array.from(latin1Bytes('GET /\r\n\xff\u0141'))).toEqual([71, 69, 84, 32, 47, 13, 10, 0xff, 0x41]);
  });
});
