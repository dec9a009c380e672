/**
 * `picows telemetry <url>`: the Pico W's telemetry client, on Node. A ResilientClient
 * sends one reading per interval, `{"n":i,"t":<wall-clock ms>,"uptime":<ms since
 * start>}`, and prints every event as one JSON object per line, so a person can watch
 * a flaky link and a script can assert on it:
 *
 *   {"type":"open","t":12,"attempt":1,"protocol":""}
 *   {"type":"sent","t":13,"seq":1,"resend":false}
 *   {"type":"close","t":5012,"code":1006,"reason":"","cause":"pong-timeout","wasClean":false,"errorId":"PONG_TIMEOUT","decision":{...}}
 *   {"type":"reconnect-scheduled","t":5012,"delayMs":431,"attempt":1,"class":"transient"}
 *   ...
 *   {"type":"summary","t":20480,"sent":20,"acked":20,"dropped":0,...}
 *
 * `t` is ms since the command started. Event types: open, close, reconnect-scheduled,
 * sent, acked, dropped, message (text from the server; binary as its length),
 * stopped; then the summary, always last.
 *
 * Exit codes: 0 when every reading of --count was sent (and acked, with
 * --at-least-once), or when --duration ran out with no --count; 1 when the policy
 * stopped the client (a 401, a tripped circuit breaker), when readings were dropped,
 * or when --duration ended before --count was done; 2 for bad arguments.
 */
import { parseArgs } from 'node:util';
import type { Runtime } from '../../src/client/runtime';
import type { CorePreference } from '../../src/core/loader';
import { ResilientClient, type ResilientEvent, type ResilientOptions } from '../../src/resilience/resilient-client';
import { nodeRuntime } from './runtime';

export const TELEMETRY_USAGE = `usage: picows telemetry <url> [options]

  Sends a reading every interval through picows' resilient client and prints
  each event as a JSON line, then a summary line.

  --interval <ms>       between readings (default 1000)
  --count <n>           stop after n readings are sent (and acked); exit 0
  --at-least-once       number readings, resend until the server acks them
  --duration <ms>       stop after this long
  --ping-interval <ms>  inbound silence before a ping (default 5000; 0 = off)
  --pong-timeout <ms>   the pong deadline's ceiling (default 5000)
  --max-queue <n>       readings held while disconnected (default 32)
  --backoff-base <ms>   first reconnect window (default 1000)
  --backoff-cap <ms>    largest reconnect window (default 30000)
  --core wasm|js        the frame validator implementation (default wasm)
`;

/** Options the tests inject; a person uses the flags. */
export interface TelemetryHooks {
  /** The runtime (default: nodeRuntime with --core). */
  runtime?: Runtime;
  /** Called with the client once it is built (tests use it to watch stats). */
  onClient?: (client: ResilientClient) => void;
}

/** Bytes the outbox may hold per queued reading: a reading is ~60 bytes, wrapped ~100. */
const BYTES_PER_QUEUED = 256;

