// Builds the Pico W firmware: firmware/app.ts and the whole client stack bundled by
// esbuild into ONE strict-mode script, build/firmware.js, for Kaluma 1.2.1 (JerryScript
// 2.4). `picows flash` reuses buildFirmware() with --url/--ssid/--password baked in.
//
// Why each option (shared/platform/kaluma.md):
//  - target es2019: the highest plain target JerryScript 2.4 parses (es2020 keeps `?.`).
//  - format 'cjs' inside our own IIFE: Kaluma's require() loads built-ins only, and
//    esbuild's 'iife' format wraps external require() calls in a `__require` shim built
//    on Proxy; 'cjs' leaves `require("net")` exactly as written. The entry exports
//    nothing, so no `module`/`exports` appear.
//  - charset ascii: the program is flashed as text (kaluma write reads it as UTF-8);
//    no NUL byte either (Kaluma stores the program NUL-terminated, src/prog.c).
//  - minify + mangled member names (privateMemberNames below): bytecode lives in the
//    180 KiB heap for as long as the program runs, so every byte of source costs heap too.
//  - then terser, without function inlining: about 200 bytes esbuild leaves.
//  - PICOWS_DEVICE (src/device.d.ts): host-only options and English text that only explains
//    an error id are left out.
import { build } from 'esbuild';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { minify as terser } from 'terser';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Kaluma 1.2.1's built-in modules that the firmware may require (and nothing else). */
export const KALUMA_BUILTINS = ['net', 'wifi', 'rp2', 'wdt', 'pico_cyw43', 'storage', 'events', 'stream', 'timers'];

/** The byte budget for the whole bundle (test/firmware-budget.test.ts enforces it). */
export const BUNDLE_BUDGET = 24 * 1024;

/**
 * The largest bundle picows will flash: the budget itself. It came down as the bundle did
 * (40 KiB at 40,487 bytes, 36 KiB at 36,309, 32 KiB at 32,140) and met the budget when the
 * device got its own size-first client (board/kaluma/device-client.ts; firmware/README.md
 * "Size"). test/flash.test.ts derives its cases from this value.
 */
export const BUNDLE_LIMIT = BUNDLE_BUDGET;

const BANNER = "'use strict';(()=>{";
const FOOTER = '})();';

/**
 * Types whose members the device build shortens even when they are public: the stack's
 * own plumbing, and the classes behind ResilientClient's outbox, policy and backoff.
 * Only the bundle sees these names, the app (firmware/) included: esbuild renames
 * them consistently in the app too, so nothing the app or the wire can tell changes. Host
 * code keeps every name (this is build/firmware.js only). The client's events, stats
 * and options are listed too: the app reads them by name, never logs them whole. Never
 * listed: PicowsError (its id, closeCode and detail are what a logged error shows).
 */
export const INTERNAL_TYPES = [
  'Protocol', 'ProtocolOptions', 'ProtocolSink',
  'ClientHandshake', 'ClientHandshakeOptions', 'HandshakeSuccess', 'WsUrl', 'ResponseHead',
  'Runtime', 'Clock', 'Transport', 'TransportHandler', 'ConnectTarget',
  'Core', 'FrameValidator', 'JsFrameValidator',
  'LivenessMonitor', 'LivenessHooks', 'Outbox', 'Backoff', 'Policy',
  'KalumaTransport', 'StatusLed', 'KalumaLink', 'LinkMonitor',
  'Connection', 'ConnectionOptions', 'ConnectionHandler', 'WebSocket', 'WebSocketOptions', 'EventSource', 'OpenEvent', 'MessageEvent', 'ErrorEvent', 'CloseEvent', 'EventMap',
  'ResilientClient', 'ResilientOptions', 'LivenessOptions', 'BackoffOptions', 'PolicyOptions', 'OutboxOptions', 'PushOptions',
  'OutboxStats', 'Decision', 'Ending', 'Diagnostic', 'Override', 'HandshakeSuccess', 'ErrorSpec', 'DataFrame',
  'ResilientStats', 'LastClose', 'ResilientEvent',
  // The size-first device client (board/kaluma/device-client.ts).
  'DeviceClient', 'DeviceOptions', 'DeviceRuntime', 'DeviceStats', 'DeviceLastClose', 'DeviceEvent', 'DeviceDecision', 'DeviceDiagnostic',
  // Tests and the simulator only (not in the bundle): its members must not hold Clock's names back.
  'VirtualClock',
];

/**
 * The property names the device build mangles: members that are private or protected,
 * or `_`-prefixed, or that belong to an INTERNAL_TYPES type, minus every name that
 * something outside the bundle could see: other public members and interface fields,
 * keys of object literals that are not of an internal type (the app's telemetry JSON),
 * string literals (lookups by name, `'data' in v`) and names declared by the runtime's
 * typings (the ES library, Node's, Kaluma's). The app is bundled with the stack, so a
 * member of an internal type that it reads is renamed with it. esbuild renames by
 * name, consistently across the bundle. Returns null when the TypeScript compiler is
 * not installed (then nothing is mangled).
 */
