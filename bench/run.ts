/**
 * `npm run bench`: runs the sections below in order, prints one table per section
 * and writes bench/results.json (the committed latest figures).
 *
 *   node dist/bench.js [--only <section>[,<section>...]] [--quick]
 *
 * --quick: short budgets for a smoke run; its figures are printed, not written.
 * Adding a section: write bench/<name>.ts exporting a `Section`, list it here.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../board/node/core';
import { clientSection } from './client';
import { coreSection } from './core';
import { deviceSection } from './device';
import { livenessSection } from './liveness';
import { stormSection } from './storm';
import { benchOptions, printSection, writeResults, type Section, type SectionRecord } from './harness';

const SECTIONS: Section[] = [coreSection, clientSection, deviceSection, livenessSection, stormSection];

interface Args {
  only: string[] | null;
  quick: boolean;
}

function usage(): string {
  return 'usage: node dist/bench.js [--only <section>[,<section>...]] [--quick]\nsections: ' + SECTIONS.map((s) => s.name).join(', ');
}

function parseArgs(argv: string[]): Args {
  const args: Args = { only: null, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!value) throw new Error('--only needs a section name\n' + usage());
      args.only = (args.only || []).concat(value.split(',').filter(Boolean));
    } else if (a === '--help' || a === '-h') {
      console.log(usage());
      process.exit(0);
    } else throw new Error('unknown argument ' + a + '\n' + usage());
  }
  if (args.only) {
    for (const name of args.only) if (!SECTIONS.some((s) => s.name === name)) throw new Error('no section named ' + name + '\n' + usage());
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const opts = benchOptions(args.quick);
  const env = {
    node: process.version,
    cpu: cpus()[0] ? cpus()[0].model.trim() : 'unknown',
    cores: cpus().length,
    load: Number(loadavg()[0].toFixed(2)),
    date: new Date().toISOString(),
  };
  console.log('picows bench  node ' + env.node + '  ' + process.arch + '  cpu ' + env.cpu + ' (' + env.cores + ' cores, load ' + env.load + ')  ' + env.date + (args.quick ? '  [quick]' : ''));
  const ran: SectionRecord[] = [];
  for (const section of SECTIONS) {
    if (args.only && args.only.indexOf(section.name) < 0) continue;
    const t0 = Date.now();
    const result = await section.run(opts);
    printSection(section, result);
    console.log('  (' + ((Date.now() - t0) / 1000).toFixed(1) + ' s)');
    ran.push({ name: section.name, title: section.title, date: env.date, quick: args.quick, ...result });
  }
  if (args.quick) {
    console.log('\n--quick: bench/results.json not written');
    return;
  }
  const path = join(packageRoot(), 'bench', 'results.json');
  writeResults(path, env, ran, SECTIONS.map((s) => s.name));
  console.log('\nwrote ' + path);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
