/**
 * The client section: picows' WebSocket on Node (WebAssembly core, and the JS twin as
 * an extra row) side by side with the `ws` package's client, in one run, against the
 * same loopback `ws` WebSocketServer (127.0.0.1, an ephemeral port, no compression):
 *   - echo round trips per second, 64-byte text messages, one outstanding at a time;
 *   - receive throughput: the server blasts pre-built 128-byte text frames with a few
 *     large raw writes on its socket (so the server is not the bottleneck), the client
 *     counts message events;
 *   - V8 heap bytes allocated per received message during that blast (v8.GCProfiler).
 * Every client must echo and receive exactly the right text before anything is timed.
 * Method and caveats: bench/README.md.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket as WsClient, WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { WebSocket as PicowsWebSocket } from '../board/node/websocket';
import { check, formatRatio, measureAsyncSideBySide, median, NOISY_SPREAD, noisyNote, progress, target } from './harness';
import type { AsyncBudget, AsyncCase, BenchOptions, Row, Section, SectionResult, Target } from './harness';

// ---------------------------------------------------------------- inputs

/** Exactly `size` bytes of ASCII: a JSON telemetry record padded inside its last string. */
function jsonText(size: number): string {
  const head = '{"id":4242,"temp":21.5,"rssi":-61,"note":"';
  const tail = '"}';
  return head + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(8).slice(0, size - head.length - tail.length) + tail;
}

const ECHO_TEXT = jsonText(64);
const BLAST_TEXT = jsonText(128);
/** An unmasked FIN text frame of 128 bytes: the 16-bit length form (125 is the 7-bit limit). */
const BLAST_FRAME = Buffer.concat([Buffer.from([0x81, 126, 0, 128]), Buffer.from(BLAST_TEXT, 'latin1')]);
/** The most frames one blast may ask for; the server keeps them pre-built. */
const BLAST_MAX = 200000;
/** The server writes a blast in at most this many raw writes. */
const BLAST_WRITES = 4;
/** Messages per heap sample: large enough that GCProfiler's own few KB vanish per message. */
const HEAP_MESSAGES = 100000;

// ---------------------------------------------------------------- the server

/**
 * The loopback ws server. A text message "blast N" makes it write N pre-built
 * frames straight to its socket (a few large writes); anything else is echoed.
 */
async function startServer(): Promise<{ wss: WebSocketServer; port: number }> {
  const frames = Buffer.alloc(BLAST_FRAME.length * BLAST_MAX);
  for (let i = 0; i < BLAST_MAX; i++) BLAST_FRAME.copy(frames, i * BLAST_FRAME.length);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (sock: WsSocket) => {
    sock.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary && data.length < 16 && data[0] === 0x62 /* b */) {
        const n = Number(data.toString('latin1').slice('blast '.length));
        const socket = (sock as unknown as { _socket: { write(b: Buffer): boolean } })._socket;
        const bytes = n * BLAST_FRAME.length;
        const step = Math.ceil(n / BLAST_WRITES) * BLAST_FRAME.length;
        for (let at = 0; at < bytes; at += step) socket.write(frames.subarray(at, Math.min(bytes, at + step)));
        return;
      }
      sock.send(data, { binary: isBinary });
    });
  });
  await once(wss, 'listening');
  return { wss, port: (wss.address() as AddressInfo).port };
}

// ---------------------------------------------------------------- the clients

/** One connected client, reduced to what the cases need. */
interface Client {
  impl: string;
  /** Called with each message's data: a string, or a Buffer for ws's 'message' event. */
  onMessage: (data: unknown) => void;
  send(text: string): void;
  /** Set when the connection closed or failed: a benchmark on a dead connection is void. */
  broken: string;
  close(): void;
}

