/**
 * The liveness section: how long the real client (ResilientClient with the default
 * liveness settings: 5 s idle ping, pong deadline 4 x smoothed RTT within [2 s, 5 s])
 * takes to declare a blackholed connection dead, on virtual time: the in-memory server
 * and VirtualClock of test/helpers/virtual-net.ts, so every run gives the same figures.
 *
 * The blackhole starts at a seeded random moment of an idle connection's ping cycle
 * (uniform over two cycles, after the first ping), from then on nothing crosses in
 * either direction and no RST is ever seen, as when an access point dies or a NAT
 * entry expires. Detection time = the close event's time - the blackhole's start.
 * Compared with the anchors' default worst-case detection (shared/anchors.md).
 */
import { ResilientClient, type ResilientEvent } from '../src/resilience/resilient-client';
import { seededRandom32, VirtualNet } from '../test/helpers/virtual-net';
import { check, percentile, progress, target } from './harness';
import type { BenchOptions, Row, Section, SectionResult } from './harness';

/** The defaults' worst case after the last byte: pingInterval 5 s + the pong deadline's 5 s ceiling. */
const GOAL_S = 10;

/** One-way latencies: a LAN (the 2 s floor applies), Wi-Fi to a cloud server, and a slow link (the 5 s ceiling). */
const LINKS: { label: string; latencyMs: number }[] = [
  { label: 'LAN, 1 ms one-way', latencyMs: 1 },
  { label: 'internet, 50 ms one-way', latencyMs: 50 },
  { label: 'slow link, 700 ms one-way', latencyMs: 700 },
];

/** Default dead-link detection of the anchors, with their defaults (shared/anchors.md §1-2), worst case in s. */
const ANCHORS: { impl: string; seconds: number; why: string }[] = [
  { impl: 'esp_websocket_client', seconds: 130, why: 'ping every 10 s, abort after 120 s without a pong' },
  { impl: 'libwebsockets', seconds: 50, why: 'ping after 40 s idle, hang up at 50 s' },
  { impl: 'python-websockets', seconds: 40, why: 'ping_interval 20 s + ping_timeout 20 s' },
];

interface Detection {
  /** ms from the blackhole to the close event. */
  sinceBlackhole: number;
  /** ms from the last byte the client received to the close event. */
  sinceLastByte: number;
}

/** One connection with the defaults, idle for `upMs`, then blackholed; when was it declared dead? */
function detectOnce(latencyMs: number, upMs: number, seed: number): Detection {
  const net = new VirtualNet({ latencyMs });
  const client = new ResilientClient('ws://sensor.local/telemetry', net.runtime(seed), {});
  let close: { at: number; ev: Extract<ResilientEvent, { type: 'close' }> } | null = null;
  let opened = false;
  client.onevent = (ev) => {
    if (ev.type === 'open') opened = true;
    if (ev.type === 'close' && !close) close = { at: net.clock.now(), ev };
  };
  client.start();
  net.advance(upMs);
  check(opened && client.state === 'open' && close === null, 'the connection was not open and idle at ' + upMs + ' ms (latency ' + latencyMs + ' ms)');
  const conn = net.last;
  const since = net.clock.now();
  conn.blackhole(true);
  // Well past any deadline: the close event carries its own virtual time.
  net.advance(GOAL_S * 1000 * 4);
  client.stop();
  const c = close as { at: number; ev: Extract<ResilientEvent, { type: 'close' }> } | null;
  check(c !== null, 'no close within ' + GOAL_S * 4 + ' s of a blackhole (latency ' + latencyMs + ' ms, at ' + upMs + ' ms)');
  check(c!.ev.cause === 'pong-timeout' && c!.ev.code === 1006 && !c!.ev.wasClean, 'a blackhole closed with ' + c!.ev.cause + ' ' + c!.ev.code + ', not pong-timeout 1006');
  check(conn.lastToClientAt >= 0 && conn.lastToClientAt <= since, 'bytes reached the client after the blackhole');
  return { sinceBlackhole: c!.at - since, sinceLastByte: c!.at - conn.lastToClientAt };
}

function runLiveness(opts: BenchOptions): SectionResult {
  const samples = opts.quick ? 40 : 400;
  const rand = seededRandom32(20240601);
  const rows: Row[] = [];
  let worst = 0;
  const notes: string[] = [];
  for (const link of LINKS) {
    progress('liveness: ' + link.label);
    // The idle ping cycle is pingInterval (5 s) + one RTT; start after the first ping
    // has been answered and spread the blackhole over two cycles.
    const cycle = 5000 + 2 * link.latencyMs;
    const first = 5000 + 4 * link.latencyMs + 1000;
    const since: number[] = [];
    const afterLast: number[] = [];
    for (let i = 0; i < samples; i++) {
      const up = first + Math.floor(((rand() / 4294967296) * 2 * cycle));
      const d = detectOnce(link.latencyMs, up, i + 1);
      since.push(d.sinceBlackhole / 1000);
      afterLast.push(d.sinceLastByte / 1000);
    }
    const name = 'blackhole → declared dead, ' + link.label;
    const add = (impl: string, value: number) => rows.push({ name, impl, metric: 'detection', value, unit: 's', ratio: null, ratioTo: null });
    add('picows p50', percentile(since, 50));
    add('picows p99', percentile(since, 99));
    add('picows max', percentile(since, 100));
    add('picows min', Math.min(...since));
    const maxSince = percentile(since, 100);
    worst = Math.max(worst, maxSince);
    notes.push(
      link.label + ': ' + samples + ' blackholes; time after the last byte received ' + Math.min(...afterLast).toFixed(2) + '-' + percentile(afterLast, 100).toFixed(2) +
        ' s (pingInterval 5 s + the RTT-adapted pong deadline)',
    );
  }
  progress('');
  for (const a of ANCHORS) {
    const name = 'worst case vs ' + a.impl;
    rows.push({ name, impl: 'picows max', metric: 'detection', value: worst, unit: 's', ratio: worst / a.seconds, ratioTo: a.impl });
    rows.push({ name, impl: a.impl, metric: 'detection', value: a.seconds, unit: 's', ratio: 1, ratioTo: a.impl });
  }
  return {
    rows,
    targets: [target('dead-link detection, worst case over every link and phase (s)', worst, '<=', GOAL_S, 's')],
    notes: [
      'virtual time (test/helpers/virtual-net.ts + VirtualClock): the real ResilientClient, WebSocket and protocol code on the JS core, default options; ' +
        'the blackhole drops every byte both ways with no RST; detection = close event (pong-timeout, 1006) - blackhole start',
      'the blackhole starts at a seeded random moment spread uniformly over two idle ping cycles',
      ...notes,
      "anchors' figures are their documented worst case with default settings (shared/anchors.md): " + ANCHORS.map((a) => a.impl + ' ' + a.seconds + ' s (' + a.why + ')').join('; '),
      'ws has no ping by default (its heartbeat is a README recipe) and TCP keepalive is off: an idle blackholed connection is never detected, ' +
        'a sending one only when TCP retransmission gives up (about 15 min on Linux); so it has no row',
    ],
  };
}

export const livenessSection: Section = {
  name: 'liveness',
  title: 'liveness: dead-link detection with the defaults (virtual time)',
  run: runLiveness,
};
