import { describe, expect, it } from 'vitest';
import { PicowsError } from '../src/errors';
import { ClientHandshake, DEFAULT_MAX_HEAD_BYTES, type ClientHandshakeOptions } from '../src/handshake/client-handshake';
import { parseWsUrl, type WsUrl } from '../src/handshake/url';

// RFC 6455 1.3's example: the key bytes spell "the sample nonce".
const KEY = new TextEncoder().encode('the sample nonce');
const KEY_B64 = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function thrown(f: () => unknown): PicowsError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PicowsError);
    return e as PicowsError;
  }
  throw new Error('expected a PicowsError, nothing was thrown');
}

describe('parseWsUrl', () => {
  const accepted: [string, boolean, WsUrl][] = [
    ['ws://example.com', false, { secure: false, host: 'example.com', port: 80, path: '/', hostHeader: 'example.com' }],
    ['ws://example.com/', false, { secure: false, host: 'example.com', port: 80, path: '/', hostHeader: 'example.com' }],
    ['WS://Example.COM/Chat?x=1&y=%20', false, { secure: false, host: 'example.com', port: 80, path: '/Chat?x=1&y=%20', hostHeader: 'example.com' }],
    ['ws://example.com?room=4', false, { secure: false, host: 'example.com', port: 80, path: '/?room=4', hostHeader: 'example.com' }],
    ['ws://example.com:80/a', false, { secure: false, host: 'example.com', port: 80, path: '/a', hostHeader: 'example.com' }],
    ['ws://example.com:8080/a', false, { secure: false, host: 'example.com', port: 8080, path: '/a', hostHeader: 'example.com:8080' }],
    ['ws://example.com:443', false, { secure: false, host: 'example.com', port: 443, path: '/', hostHeader: 'example.com:443' }],
    ['ws://example.com:/a', false, { secure: false, host: 'example.com', port: 80, path: '/a', hostHeader: 'example.com' }],
    ['ws://192.168.1.10:8765/x', false, { secure: false, host: '192.168.1.10', port: 8765, path: '/x', hostHeader: '192.168.1.10:8765' }],
    ['ws://[::1]:9000/x', false, { secure: false, host: '::1', port: 9000, path: '/x', hostHeader: '[::1]:9000' }],
    ['ws://[2001:DB8::1]', false, { secure: false, host: '2001:db8::1', port: 80, path: '/', hostHeader: '[2001:db8::1]' }],
    ['ws://[::ffff:10.0.0.1]/', false, { secure: false, host: '::ffff:10.0.0.1', port: 80, path: '/', hostHeader: '[::ffff:10.0.0.1]' }],
    ['wss://example.com', true, { secure: true, host: 'example.com', port: 443, path: '/', hostHeader: 'example.com' }],
    ['Wss://example.com:443/s', true, { secure: true, host: 'example.com', port: 443, path: '/s', hostHeader: 'example.com' }],
    ['wss://example.com:80', true, { secure: true, host: 'example.com', port: 80, path: '/', hostHeader: 'example.com:80' }],
    ['ws://my_host-1.local/', false, { secure: false, host: 'my_host-1.local', port: 80, path: '/', hostHeader: 'my_host-1.local' }],
  ];
  it.each(accepted)('parses %s (tls %s)', (url, tls, expected) => {
    expect(parseWsUrl(url, { tls })).toEqual(expected);
  });

  const rejected: [string, RegExp][] = [
    ['http://example.com/', /the scheme is "http:", not ws: or wss:/],
    ['https://example.com/', /the scheme is "https:"/],
    ['example.com/chat', /does not start with ws:\/\/ or wss:\/\//],
    ['//example.com', /does not start with ws:\/\/ or wss:\/\//],
    ['', /does not start with ws:\/\/ or wss:\/\//],
    ['ws:example.com', /"\/\/" must follow "ws:"/],
    ['ws:/example.com', /"\/\/" must follow "ws:"/],
    ['ws://example.com/chat#top', /must not have a fragment \(RFC 6455 3\)/],
    ['ws://example.com#', /must not have a fragment/],
    ['ws://', /the host is missing/],
    ['ws:///chat', /the host is missing/],
    ['ws://:8080/', /the host is missing/],
    ['ws://[]/', /the host is missing/],
    ['ws://user:secret@example.com/', /user information/],
    ['ws://example.com:0/', /the port "0" is not a number from 1 to 65535/],
    ['ws://example.com:65536/', /the port "65536"/],
    ['ws://example.com:123456/', /the port "123456"/],
    ['ws://example.com:http/', /the port "http"/],
    ['ws://example.com:-1/', /the port "-1"/],
    ['ws://example.com:80:81/', /the port "80:81"/],
    ['ws://exa mple.com/', /the host "exa mple.com" is not a name/],
    ['ws://exämple.com/', /is not a name, an IPv4 address or a bracketed IPv6 address/],
    ['ws://[::1/', /is not a name/],
    ['ws://[::1]x/', /is not a name/],
    ['ws://[127.0.0.1]/', /the host "127.0.0.1" is not a name/],
    ['ws://[fe80::1%25eth0]/', /is not a name/],
    ['ws://::1/', /is not a name|the host is missing/],
    ['ws://example.com/a b', /the path contains a space/],
    ['ws://example.com/caf\u00e9', /non-ASCII character/],
    ['ws://example.com/a\r\nX-Injected: 1', /the path contains/],
    ['ws://example.com/\t', /the path contains/],
    ['wss://exa mple.com/', /the host "exa mple.com"/], // a syntax error is reported before the missing TLS
  ];
  it.each(rejected)('rejects %j as INVALID_URL', (url, message) => {
    const e = thrown(() => parseWsUrl(url, { tls: false }));
    expect(e.id).toBe('INVALID_URL');
    expect(e.message).toMatch(message);
    expect(e.detail).toEqual({ url });
  });

  it('refuses wss:// without TLS, saying Kaluma has none', () => {
    const e = thrown(() => parseWsUrl('wss://example.com/chat', { tls: false }));
    expect(e.id).toBe('TLS_UNAVAILABLE');
    expect(e.message).toMatch(/Kaluma has no TLS/);
    expect(e.closeCode).toBe(1015);
  });
});

const URL_PARTS = { hostHeader: 'server.example.com', path: '/chat' };

function handshake(extra: Partial<ClientHandshakeOptions> = {}): ClientHandshake {
  return new ClientHandshake({ url: URL_PARTS, key: KEY, ...extra });
}

describe('ClientHandshake.request', () => {
  it('writes the RFC 6455 4.1 request head', () => {
    const hs = handshake();
    expect(hs.key).toBe(KEY_B64);
    expect(hs.request()).toBe(
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        '\r\n',
    );
  });

  it('offers subprotocols in order and appends extra headers after the handshake headers', () => {
    const hs = handshake({
      url: parseWsUrl('ws://[::1]:9000/feed?since=3', { tls: false }),
      protocols: ['chat.v2', 'chat'],
      headers: { Origin: 'http://pico.local', 'X-Token': 'a b\tc' },
    });
    expect(hs.request()).toBe(
      'GET /feed?since=3 HTTP/1.1\r\n' +
        'Host: [::1]:9000\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat.v2, chat\r\n' +
        'Origin: http://pico.local\r\n' +
        'X-Token: a b\tc\r\n' +
        '\r\n',
    );
  });

  it('sends no Sec-WebSocket-Protocol for an empty list', () => {
    expect(handshake({ protocols: [] }).request()).not.toMatch(/Sec-WebSocket-Protocol/);
  });

  it('is ASCII only', () => {
    expect(handshake({ protocols: ['x'], headers: { A: '~' } }).request()).toMatch(/^[\x00-\x7f]*$/);
  });

  const refused: [string, Partial<ClientHandshakeOptions>, RegExp][] = [
    ['a 15-byte key', { key: new Uint8Array(15) }, /16 random bytes/],
    ['a 17-byte key', { key: new Uint8Array(17) }, /16 random bytes/],
    ['a subprotocol with a space', { protocols: ['chat v2'] }, /subprotocol "chat v2" is not an HTTP token/],
    ['an empty subprotocol', { protocols: [''] }, /subprotocol "" is not an HTTP token/],
    ['a subprotocol with a comma', { protocols: ['a,b'] }, /not an HTTP token/],
    ['a subprotocol with a separator', { protocols: ['chat/2'] }, /not an HTTP token/],
    ['a non-ASCII subprotocol', { protocols: ['caf\u00e9'] }, /not an HTTP token/],
    ['a subprotocol offered twice', { protocols: ['chat', 'x', 'chat'] }, /"chat" is offered twice/],
    ['a header name with a colon', { headers: { 'X:Y': '1' } }, /header name "X:Y" is not an HTTP token/],
    ['a header name with a space', { headers: { 'X Y': '1' } }, /not an HTTP token/],
    ['an empty header name', { headers: { '': '1' } }, /not an HTTP token/],
    ['a value with CR LF (header injection)', { headers: { 'X-A': '1\r\nHost: evil' } }, /"X-A" must be printable ASCII, without CR or LF/],
    ['a value with a bare LF', { headers: { 'X-A': '1\n2' } }, /without CR or LF/],
    ['a value with NUL', { headers: { 'X-A': '1\u00002' } }, /printable ASCII/],
    ['a non-ASCII value', { headers: { 'X-A': 'caf\u00e9' } }, /printable ASCII/],
    ['a value that is not a string', { headers: { 'X-A': 5 as unknown as string } }, /printable ASCII/],
    ['overriding Host', { headers: { host: 'elsewhere' } }, /the handshake sets "host" itself/],
    ['overriding Upgrade', { headers: { UPGRADE: 'h2c' } }, /sets "UPGRADE" itself/],
    ['overriding Connection', { headers: { Connection: 'close' } }, /itself/],
    ['overriding Sec-WebSocket-Key', { headers: { 'sec-websocket-key': KEY_B64 } }, /itself/],
    ['overriding Sec-WebSocket-Version', { headers: { 'Sec-WebSocket-Version': '8' } }, /itself/],
    ['overriding Sec-WebSocket-Protocol', { headers: { 'Sec-WebSocket-Protocol': 'chat' } }, /itself/],
    ['offering an extension', { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } }, /itself/],
    ['a path with CR LF', { url: { hostHeader: 'h', path: '/a\r\nX: y' } }, /not a valid Host and request target/],
    ['a path without the leading slash', { url: { hostHeader: 'h', path: 'chat' } }, /request target/],
    ['a Host with a space', { url: { hostHeader: 'a b', path: '/' } }, /request target/],
    ['a zero maxHeadBytes', { maxHeadBytes: 0 }, /maxHeadBytes/],
    ['a fractional maxHeadBytes', { maxHeadBytes: 10.5 }, /maxHeadBytes/],
  ];
  it.each(refused)('refuses %s', (_what, opts, message) => {
    const e = thrown(() => handshake(opts));
    expect(e.id).toBe('INVALID_HANDSHAKE_OPTIONS');
    expect(e.message).toMatch(message);
  });
});

const latin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const head = (lines: string[]) => lines.join('\r\n') + '\r\n\r\n';
const GOOD = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: ' + ACCEPT];
/** The 101 lines with `name`'s line dropped (null) or replaced. */
function good(changes: { [name: string]: string | null } = {}, extra: string[] = []): string[] {
  const lines = GOOD.filter((l) => !(l.split(':')[0] in changes));
  for (const name in changes) if (changes[name] !== null) lines.push(name + ': ' + changes[name]);
  return lines.concat(extra);
}
/** A text frame "hi" as a server sends it (unmasked). */
const FRAME = latin1('\x81\x02hi');

/** Feeds `text` (one byte per character) as a single chunk. */
function feed(hs: ClientHandshake, text: string): number {
  return hs.receive(latin1(text));
}

describe('ClientHandshake.receive: success', () => {
  it('accepts the RFC 6455 1.3 example response and returns the index past the head', () => {
    const hs = handshake();
    const text = head(GOOD);
    expect(feed(hs, text)).toBe(text.length);
    expect(hs.error).toBeNull();
    expect(hs.result).toEqual({
      protocol: '',
      extensions: '',
      headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT },
    });
  });

  it('reports the subprotocol the server chose among those offered', () => {
    const hs = handshake({ protocols: ['chat.v2', 'chat'] });
    feed(hs, head(good({ 'Sec-WebSocket-Protocol': 'chat' })));
    expect(hs.error).toBeNull();
    expect(hs.result!.protocol).toBe('chat');
  });

  it("reports '' when subprotocols were offered and the server chose none (RFC 6455 4.1 allows it)", () => {
    const hs = handshake({ protocols: ['chat'] });
    feed(hs, head(GOOD));
    expect(hs.result!.protocol).toBe('');
  });

  it('matches header names and the Upgrade and Connection values case-insensitively', () => {
    const hs = handshake();
    feed(hs, head(['HTTP/1.1 101 Switching Protocols', 'UPGRADE: WebSocket', 'connection: keep-alive, UPGRADE', 'sec-websocket-accept: ' + ACCEPT]));
    expect(hs.error).toBeNull();
    expect(hs.result!.headers.connection).toBe('keep-alive, UPGRADE');
  });

  it('accepts a status line without a reason phrase, and HTTP/1.0 on the status line', () => {
    for (const status of ['HTTP/1.1 101', 'HTTP/1.1 101 ', 'HTTP/1.0 101 Switching Protocols']) {
      const hs = handshake();
      feed(hs, head([status].concat(GOOD.slice(1))));
      expect(hs.error, status).toBeNull();
    }
  });

  it('trims optional whitespace around values and comma-joins repeated headers (RFC 7230 3.2.2)', () => {
    const hs = handshake();
    feed(hs, head(good({}, ['X-Seen:  a \t', 'x-seen:b', 'X-Empty:', 'Connection: keep-alive'])));
    expect(hs.error).toBeNull();
    expect(hs.result!.headers['x-seen']).toBe('a, b');
    expect(hs.result!.headers['x-empty']).toBe('');
    expect(hs.result!.headers.connection).toBe('Upgrade, keep-alive');
  });

  it('unfolds obs-fold continuation lines into one space (RFC 7230 3.2.4, user agents)', () => {
    const hs = handshake();
    feed(hs, head(good({}, ['X-Long: one', '   two', '\tthree'])));
    expect(hs.error).toBeNull();
    expect(hs.result!.headers['x-long']).toBe('one two three');
  });

  it('keeps header names like __proto__ and constructor as plain headers', () => {
    const hs = handshake();
    feed(hs, head(good({}, ['__proto__: x', 'constructor: y'])));
    expect(hs.error).toBeNull();
    expect(hs.result!.headers['__proto__']).toBe('x');
    expect(hs.result!.headers['constructor']).toBe('y');
  });

  it('keeps obs-text (0x80-0xFF) in values as latin1', () => {
    const hs = handshake();
    feed(hs, head(good({}, ['X-Name: caf\u00e9\u00a0'])));
    expect(hs.result!.headers['x-name']).toBe('caf\u00e9\u00a0');
  });

  it('returns the index of the frames that follow the head in the same chunk', () => {
    const hs = handshake();
    const text = head(GOOD);
    const chunk = new Uint8Array(text.length + FRAME.length);
    chunk.set(latin1(text));
    chunk.set(FRAME, text.length);
    const end = hs.receive(chunk);
    expect(end).toBe(text.length);
    expect(chunk.subarray(end)).toEqual(FRAME);
    expect(hs.result).not.toBeNull();
  });

  it('gives the same outcome for every split of the response into two chunks', () => {
    const bytes = latin1(head(good({ 'Sec-WebSocket-Protocol': 'chat' })) + '\x81\x02hi');
    const headLength = bytes.length - FRAME.length;
    for (let cut = 0; cut <= bytes.length; cut++) {
      const hs = handshake({ protocols: ['chat'] });
      const first = hs.receive(bytes.subarray(0, cut));
      if (cut < headLength) {
        expect(first, 'cut ' + cut).toBe(-1);
        const rest = bytes.subarray(cut);
        const end = hs.receive(rest);
        expect(end, 'cut ' + cut).toBe(headLength - cut);
        expect(rest.subarray(end)).toEqual(FRAME);
      } else {
        expect(first, 'cut ' + cut).toBe(headLength);
      }
      expect(hs.error).toBeNull();
      expect(hs.result!.protocol).toBe('chat');
    }
  });

  it('works fed one byte at a time', () => {
    const bytes = latin1(head(good({}, ['X-A: 1'])));
    const hs = handshake();
    for (let i = 0; i < bytes.length - 1; i++) expect(hs.receive(bytes.subarray(i, i + 1))).toBe(-1);
    expect(hs.receive(bytes.subarray(bytes.length - 1))).toBe(1);
    expect(hs.result!.headers['x-a']).toBe('1');
  });

  it('refuses to be fed after the outcome is known', () => {
    const hs = handshake();
    feed(hs, head(GOOD));
    const e = thrown(() => hs.receive(FRAME));
    expect(e.id).toBe('INTERNAL_ERROR');
  });
});

describe('ClientHandshake.receive: non-101 statuses (HANDSHAKE_STATUS)', () => {
  const DATE = 'Date: Wed, 21 Oct 2015 07:28:00 GMT';
  const cases: [string, string[], number, string, number | undefined][] = [
    ['401 with its challenge', ['HTTP/1.1 401 Unauthorized', 'WWW-Authenticate: Basic realm="pico"'], 401, 'Unauthorized', undefined],
    ['403', ['HTTP/1.1 403 Forbidden', 'Content-Length: 0'], 403, 'Forbidden', undefined],
    ['302 redirect', ['HTTP/1.1 302 Found', 'Location: ws://elsewhere/'], 302, 'Found', undefined],
    ['200 from a plain HTTP server', ['HTTP/1.1 200 OK', 'Content-Type: text/html'], 200, 'OK', undefined],
    ['404 without a reason phrase', ['HTTP/1.1 404'], 404, '', undefined],
    ['100 Continue', ['HTTP/1.1 100 Continue'], 100, 'Continue', undefined],
    ['503 with Retry-After in seconds', ['HTTP/1.1 503 Service Unavailable', 'Retry-After: 7'], 503, 'Service Unavailable', 7],
    ['429 with Retry-After 0', ['HTTP/1.1 429 Too Many Requests', 'Retry-After: 0'], 429, 'Too Many Requests', 0],
    ['503 with an HTTP-date and a Date header', ['HTTP/1.1 503 Busy', DATE, 'Retry-After: Wed, 21 Oct 2015 07:30:00 GMT'], 503, 'Busy', 120],
    ['429 with an HTTP-date across midnight and a month end', ['HTTP/1.1 429 Slow Down', 'Date: Sat, 31 Oct 2015 23:59:30 GMT', 'Retry-After: Sun, 01 Nov 2015 00:00:15 GMT'], 429, 'Slow Down', 45],
    ['503 with an HTTP-date already past', ['HTTP/1.1 503 Busy', DATE, 'Retry-After: Wed, 21 Oct 2015 07:00:00 GMT'], 503, 'Busy', 0],
    ['503 with an HTTP-date and no Date header', ['HTTP/1.1 503 Busy', 'Retry-After: Wed, 21 Oct 2015 07:30:00 GMT'], 503, 'Busy', undefined],
    ['503 with an RFC 850 date (not converted)', ['HTTP/1.1 503 Busy', 'Date: Wednesday, 21-Oct-15 07:28:00 GMT', 'Retry-After: Wednesday, 21-Oct-15 07:30:00 GMT'], 503, 'Busy', undefined],
    ['503 with a bad month', ['HTTP/1.1 503 Busy', DATE, 'Retry-After: Wed, 21 Xyz 2015 07:30:00 GMT'], 503, 'Busy', undefined],
    ['503 with a negative Retry-After', ['HTTP/1.1 503 Busy', 'Retry-After: -5'], 503, 'Busy', undefined],
    ['503 with a word for Retry-After', ['HTTP/1.1 503 Busy', 'Retry-After: soon'], 503, 'Busy', undefined],
    ['503 with Retry-After repeated', ['HTTP/1.1 503 Busy', 'Retry-After: 5', 'Retry-After: 6'], 503, 'Busy', undefined],
    ['401 with a malformed header line still reports 401', ['HTTP/1.1 401 Unauthorized', 'this is not a header', 'X-A: 1'], 401, 'Unauthorized', undefined],
  ];
  it.each(cases)('%s', (_what, lines, status, reason, retryAfter) => {
    const hs = handshake();
    const text = head(lines);
    // A body follows: it is not read, and the index points at it.
    const end = feed(hs, text + '<html>nope</html>');
    expect(end).toBe(text.length);
    expect(hs.result).toBeNull();
    const e = hs.error!;
    expect(e).toBeInstanceOf(PicowsError);
    expect(e.id).toBe('HANDSHAKE_STATUS');
    expect(e.closeCode).toBe(1006);
    expect(e.detail!.status).toBe(status);
    expect(e.detail!.reason).toBe(reason);
    expect(e.detail!.retryAfter).toBe(retryAfter);
    expect(e.message).toContain('HTTP ' + status);
  });

  it('carries the response headers in the detail', () => {
    const hs = handshake();
    feed(hs, head(['HTTP/1.1 401 Unauthorized', 'WWW-Authenticate: Basic realm="pico"', 'Retry-After: 3']));
    expect(hs.error!.detail!.headers).toEqual({ 'www-authenticate': 'Basic realm="pico"', 'retry-after': '3' });
    expect(hs.error!.message).toBe('the server answered the WebSocket upgrade with HTTP 401 Unauthorized, not 101');
  });
});

describe('ClientHandshake.receive: a 101 that breaks RFC 6455 4.1', () => {
  const cases: [string, string[], Partial<ClientHandshakeOptions>, string, { [k: string]: unknown }][] = [
    ['no Upgrade', good({ Upgrade: null }), {}, 'HANDSHAKE_UPGRADE', { upgrade: undefined }],
    ['Upgrade: h2c', good({ Upgrade: 'h2c' }), {}, 'HANDSHAKE_UPGRADE', { upgrade: 'h2c' }],
    ['Upgrade listing two protocols', good({ Upgrade: 'websocket, h2c' }), {}, 'HANDSHAKE_UPGRADE', { upgrade: 'websocket, h2c' }],
    ['Upgrade repeated', good({}, ['Upgrade: websocket']), {}, 'HANDSHAKE_UPGRADE', { upgrade: 'websocket, websocket' }],
    ['no Connection', good({ Connection: null }), {}, 'HANDSHAKE_CONNECTION', { connection: undefined }],
    ['Connection: keep-alive', good({ Connection: 'keep-alive' }), {}, 'HANDSHAKE_CONNECTION', { connection: 'keep-alive' }],
    ['Connection with "upgrade" inside a longer token', good({ Connection: 'upgraded, xupgrade' }), {}, 'HANDSHAKE_CONNECTION', { connection: 'upgraded, xupgrade' }],
    ['no Sec-WebSocket-Accept', good({ 'Sec-WebSocket-Accept': null }), {}, 'HANDSHAKE_ACCEPT', { accept: undefined }],
    ['a wrong Sec-WebSocket-Accept', good({ 'Sec-WebSocket-Accept': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }), {}, 'HANDSHAKE_ACCEPT', { accept: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }],
    ['Sec-WebSocket-Accept in the wrong case', good({ 'Sec-WebSocket-Accept': ACCEPT.toLowerCase() }), {}, 'HANDSHAKE_ACCEPT', { accept: ACCEPT.toLowerCase() }],
    ['Sec-WebSocket-Accept repeated', good({}, ['Sec-WebSocket-Accept: ' + ACCEPT]), {}, 'HANDSHAKE_ACCEPT', { accept: ACCEPT + ', ' + ACCEPT }],
    ['an extension we did not offer', good({ 'Sec-WebSocket-Extensions': 'permessage-deflate' }), {}, 'HANDSHAKE_EXTENSION', { extensions: 'permessage-deflate' }],
    ['an empty Sec-WebSocket-Extensions', good({ 'Sec-WebSocket-Extensions': '' }), {}, 'HANDSHAKE_EXTENSION', { extensions: '' }],
    ['a subprotocol when none was offered', good({ 'Sec-WebSocket-Protocol': 'chat' }), {}, 'HANDSHAKE_SUBPROTOCOL', { protocol: 'chat', offered: [] }],
    ['a subprotocol that was not offered', good({ 'Sec-WebSocket-Protocol': 'superchat' }), { protocols: ['chat'] }, 'HANDSHAKE_SUBPROTOCOL', { protocol: 'superchat', offered: ['chat'] }],
    ['a subprotocol in another case', good({ 'Sec-WebSocket-Protocol': 'Chat' }), { protocols: ['chat'] }, 'HANDSHAKE_SUBPROTOCOL', { protocol: 'Chat', offered: ['chat'] }],
    ['several subprotocols in one header', good({ 'Sec-WebSocket-Protocol': 'chat, v2' }), { protocols: ['chat', 'v2'] }, 'HANDSHAKE_SUBPROTOCOL', { protocol: 'chat, v2', offered: ['chat', 'v2'] }],
    ['several Sec-WebSocket-Protocol headers', good({ 'Sec-WebSocket-Protocol': 'chat' }, ['Sec-WebSocket-Protocol: chat']), { protocols: ['chat'] }, 'HANDSHAKE_SUBPROTOCOL', { protocol: 'chat, chat', offered: ['chat'] }],
  ];
  it.each(cases)('%s', (_what, lines, opts, id, detail) => {
    const hs = handshake(opts);
    const text = head(lines);
    expect(feed(hs, text)).toBe(text.length);
    expect(hs.result).toBeNull();
    expect(hs.error).toBeInstanceOf(PicowsError);
    expect(hs.error!.id).toBe(id);
    expect(hs.error!.detail).toEqual(detail);
  });
});

describe('ClientHandshake.receive: malformed responses (HANDSHAKE_BAD_RESPONSE)', () => {
  const lineCases: [string, string][] = [
    ['a status code with a letter', 'HTTP/1.1 1O1 Switching Protocols\r\n'],
    ['HTTP/2', 'HTTP/2 101 Switching Protocols\r\n'],
    ['HTTP/1.2', 'HTTP/1.2 101 Switching Protocols\r\n'],
    ['lowercase http', 'http/1.1 101 Switching Protocols\r\n'],
    ['an ICY status line', 'ICY 200 OK\r\n'],
    ['two spaces before the code', 'HTTP/1.1  101 Switching Protocols\r\n'],
    ['a four-digit code', 'HTTP/1.1 1010 Switching Protocols\r\n'],
    ['a code out of range', 'HTTP/1.1 601 Weird\r\n'],
    ['a control character in the reason', 'HTTP/1.1 101 Switching\x01Protocols\r\n'],
    ['an empty first line', '\r\n'],
  ];
  it.each(lineCases)('status line: %s', (_what, statusLine) => {
    const hs = handshake();
    const text = statusLine + GOOD.slice(1).join('\r\n') + '\r\n\r\n';
    const end = feed(hs, text);
    expect(hs.error!.id).toBe('HANDSHAKE_BAD_RESPONSE');
    expect(hs.error!.detail).toEqual({ line: statusLine.slice(0, -2) });
    expect(end).toBe(text.length);
  });

  it('rejects a head that is only the blank line', () => {
    const hs = handshake();
    expect(feed(hs, '\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n')).toBe(4);
    expect(hs.error!.id).toBe('HANDSHAKE_BAD_RESPONSE');
  });

  const headerCases: [string, string][] = [
    ['a line without a colon', 'Upgrade websocket'],
    ['whitespace between name and colon', 'X-A : 1'],
    ['an empty name', ': 1'],
    ['a name with a separator', 'X(A): 1'],
    ['NUL in a value', 'X-A: 1\x002'],
    ['DEL in a value', 'X-A: 1\x7f'],
    ['a non-ASCII name', 'X-\u00e9: 1'],
  ];
  it.each(headerCases)('header line: %s', (_what, line) => {
    const hs = handshake();
    feed(hs, head(good({}, [line])));
    expect(hs.result).toBeNull();
    expect(hs.error!.id).toBe('HANDSHAKE_BAD_RESPONSE');
    expect(hs.error!.detail).toEqual({ line });
  });

  it('rejects a continuation line with no header before it', () => {
    const hs = handshake();
    feed(hs, head([GOOD[0], ' folded'].concat(GOOD.slice(1))));
    expect(hs.error!.id).toBe('HANDSHAKE_BAD_RESPONSE');
  });

  it('fails at a bare LF (strict CRLF), without waiting for the rest of the head', () => {
    const hs = handshake();
    const text = 'HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n';
    expect(feed(hs, text)).toBe('HTTP/1.1 101 Switching Protocols\n'.length);
    expect(hs.error!.id).toBe('HANDSHAKE_BAD_RESPONSE');
    expect(hs.error!.detail).toEqual({ offset: 32, reason: 'LF without CR' });
  });

  it('fails at a CR that is not followed by LF, even across chunks', () => {
    const hs = handshake();
    expect(feed(hs, 'HTTP/1.1 101 OK\r')).toBe(-1);
    expect(feed(hs, 'Upgrade: websocket')).toBe(1);
    expect(hs.error!.detail).toEqual({ offset: 16, reason: 'CR not followed by LF' });
  });

  it('fails at CR CR', () => {
    const hs = handshake();
    expect(feed(hs, 'HTTP/1.1 101 OK\r\n\r\r\n')).toBe(19);
    expect(hs.error!.id).toBe('HANDSHAKE_BAD_RESPONSE');
  });

  it('fails on a binary reply at its first stray LF', () => {
    const hs = handshake();
    expect(hs.receive(new Uint8Array([0x16, 0x03, 0x01, 0x0a, 0x00]))).toBe(4);
    expect(hs.error!.id).toBe('HANDSHAKE_BAD_RESPONSE');
  });
});

describe('ClientHandshake.receive: the head-size limit (HANDSHAKE_TOO_LARGE)', () => {
  it('defaults to 4096 bytes', () => {
    expect(DEFAULT_MAX_HEAD_BYTES).toBe(4096);
    const hs = handshake();
    const filler = 'X-Pad: ' + 'a'.repeat(5000) + '\r\n';
    expect(feed(hs, 'HTTP/1.1 101 Switching Protocols\r\n' + filler)).toBe(4097);
    expect(hs.error!.id).toBe('HANDSHAKE_TOO_LARGE');
    expect(hs.error!.detail).toEqual({ limit: 4096 });
  });

  it('fails at the first byte beyond the limit of a head that never ends, fed byte by byte', () => {
    const hs = handshake({ maxHeadBytes: 100 });
    const start = latin1('HTTP/1.1 101 Switching Protocols\r\nX-Forever: ');
    const byte = new Uint8Array(1);
    for (let i = 0; i < 100; i++) {
      byte[0] = i < start.length ? start[i] : 0x61;
      expect(hs.receive(byte)).toBe(-1);
    }
    byte[0] = 0x61;
    expect(hs.receive(byte)).toBe(1);
    expect(hs.error!.id).toBe('HANDSHAKE_TOO_LARGE');
    expect(hs.result).toBeNull();
  });

  it('fails in the middle of a chunk, returning the index past the byte that broke the limit', () => {
    const hs = handshake({ maxHeadBytes: 50 });
    expect(feed(hs, 'HTTP/1.1 101 Switching Protocols\r\n')).toBe(-1); // 34 bytes
    expect(feed(hs, 'X-Forever: ' + 'b'.repeat(100))).toBe(17);
    expect(hs.error!.id).toBe('HANDSHAKE_TOO_LARGE');
  });

  it('accepts a head of exactly the limit, blank line included, and refuses one byte more', () => {
    const text = head(GOOD);
    const exact = handshake({ maxHeadBytes: text.length });
    expect(feed(exact, text + '\x81\x00')).toBe(text.length);
    expect(exact.error).toBeNull();
    const short = handshake({ maxHeadBytes: text.length - 1 });
    expect(feed(short, text)).toBe(text.length);
    expect(short.error!.id).toBe('HANDSHAKE_TOO_LARGE');
  });
});