function picowsClient(url: string, impl: string, core: 'wasm' | 'js'): Promise<Client> {
  const ws = new PicowsWebSocket(url, undefined, { core });
  const c: Client = {
    impl,
    onMessage: () => undefined,
    send: (text) => ws.send(text),
    broken: '',
    close: () => ws.close(),
  };
  ws.onmessage = (ev) => c.onMessage(ev.data);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(c);
    ws.onclose = (ev) => {
      c.broken = 'closed ' + ev.code + ' ' + ev.cause;
      reject(new Error(impl + ': ' + c.broken));
    };
  });
}

/** ws's client: its 'message' event (a Buffer, not decoded), or its WHATWG onmessage (a string, like picows). */
function wsClient(url: string, impl: string, whatwg: boolean): Promise<Client> {
  const ws = new WsClient(url, { perMessageDeflate: false });
  const c: Client = {
    impl,
    onMessage: () => undefined,
    send: (text) => ws.send(text),
    broken: '',
    close: () => ws.close(),
  };
  if (whatwg) ws.onmessage = (ev) => c.onMessage(ev.data);
  else ws.on('message', (data: Buffer) => c.onMessage(data));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve(c));
    ws.on('close', (code: number) => {
      c.broken = 'closed ' + code;
      reject(new Error(impl + ': ' + c.broken));
    });
    ws.on('error', (err: Error) => {
      c.broken = err.message;
      reject(err);
    });
  });
}

function textOf(data: unknown): string {
  return typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : '<' + typeof data + '>';
}

// ---------------------------------------------------------------- batches

/** n echo round trips, one message outstanding at a time; resolves with the ms taken. */
function echoBatch(c: Client, n: number): Promise<number> {
  return new Promise((resolve) => {
    let left = n;
    const t0 = performance.now();
    c.onMessage = () => {
      if (--left > 0) c.send(ECHO_TEXT);
      else resolve(performance.now() - t0);
    };
    c.send(ECHO_TEXT);
  });
}

/** Asks for n frames and counts message events until n; resolves with the ms from the request. */
function blastBatch(c: Client, n: number): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    const t0 = performance.now();
    c.onMessage = () => {
      if (++got === n) resolve(performance.now() - t0);
    };
    c.send('blast ' + n);
  });
}

/** Resolves after `ms`, letting stray messages (there must be none) arrive. */
function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every client echoes exactly, and receives a blast whole, with the right text, and nothing more. */
async function verify(clients: Client[]): Promise<void> {
  for (const c of clients) {
    const echoed = await new Promise<string>((resolve) => {
      c.onMessage = (data) => resolve(textOf(data));
      c.send(ECHO_TEXT);
    });
    check(echoed === ECHO_TEXT && Buffer.byteLength(ECHO_TEXT) === 64, c.impl + ' echoed ' + JSON.stringify(echoed));
    const n = 5000;
    let bad = 0;
    let got = 0;
    await new Promise<void>((resolve) => {
      c.onMessage = (data) => {
        if (textOf(data) !== BLAST_TEXT) bad++;
        if (++got === n) resolve();
      };
      c.send('blast ' + n);
    });
    await settle(50);
    check(bad === 0 && got === n && Buffer.byteLength(BLAST_TEXT) === 128, c.impl + ' received ' + got + ' of ' + n + ' frames, ' + bad + ' with the wrong text');
    check(c.broken === '', c.impl + ' ' + c.broken);
  }
}

// ---------------------------------------------------------------- heap per message

/** A full collection, from --expose-gc set at run time (dist/bench.js runs under plain node). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * V8 heap bytes allocated while n blasted messages are received: used_heap_size after
 * minus before, plus what every collection in between freed (v8.GCProfiler reports
 * each one's heap before and after), so collections during the batch do not hide
 * allocations. Everything the process allocates meanwhile is counted: Node's socket
 * reads (per 64 KiB chunk, the same for every client) and the bench's counting handler.
 */
async function heapPerMessage(c: Client, n: number, gc: () => void): Promise<number> {
  gc();
  gc();
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  await blastBatch(c, n);
  const after = getHeapStatistics().used_heap_size;
  const report = profiler.stop();
  let freed = 0;
  for (const s of report.statistics) freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  return (after - before + freed) / n;
}

