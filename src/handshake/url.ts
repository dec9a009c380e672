/**
 * ws:// and wss:// URLs (RFC 6455 3), parsed by hand: Kaluma's url.URL is
 * minimal (no default ports, platform/kaluma.md §3), and a URL is parsed once per
 * connection, so a few regular expressions cost nothing that matters.
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

/** The device build (src/device.d.ts) leaves the English out: its message is the id. */
function invalid(url: string, what: string): PicowsError {
  return new PicowsError('INVALID_URL', { url }, PICOWS_DEVICE ? undefined : 'invalid WebSocket URL ' + JSON.stringify(url) + ': ' + what);
}

/**
 * Throws PicowsError INVALID_URL saying what is wrong, or TLS_UNAVAILABLE for a
 * well-formed wss:// URL when `opts.tls` is false (Kaluma has no TLS).
 */
export function parseWsUrl(url: string, opts: { tls: boolean }): WsUrl {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!scheme) throw invalid(url, PICOWS_DEVICE ? '' : 'it does not start with ws:// or wss://');
  const name = scheme[1].toLowerCase();
  if (name !== 'ws' && name !== 'wss') throw invalid(url, PICOWS_DEVICE ? '' : 'the scheme is "' + name + ':", not ws: or wss:');
  if (url.slice(name.length + 1, name.length + 3) !== '//') throw invalid(url, PICOWS_DEVICE ? '' : '"//" must follow "' + name + ':"');
  if (url.indexOf('#') >= 0) throw invalid(url, PICOWS_DEVICE ? '' : 'a WebSocket URL must not have a fragment (RFC 6455 3)');

  const secure = name === 'wss';
  const rest = url.slice(name.length + 3);
  let end = rest.search(/[\/?]/);
  if (end < 0) end = rest.length;
  const authority = rest.slice(0, end);
  const target = rest.slice(end);
  if (authority.indexOf('@') >= 0) throw invalid(url, PICOWS_DEVICE ? '' : 'user information ("user@") is not supported');

  // host [ ":" port ], the host in brackets when it is an IPv6 literal
  const parts = /^(?:\[([^\]]*)\]|([^:]*))(?::(.*))?$/.exec(authority);
  if (!parts) throw invalid(url, PICOWS_DEVICE ? '' : 'the host is not a name, an IPv4 address or a bracketed IPv6 address');
  const ipv6 = parts[1];
  let host = ipv6 !== undefined ? ipv6 : parts[2];
  if (host === '') throw invalid(url, PICOWS_DEVICE ? '' : 'the host is missing');
  if (ipv6 !== undefined ? !/^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/.test(host) : !/^[a-zA-Z0-9._-]+$/.test(host)) {
    throw invalid(url, PICOWS_DEVICE ? '' : 'the host "' + host + '" is not a name, an IPv4 address or a bracketed IPv6 address');
  }
  host = host.toLowerCase();

  const defaultPort = secure ? 443 : 80;
  let port = defaultPort;
  const portText = parts[3];
  // An empty port ("ws://host:/") means the default (RFC 3986 3.2.3).
  if (portText) {
    port = /^\d{1,5}$/.test(portText) ? +portText : 0;
    if (port < 1 || port > 65535) throw invalid(url, PICOWS_DEVICE ? '' : 'the port "' + portText + '" is not a number from 1 to 65535');
  }

  // The target goes into the request line verbatim: visible ASCII only.
  if (!/^[!-~]*$/.test(target)) {
    throw invalid(url, PICOWS_DEVICE ? '' : 'the path contains a space, a control or a non-ASCII character (percent-encode it)');
  }
  const path = target === '' ? '/' : target.charAt(0) === '?' ? '/' + target : target;

  if (secure && !opts.tls) throw new PicowsError('TLS_UNAVAILABLE', { url });
  return {
    secure,
    host,
    port,
    path,
    hostHeader: (ipv6 !== undefined ? '[' + host + ']' : host) + (port !== defaultPort ? ':' + port : ''),
  };
}
