/** Up to 8 bytes either side of chunk[offset], hex, the offending byte in brackets: the `bytes` of a protocol error's detail. */
export function hexAround(chunk: Uint8Array, offset: number): string {
  let text = '';
  const end = Math.min(chunk.length, offset + 9);
  for (let i = Math.max(0, offset - 8); i < end; i++) {
    const hex = (chunk[i] < 16 ? '0' : '') + chunk[i].toString(16);
    text += (text ? ' ' : '') + (i === offset ? '[' + hex + ']' : hex);
  }
  return text;
}
