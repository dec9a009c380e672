/**
 * The HTTP/1.1 rules the opening handshake shares between the layered
 * ClientHandshake (src/handshake/client-handshake.ts) and the device client
 * (board/kaluma/device-client.ts): what a request may send, and how a response head is
 * read into a status line, header fields and the first line that breaks the grammar.
 */

/** RFC 7230 3.2.6 token (header names, subprotocol names). */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What we send in a header value: printable ASCII and tab. Kaluma's socket writes one byte per UTF-16 unit and zeroes units >= 0x100. */
export const SENDABLE_VALUE = /^[\t -~]*$/;
/** What a response line may hold (RFC 7230 3.2: VCHAR, obs-text, SP, HTAB); CR and LF were split off already. */
const RECEIVED_LINE = /^[\t -~\x80-\xff]*$/;
/** Headers the handshake sets itself, any case; Sec-WebSocket-Extensions because we offer none. */
export const OWN_HEADERS = /^(?:host|upgrade|connection|sec-websocket-(?:key|version|protocol|extensions))$/i;

/**
 * Bytes 0-255 as one string, one char per byte: for a response line, and the binary
 * string for Kaluma's socket in board/kaluma/transport.ts. String.fromCharCode.apply
 * peaks at ~9 B of heap per element on Kaluma, safe up to about 8 K elements
 * (kaluma.md §9): callers pass at most maxHeadBytes, or 512 bytes.
 */
export function latin1String(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/** Strips RFC 7230 OWS (SP and HTAB only: String.prototype.trim would also eat obs-text 0xA0). */
export function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

export interface ResponseHead {
  /** The status line's match ([1] the code, [2] the reason), or null when it is malformed (it is then badLine). */
  status: RegExpExecArray | null;
  /** Field names lower-cased; repeated fields joined with ", ", obs-fold replaced by SP (RFC 7230 3.2.2, 3.2.4). */
  headers: { [name: string]: string };
  /** The first line that breaks the grammar, or null. It does not hide a non-101 status: the caller checks the status first. */
  badLine: string | null;
}

/** Reads head[0, end): it ends with CR LF CR LF, and every CR in it is followed by LF. */
export function parseResponseHead(head: Uint8Array, end: number): ResponseHead {
  const headers: { [name: string]: string } = Object.create(null);
  let status: RegExpExecArray | null = null;
  let badLine: string | null = null;
  let last = '';
  let lineStart = 0;
  // Stop before the final empty line's CR.
  for (let i = 0; i < end - 2; i++) {
    if (head[i] !== 13 /* CR */) continue;
    const line = latin1String(head.subarray(lineStart, i));
    const first = lineStart === 0;
    lineStart = i + 2;
    let ok = RECEIVED_LINE.test(line);
    if (first) {
      // A bad status line is the first bad line: reported like any other.
      status = ok ? /^HTTP\/1\.[01] ([1-5]\d\d)(?: (.*))?$/.exec(line) : null;
      ok = status !== null;
    } else if (ok && (line[0] === ' ' || line[0] === '\t')) {
      // obs-fold: a user agent must replace it with SP (RFC 7230 3.2.4).
      ok = last !== '';
      if (ok) headers[last] = trimOws(headers[last] + ' ' + trimOws(line));
    } else if (ok) {
      const colon = line.indexOf(':');
      // No whitespace between name and colon (RFC 7230 3.2.4): the token test rejects it.
      const name = line.slice(0, colon < 0 ? 0 : colon).toLowerCase();
      ok = TOKEN.test(name);
      if (ok) {
        const value = trimOws(line.slice(colon + 1));
        headers[name] = name in headers ? headers[name] + ', ' + value : value;
        last = name;
      }
    }
    if (!ok && badLine === null) badLine = line;
  }
  return { status, headers, badLine };
}
