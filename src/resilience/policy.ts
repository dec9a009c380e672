/**
 * The reconnect policy: every way a connection can end → retry or stop, and how hard
 * to back off. Nobody else maps 1013 or tells a 401 from a dead link (anchors §3–4):
 * a client that retries a rejected token forever (RWS#126, phoenix#5155) or hammers a
 * broken proxy is a bad citizen; one that gives up on a server restart is useless.
 *
 * ## Default policy
 *
 * | ending (cause, close code or HTTP status)                                   | class         | action | backoff ×
 * |------------------------------------------------------------------------------|---------------|--------|----------
 * | connect-timeout, handshake-timeout, close-timeout, pong-timeout              | transient     | retry  | 1
 * | transport-error (1006), wifi-lost                                            | transient     | retry  | 1
 * | peer closed 1001 going away, 1011 server error, 1012 restart, 1014 bad gateway, 3008 timeout | transient | retry | 1
 * | protocol-error with any code but 1002/1007/1009 (our own 1011)               | transient     | retry  | 1
 * | peer closed 1013 try again later; HTTP 429, 503 and every other 5xx          | try-later     | retry  | 4, not before Retry-After (≤ 1 h) + jitter
 * | protocol-error or peer closed 1002, 1003, 1007, 1009, 1010                   | broken-peer   | retry  | 16; stop after 5 in a row
 * | handshake-failed (Accept, Upgrade, subprotocol mismatch; head too large)     | broken-peer   | retry  | 16; stop after 5 in a row
 * | HTTP 3xx and 4xx other than 401, 403, 407, 429                               | broken-peer   | retry  | 16; stop after 5 in a row
 * | peer closed 1008 policy violation, 3000 unauthorized, 3003 forbidden         | rejected      | stop   | (16 if overridden to retry)
 * | HTTP 401, 403, 407; INVALID_URL, TLS_UNAVAILABLE (configuration errors)      | rejected      | stop   |
 * | peer closed 1000, 1005 (no code), and any other 3000–4999 code               | server-normal | retry  | 1
 * | local-close (the application called close())                                 | user          | stop   |
 *
 * "In a row" means without a healthy connection in between: Policy.healthy(), called
 * when a connection stayed up ≥ minUptime (Backoff.closed() returns true), resets it.
 * broken-peer and rejected endings, and a tripped breaker, leave a Diagnostic in a
 * bounded ring (default 8): cause, code, error id, the error's detail (offending bytes,
 * HTTP status) and the time.
 *
 * Overrides: `overrides` is looked up by error id ('HANDSHAKE_ACCEPT'), then 'http:503',
 * then the cause ('pong-timeout'), then the close code ('1013'); the first hit wins. A
 * value is a class name (takes that class's action and multiplier) or a partial
 * decision. `classes` changes a class's action and multiplier; `decide(ending, d)`
 * has the last word. The device build (src/device.d.ts) keeps the default policy, the
 * breaker and the diagnostics, and leaves these three out: they throw NOT_ON_DEVICE.
 */
import type { CloseCause } from '../client/close-cause';
import { PicowsError } from '../errors';
import { orDefault } from '../or-default';

export type PolicyClass = 'transient' | 'try-later' | 'broken-peer' | 'rejected' | 'server-normal' | 'user';

export interface Decision {
  action: 'retry' | 'stop';
  class: PolicyClass;
  /** Backoff multiplier for this class: Backoff.next(harder, delayMs). */
  harder: number;
  /** Wait at least this long, ms (Retry-After, capped); the backoff's jitter goes on top. */
  delayMs?: number;
  /** e.g. 'handshake-rejected http 503', 'peer-closed 1013'. */
  reason: string;
  /** The circuit breaker turned this retry into a stop. */
  tripped?: boolean;
}

/** How a connection ended: a CloseEvent carries all of it. */
export interface Ending {
  cause: CloseCause;
  code: number;
  error?: { id: string; detail?: { [key: string]: unknown } } | null;
}

