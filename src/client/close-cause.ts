/**
 * Why a connection ended, from this side's point of view. `code` and `wasClean`
 * say what the wire said; `cause` says what happened locally, so a 401 or a dead
 * Wi-Fi link never hides behind a bare 1006 (ws#1034, RWS#126, phoenix#5155).
 */
export type CloseCause =
  /** The server sent a Close frame first. */
  | 'peer-closed'
  /** The application called close(). */
  | 'local-close'
  /** The server broke RFC 6455 (1002, 1007, 1009): we sent a Close and ended TCP. */
  | 'protocol-error'
  /** TCP ended or failed without a Close frame (1006). */
  | 'transport-error'
  /** The server answered the upgrade with a non-101 status (see error.detail.status). */
  | 'handshake-rejected'
  /** The server's 101 response was wrong (Accept, Upgrade, subprotocol, size). */
  | 'handshake-failed'
  | 'connect-timeout'
  | 'handshake-timeout'
  /** Our Close got no answer in time. */
  | 'close-timeout'
  /** Nothing arrived, not even a pong, within the deadline: the link is dead. */
  | 'pong-timeout'
  /** The board reported the Wi-Fi link down. */
  | 'wifi-lost';

/** The cause a failure id implies when it ends a connection. */
export function causeOfError(id: string): CloseCause {
  if (id === 'HANDSHAKE_STATUS') return 'handshake-rejected';
  // handshake-timeout, connect-timeout, close-timeout, pong-timeout, wifi-lost: the id in lower case, '_' as '-'.
  if (/^(?:(?:HANDSHAKE|CONNECT|CLOSE|PONG)_TIMEOUT|WIFI_LOST)$/.test(id)) return id.toLowerCase().replace('_', '-') as CloseCause;
  if (/^(?:CONNECT(?:_FAILED|ION_LOST)|TRANSPORT_ERROR|TLS_UNAVAILABLE|INVALID_URL)$/.test(id)) return 'transport-error';
  return id.indexOf('HANDSHAKE_') === 0 ? 'handshake-failed' : 'protocol-error';
}
