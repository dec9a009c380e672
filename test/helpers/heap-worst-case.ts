/**
 * The firmware's worst-case heap scenario, on a HeapBoard (test/helpers/quickjs-heap.ts):
 * what a board on flaky Wi-Fi lives through, in one run. Shared by
 * test/firmware-heap-worst-case.test.ts, which asserts on it, and `npm run bench`'s
 * device section, which reports it (bench/device.ts).
 *  1. boot, connect, idle 6 s: `steady` (cycles collected);
 *  2. 40 reconnects, alternating a server that ends TCP and a link that goes silent for
 *     15 s (found by the pong deadline, then connect deadlines until it returns):
 *     `live` after reconnects 10 and 40 (cycles collected);
 *  3. a 150 s Wi-Fi outage: `outage` 10, 90 and 150 s in (cycles collected), `outagePeak`;
 *  4. the return, to a server whose 101 response head is 3.5 KB (maxHeadBytes is 4096),
 *     with the queued readings sent as fast as the socket takes them: `returnPeak`;
 *  5. the largest message picows accepts by default (maxMessage, 8 KiB) in 8
 *     fragments: `messagePeak`.
 * Every figure is program data above the compiled bundle (HeapBoard.data/peakData).
 */
import type { HeapBoard } from './quickjs-heap';

/** maxMessage, the largest message the client accepts by default. */
export const WORST_MESSAGE = '{"cmd":"config","pad":"' + 'y'.repeat(8 * 1024 - 25) + '"}';

export interface WorstCase {
  steady: number;
  /** Live data after reconnects 10 and 40. */
  live: number[];
  /** Live data 10, 90 and 150 s into the outage. */
  outage: number[];
  outagePeak: number;
  returnPeak: number;
  messagePeak: number;
  /** Readings the peer had, and connections it had accepted, before the outage. */
  deliveredBefore: number;
  connectsBefore: number;
}

/** Runs until the peer has a new upgraded connection (at most 2 min of board time). */
function reconnect(b: HeapBoard): void {
  const n = b.peer.connections;
  for (let t = 0; t < 120000 && !(b.peer.connected && b.peer.connections > n); t += 500) b.advance(500);
  if (!(b.peer.connected && b.peer.connections > n)) throw new Error('the board did not reconnect within 2 minutes');
}

/** Runs the scenario on a board created with the bundle (not booted yet). */
export function runWorstCase(board: HeapBoard): WorstCase {
  board.boot();
  board.advance(6000);
  board.collect();
  const steady = board.data();

  const live: number[] = [];
  for (let cycle = 1; cycle <= 40; cycle++) {
    if (cycle % 2) board.peer.drop();
    else {
      board.peer.silent = true;
      board.advance(15000);
      board.peer.silent = false;
    }
    reconnect(board);
    board.advance(4000);
    // A handful of collections per runtime (each costs more than the one before).
    if (cycle === 10 || cycle === 40) {
      board.collect();
      live.push(board.data());
    }
  }
  const deliveredBefore = board.peer.deliveries.length;
  const connectsBefore = board.peer.connections;

  const outage: number[] = [];
  board.resetPeak();
  board.setWifi(false);
  for (const ms of [10000, 80000, 60000]) {
    board.advance(ms);
    board.collect();
    outage.push(board.data());
  }
  const outagePeak = board.peakData();

  board.peer.extraHead = Array.from({ length: 35 }, (_, i) => `X-Pad-${String(i).padStart(2, '0')}: ${'p'.repeat(88)}\r\n`).join('');
  board.setWifi(true);
  board.resetPeak();
  reconnect(board);
  board.advance(20000);
  const returnPeak = board.peakData();

  board.resetPeak();
  board.peer.sendFragmented(WORST_MESSAGE, 8);
  board.advance(10);
  const messagePeak = board.peakData();
  board.advance(5000);
  return { steady, live, outage, outagePeak, returnPeak, messagePeak, deliveredBefore, connectsBefore };
}

/** One line with every figure, for logs and the bench's notes. */
export function describeWorstCase(w: WorstCase): string {
  return (
    `steady ${w.steady}; after 10 and 40 reconnects (cycles collected) ${w.live.join(', ')}; ` +
    `outage at 10, 90, 150 s: ${w.outage.join(', ')}, peak ${w.outagePeak}; return with a 3.5 KB response head and the outbox replayed: peak ${w.returnPeak}; ` +
    `8 KiB message in 8 fragments: peak ${w.messagePeak}`
  );
}
