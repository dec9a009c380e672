/**
 * Close codes that may appear in a Close frame, sent or received (RFC 6455 7.4, IANA
 * registry): 1005, 1006 and 1015 never do. One rule for the core (what the server may
 * send) and the client (what it may send, src/errors.ts re-exports it as
 * isSendableCloseCode); it lives in core/ so the core needs nothing outside it.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
