/**
 * The core on Node: reads build/core.wasm (made by `npm run build`) once and
 * hands it to the loader. Works from the TypeScript sources and from dist/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCore, type CorePreference } from '../../src/core/loader';
import type { Core } from '../../src/core/types';

let wasmModule: WebAssembly.Module | undefined;
const cores: { [k: string]: Core } = {};

/** The package root: the nearest folder above this file that holds build/core.wasm. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'assembly'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('picows: cannot find the package root from ' + fileURLToPath(import.meta.url));
}

export function wasmPath(): string {
  return join(packageRoot(), 'build', 'core.wasm');
}

function compiledWasm(): WebAssembly.Module {
  if (!wasmModule) {
    const path = wasmPath();
    if (!existsSync(path)) throw new Error('picows: ' + path + ' is missing; run `npm run build`');
    wasmModule = new WebAssembly.Module(readFileSync(path));
  }
  return wasmModule;
}

/** The shared core for this process ('auto' = WebAssembly). */
export function nodeCore(prefer: CorePreference = 'auto'): Core {
  const key = prefer === 'js' ? 'js' : 'wasm';
  if (!cores[key]) cores[key] = loadCore(key, key === 'wasm' ? compiledWasm() : undefined);
  return cores[key];
}
