/**
 * The firmware's heap beyond the steady state (test/firmware-budget.test.ts measures
 * that one): the bundle, run in QuickJS against the in-memory peer, through what a
 * board on flaky Wi-Fi lives through, so that running out of heap (fatal on Kaluma)
 * stays out of reach:
 *  - 40 reconnects, alternating a server that ends TCP and a link that goes silent
 *    (found by the pong deadline, then connect deadlines until it returns): the data
 *    left after a cycle collection must not grow from reconnect 10 to reconnect 40;
 *  - a 150 s Wi-Fi outage, which fills the outbox to its bounds;
 *  - the return: a 101 response with a head near maxHeadBytes, and the queued readings
 *    sent as fast as the socket takes them;
 *  - the largest message picows accepts (maxMessage, 8 KiB) in 8 fragments.
 * The budget for all of it is the peak budget of firmware-budget.test.ts: 64 KiB above
 * the compiled program (figures and method: firmware/README.md, "Heap").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFirmware } from '../firmware/build.mjs';
import { describeWorstCase, runWorstCase, type WorstCase } from './helpers/heap-worst-case';
import { HeapBoard } from './helpers/quickjs-heap';

/** The same peak budget as firmware-budget.test.ts. */
const PEAK_BUDGET = 64 * 1024;
/** What the live data may grow by from reconnect 10 to 40 (measured: -80 bytes). */
const RECONNECT_GROWTH_MAX = 512;
/** The outbox's byte bound (src/resilience/outbox.ts) plus its per-message bookkeeping. */
const OUTBOX_HELD_MAX = 4096 + 4096;

let board: HeapBoard;
let w: WorstCase;

beforeAll(async () => {
  const fw = await buildFirmware({ outfile: null, metafile: null });
  board = await HeapBoard.create(fw.code, { WS_URL: 'ws://10.0.0.2:8080/', TELEMETRY_MS: '3000' });
  w = runWorstCase(board);
  console.log('QuickJS program data: ' + describeWorstCase(w));
}, 120000);

afterAll(() => {
  if (board) board.dispose();
});

describe('the firmware heap at its worst (QuickJS, above the compiled program)', () => {
  it('reconnected 40 times and kept every reading in order, with nothing thrown', () => {
    expect(w.connectsBefore).toBe(41);
    const ns = board.peer.deliveries.slice(0, w.deliveredBefore).map((d) => (d.data as { n: number }).n);
    // At-least-once across 40 reconnects: every reading 1..N arrived, in order (a resend after a drop may repeat one).
    const distinct = [...new Set(ns)];
    expect(distinct).toEqual(Array.from({ length: distinct.length }, (_, i) => i + 1));
    expect(distinct.length).toBeGreaterThan(150);
    expect(board.errors()).toEqual([]);
  });

  it(`does not grow across reconnects: live data from reconnect 10 to 40 within ${RECONNECT_GROWTH_MAX} bytes`, () => {
    expect(w.live).toHaveLength(2);
    expect(w.live[1] - w.live[0]).toBeLessThanOrEqual(RECONNECT_GROWTH_MAX);
    expect(w.live[1] - w.steady).toBeLessThanOrEqual(RECONNECT_GROWTH_MAX * 4);
  });

  it('holds a full outbox through a 150 s outage within its bounds, and no more once full', () => {
    // 10 s in: the connection is gone and a few readings wait. By 90 s the outbox is at
    // its bounds (a reading is ~210 bytes, one every 3 s): 150 s holds no more than 90 s.
    const [early, full, late] = w.outage;
    expect(full - early).toBeGreaterThan(2048);
    expect(full - early).toBeLessThanOrEqual(OUTBOX_HELD_MAX);
    expect(Math.abs(late - full)).toBeLessThanOrEqual(RECONNECT_GROWTH_MAX);
    expect(w.outagePeak).toBeLessThanOrEqual(PEAK_BUDGET);
  });

  it(`comes back (large response head, outbox replayed) within ${PEAK_BUDGET} bytes, and delivers the queue`, () => {
    expect(board.peer.connections).toBe(w.connectsBefore + 1);
    const after = board.peer.deliveries.slice(w.deliveredBefore).map((d) => (d.data as { n: number }).n);
    // The outage held the newest readings the outbox could keep (the oldest gave way), then new ones followed.
    expect(after.length).toBeGreaterThan(10);
    for (let i = 1; i < after.length; i++) expect(after[i]).toBeGreaterThan(after[i - 1]);
    expect(w.returnPeak).toBeLessThanOrEqual(PEAK_BUDGET);
  });

  it(`receives an 8 KiB message in 8 fragments within ${PEAK_BUDGET} bytes, and keeps the connection`, () => {
    expect(w.messagePeak).toBeGreaterThan(w.steady + 8 * 1024);
    expect(w.messagePeak).toBeLessThanOrEqual(PEAK_BUDGET);
    expect(board.peer.connected).toBe(true);
    expect(board.peer.connections).toBe(w.connectsBefore + 1);
    expect(board.errors()).toEqual([]);
  });
});
