/**
 * The firmware after a stop decision: a server that refuses the upgrade (403) stops
 * the client (policy: rejected), the app starts it again 60 s later, and from then on
 * the Wi-Fi hook must work as at boot. Before the fix, a restarted client never polled
 * the link again, so the app's own view of the link (fed by those polls) stayed "up":
 * the LED never went off and the board never rejoined a lost network.
 * The bundle runs in QuickJS against the in-memory peer (test/helpers/quickjs-heap.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFirmware } from '../firmware/build.mjs';
import { HeapBoard } from './helpers/quickjs-heap';

let board: HeapBoard;
let refusedFirst = 0;
let connectsAfterRestart = 0;
let ledWhileDown: unknown;
let attemptsWhileDown = -1;
let errorsAtStop: string[] = [];

beforeAll(async () => {
  const fw = await buildFirmware({ outfile: null, metafile: null });
  board = await HeapBoard.create(fw.code, { WS_URL: 'ws://10.0.0.2:8080/', TELEMETRY_MS: '3000' });
  board.peer.refuseStatus = 403;
  board.boot();
  board.advance(5000);
  refusedFirst = board.peer.refused;
  errorsAtStop = board.errors().slice();
  // The server lets the device in again; the app restarts its client 60 s after the stop.
  board.peer.refuseStatus = 0;
  board.advance(62000);
  connectsAfterRestart = board.peer.connections;
  board.advance(5000);
  board.setWifi(false);
  const before = board.peer.connections;
  board.advance(3000);
  ledWhileDown = board.read('__led');
  board.advance(30000);
  attemptsWhileDown = board.peer.connections - before;
  board.setWifi(true);
  board.advance(10000);
}, 60000);

afterAll(() => {
  if (board) board.dispose();
});

describe('the firmware after a stop decision', () => {
  it('stops on a 403 (no retry) and says why', () => {
    expect(refusedFirst).toBe(1);
    expect(errorsAtStop.some((e) => /^stopped:.*handshake-rejected http 403/.test(e))).toBe(true);
  });

  it('starts the client again 60 s later and connects', () => {
    expect(connectsAfterRestart).toBe(2); // the refused one, then the restart's
  });

  it('notices Wi-Fi loss after the restart: LED off, no attempts while down, back when it returns', () => {
    expect(ledWhileDown).toBe(false);
    expect(attemptsWhileDown).toBe(0);
    expect(board.peer.connected).toBe(true);
    expect(board.peer.connections).toBe(connectsAfterRestart + 1);
    expect(board.peer.deliveries.length).toBeGreaterThan(3);
  });
});
