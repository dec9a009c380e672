// Builds the Node programs: dist/cli.js (the `picows` bin) and dist/bench.js (`npm run bench`).
// npm dependencies stay external (ws and the native anchors load from node_modules).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entries = [
  ['board/node/cli.ts', 'dist/cli.js'],
  ['board/node/index.ts', 'dist/node.js'],
  ['bench/run.ts', 'dist/bench.js'],
];
for (const [src, out] of entries) {
  if (!existsSync(join(root, src))) continue;
  await build({
    entryPoints: [join(root, src)],
    outfile: join(root, out),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    // The host build: every option and message (src/device.d.ts).
    define: { PICOWS_DEVICE: 'false' },
    banner: { js: src.endsWith('cli.ts') ? '#!/usr/bin/env node' : '' },
    logLevel: 'warning',
  });
}
