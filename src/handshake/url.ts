/**
 * ws:// and wss:// URLs (RFC 6455 3), parsed by hand: Kaluma's url.URL is
 * minimal (no default ports, platform/kaluma.md §3), and a URL is parsed once per
 * connection.
 *
 *   ws-URI  = "ws:"  "//" host [ ":" port ] path [ "?" query ]
 *   wss-URI = "wss:" "//" host [ ":" port ] path [ "?" query ]
 *
 * Stricter than a browser on purpose: no user information, no fragment (RFC 6455 3
 * forbids it), no characters that would have to be percent-encoded (the path
 * goes into the request line as is), no internationalised host names.
 */
import { PicowsError } from '../errors';

export interface WsUrl {
  /** wss:// */
  readonly secure: boolean;
  /** What to connect to: a DNS name or IPv4 address (lowercased), or an IPv6 address without its brackets. */
  readonly host: string;
  readonly port: number;
  /** The request target: path and query, '/' when the URL has no path. */
  readonly path: string;
  /** The Host header's value (RFC 7230 5.4): the host, in brackets if IPv6, with ':port' only when it is not the scheme's default. */
  readonly hostHeader: string;
}

/**
 * The whole URL in one expression (one compiled regex in the device heap instead of
 * seven, and no step-by-step code): 1 the scheme, any case; 2 an IPv6 host (hex
 * digits, '.' and at least one ':', in brackets) or 3 a name or IPv4 address
 * (letters, digits, '.', '_', '-'); 4 the port, up to 5 digits ("ws://host:/" has an
 * empty one, which means the default: RFC 3986 3.2.3); 5 the request target, from the
 * first '/' or '?': visible ASCII except '#'. A '#' anywhere (a fragment) or an '@'
 * before the target (user information) cannot match. No i flag: a case-insensitive
 * class could let a non-ASCII letter through on an engine that folds it to ASCII.
 * whatIsWrong() below says which rule a rejected URL broke, on the host.
 */
const WS_URL = /^([wW][sS]{1,2}):\/\/(?:\[([\da-fA-F:.]*:[\da-fA-F:.]*)\]|([a-zA-Z\d._-]+))(?::(\d{0,5}))?([\/?][!"$-~]*)?$/;

/**
 * Throws PicowsError INVALID_URL saying what is wrong, or TLS_UNAVAILABLE for a
 * well-formed wss:// URL when `opts.tls` is false (Kaluma has no TLS).
 */
export function parseWsUrl(url: string, opts: { tls: boolean }): WsUrl {
  const m = WS_URL.exec(url);
  const secure = !!m && m[1].length > 2;
  const defaultPort = secure ? 443 : 80;
  const port = m && m[4] ? +m[4] : defaultPort;
  if (!m || port < 1 || port > 65535) {
    // The device build (src/device.d.ts) leaves the English out: its message is the id.
    throw new PicowsError('INVALID_URL', { url }, PICOWS_DEVICE ? '' : 'invalid WebSocket URL ' + JSON.stringify(url) + ': ' + whatIsWrong(url));
  }
  if (secure && !opts.tls) throw new PicowsError('TLS_UNAVAILABLE', { url });
  const ipv6 = m[2];
  const host = (ipv6 || m[3]).toLowerCase();
  const target = m[5] || '/';
  return {
    secure,
    host,
    port,
    path: target[0] === '?' ? '/' + target : target,
    hostHeader: (ipv6 ? '[' + host + ']' : host) + (port !== defaultPort ? ':' + port : ''),
  };
}

/**
 * Host only (dropped from the device build): the first rule that `url`, rejected by
 * WS_URL or for its port, breaks, checked part by part in the order a person reads
 * the URL. test/url-differential.test.ts holds it and WS_URL to the same verdicts.
 */
export function whatIsWrong(url: string): string {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!scheme) return 'it does not start with ws:// or wss://';
  const name = scheme[1].toLowerCase();
  if (name !== 'ws' && name !== 'wss') return 'the scheme is "' + name + ':", not ws: or wss:';
  if (url.slice(name.length + 1, name.length + 3) !== '//') return '"//" must follow "' + name + ':"';
  if (url.indexOf('#') >= 0) return 'a WebSocket URL must not have a fragment (RFC 6455 3)';

  const rest = url.slice(name.length + 3);
  let end = rest.search(/[\/?]/);
  if (end < 0) end = rest.length;
  const authority = rest.slice(0, end);
  if (authority.indexOf('@') >= 0) return 'user information ("user@") is not supported';

  // host [ ":" port ], the host in brackets when it is an IPv6 literal
  const parts = /^(?:\[([^\]]*)\]|([^:]*))(?::(.*))?$/.exec(authority);
  const bad = 'is not a name, an IPv4 address or a bracketed IPv6 address';
  if (!parts) return 'the host ' + bad;
  const ipv6 = parts[1];
  const host = ipv6 !== undefined ? ipv6 : parts[2];
  if (host === '') return 'the host is missing';
  if (ipv6 !== undefined ? !/^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/.test(host) : !/^[a-zA-Z0-9._-]+$/.test(host)) {
    return 'the host "' + host + '" ' + bad;
  }
  const portText = parts[3];
  if (portText && !(/^\d{1,5}$/.test(portText) && +portText >= 1 && +portText <= 65535)) {
    return 'the port "' + portText + '" is not a number from 1 to 65535';
  }
  // The target goes into the request line verbatim: visible ASCII only.
  return 'the path contains a space, a control or a non-ASCII character (percent-encode it)';
}
