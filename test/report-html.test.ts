/**
 * The HTML run report, checked in a real browser: Debian's chromium, driven by
 * playwright-core, loads the report from a file:// URL with every request routed
 * through the test, so a single fetch of anything that is not the file itself fails
 * it. Then the plots are counted element by element against the data, the summary's
 * numbers are read back from the rendered table, and a screenshot is kept in
 * test/artifacts/report.png for a person to look at.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml, niceStep, renderReport, type DeviceTimeline, type ReportData } from '../board/node/report-html';
import { mulberry32 as prng } from '../board/sim/prng';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, 'artifacts');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Something that looks like a URL a browser would fetch, or a way to fetch one. */
const EXTERNAL = /\b(?:https?|ftp|wss?):\/\/|\/\/[a-z0-9-]+\.[a-z]|url\(|@import|\bsrc\s*=|\bhref\s*=|<link\b|<iframe\b|<img\b/i;


/** A small storm-shaped report: 8 devices dropped at t = 0 and back after a jittered wait, two histograms, an aggregate. */
function fixture(): ReportData {
  const r = prng(7);
  const devices: DeviceTimeline[] = [];
  for (let i = 0; i < 8; i++) {
    const up = -3000 + Math.round(r() * 800);
    const wait = 100 + Math.round(r() * 4900);
    const open = wait + 20 + Math.round(r() * 30);
    const rtt: [number, number][] = [];
    for (let t = up + 500; t < 0; t += 500) rtt.push([t, 2 + Math.round(r() * 3)]);
    for (let t = open + 500; t < 8000; t += 500) rtt.push([t, 3 + Math.round(r() * 6)]);
    devices.push({
      id: 'device ' + i * 125,
      segments: [
        { from: -4000, to: up - 15, state: 'idle' },
        { from: up - 15, to: up, state: 'connecting' },
        { from: up, to: 0, state: 'open' },
        { from: 0, to: wait, state: 'backoff' },
        { from: wait, to: open, state: 'connecting' },
        { from: open, to: 8000, state: 'open' },
      ],
      rtt,
      backoff: [[0, wait]],
    });
  }
  const jittered: number[] = [];
  const lockstep: number[] = [];
  for (let b = 0; b < 80; b++) {
    jittered.push(b >= 1 && b <= 50 ? 12 + Math.round(r() * 14) : 0);
    lockstep.push(b === 50 ? 1000 : 0);
  }
  const open: number[] = [];
  const backoff: number[] = [];
  const connecting: number[] = [];
  for (let b = 0; b < 120; b++) {
    const t = -4000 + b * 100;
    const o = t < 0 ? Math.min(1000, Math.max(0, Math.round((t + 4000) / 3))) : Math.min(1000, Math.max(0, Math.round((t - 100) / 5)));
    const c = t >= 0 ? Math.min(1000 - o, 25) : 0;
    open.push(o);
    connecting.push(c);
    backoff.push(t >= 0 ? 1000 - o - c : 0);
  }
  return {
    title: 'Storm <script>alert("x")</script> & friends',
    generatedAt: '2026-01-02T03:04:05.000Z',
    notes: ['1000 devices, one server restart at t = 0', 'a note with <b>markup</b> that must stay text'],
    summary: {
      columns: ['jitter', 'no jitter'],
      rows: [
        { label: 'peak attempts in any 100 ms', values: ['37 (3.7%)', '1000 (100%)'], target: '≤ 5%', pass: [true, false] },
        { label: '99% back', values: ['14.73 s', '5.21 s'], target: '≤ 30 s', pass: [true, true] },
        { label: 'lost', values: [0, 0], target: '0', pass: [true, true] },
        { label: 'accepted connections/s: peak, mean', values: ['318, 33.3', '1000, 274.6'] },
        { label: 'not measured', values: [null, 12.345] },
      ],
    },
    devices,
    fleetSize: 1000,
    aggregates: [{ name: 'Devices per state: jitter', binMs: 100, startMs: -4000, series: { open, connecting, backoff } }],
    histograms: [
      { name: 'Client reconnect attempts: jitter', binMs: 100, counts: jittered, unit: 'attempts', limit: { value: 50, label: '5% of the fleet' } },
      { name: 'Client reconnect attempts: no jitter', binMs: 100, counts: lockstep, unit: 'attempts', limit: { value: 50, label: '5% of the fleet' } },
    ],
    markers: [{ at: 0, label: 'server restart' }],
    timeLabel: 'seconds after the restart',
  };
}

describe('renderReport (as text)', () => {
  it('is one document with no external URL and no way to fetch one', () => {
    const html = renderReport(fixture());
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(EXTERNAL);
    // The browser is told the same: nothing may load from anywhere.
    expect(html).toContain("default-src 'none'");
    // The URL check itself can fail.
    expect('<img src="a.png">').toMatch(EXTERNAL);
    expect('x https://example.com y').toMatch(EXTERNAL);
  });

  it('escapes every string it is given', () => {
    const html = renderReport(fixture());
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('Storm &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends');
    expect(html).not.toContain('<b>markup</b>');
    expect(escapeHtml(`<a href='x'>&"`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&quot;');
  });

  it('renders an empty report without charts, and never draws NaN', () => {
    const html = renderReport({ title: 'nothing yet' });
    expect(html).toContain('<h1>nothing yet</h1>');
    expect(html).not.toContain('<svg');
    const one = renderReport({ title: 't', devices: [{ id: 'a', segments: [{ from: 5, to: 5, state: 'open' }], rtt: [[5, 3]] }] });
    expect(one).toContain('class="seg"');
    expect(one).not.toContain('NaN');
    expect(renderReport(fixture())).not.toContain('NaN');
  });

  it('picks 1-2-5 tick steps', () => {
    expect(niceStep(10000, 10)).toBe(1000);
    expect(niceStep(12000, 10)).toBe(2000);
    expect(niceStep(37, 4)).toBe(10);
    expect(niceStep(1000, 4)).toBe(500);
  });
});

describe('renderReport in headless Chromium', () => {
  let browser: Browser | null = null;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(CHROMIUM + ' is missing: install it with `apt-get install -y chromium` (Debian), then rerun');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 30000);

  afterAll(async () => {
    if (browser) await browser.close();
  });

  it('draws every plot from the data, fetches nothing, and keeps a screenshot', async () => {
    const data = fixture();
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'report.html');
    writeFileSync(file, renderReport(data));
    const url = pathToFileURL(file).href;

    const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    const outside: string[] = [];
    const errors: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith('file:')) return route.continue();
      outside.push(u);
      return route.abort();
    });
    await page.goto(url, { waitUntil: 'load' });

    // Histograms: one bar per bin, per histogram, and the 5% line on each.
    const hist = page.locator('figure.histogram');
    expect(await hist.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      expect(await hist.nth(i).locator('rect.bar').count()).toBe(data.histograms![i].counts.length);
      expect(await hist.nth(i).locator('g.limit line').count()).toBe(1);
    }
    // The lockstep spike is the tallest bar; the jittered bars stay under the 5% line.
    const heights = await hist.nth(1).locator('rect.bar').evaluateAll((els) => els.map((e) => Number(e.getAttribute('height'))));
    expect(heights.indexOf(Math.max(...heights))).toBe(50);
    const limitY = Number(await hist.nth(0).locator('g.limit line').getAttribute('y1'));
    const tops = await hist.nth(0).locator('rect.bar').evaluateAll((els) => els.map((e) => Number(e.getAttribute('y'))));
    expect(Math.min(...tops)).toBeGreaterThan(limitY);

    // Timelines: a row per device, a rect per segment; an RTT path per device; a dot per backoff.
    const devs = data.devices!;
    expect(await page.locator('svg.timeline g.device').count()).toBe(devs.length);
    expect(await page.locator('svg.timeline rect.seg').count()).toBe(devs.reduce((n, d) => n + d.segments.length, 0));
    expect(await page.locator('svg.rtt path.rtt-line').count()).toBe(devs.length);
    expect(await page.locator('svg.backoff-chart circle.backoff-dot').count()).toBe(devs.reduce((n, d) => n + d.backoff!.length, 0));
    // The RTT lines break across the outage: two runs of samples, two subpaths.
    const d0 = await page.locator('svg.rtt path.rtt-line').first().getAttribute('d');
    expect((d0!.match(/M/g) || []).length).toBe(2);
    // One stacked band per state in the aggregate.
    expect(await page.locator('svg.agg path.area').count()).toBe(3);
    // The restart marker on every time axis (2 histograms, aggregate, timeline, RTT, backoff).
    expect(await page.locator('g.marker').count()).toBe(6);

    // Every chart is actually laid out (not zero-sized).
    const sizes = await page.locator('svg.chart').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width * e.getBoundingClientRect().height));
    expect(sizes.length).toBe(6);
    for (const s of sizes) expect(s).toBeGreaterThan(10000);

    // The summary, as the browser shows it.
    const table = page.locator('table.summary');
    const text = await table.innerText();
    for (const v of ['37 (3.7%)', '1000 (100%)', '14.73 s', '5.21 s', '318, 33.3', '1000, 274.6', '≤ 5%', '12.3', '—']) expect(text).toContain(v);
    expect(await table.locator('td.pass').count()).toBe(5);
    expect(await table.locator('td.fail').count()).toBe(1);
    expect(await table.locator('tbody tr').count()).toBe(data.summary!.rows.length);
    // The hostile title is shown as text.
    expect(await page.locator('h1').innerText()).toBe(data.title);
    expect(await page.title()).toBe(data.title);

    // The inline script runs: hovering a bar shows its tooltip.
    const bar = hist.nth(1).locator('rect.bar').nth(50);
    await bar.hover({ force: true });
    await expect.poll(() => page.locator('#tip').innerText()).toContain('1000 attempts');

    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    expect(existsSync(join(ARTIFACTS, 'report.png'))).toBe(true);

    expect(outside).toEqual([]);
    expect(requests.every((u) => u.startsWith('file:'))).toBe(true);
    expect(requests).toContain(url);
    expect(errors).toEqual([]);
    await page.close();
  }, 60000);

  it('fails a page that fetches something (the request check can fail)', async () => {
    const file = join(ARTIFACTS, 'report-leaky.html');
    // Built as text here: the report itself can never produce this.
    writeFileSync(file, '<!DOCTYPE html><html><body><img src="http://192.0.2.1/x.png"></body></html>');
    const page = await browser!.newPage();
    const outside: string[] = [];
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith('file:')) return route.continue();
      outside.push(u);
      return route.abort();
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    expect(outside).toEqual(['http://192.0.2.1/x.png']);
    await page.close();
  }, 30000);
});
