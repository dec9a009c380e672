/**
 * Loads a src/ module as the device build compiles it: bundled by esbuild with
 * PICOWS_DEVICE true (src/device.d.ts), for es2019, so its device-only branches are
 * the ones that run. For testing one class of the device profile directly (the whole
 * bundle is tested in firmware-sandbox.test.ts).
 */
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('../..', import.meta.url).pathname;

export async function deviceModule<T>(srcPath: string): Promise<T> {
  const out = await build({
    entryPoints: [join(root, srcPath)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2019',
    define: { PICOWS_DEVICE: 'true' },
    logLevel: 'silent',
  });
  const dir = join(root, 'build', 'device-modules');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, srcPath.replace(/[\\/]/g, '_').replace(/\.ts$/, '') + '-' + process.pid + '.mjs');
  writeFileSync(file, out.outputFiles[0].text);
  return (await import(pathToFileURL(file).href)) as T;
}