export async function telemetryCommand(args: string[], out?: (line: string) => void, hooks: TelemetryHooks = {}): Promise<number> {
  const write = out || ((line: string) => process.stdout.write(line + '\n'));
  let values: { [k: string]: string | boolean | undefined };
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        interval: { type: 'string' },
        count: { type: 'string' },
        'at-least-once': { type: 'boolean' },
        duration: { type: 'string' },
        'ping-interval': { type: 'string' },
        'pong-timeout': { type: 'string' },
        'max-queue': { type: 'string' },
        'backoff-base': { type: 'string' },
        'backoff-cap': { type: 'string' },
        core: { type: 'string' },
      },
    });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (e) {
    return usageError((e as Error).message);
  }
  const url = positionals[0];
  if (!url || positionals.length > 1) return usageError('one ws:// URL is required');
  const num = (name: string, min: number): number | undefined | null => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    return typeof v === 'string' && /^\d+$/.test(v) && n >= min ? n : null;
  };
  const interval = num('interval', 1);
  const count = num('count', 1);
  const duration = num('duration', 1);
  const pingInterval = num('ping-interval', 0);
  const pongTimeout = num('pong-timeout', 1);
  const maxQueue = num('max-queue', 1);
  const backoffBase = num('backoff-base', 1);
  const backoffCap = num('backoff-cap', 1);
  const numbers: [string, number | undefined | null][] = [
    ['interval', interval],
    ['count', count],
    ['duration', duration],
    ['ping-interval', pingInterval],
    ['pong-timeout', pongTimeout],
    ['max-queue', maxQueue],
    ['backoff-base', backoffBase],
    ['backoff-cap', backoffCap],
  ];
  for (const [name, v] of numbers) if (v === null) return usageError(`--${name} wants a whole number, got "${values[name]}"`);
  const core = values.core as string | undefined;
  if (core !== undefined && core !== 'wasm' && core !== 'js') return usageError('--core is wasm or js');
  const atLeastOnce = values['at-least-once'] === true;

  const opts: ResilientOptions = { atLeastOnce };
  if (pingInterval !== undefined) opts.pingInterval = pingInterval as number;
  // A lowered ceiling brings the floor down with it (LivenessMonitor clamps it).
  if (pongTimeout !== undefined) opts.pongTimeout = pongTimeout as number;
  if (maxQueue !== undefined) opts.outbox = { maxCount: maxQueue as number, maxBytes: Math.max(4096, (maxQueue as number) * BYTES_PER_QUEUED) };
  if (backoffBase !== undefined || backoffCap !== undefined) {
    opts.backoff = {};
    if (backoffBase !== undefined) opts.backoff.baseMs = backoffBase as number;
    if (backoffCap !== undefined) opts.backoff.capMs = backoffCap as number;
    // The floor (default 100 ms) must stay well under the window, or a small base leaves no room to jitter.
    if (backoffBase !== undefined) opts.backoff.minDelayMs = Math.min(100, Math.max(1, Math.floor((backoffBase as number) / 10)));
  }

  let rt: Runtime;
  try {
    rt = hooks.runtime || nodeRuntime({ core: (core as CorePreference | undefined) || 'auto' });
  } catch (e) {
    process.stderr.write(`picows telemetry: ${(e as Error).message}\n`);
    return 2;
  }
  let client: ResilientClient;
  try {
    client = new ResilientClient(url, rt, opts);
  } catch (e) {
    process.stderr.write(`picows telemetry: ${(e as Error).message}\n`);
    return 2;
  }
  if (hooks.onClient) hooks.onClient(client);

  const started = Date.now();
  const t = () => Date.now() - started;
  const emit = (obj: { [k: string]: unknown }) => write(JSON.stringify(obj));

  return new Promise<number>((resolve) => {
    let n = 0;
    let finishing = false;
    let exitCode = 0;
    let ticker: ReturnType<typeof setInterval> | undefined;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    let stopGuard: ReturnType<typeof setTimeout> | undefined;

    const done = (): boolean => {
      if (count === undefined) return false;
      const s = client.stats;
      // Every reading is either through (sent, or acked) or lost (dropped).
      return (atLeastOnce ? s.acked : s.sent) + s.dropped >= (count as number) && n >= (count as number);
    };

    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      if (ticker !== undefined) clearInterval(ticker);
      if (deadline !== undefined) clearTimeout(deadline);
      if (stopGuard !== undefined) clearTimeout(stopGuard);
      process.removeListener('SIGINT', onSigint);
      const s = client.stats;
      emit({
        type: 'summary',
        t: t(),
        sent: s.sent,
        acked: s.acked,
        dropped: s.dropped,
        resent: s.resent,
        queued: s.queued,
        attempts: s.attempts,
        connects: s.connects,
        closes: s.closesByCause,
        rttMs: s.rttMs,
        sid: atLeastOnce ? client.sid : undefined,
      });
      resolve(exitCode);
    };

    /** Ends the run: a clean close, then the summary (at once if already stopped). */
    const finish = (code: number): void => {
      if (finishing) return;
      finishing = true;
      exitCode = code;
      if (ticker !== undefined) clearInterval(ticker);
      if (client.state === 'stopped') {
        end();
        return;
      }
      client.stop(1000, 'done');
      // The close handshake has its own deadline (closeTimeout); this only guards against a client that never reports.
      stopGuard = setTimeout(end, 10000);
    };

    const onSigint = (): void => finish(130);
    process.once('SIGINT', onSigint);

    client.onevent = (ev: ResilientEvent) => {
      const line = describe(ev, t());
      if (line) emit(line);
      if (ev.type === 'stopped') {
        if (finishing) end();
        else {
          // The policy gave up (401, breaker, retry budget): nothing more will be sent.
          finishing = true;
          exitCode = 1;
          end();
        }
        return;
      }
      if (!finishing && (ev.type === 'sent' || ev.type === 'acked' || ev.type === 'dropped') && done()) {
        finish(client.stats.dropped > 0 ? 1 : 0);
      }
    };

    const reading = (): void => {
      if (finishing || (count !== undefined && n >= (count as number))) return;
      n++;
      client.send(JSON.stringify({ n, t: Date.now(), uptime: t() }));
    };

    client.start();
    if (client.state === 'stopped') return; // a bad URL: the 'stopped' event already ended it
    reading();
    ticker = setInterval(reading, interval === undefined ? 1000 : (interval as number));
    if (duration !== undefined) deadline = setTimeout(() => finish(count !== undefined && !done() ? 1 : 0), duration as number);
  });
}

/** The JSON line for one event; null for the ones not printed ('state': the others say it). */
function describe(ev: ResilientEvent, t: number): { [k: string]: unknown } | null {
  switch (ev.type) {
    case 'state':
      return null;
    case 'open':
      return { type: 'open', t, attempt: ev.attempt, protocol: ev.protocol };
    case 'close':
      return {
        type: 'close',
        t,
        code: ev.code,
        reason: ev.reason,
        cause: ev.cause,
        wasClean: ev.wasClean,
        errorId: ev.errorId,
        decision: ev.decision ? { action: ev.decision.action, class: ev.decision.class, reason: ev.decision.reason } : null,
      };
    case 'reconnect-scheduled':
      return { type: 'reconnect-scheduled', t, delayMs: ev.delayMs, attempt: ev.attempt, class: ev.class };
    case 'sent':
      return { type: 'sent', t, seq: ev.seq, resend: ev.resend };
    case 'acked':
      return { type: 'acked', t, seq: ev.seq, count: ev.count };
    case 'dropped':
      return { type: 'dropped', t, reason: ev.reason };
    case 'message':
      return typeof ev.data === 'string' ? { type: 'message', t, data: ev.data } : { type: 'message', t, bytes: ev.data.byteLength };
    case 'stopped':
      return { type: 'stopped', t, reason: ev.reason };
  }
  return null;
}

function usageError(problem: string): number {
  process.stderr.write(`picows telemetry: ${problem}\n\n` + TELEMETRY_USAGE);
  return 2;
}
