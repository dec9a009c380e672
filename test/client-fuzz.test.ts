/**
 * `picows echo` against the in-project fuzzing server (test/peers/fuzz-server.ts):
 * every shared frame vector and the Autobahn-style client cases
 * (test/peers/fuzz-cases.ts), each over a real socket, through runEcho() in-process
 * on both cores, and a few through the built CLI process. A case passes when the
 * server's judge found no problem (echoes, pongs, Close code, who ended TCP,
 * fail-fast) and the client reported the expected close locally.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { packageRoot } from '../board/node/core';
import { runEcho } from '../board/node/echo';
import { caseById, CASES } from './peers/fuzz-cases';
import { FuzzServer } from './peers/fuzz-server';
import { VECTOR_COUNT } from './vectors/frames';

let fuzz: FuzzServer;

beforeAll(async () => {
  fuzz = await FuzzServer.start(CASES);
});

afterAll(async () => {
  await fuzz.close();
});

describe('the fuzz case catalogue', () => {
  it('replays every shared vector whole and chopped, and covers each Autobahn section', () => {
    expect(CASES.filter((c) => c.group === 'vector').length).toBe(2 * VECTOR_COUNT);
    const groups: { [g: string]: number } = {};
    for (const c of CASES) groups[c.group] = (groups[c.group] || 0) + 1;
    for (const g of ['framing', 'pingpong', 'rsv', 'opcode', 'fragmentation', 'utf8', 'close']) expect(groups[g]).toBeGreaterThan(5);
    // Legal and illegal input both: a judge that only ever expects one outcome proves little.
    for (const outcome of ['fail', 'answer', 'eof'] as const) expect(CASES.some((c) => c.expect.outcome === outcome)).toBe(true);
  });
});

describe('the judge, with ws\'s client in place of picows', () => {
  /** Short waits: the clients here are meant to misbehave, and waiting the full 3 s proves nothing more. */
  let quick: FuzzServer;
  beforeAll(async () => {
    quick = await FuzzServer.start(CASES, { waitMs: 300, failFastMs: 300 });
  });
  afterAll(async () => {
    await quick.close();
  });

  /** ws as an echo client: `echo` false makes it a client that answers nothing. */
  function wsEcho(url: string, echo: boolean): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WsClient(url, { maxPayload: 65536 });
      ws.on('message', (data, isBinary) => echo && ws.send(data, { binary: isBinary }));
      ws.on('error', () => undefined);
      ws.on('close', () => resolve());
    });
  }

  // A second implementation passes the same judge: the cases ask for RFC 6455, not for picows' habits.
  for (const id of ['f-text-65536-chop', 'p-ping-10', 'g-five-pings-chop', 'o-op-b', 'u-5-frags', 'c-code-1016', 'c-code-3999', 'c-then-text']) {
    it(`passes ws on ${id}`, async () => {
      const run = fuzz.run(id);
      await wsEcho(run.url, true);
      expect((await run.verdict).problems).toEqual([]);
    });
  }

  it('fails a client that does not fail fast (ws checks UTF-8 only once a message is whole)', async () => {
    const run = quick.run('u-failfast-frame1');
    await wsEcho(run.url, true);
    expect((await run.verdict).problems).toContain('step 1: no Close from the client within 300 ms: it did not fail fast');
  });

  it('fails a client that does not echo', async () => {
    const run = quick.run('f-binary-128');
    await wsEcho(run.url, false);
    const problems = (await run.verdict).problems;
    expect(problems.some((p) => /^echoes: expected 1 \[binary:.+\(128 B, #[0-9a-f]{8}\)\], got 0 \[\]$/.test(p))).toBe(true);
  });

  it('fails a client that closes with the wrong code', async () => {
    const run = quick.run('u-0');
    const ws = new WsClient(run.url);
    ws.on('open', () => ws.close(3007));
    await new Promise((resolve) => ws.on('close', resolve));
    expect((await run.verdict).problems).toContain('client Close 3007, expected 1000');
  });
});

for (const core of ['wasm', 'js'] as const) {
  describe.concurrent(`picows echo against the fuzzing server (${core} core)`, () => {
    for (const c of CASES) {
      it(`${c.id}: ${c.description}`, async () => {
        const run = fuzz.run(c.id);
        const result = await runEcho(run.url, { core, maxMessage: c.client.maxMessage, validatorFlags: c.client.validatorFlags });
        const verdict = await run.verdict;
        expect(verdict.problems).toEqual([]);
        expect({ code: result.code, wasClean: result.wasClean, cause: result.cause, errorId: result.errorId }).toEqual(c.expect.report);
        expect(result.messages).toBe(c.expect.echoes.length);
      });
    }
  });
}

/** Runs `node dist/cli.js echo <url> ...args`: exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(packageRoot(), 'dist', 'cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the picows echo CLI against the fuzzing server', () => {
  beforeAll(() => {
    if (!existsSync(join(packageRoot(), 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  });

  // One case per class of outcome: legal traffic, a UTF-8 failure found fast, an invalid close code, a clean close echoed.
  const cliCases: [string, 'wasm' | 'js', RegExp, number][] = [
    ['f-text-65536-chop', 'wasm', /^closed: code=1000 reason="" wasClean=true cause=peer-closed messages=1\n$/, 0],
    ['p-ping-10', 'js', /^closed: code=1000 reason="" wasClean=true cause=peer-closed messages=0\n$/, 0],
    ['u-failfast-frame1', 'wasm', /^closed: code=1007 reason="" wasClean=false cause=protocol-error messages=0\nerror: INVALID_UTF8: .+\n$/, 1],
    ['c-code-1016', 'js', /^closed: code=1002 reason="" wasClean=false cause=protocol-error messages=0\nerror: INVALID_CLOSE_CODE: .+\n$/, 1],
    ['c-code-4000', 'wasm', /^closed: code=4000 reason="reason" wasClean=true cause=peer-closed messages=0\n$/, 0],
  ];
  for (const [id, core, line, exit] of cliCases) {
    it(`${id} (${core}): exit ${exit}`, async () => {
      const c = caseById(id);
      const run = fuzz.run(id);
      const out = await cli(['echo', run.url, '--core', core, '--max-message', String(c.client.maxMessage)]);
      expect((await run.verdict).problems).toEqual([]);
      expect(out.stderr).toBe('');
      expect(out.stdout).toMatch(line);
      expect(out.code).toBe(exit);
    });
  }
});
