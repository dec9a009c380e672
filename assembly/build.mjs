/**
 * Compiles the core (assembly/index.ts) to build/core.wasm: -O3, SIMD on, the stub
 * runtime (nothing is allocated after instantiation) and no imports, so
 * `new WebAssembly.Instance(module, {})` works. The output is deterministic.
 *
 * Runs before every `npm test`, so it skips the compile (about 5 s) when
 * build/core.wasm is newer than every input; `--force` compiles anyway.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const out = join(root, 'build', 'core.wasm');

function upToDate() {
  if (!existsSync(out)) return false;
  const built = statSync(out).mtimeMs;
  const inputs = readdirSync(here)
    .filter((name) => name.endsWith('.ts') || name.endsWith('.mjs') || name.endsWith('.json'))
    .map((name) => join(here, name));
  inputs.push(join(root, 'node_modules', 'assemblyscript', 'package.json'));
  return inputs.every((path) => statSync(path).mtimeMs < built);
}

if (process.argv.includes('--force') || !upToDate()) {
  mkdirSync(dirname(out), { recursive: true });
  // Loaded only when compiling: importing the compiler alone takes ~2 s.
  const { default: asc } = await import('assemblyscript/asc');
  const { error, stderr } = await asc.main(
    [
      join(here, 'index.ts'),
      '--outFile', out,
      '-O3',
      '--noAssert',
      '--runtime', 'stub',
      '--enable', 'simd',
      // No host imports: abort() (unreachable: no assertions, no allocation) becomes a trap.
      '--use', 'abort=',
      // The layout (assembly/layout.ts) is fixed: 8 pages, and the memory may not grow.
      '--initialMemory', '8',
      '--maximumMemory', '8',
    ],
    { stdout: process.stdout, stderr: process.stderr },
  );
  if (error) {
    console.error(stderr.toString());
    console.error('assembly/build.mjs: ' + error.message);
    process.exit(1);
  }
}
