/**
 * The firmware's budgets (firmware/README.md explains the method and the figures):
 *  - the bundle, the whole stack plus the app, is at most 24 KiB minified;
 *  - heap, measured in QuickJS above the compiled program (test/helpers/quickjs-heap.ts):
 *    connected and idle with the outbox empty, and the peak while a 4 KiB message arrives.
 * The budgets are fixed numbers: a failure here means the code grew, not that the
 * budget should.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_BUDGET, BUNDLE_LIMIT, buildFirmware, bytesByModule, type FirmwareBuild } from '../firmware/build.mjs';
import { HeapBoard, KALUMA_HEAP } from './helpers/quickjs-heap';

/** Connected, idle, outbox empty: 48 KiB above the compiled program (measured about 34 KiB, see firmware/README.md). */
const STEADY_BUDGET = 48 * 1024;
/** The most the program holds while a 4 KiB text message arrives (measured about 42 KiB, see firmware/README.md). */
const PEAK_BUDGET = 64 * 1024;
/**
 * After a large message the protocol keeps its reassembly buffer (no allocation per
 * message), up to maxMessage = 8 KiB: idle afterwards may exceed STEADY_BUDGET by that much.
 */
const RETAINED_BUFFER_MAX = 8 * 1024;
/** A 4 KiB text message: the size picows is sized to receive comfortably on a 180 KiB heap. */
const MESSAGE = '{"cmd":"config","pad":"' + 'x'.repeat(4096 - 25) + '"}';

let fw: FirmwareBuild;

beforeAll(async () => {
  fw = await buildFirmware({ outfile: null, metafile: null });
});

describe('the firmware bundle', () => {
  it('is accounted for module by module', () => {
    const rows = bytesByModule(fw.metafile);
    const counted = rows.reduce((n, r) => n + r[1], 0);
    const lines = rows.map(([p, b]) => String(b).padStart(7) + '  ' + ((100 * b) / fw.bytes).toFixed(1).padStart(5) + '%  ' + p);
    console.log(`firmware bundle: ${fw.bytes} bytes, budget ${BUNDLE_BUDGET} (${fw.mangled} private names mangled)\n` + lines.join('\n'));
    // Every module the app pulls in shows up, and the metafile explains (nearly) every byte
    // of esbuild's output: the rest is the IIFE wrapper and esbuild's glue. terser's pass
    // then only takes bytes away.
    expect(rows.map((r) => r[0])).toEqual(expect.arrayContaining(['firmware/app.ts', 'board/kaluma/device-client.ts', 'src/core/validator-js.ts']));
    expect(fw.esbuildBytes - counted).toBeGreaterThanOrEqual(0);
    expect(fw.esbuildBytes - counted).toBeLessThan(200);
    expect(fw.bytes).toBeLessThanOrEqual(fw.esbuildBytes);
  });

  // The budget: the whole stack plus the app in 24 KiB. BUNDLE_LIMIT, which `picows
  // flash` enforces, is the same number since the device client (issue 5).
  it(`is at most ${BUNDLE_BUDGET} bytes (24 KiB), the limit picows flash enforces`, () => {
    expect(BUNDLE_LIMIT).toBe(BUNDLE_BUDGET);
    const rows = bytesByModule(fw.metafile);
    if (fw.bytes > BUNDLE_BUDGET) console.log(`firmware bundle: ${fw.bytes - BUNDLE_BUDGET} bytes over; by module:\n` + rows.map(([p, b]) => `${p}: ${b}`).join('\n'));
    expect(fw.bytes, `${fw.bytes - BUNDLE_BUDGET} bytes over the budget`).toBeLessThanOrEqual(BUNDLE_BUDGET);
  });
});

describe('the firmware heap (QuickJS, above the compiled program)', () => {
  let board: HeapBoard;
  let steady = 0;
  let peak = 0;
  let after = 0;

  beforeAll(async () => {
    board = await HeapBoard.create(fw.code, { WS_URL: 'ws://10.0.0.2:8080/', TELEMETRY_MS: '3000' });
    board.boot();
    // Connect, then run idle for 15 s: pings at 5 s silences, a reading every 3 s,
    // each acked at once, so the outbox is empty at every step boundary.
    board.advance(1000);
    for (let t = 0; t < 15; t++) {
      board.advance(1000);
      steady = Math.max(steady, board.data());
    }
    board.resetPeak();
    board.peer.sendText(MESSAGE);
    board.advance(10);
    peak = board.peakData();
    board.advance(5000);
    after = board.data();
    const f = board.figures;
    console.log(
      `QuickJS memory: empty context ${f.empty}, Kaluma stand-in +${f.standins - f.empty}, compiled bundle +${f.parsed - f.standins}; ` +
        `program data: steady ${steady}, peak receiving 4 KiB ${peak}, idle again after it ${after} (Kaluma heap ${KALUMA_HEAP})`,
    );
  });

  afterAll(() => {
    if (board) board.dispose();
  });

  it('has connected, sent readings and been acked, with nothing thrown', () => {
    expect(board.peer.connected).toBe(true);
    expect(board.peer.connections).toBe(1);
    expect(board.peer.deliveries.length).toBeGreaterThanOrEqual(4);
    expect(board.errors()).toEqual([]);
  });

  it(`stays within ${STEADY_BUDGET} bytes connected and idle, outbox empty`, () => {
    expect(steady).toBeGreaterThan(0);
    expect(steady).toBeLessThanOrEqual(STEADY_BUDGET);
  });

  it(`peaks within ${PEAK_BUDGET} bytes while receiving a 4 KiB message, and keeps the connection`, () => {
    // The message was held at some sample: the peak is at least its size above steady.
    expect(peak).toBeGreaterThan(steady + 4096);
    expect(peak).toBeLessThanOrEqual(PEAK_BUDGET);
    expect(board.peer.connected).toBe(true);
    expect(board.errors()).toEqual([]);
  });

  it(`is idle again afterwards within ${STEADY_BUDGET} + ${RETAINED_BUFFER_MAX} bytes (the kept reassembly buffer)`, () => {
    expect(after).toBeLessThan(peak);
    expect(after).toBeLessThanOrEqual(STEADY_BUDGET + RETAINED_BUFFER_MAX);
  });
});