export interface Diagnostic {
  at: number;
  class: PolicyClass;
  cause: CloseCause;
  code: number;
  id: string;
  detail: unknown;
  reason: string;
}

export type Override = PolicyClass | { class?: PolicyClass; action?: 'retry' | 'stop'; harder?: number; delayMs?: number };

export interface PolicyOptions {
  overrides?: { [key: string]: Override };
  classes?: { [C in PolicyClass]?: { action?: 'retry' | 'stop'; harder?: number } };
  /** The last word over the table's decision. */
  decide?: (ending: Ending, d: Decision) => Decision;
  /** broken-peer endings in a row that stop retrying. Default 5. */
  breakerAfter?: number;
  /** Diagnostics kept. Default 8. */
  diagnostics?: number;
  /** Longest Retry-After honoured, ms. Default 3600000 (1 h). */
  maxRetryAfterMs?: number;
  /** Time for diagnostics, ms. */
  now?: () => number;
}

/** The default table (see above) for one ending, given its error id ('' for none) and HTTP status (0 for none), which decide() has read already. */
export function classify(e: Ending, id: string, status: number): PolicyClass {
  const code = e.code;
  switch (e.cause) {
    case 'local-close':
      return 'user';
    case 'handshake-failed':
      return 'broken-peer';
    case 'handshake-rejected':
      if (status === 401 || status === 403 || status === 407) return 'rejected';
      return status === 429 || status >= 500 ? 'try-later' : 'broken-peer';
    case 'protocol-error':
      return code === 1002 || code === 1007 || code === 1009 ? 'broken-peer' : 'transient';
    case 'peer-closed':
      if (code === 1013) return 'try-later';
      if (code === 1008 || code === 3000 || code === 3003) return 'rejected';
      // 1008 (in 1007-1010) returned just above.
      if (code === 1002 || code === 1003 || (code >= 1007 && code <= 1010)) return 'broken-peer';
      return code === 1001 || code === 1011 || code === 1012 || code === 1014 || code === 3008 ? 'transient' : 'server-normal';
    default:
      // Timeouts, 1006, Wi-Fi. An unusable URL or a missing TLS stack ends as a
      // transport error too, but no retry can fix configuration.
      return id === 'INVALID_URL' || id === 'TLS_UNAVAILABLE' ? 'rejected' : 'transient';
  }
}


const CLASS_NAMES: PolicyClass[] = ['transient', 'try-later', 'broken-peer', 'rejected', 'server-normal', 'user'];

/**
 * Host only: a class named in `overrides` or `classes` must be one of the table's, or
 * a typo would quietly become some default at the first ending it matched. Throws a
 * TypeError naming the option, as a misused API does (send() does the same).
 */
function checkClassNames(opts: PolicyOptions): void {
  const bad = (where: string, name: unknown): never => {
    throw new TypeError('picows: policy ' + where + ' names the class ' + JSON.stringify(name) + '; the classes are ' + CLASS_NAMES.join(', '));
  };
  const table = opts.overrides || {};
  for (const key in table) {
    const v = table[key];
    const cls = typeof v === 'string' ? v : v && v.class;
    if (cls !== undefined && CLASS_NAMES.indexOf(cls) < 0) bad('overrides[' + JSON.stringify(key) + ']', cls);
  }
  // ('classes[' + …, not the bare word: a string literal 'classes' would keep the device build from shortening that name.)
  for (const name in opts.classes || {}) if (CLASS_NAMES.indexOf(name as PolicyClass) < 0) bad('classes[' + JSON.stringify(name) + ']', name);
}

export class Policy {
  /** broken-peer endings since the last healthy connection. */
  brokenInRow = 0;
  private readonly opts: PolicyOptions;
  private readonly ring: (Diagnostic | undefined)[];
  private written = 0;