// ---------------------------------------------------------------- the section

const ANCHOR = 'ws';
const ECHO_CASE = 'echo round trip, 64 B text';
const RECV_CASE = 'receive 128 B text frames';

/** One phase's figures, one entry per client in the phase's order. */
interface PhaseFigures {
  rtts: number[];
  echoCpu: number[];
  fps: number[];
  recvCpu: number[];
  heap: number[];
}

/**
 * Echo, receive and heap for a set of clients, side by side. Each phase holds only the
 * clients being compared: picows' code paths (Protocol, EventSource) would turn
 * polymorphic if the JS twin ran in the same measurement, as would ws's 'message'
 * emit with a second kind of listener, and neither happens in a real application.
 */
async function measurePhase(clients: Client[], opts: BenchOptions, label: string, noisy: { what: string; spread: number }[]): Promise<PhaseFigures> {
  const budget: AsyncBudget = opts.quick
    ? { sampleMs: 30, budgetMs: 150, minSamples: 3, warmupMs: 30, startN: 50, maxN: BLAST_MAX }
    : { sampleMs: 100, budgetMs: 1000, minSamples: 7, warmupMs: 200, startN: 50, maxN: BLAST_MAX };
  const noteNoise = (name: string, ms: { spread: number }[]) =>
    ms.forEach((m, i) => m.spread > NOISY_SPREAD && noisy.push({ what: name + label.replace(' (extras)', ': extras') + ' ' + clients[i].impl, spread: m.spread }));

  progress('client: echo round trips' + label);
  const echo = await measureAsyncSideBySide(
    clients.map((c): AsyncCase => ({ impl: c.impl, batch: (n) => echoBatch(c, n) })),
    budget,
  );
  noteNoise(ECHO_CASE, echo);

  progress('client: receive throughput' + label);
  const recv = await measureAsyncSideBySide(
    clients.map((c): AsyncCase => ({ impl: c.impl, batch: (n) => blastBatch(c, n) })),
    { ...budget, startN: 1000 },
  );
  noteNoise(RECV_CASE, recv);

  progress('client: heap per message' + label);
  const gc = fullGc();
  const heapSamples: number[][] = clients.map(() => []);
  const heapRounds = opts.quick ? 3 : 5;
  for (let round = 0; round < heapRounds; round++) {
    for (let k = 0; k < clients.length; k++) {
      const i = (round + k) % clients.length;
      heapSamples[i].push(await heapPerMessage(clients[i], heapMessages(opts), gc));
    }
  }
  for (const c of clients) check(c.broken === '', c.impl + ' ' + c.broken + ' during the run');
  return {
    rtts: echo.map((m) => 1e9 / m.ns),
    echoCpu: echo.map((m) => m.cpuNs / 1e3),
    fps: recv.map((m) => 1e9 / m.ns),
    recvCpu: recv.map((m) => m.cpuNs / 1e3),
    heap: heapSamples.map((s) => median(s)),
  };
}

function heapMessages(opts: BenchOptions): number {
  return opts.quick ? HEAP_MESSAGES / 5 : HEAP_MESSAGES;
}

/** The rows of one phase: every metric for each client, ratios against the phase's own ws. */
function phaseRows(clients: Client[], f: PhaseFigures, suffix: string): Row[] {
  const rows: Row[] = [];
  const a = clients.findIndex((c) => c.impl === ANCHOR);
  const add = (name: string, metric: string, unit: string, values: number[]) =>
    clients.forEach((c, i) => rows.push({ name: name + suffix, impl: c.impl, metric, value: values[i], unit, ratio: values[i] / values[a], ratioTo: ANCHOR }));
  add(ECHO_CASE, 'round trips', 'per s', f.rtts);
  add(ECHO_CASE, 'CPU time', 'µs/op', f.echoCpu);
  add(RECV_CASE, 'throughput', 'frames/s', f.fps);
  add(RECV_CASE, 'CPU time', 'µs/op', f.recvCpu);
  add(RECV_CASE, 'heap allocated', 'B/message', f.heap);
  return rows;
}

