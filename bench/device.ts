/**
 * The device section: the Pico W firmware (firmware/app.ts and the whole client stack,
 * bundled by firmware/build.mjs exactly as `picows flash` builds it, here in memory)
 * against its budgets:
 *   - the bundle's bytes against the 24 KiB size budget;
 *   - its heap in QuickJS, measured by test/helpers/quickjs-heap.ts (the same harness
 *     and the same scenario as test/firmware-budget.test.ts): connected and idle, the
 *     peak while a 4 KiB text message arrives, and idle again afterwards;
 *   - the worst case of test/firmware-heap-worst-case.test.ts (test/helpers/heap-worst-case.ts):
 *     40 reconnects, a 150 s outage that fills the outbox, the return with a 3.5 KB
 *     response head and the queue replayed, an 8 KiB message in 8 fragments.
 * JerryScript 2.4 itself is not reachable from a package registry; QuickJS figures
 * are upper bounds for it (firmware/README.md, "Reading the figures").
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../board/node/core';
import { describeWorstCase, runWorstCase, type WorstCase } from '../test/helpers/heap-worst-case';
import { HeapBoard, KALUMA_HEAP } from '../test/helpers/quickjs-heap';
import { check, progress, target } from './harness';
import type { Row, Section, SectionResult } from './harness';

/** The heap budgets of firmware/README.md ("The budgets"), enforced by test/firmware-budget.test.ts. */
const STEADY_BUDGET = 48 * 1024;
const PEAK_BUDGET = 64 * 1024;
/** The reassembly buffer protocol.ts keeps after a large message, up to maxMessage (8 KiB). */
const RETAINED_BUFFER_MAX = 8 * 1024;
/** A 4 KiB text message (the test's): what picows is sized to receive on a 180 KiB heap. */
const MESSAGE = '{"cmd":"config","pad":"' + 'x'.repeat(4096 - 25) + '"}';

interface HeapRun {
  steady: number;
  peak: number;
  after: number;
  figures: { empty: number; standins: number; parsed: number };
}

/** The test's scenario: boot, connect, 15 s idle (a reading every 3 s, each acked), then a 4 KiB message. */
async function measureHeap(code: string): Promise<HeapRun> {
  const board = await HeapBoard.create(code, { WS_URL: 'ws://10.0.0.2:8080/', TELEMETRY_MS: '3000' });
  try {
    board.boot();
    board.advance(1000);
    let steady = 0;
    for (let t = 0; t < 15; t++) {
      board.advance(1000);
      steady = Math.max(steady, board.data());
    }
    check(board.peer.connected && board.peer.connections === 1, 'the firmware did not connect once to the in-memory peer');
    check(board.peer.deliveries.length >= 4, 'the firmware sent ' + board.peer.deliveries.length + ' readings in 15 s (expected >= 4)');
    board.resetPeak();
    board.peer.sendText(MESSAGE);
    board.advance(10);
    const peak = board.peakData();
    board.advance(5000);
    const after = board.data();
    check(peak > steady + MESSAGE.length, 'the peak (' + peak + ') does not hold the 4 KiB message above steady (' + steady + ')');
    check(board.peer.connected, 'the firmware lost its connection receiving 4 KiB');
    const errors = board.errors();
    check(errors.length === 0, 'the firmware threw: ' + errors.join('; '));
    return { steady, peak, after, figures: { ...board.figures } };
  } finally {
    board.dispose();
  }
}

/** The worst-case scenario on a fresh board (the test's: test/firmware-heap-worst-case.test.ts). */
async function measureWorstCase(code: string): Promise<WorstCase> {
  const board = await HeapBoard.create(code, { WS_URL: 'ws://10.0.0.2:8080/', TELEMETRY_MS: '3000' });
  try {
    const w = runWorstCase(board);
    const errors = board.errors();
    check(errors.length === 0, 'the firmware threw in the worst case: ' + errors.join('; '));
    check(w.connectsBefore === 41, 'the firmware reconnected ' + (w.connectsBefore - 1) + ' times of 40');
    return w;
  } finally {
    board.dispose();
  }
}

function budgetRows(name: string, value: number, budget: number, budgetName: string): Row[] {
  return [
    { name, impl: 'picows firmware', metric: 'size', value, unit: 'bytes', ratio: value / budget, ratioTo: budgetName },
    { name, impl: budgetName, metric: 'size', value: budget, unit: 'bytes', ratio: 1, ratioTo: budgetName },
  ];
}

/** The device client's figure beside the layered stack's, the same app in both (buildFirmware({ client: 'layered' })). */
function vsLayeredRows(name: string, device: number, layered: number): Row[] {
  const to = 'layered stack (reference build)';
  return [
    { name, impl: 'picows firmware', metric: 'size', value: device, unit: 'bytes', ratio: device / layered, ratioTo: to },
    { name, impl: to, metric: 'size', value: layered, unit: 'bytes', ratio: 1, ratioTo: to },
  ];
}

type FirmwareBuilder = typeof import('../firmware/build.mjs');

/**
 * firmware/build.mjs, loaded from the package at run time rather than bundled into
 * dist/bench.js: bundled, its "run as a script" check would see bench.js as the script
 * and build and write build/firmware.js as a side effect.
 */