  constructor(opts: PolicyOptions = {}) {
    if (PICOWS_DEVICE) {
      if (opts.overrides || opts.classes || opts.decide) throw new PicowsError('NOT_ON_DEVICE', { option: 'policy' });
    } else checkClassNames(opts);
    this.opts = opts;
    this.ring = new Array(orDefault(opts.diagnostics, 8));
  }

  /** Decides what to do about one ending. Counts broken-peer endings and records diagnostics. */
  decide(e: Ending): Decision {
    const o = this.opts;
    const id = e.error ? e.error.id : '';
    const detail = e.error ? e.error.detail : undefined;
    const status = detail && typeof detail.status === 'number' ? detail.status : 0;
    let d = this.ofClass(classify(e, id, status), e.cause + (status ? ' http ' + status : ' ' + e.code) + (id ? ' ' + id : ''));
    const ra = detail ? detail.retryAfter : undefined;
    if (typeof ra === 'number' && ra >= 0) d.delayMs = Math.min(ra * 1000, orDefault(o.maxRetryAfterMs, 3600000));
    // The host's overrides and hook, in one dead branch for the device (a condition such as
    // `!PICOWS_DEVICE && table` left a bare `o.overrides;` behind in the device build).
    if (!PICOWS_DEVICE) {
      const table = o.overrides;
      if (table) {
        const keys = [id, status ? 'http:' + status : '', e.cause, '' + e.code];
        for (let i = 0; i < keys.length; i++) {
          const v = keys[i] ? table[keys[i]] : undefined;
          if (v === undefined) continue;
          const cls = typeof v === 'string' ? v : v.class;
          if (cls) {
            const c = this.ofClass(cls, '');
            d.class = cls;
            d.action = c.action;
            d.harder = c.harder;
          }
          if (typeof v !== 'string') {
            if (v.action) d.action = v.action;
            if (v.harder !== undefined) d.harder = v.harder;
            if (v.delayMs !== undefined) d.delayMs = v.delayMs;
          }
          break;
        }
      }
      if (o.decide) d = o.decide(e, d);
    }
    if (d.class === 'broken-peer' && d.action === 'retry' && ++this.brokenInRow >= orDefault(o.breakerAfter, 5)) {
      d = { action: 'stop', class: d.class, harder: d.harder, reason: d.reason + ': circuit breaker, ' + this.brokenInRow + ' in a row', tripped: true };
    }
    // A Diagnostic for the ring (none kept with `diagnostics: 0`).
    const n = this.ring.length;
    if (n && (d.class === 'broken-peer' || d.class === 'rejected')) {
      this.ring[this.written++ % n] = { at: o.now ? o.now() : 0, class: d.class, cause: e.cause, code: e.code, id, detail, reason: d.reason };
    }
    return d;
  }

  /** A connection stayed up long enough: the breaker starts counting again. */
  healthy(): void {
    this.brokenInRow = 0;
  }

  /** The diagnostics kept, oldest first. */
  diagnostics(): Diagnostic[] {
    const out: Diagnostic[] = [];
    const n = this.ring.length;
    for (let i = Math.max(0, this.written - n); i < this.written; i++) out.push(this.ring[i % n] as Diagnostic);
    return out;
  }

  /**
   * A class's decision: the default table's action and multiplier (rejected and user
   * stop; try-later ×4, broken-peer and rejected ×16, the rest ×1), or `classes`'.
   * Tested in code rather than kept in a table: no table objects live on the heap.
   */
  private ofClass(c: PolicyClass, reason: string): Decision {
    const over = !PICOWS_DEVICE && this.opts.classes ? this.opts.classes[c] : undefined;
    return {
      action: over && over.action ? over.action : c === 'rejected' || c === 'user' ? 'stop' : 'retry',
      class: c,
      harder: over && over.harder !== undefined ? over.harder : c === 'try-later' ? 4 : c === 'broken-peer' || c === 'rejected' ? 16 : 1,
      reason,
    };
  }
}