export async function privateMemberNames(extraRoots = []) {
  let ts;
  try {
    ts = (await import('typescript')).default;
  } catch (e) {
    return null;
  }
  const program = ts.createProgram([join(root, 'firmware/app.ts'), ...extraRoots.map((f) => join(root, f))], {
    target: ts.ScriptTarget.ES2019,
    lib: ['lib.es2019.d.ts', 'lib.es2020.bigint.d.ts'],
    types: ['node'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const internal = new Set(INTERNAL_TYPES);
  const isInternalType = (type) => {
    if (!type) return false;
    if (type.isUnion()) return type.types.some(isInternalType);
    const sym = type.aliasSymbol || type.getSymbol();
    if (!sym) return false;
    if (internal.has(sym.getName())) return true;
    // A member of a union narrowed by its discriminant (`{ type: 'close', ... }` of
    // ResilientEvent) is an anonymous type literal: it belongs to the alias around it.
    const decl = sym.declarations && sym.declarations[0];
    return !!decl && ts.isTypeLiteralNode(decl) && internal.has(ownerName(decl));
  };
  // The type a member belongs to: its class or interface, or for a member of a nested
  // type literal (`classes?: { [C in PolicyClass]?: { action?: ... } }`), the named
  // type around it.
  const ownerName = (n) => {
    for (let p = n.parent; p; p = p.parent) {
      if (ts.isTypeLiteralNode(p) || ts.isMappedTypeNode(p) || ts.isUnionTypeNode(p) || ts.isPropertySignature(p) || ts.isIndexSignatureDeclaration(p) || ts.isParenthesizedTypeNode(p)) continue;
      return p.name && ts.isIdentifier(p.name) ? p.name.text : '';
    }
    return '';
  };
  const mangle = new Set();
  const keep = new Set();
  const base = root.replace(/\\/g, '/') + '/'; // the compiler's file names use '/' everywhere
  for (const sf of program.getSourceFiles()) {
    if (!sf.fileName.startsWith(base) || sf.fileName.includes('/node_modules/')) continue; // the ES library, Node's typings
    const outside = sf.isDeclarationFile;
    const visit = (n) => {
      if (ts.isPropertyAccessExpression(n)) {
        // A member of something the runtime declares (console.log, socket.write, process.memoryUsage).
        const sym = checker.getSymbolAtLocation(n.name);
        if (sym && (sym.declarations || []).some((d) => d.getSourceFile().isDeclarationFile)) keep.add(n.name.text);
      }
      if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) keep.add(n.text);
      const name = n.name && ts.isIdentifier(n.name) ? n.name.text : null;
      const inLiteral = n.parent && ts.isObjectLiteralExpression(n.parent);
      if (name && inLiteral && (ts.isPropertyAssignment(n) || ts.isShorthandPropertyAssignment(n) || ts.isMethodDeclaration(n))) {
        // A key of an object literal of an internal type is named by that type's declaration.
        if (outside || !isInternalType(checker.getContextualType(n.parent))) keep.add(name);
      } else if (name && (ts.isPropertyDeclaration(n) || ts.isMethodDeclaration(n) || ts.isGetAccessor(n) || ts.isSetAccessor(n) || ts.isParameter(n))) {
        const mods = (ts.canHaveModifiers(n) && ts.getModifiers(n)) || [];
        const hidden = mods.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword);
        const owner = ts.isParameter(n) ? ownerName(n.parent) : ownerName(n);
        if (ts.isParameter(n) && !mods.length) {
          // a plain parameter: not a member
        } else if (!outside && (hidden || name.charAt(0) === '_' || internal.has(owner))) mangle.add(name);
        else keep.add(name);
      } else if (name && (ts.isPropertySignature(n) || ts.isMethodSignature(n))) {
        if (!outside && internal.has(ownerName(n))) mangle.add(name);
        else keep.add(name);
      } else if (outside && ts.isPropertyAccessExpression(n)) {
        keep.add(n.name.text);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  for (const g of [Object, Function, Array, String, Number, Boolean, Symbol.prototype, Error, TypeError, RangeError, Promise, Map, Set, WeakMap, ArrayBuffer, DataView, Uint8Array, Uint32Array, Int32Array, Float64Array, JSON, Math, Date, RegExp, Reflect, BigInt, console]) {
    for (let o = g; o; o = Object.getPrototypeOf(o)) {
      for (const k of Object.getOwnPropertyNames(o)) keep.add(k);
      if (o.prototype) for (const k of Object.getOwnPropertyNames(o.prototype)) keep.add(k);
    }
  }
  return [...mangle].filter((n) => !keep.has(n)).sort();
}

/**
 * Builds the firmware. Options: url, ssid, password (defaults baked in; storage keys
 * override them on the device), outfile (default build/firmware.js; null = do not
 * write), metafile path (default build/firmware.meta.json; null = none), mangle
 * (default true), squeeze (the terser pass, default true), client ('layered': the
 * reference build with the layered stack, firmware/layered-client.ts). Returns { code, bytes, esbuildBytes (before terser: what the metafile's per-module
 * bytes add up to), outfile, metafile, mangled }.
 */
export async function buildFirmware(options = {}) {
  const outfile = options.outfile === undefined ? join(root, 'build/firmware.js') : options.outfile;
  const metaPath = options.metafile === undefined ? join(root, 'build/firmware.meta.json') : options.metafile;
  // The reference build (firmware/layered-client.ts): the layered stack where the app
  // imports the device client, mangled as it shipped (its files join the type check).
  const layered = options.client === 'layered';
  const mangled = options.mangle === false ? null : await privateMemberNames(layered ? ['firmware/layered-client.ts'] : []);
  const result = await build({
    plugins: layered ? [{ name: 'layered-client', setup: (b) => b.onResolve({ filter: /\/device-(?:client|runtime)$/ }, () => ({ path: join(root, 'firmware/layered-client.ts') })) }] : [],
    entryPoints: [join(root, 'firmware/app.ts')],
    absWorkingDir: root,
    bundle: true,
    write: false,
    outfile: outfile || join(root, 'build/firmware.js'),
    platform: 'neutral',
    format: 'cjs',
    target: 'es2019',
    charset: 'ascii',
    minify: true,
    legalComments: 'none',
    drop: ['debugger'],
    external: KALUMA_BUILTINS,
    mangleProps: mangled && mangled.length ? new RegExp('^(?:' + mangled.join('|') + ')$') : undefined,
    define: {
      PICOWS_DEVICE: 'true',
      PICOWS_DEFAULT_URL: JSON.stringify(options.url || ''),
      PICOWS_DEFAULT_SSID: JSON.stringify(options.ssid || ''),
      PICOWS_DEFAULT_PASSWORD: JSON.stringify(options.password || ''),
    },
    banner: { js: BANNER },
    footer: { js: FOOTER },
    metafile: true,
    logLevel: 'warning',
  });
  let code = result.outputFiles[0].text;
  const esbuildBytes = Buffer.byteLength(code);
  if (options.squeeze !== false) {
    // terser's second look at esbuild's output, with the options that keep the program's
    // shape: no function inlining (`inline`, `reduce_vars`, `reduce_funcs`), which would
    // turn a helper called once into a function expression created on every call (QuickJS
    // measured 5 KB more compiled for 250 bytes less source). firmware/README.md, "Size".
    const compress = { passes: 2, inline: false, reduce_vars: false, reduce_funcs: false };
    code = (await terser(code, { ecma: 2019, compress, mangle: true, format: { ascii_only: true } })).code;
  }
  if (code.indexOf('\0') >= 0) throw new Error('firmware: the bundle contains a NUL byte (Kaluma stores the program NUL-terminated)');
  for (let i = 0; i < code.length; i++) {
    if (code.charCodeAt(i) > 0x7e && code.charCodeAt(i) !== 0x7f) throw new Error('firmware: non-ASCII character at ' + i);
  }
  if (outfile) {
    mkdirSync(dirname(outfile), { recursive: true });
    writeFileSync(outfile, code);
  }
  if (metaPath) {
    mkdirSync(dirname(metaPath), { recursive: true });
    writeFileSync(metaPath, JSON.stringify(result.metafile));
  }
  return { code, bytes: Buffer.byteLength(code), esbuildBytes, outfile, metafile: result.metafile, mangled: mangled ? mangled.length : 0 };
}

/** Bytes of output per input file, largest first: [[path relative to the repo (absWorkingDir), bytes]]. */
export function bytesByModule(metafile) {
  const out = Object.values(metafile.outputs)[0];
  return Object.entries(out.inputs)
    .map(([p, v]) => [p.replace(/\\/g, '/'), v.bytesInOutput])
    .sort((a, b) => b[1] - a[1]);
}

function arg(name) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await buildFirmware({ url: arg('url'), ssid: arg('ssid'), password: arg('password'), mangle: !process.argv.includes('--no-mangle'), squeeze: !process.argv.includes('--no-squeeze') });
  const pct = ((100 * r.bytes) / BUNDLE_BUDGET).toFixed(0);
  console.log(`build/firmware.js: ${r.bytes} bytes (${pct}% of the ${BUNDLE_BUDGET}-byte budget; ${r.mangled} private names mangled)`);
  if (process.argv.includes('--modules')) for (const [p, b] of bytesByModule(r.metafile)) console.log(String(b).padStart(7) + '  ' + p);
}
