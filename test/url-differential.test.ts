/**
 * parseWsUrl() is one regular expression (src/handshake/url.ts), with whatIsWrong()
 * naming the broken rule on the host. This holds both to the step-by-step parser they
 * replaced (kept below verbatim as the reference): the same WsUrl, or the same error
 * id, message and detail, for hand-picked and generated URLs, on the host build and
 * on the device build (no English there: the message is the id).
 */
import { describe, expect, it } from 'vitest';
import { PicowsError } from '../src/errors';
import { parseWsUrl } from '../src/handshake/url';
import { deviceModule } from './helpers/device-module';

function invalid(url: string, what: string): PicowsError {
  return new PicowsError('INVALID_URL', { url }, 'invalid WebSocket URL ' + JSON.stringify(url) + ': ' + what);
}

/** The parser before the rewrite, host build (as of commit f558620). */
function referenceParse(url: string, opts: { tls: boolean }) {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!scheme) throw invalid(url, 'it does not start with ws:// or wss://');
  const name = scheme[1].toLowerCase();
  if (name !== 'ws' && name !== 'wss') throw invalid(url, 'the scheme is "' + name + ':", not ws: or wss:');
  if (url.slice(name.length + 1, name.length + 3) !== '//') throw invalid(url, '"//" must follow "' + name + ':"');
  if (url.indexOf('#') >= 0) throw invalid(url, 'a WebSocket URL must not have a fragment (RFC 6455 3)');
  const secure = name === 'wss';
  const rest = url.slice(name.length + 3);
  let end = rest.search(/[\/?]/);
  if (end < 0) end = rest.length;
  const authority = rest.slice(0, end);
  const target = rest.slice(end);
  if (authority.indexOf('@') >= 0) throw invalid(url, 'user information ("user@") is not supported');
  const parts = /^(?:\[([^\]]*)\]|([^:]*))(?::(.*))?$/.exec(authority);
  if (!parts) throw invalid(url, 'the host is not a name, an IPv4 address or a bracketed IPv6 address');
  const ipv6 = parts[1];
  let host = ipv6 !== undefined ? ipv6 : parts[2];
  if (host === '') throw invalid(url, 'the host is missing');
  if (ipv6 !== undefined ? !/^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/.test(host) : !/^[a-zA-Z0-9._-]+$/.test(host)) {
    throw invalid(url, 'the host "' + host + '" is not a name, an IPv4 address or a bracketed IPv6 address');
  }
  host = host.toLowerCase();
  const defaultPort = secure ? 443 : 80;
  let port = defaultPort;
  const portText = parts[3];
  if (portText) {
    port = /^\d{1,5}$/.test(portText) ? +portText : 0;
    if (port < 1 || port > 65535) throw invalid(url, 'the port "' + portText + '" is not a number from 1 to 65535');
  }
  if (!/^[!-~]*$/.test(target)) {
    throw invalid(url, 'the path contains a space, a control or a non-ASCII character (percent-encode it)');
  }
  const path = target === '' ? '/' : target.charAt(0) === '?' ? '/' + target : target;
  if (secure && !opts.tls) throw new PicowsError('TLS_UNAVAILABLE', { url });
  return { secure, host, port, path, hostHeader: (ipv6 !== undefined ? '[' + host + ']' : host) + (port !== defaultPort ? ':' + port : '') };
}

type Parse = (url: string, opts: { tls: boolean }) => unknown;

function outcome(parse: Parse, url: string, tls: boolean, device: boolean): unknown {
  try {
    return { ok: parse(url, { tls }) };
  } catch (e) {
    const err = e as PicowsError;
    // The device build's message is the id (src/device.d.ts).
    return { id: err.id, message: device ? err.id : err.message, detail: err.detail, closeCode: err.closeCode };
  }
}

/** Pieces that sit near every rule's edge, glued at random (a fixed seed: the same URLs every run). */
const PIECES = [
  'ws', 'wss', 'WS', 'wSs', 'wsss', 'http', 'w', 's', ':', '//', '/', '?', '#', '@', '[', ']', '::', '::1', 'fe80::A', '.', '-', '_', '+',
  'example.com', 'EXAMPLE', 'h', '1', '0', '80', '443', '8080', '65535', '65536', '00080', '000000', '123456', ' ', '\t', '\r', '\n', '%20',
  '\u00e9', '\u0131', '\u017f', '\u212a', '\u2028', '"', '$', '~', '\x7f', '\x00', 'a b', 'x', '127.0.0.1',
];

function generated(count: number): string[] {
  let seed = 0x2545f491;
  const next = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const heads = ['ws://', 'wss://', 'WS://', 'Wss://', 'ws:', 'ws:/', 'wss:///', ''];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let u = heads[next(heads.length)];
    const k = 1 + next(7);
    for (let j = 0; j < k; j++) u += PIECES[next(PIECES.length)];
    out.push(u);
  }
  return out;
}

const HAND_PICKED = [
  'ws://example.com', 'ws://example.com:/a', 'ws://example.com:0/', 'ws://example.com:00000', 'ws://example.com:00080/x', 'ws://example.com:65535',
  'ws://example.com:65536', 'ws://example.com:123456', 'ws://[::1]', 'ws://[::1]:', 'ws://[::1]:9000?q', 'ws://[::1]x/', 'ws://[]/', 'ws://[:]/',
  'ws://[127.0.0.1]/', 'ws://[a]b]/', 'ws://a:b:c/', 'ws://a:\n/', 'ws://ab\ncd/', 'ws://h/\u2028', 'ws://h?#', 'ws://h/@x', 'ws://u@h/',
  'ws://h:80@x/', 'WSS://H', 'wss://h:443', 'wss://h:80', 'ws://h?', 'ws://h/"$~!', 'ws://h/\x7f', 'ws://\u0131/', 'ws://\u017f/', 'ws://\u212a/',
  'ws://h_1.-/', 'ws://.', 'ws://-', 'ws+x://h', 'ws://h\n', 'ws://h/\n', 'ws:///', 'ws://?', 'ws://:', 'ws://:80', 'wss://[::FFFF:1.2.3.4]:1/',
];

describe('parseWsUrl agrees with the step-by-step parser it replaced', () => {
  const urls = HAND_PICKED.concat(generated(20000));

  it('host build: the same result, or the same error and message', () => {
    let accepted = 0;
    for (const url of urls) {
      for (const tls of [false, true]) {
        const want = outcome(referenceParse, url, tls, false);
        expect(outcome(parseWsUrl, url, tls, false), JSON.stringify(url)).toEqual(want);
        if ((want as { ok?: unknown }).ok) accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(1000); // the generator reaches valid URLs too
  });

  it('device build: the same result, or the same error id and detail', async () => {
    const dev = await deviceModule<{ parseWsUrl: Parse }>('src/handshake/url.ts');
    for (const url of urls) {
      for (const tls of [false, true]) {
        expect(outcome(dev.parseWsUrl, url, tls, true), JSON.stringify(url)).toEqual(outcome(referenceParse, url, tls, true));
      }
    }
  });
});