async function runClient(opts: BenchOptions): Promise<SectionResult> {
  const { wss, port } = await startServer();
  const url = 'ws://127.0.0.1:' + port + '/';
  const open: Client[] = [];
  try {
    const noisy: { what: string; spread: number }[] = [];
    // Phase 1: the comparison the targets are about.
    const ws = await wsClient(url, ANCHOR, false);
    open.push(ws);
    const main = [await picowsClient(url, 'picows', 'wasm'), ws];
    open.push(main[0]);
    progress('client: verifying');
    await verify(main);
    const f1 = await measurePhase(main, opts, '', noisy);
    // Phase 2: the extras, beside ws again.
    const extras = [await picowsClient(url, 'picows JS twin', 'js'), await wsClient(url, 'ws onmessage', true), ws];
    open.push(extras[0], extras[1]);
    await verify(extras.slice(0, 2));
    const f2 = await measurePhase(extras, opts, ' (extras)', noisy);
    progress('');

    const rows = phaseRows(main, f1, '').concat(phaseRows(extras, f2, ': extras'));
    // Rows in case order: echo (main, extras), then receive (main, extras).
    rows.sort((x, y) => caseRank(x.name) - caseRank(y.name));
    const ratio = (values: number[]) => values[0] / values[1];
    const targets: Target[] = [
      target('picows / ws echo round trips per second', ratio(f1.rtts), '>=', 1.0, 'x'),
      target('picows / ws receive throughput (frames/s)', ratio(f1.fps), '>=', 1.5, 'x'),
      target('picows / ws heap bytes allocated per received message', ratio(f1.heap), '<=', 0.999, 'x'),
    ];
    const notes = [
      'one process: the loopback ws server (127.0.0.1, ephemeral port, perMessageDeflate off) and the clients; the server costs every client the same',
      "picows = board/node/websocket.ts (WebAssembly core) and ws = ws.on('message') (a Buffer, validated, not decoded): measured side by side, alone; " +
        'extras, measured afterwards beside ws again: picows JS twin = the same client on the plain-JS core (what Kaluma runs), ' +
        "ws onmessage = ws's WHATWG onmessage (a string, as picows gives)",
      'CPU time = the whole process\'s user + system CPU per round trip or per frame (server included), median of the same batches: on a shared machine ' +
        'the steadier figure. Speed by CPU time, ws CPU / picows CPU (higher is better, as the targets): echo ' + formatRatio(f1.echoCpu[1] / f1.echoCpu[0]) +
        ', receive ' + formatRatio(f1.recvCpu[1] / f1.recvCpu[0]),
      'echo: one 64 B text message outstanding at a time, the ws server echoes it',
      'receive: the server writes N pre-built frames (4-byte header + 128 B ASCII JSON) in ' + BLAST_WRITES + ' raw socket writes; timed from the request to the Nth message event',
      'heap: V8 heap bytes allocated per message over ' + heapMessages(opts) + ' blasted messages (used_heap_size delta plus what each GC freed, v8.GCProfiler), median of ' +
        (opts.quick ? 3 : 5) + " rounds; includes Node's socket reads (per 64 KiB chunk) and the counting handler, the same for every client",
      'the target "fewer bytes than ws" is checked as ratio <= 0.999',
    ];
    return { rows, targets, notes: notes.concat(noisyNote(noisy)) };
  } finally {
    for (const c of open) c.close();
    for (const s of wss.clients) s.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

function caseRank(name: string): number {
  return (name.startsWith(ECHO_CASE) ? 0 : 2) + (name.endsWith(': extras') ? 1 : 0);
}

export const clientSection: Section = {
  name: 'client',
  title: 'the client on Node: picows vs the ws client, one loopback ws server',
  run: runClient,
};