async function firmwareBuilder(): Promise<FirmwareBuilder> {
  return (await import(pathToFileURL(join(packageRoot(), 'firmware', 'build.mjs')).href)) as FirmwareBuilder;
}

async function runDevice(): Promise<SectionResult> {
  progress('device: building the firmware');
  const { BUNDLE_BUDGET, buildFirmware, bytesByModule } = await firmwareBuilder();
  const fw = await buildFirmware({ outfile: null, metafile: null });
  const modules = bytesByModule(fw.metafile);
  progress('device: heap in QuickJS');
  const heap = await measureHeap(fw.code);
  progress('device: worst-case heap in QuickJS (40 reconnects, an outage, the return, 8 KiB)');
  const worst = await measureWorstCase(fw.code);
  const worstPeak = Math.max(worst.outagePeak, worst.returnPeak, worst.messagePeak);
  progress('device: the reference build (the same app over the layered stack)');
  const ref = await buildFirmware({ outfile: null, metafile: null, client: 'layered' });
  const refHeap = await measureHeap(ref.code);
  const refWorst = await measureWorstCase(ref.code);
  const refWorstPeak = Math.max(refWorst.outagePeak, refWorst.returnPeak, refWorst.messagePeak);
  progress('');
  const rows: Row[] = [
    ...budgetRows('bundle (minified es2019, one script)', fw.bytes, BUNDLE_BUDGET, 'budget 24 KiB'),
    ...budgetRows('heap: connected, idle, outbox empty', heap.steady, STEADY_BUDGET, 'budget 48 KiB'),
    ...budgetRows('heap: peak receiving a 4 KiB message', heap.peak, PEAK_BUDGET, 'budget 64 KiB'),
    ...budgetRows('heap: idle after that message', heap.after, STEADY_BUDGET + RETAINED_BUFFER_MAX, 'budget 56 KiB'),
    ...budgetRows('heap: peak vs the whole Kaluma heap', heap.peak, KALUMA_HEAP, 'Kaluma heap'),
    ...budgetRows('heap: worst-case peak (outage, return, 8 KiB message)', worstPeak, PEAK_BUDGET, 'budget 64 KiB'),
    ...budgetRows('heap: growth from reconnect 10 to 40', worst.live[1] - worst.live[0], 512, 'budget 512 B'),
    ...vsLayeredRows('device client vs layered stack: bundle', fw.bytes, ref.bytes),
    ...vsLayeredRows('device client vs layered stack: heap steady', heap.steady, refHeap.steady),
    ...vsLayeredRows('device client vs layered stack: heap peak 4 KiB', heap.peak, refHeap.peak),
    ...vsLayeredRows('device client vs layered stack: worst-case peak', worstPeak, refWorstPeak),
  ];
  const f = heap.figures;
  const top = modules
    .slice(0, 6)
    .map(([p, b]) => p + ' ' + b)
    .join(', ');
  return {
    rows,
    targets: [
      target('bundle size (bytes)', fw.bytes, '<=', BUNDLE_BUDGET, 'bytes'),
      target('heap connected and idle (bytes)', heap.steady, '<=', STEADY_BUDGET, 'bytes'),
      target('heap peak receiving 4 KiB (bytes)', heap.peak, '<=', PEAK_BUDGET, 'bytes'),
      target('heap idle after 4 KiB (bytes)', heap.after, '<=', STEADY_BUDGET + RETAINED_BUFFER_MAX, 'bytes'),
      target('heap worst-case peak (bytes)', worstPeak, '<=', PEAK_BUDGET, 'bytes'),
      target('heap growth over 30 reconnects (bytes)', worst.live[1] - worst.live[0], '<=', 512, 'bytes'),
    ],
    notes: [
      'bundle: buildFirmware({ outfile: null, metafile: null }) from firmware/build.mjs, ' + fw.mangled + ' private names mangled; largest modules (bytes): ' + top,
      'heap: QuickJS (quickjs-emscripten) "memory used" above the compiled program, test/helpers/quickjs-heap.ts; the scenario of test/firmware-budget.test.ts: ' +
        'connect, 15 s idle with a reading every 3 s (each acked; steady = the max), then a 4 KiB text message (peak = the most at any sample), then 5 s idle',
      'QuickJS: empty context ' + f.empty + ' B, Kaluma stand-in +' + (f.standins - f.empty) + ' B, compiled bundle +' + (f.parsed - f.standins) +
        ' B (QuickJS keeps source and its own bytecode: reported, not budgeted; firmware/README.md)',
      'QuickJS objects cost more than JerryScript\'s (48 B + shapes vs 16-44 B): the heap figures are upper bounds for the device; peaks are sampled, a spike between samples can be missed',
      'worst case (test/helpers/heap-worst-case.ts): ' + describeWorstCase(worst),
      'idle-after budget = steady + 8 KiB: the protocol keeps its reassembly buffer (up to maxMessage) so that it allocates nothing per message',
    ],
  };
}

export const deviceSection: Section = {
  name: 'device',
  title: 'the device: firmware bundle size and heap (QuickJS) against the budgets',
  run: runDevice,
};
