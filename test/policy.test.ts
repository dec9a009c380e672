import { describe, expect, it } from 'vitest';
import type { CloseCause } from '../src/client/close-cause';
import { PicowsError } from '../src/errors';
import { type Ending, Policy, type PolicyClass, type PolicyOptions } from '../src/resilience/policy';

const end = (cause: CloseCause, code = 1006, id?: string, detail?: { [k: string]: unknown }): Ending => ({
  cause,
  code,
  error: id ? new PicowsError(id, detail) : null,
});
const http = (status: number, retryAfter?: number) =>
  end('handshake-rejected', 1006, 'HANDSHAKE_STATUS', retryAfter === undefined ? { status } : { status, retryAfter });

// The default table in src/resilience/policy.ts, one row per line: [name, ending, class, action, multiplier].
const ROWS: [string, Ending, PolicyClass, 'retry' | 'stop', number][] = [
  ['connect-timeout', end('connect-timeout', 1006, 'CONNECT_TIMEOUT'), 'transient', 'retry', 1],
  ['handshake-timeout', end('handshake-timeout', 1006, 'HANDSHAKE_TIMEOUT'), 'transient', 'retry', 1],
  ['close-timeout', end('close-timeout', 1006, 'CLOSE_TIMEOUT'), 'transient', 'retry', 1],
  ['pong-timeout', end('pong-timeout', 1006, 'PONG_TIMEOUT'), 'transient', 'retry', 1],
  ['transport-error 1006', end('transport-error', 1006, 'CONNECTION_LOST'), 'transient', 'retry', 1],
  ['transport-error, refused', end('transport-error', 1006, 'CONNECT_FAILED'), 'transient', 'retry', 1],
  ['wifi-lost', end('wifi-lost', 1006, 'WIFI_LOST'), 'transient', 'retry', 1],
  ['peer 1001 going away', end('peer-closed', 1001), 'transient', 'retry', 1],
  ['peer 1011 server error', end('peer-closed', 1011), 'transient', 'retry', 1],
  ['peer 1012 service restart', end('peer-closed', 1012), 'transient', 'retry', 1],
  ['peer 1014 bad gateway', end('peer-closed', 1014), 'transient', 'retry', 1],
  ['peer 3008 timeout', end('peer-closed', 3008), 'transient', 'retry', 1],
  ['our own 1011 internal error', end('protocol-error', 1011, 'INTERNAL_ERROR'), 'transient', 'retry', 1],
  ['peer 1013 try again later', end('peer-closed', 1013), 'try-later', 'retry', 4],
  ['HTTP 503', http(503), 'try-later', 'retry', 4],
  ['HTTP 429', http(429), 'try-later', 'retry', 4],
  ['HTTP 502 (other 5xx)', http(502), 'try-later', 'retry', 4],
  ['protocol-error 1002', end('protocol-error', 1002, 'RESERVED_OPCODE'), 'broken-peer', 'retry', 16],
  ['protocol-error 1007', end('protocol-error', 1007, 'INVALID_UTF8'), 'broken-peer', 'retry', 16],
  ['protocol-error 1009', end('protocol-error', 1009, 'MESSAGE_TOO_BIG'), 'broken-peer', 'retry', 16],
  ['peer 1002', end('peer-closed', 1002), 'broken-peer', 'retry', 16],
  ['peer 1003 unsupported data', end('peer-closed', 1003), 'broken-peer', 'retry', 16],
  ['peer 1007', end('peer-closed', 1007), 'broken-peer', 'retry', 16],
  ['peer 1009', end('peer-closed', 1009), 'broken-peer', 'retry', 16],
  ['peer 1010', end('peer-closed', 1010), 'broken-peer', 'retry', 16],
  ['handshake-failed: Accept mismatch', end('handshake-failed', 1006, 'HANDSHAKE_ACCEPT'), 'broken-peer', 'retry', 16],
  ['handshake-failed: head too large', end('handshake-failed', 1006, 'HANDSHAKE_TOO_LARGE'), 'broken-peer', 'retry', 16],
  ['HTTP 404 (other 4xx)', http(404), 'broken-peer', 'retry', 16],
  ['HTTP 301 (3xx)', http(301), 'broken-peer', 'retry', 16],
  ['peer 1008 policy violation', end('peer-closed', 1008), 'rejected', 'stop', 16],
  ['peer 3000 unauthorized', end('peer-closed', 3000), 'rejected', 'stop', 16],
  ['peer 3003 forbidden', end('peer-closed', 3003), 'rejected', 'stop', 16],
  ['HTTP 401', http(401), 'rejected', 'stop', 16],
  ['HTTP 403', http(403), 'rejected', 'stop', 16],
  ['HTTP 407', http(407), 'rejected', 'stop', 16],
  ['INVALID_URL', end('transport-error', 1006, 'INVALID_URL'), 'rejected', 'stop', 16],
  ['TLS_UNAVAILABLE', end('transport-error', 1015, 'TLS_UNAVAILABLE'), 'rejected', 'stop', 16],
  ['peer 1000 normal', end('peer-closed', 1000), 'server-normal', 'retry', 1],
  ['peer 1005 no status', end('peer-closed', 1005), 'server-normal', 'retry', 1],
  ['peer 4321 application code', end('peer-closed', 4321), 'server-normal', 'retry', 1],
  ["the user's close()", end('local-close', 1000), 'user', 'stop', 1],
];

describe('the default policy table', () => {
  for (const [name, ending, cls, action, harder] of ROWS) {
    it(`${name} → ${cls}, ${action}`, () => {
      const d = new Policy().decide(ending);
      expect(d.class).toBe(cls);
      expect(d.action).toBe(action);
      expect(d.harder).toBe(harder);
      expect(d.tripped).toBeUndefined();
    });
  }
});

describe('Policy', () => {
  it('honours Retry-After in ms, capped', () => {
    const p = new Policy({ maxRetryAfterMs: 600000 });
    expect(p.decide(http(503, 30)).delayMs).toBe(30000);
    expect(p.decide(http(429, 86400)).delayMs).toBe(600000);
    expect(p.decide(http(503)).delayMs).toBeUndefined();
  });

  it('says why in the reason', () => {
    const p = new Policy();
    expect(p.decide(http(503)).reason).toBe('handshake-rejected http 503 HANDSHAKE_STATUS');
    expect(p.decide(end('peer-closed', 1013)).reason).toBe('peer-closed 1013');
  });

  it('trips the circuit breaker after N broken-peer endings in a row, and records why', () => {
    const p = new Policy({ breakerAfter: 3, now: () => 42 });
    const bad = end('protocol-error', 1002, 'MASKED_FRAME', { offset: 1, bytes: [0x81, 0x85] });
    expect(p.decide(bad).action).toBe('retry');
    expect(p.decide(end('pong-timeout', 1006, 'PONG_TIMEOUT')).action).toBe('retry'); // not healthy: still in a row
    expect(p.decide(bad).action).toBe('retry');
    const d = p.decide(bad);
    expect(d.action).toBe('stop');
    expect(d.tripped).toBe(true);
    expect(d.reason).toContain('circuit breaker');
    const diag = p.diagnostics();
    expect(diag).toHaveLength(3);
    expect(diag[2]).toMatchObject({ at: 42, class: 'broken-peer', code: 1002, id: 'MASKED_FRAME', detail: { bytes: [0x81, 0x85] } });
  });

  it('a healthy connection resets the breaker', () => {
    const p = new Policy({ breakerAfter: 2 });
    const bad = end('handshake-failed', 1006, 'HANDSHAKE_ACCEPT');
    expect(p.decide(bad).action).toBe('retry');
    p.healthy();
    expect(p.decide(bad).action).toBe('retry');
    expect(p.decide(bad).action).toBe('stop');
  });

  it('keeps diagnostics in a bounded ring, newest last', () => {
    const p = new Policy({ diagnostics: 4, breakerAfter: 1000 });
    for (let i = 0; i < 10; i++) p.decide(http(400 + i));
    const diag = p.diagnostics();
    expect(diag).toHaveLength(4);
    expect(diag.map((d) => (d.detail as { status: number }).status)).toEqual([406, 407, 408, 409]);
    expect(new Policy({ diagnostics: 0 }).decide(http(401)).action).toBe('stop');
  });

  it('does not record transient endings', () => {
    const p = new Policy();
    p.decide(end('wifi-lost', 1006, 'WIFI_LOST'));
    p.decide(end('peer-closed', 1000));
    expect(p.diagnostics()).toEqual([]);
  });

  it('overrides by close code', () => {
    const p = new Policy({ overrides: { '1008': 'transient' } });
    expect(p.decide(end('peer-closed', 1008))).toMatchObject({ class: 'transient', action: 'retry', harder: 1 });
  });

  it('overrides by HTTP status, with a partial decision', () => {
    const p = new Policy({ overrides: { 'http:401': { action: 'retry', harder: 8 } } });
    expect(p.decide(http(401))).toMatchObject({ class: 'rejected', action: 'retry', harder: 8 });
    expect(p.decide(http(403)).action).toBe('stop');
  });

  it('overrides by cause and by error id, the error id first', () => {
    const p = new Policy({ overrides: { 'handshake-failed': 'transient', HANDSHAKE_ACCEPT: { action: 'stop' } } });
    expect(p.decide(end('handshake-failed', 1006, 'HANDSHAKE_UPGRADE')).class).toBe('transient');
    expect(p.decide(end('handshake-failed', 1006, 'HANDSHAKE_ACCEPT'))).toMatchObject({ class: 'broken-peer', action: 'stop' });
  });

  it('refuses a class name the table does not have, at once and saying which', () => {
    // A typo would otherwise quietly decide some default at the first ending it matched.
    expect(() => new Policy({ overrides: { '1011': 'transiant' as PolicyClass } })).toThrow(/overrides\["1011"\] names the class "transiant"; the classes are transient, try-later/);
    expect(() => new Policy({ overrides: { 'http:503': { class: 'later' as PolicyClass, delayMs: 5 } } })).toThrow(TypeError);
    expect(() => new Policy({ classes: { brokenpeer: { harder: 2 } } as PolicyOptions['classes'] })).toThrow(/classes\["brokenpeer"\] names the class "brokenpeer"/);
    // Partial overrides without a class, and every real class, are fine.
    expect(() => new Policy({ overrides: { '1011': { delayMs: 5 }, '1013': 'try-later' }, classes: { user: { action: 'retry' } } })).not.toThrow();
  });

  it('lets a class be reconfigured', () => {
    const p = new Policy({ classes: { rejected: { action: 'retry' }, 'try-later': { harder: 10 } } });
    expect(p.decide(http(401)).action).toBe('retry');
    expect(p.decide(end('peer-closed', 1013)).harder).toBe(10);
  });

  it('gives a decide() function the last word', () => {
    const p = new Policy({ decide: (e, d) => (e.code === 4000 ? { ...d, action: 'stop', reason: 'app said so' } : d) });
    expect(p.decide(end('peer-closed', 4000))).toMatchObject({ action: 'stop', reason: 'app said so' });
    expect(p.decide(end('peer-closed', 4001)).action).toBe('retry');
  });
});
