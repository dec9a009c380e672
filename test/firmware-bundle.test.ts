/**
 * The flashed program must be something Kaluma 1.2.1 can load (kaluma.md §1, §4):
 * one strict-mode ES2019 script (JerryScript 2.4 has no `?.`, no modules, no
 * import()), ASCII text (the CLI reads the file as UTF-8) without a NUL byte (the
 * program is stored NUL-terminated), whose require() calls name Kaluma built-ins
 * only (Kaluma's require loads nothing else), and which reaches no global that
 * Kaluma lacks.
 */
import { parse, type Node } from 'acorn';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFirmware, KALUMA_BUILTINS } from '../firmware/build.mjs';

/**
 * The globals the firmware may use: ECMAScript built-ins JerryScript 2.4 (es.next
 * profile) has, and Kaluma's own (startup.js, global.c). Deliberately absent:
 * Buffer, queueMicrotask, structuredClone, WeakRef, Intl, WebAssembly, module, exports.
 */
const KALUMA_GLOBALS = new Set([
  // ECMAScript
  'Object', 'Function', 'Array', 'String', 'Number', 'Boolean', 'Symbol', 'Math', 'JSON', 'Date', 'RegExp',
  'Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'Promise', 'Map', 'Set', 'WeakMap', 'WeakSet',
  'ArrayBuffer', 'DataView', 'Uint8Array', 'Uint16Array', 'Uint32Array', 'Int8Array', 'Int16Array', 'Int32Array',
  'Float32Array', 'Float64Array', 'Uint8ClampedArray', 'BigInt', 'Proxy', 'Reflect', 'globalThis', 'parseInt',
  'parseFloat', 'isNaN', 'isFinite', 'encodeURIComponent', 'decodeURIComponent', 'undefined', 'NaN', 'Infinity',
  // Kaluma
  'require', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'millis', 'delay', 'console', 'process',
  'board', 'storage', 'TextEncoder', 'TextDecoder', 'btoa', 'atob', 'global', 'seed',
]);

type AnyNode = Node & { [key: string]: unknown };

function walk(node: AnyNode, visit: (n: AnyNode, parent: AnyNode | null) => void, parent: AnyNode | null = null): void {
  visit(node, parent);
  for (const key of Object.keys(node)) {
    const v = node[key];
    if (Array.isArray(v)) for (const c of v) if (c && typeof c.type === 'string') walk(c, visit, node);
    if (v && typeof v === 'object' && typeof (v as AnyNode).type === 'string') walk(v as AnyNode, visit, node);
  }
}

/** Where an Identifier is a name being read, not a key, a label or a declaration's own name. */
function isReference(n: AnyNode, parent: AnyNode | null): boolean {
  if (!parent) return true;
  if ((parent.type === 'MemberExpression' && parent.property === n && !parent.computed) || parent.type === 'MetaProperty') return false;
  if ((parent.type === 'Property' || parent.type === 'MethodDefinition' || parent.type === 'PropertyDefinition') && parent.key === n && !parent.computed) {
    // `{ a }` shorthand reads a.
    return parent.type === 'Property' && parent.shorthand === true && parent.value === n;
  }
  if (parent.type === 'LabeledStatement' || parent.type === 'BreakStatement' || parent.type === 'ContinueStatement') return false;
  return true;
}

let code: string;
let ast: AnyNode;

beforeAll(async () => {
  code = (await buildFirmware({ outfile: null, metafile: null })).code;
  ast = parse(code, { ecmaVersion: 2019, sourceType: 'script' }) as unknown as AnyNode;
});

describe('the firmware bundle', () => {
  it('parses as an ES2019 script (no ?., no BigInt literal, no import/export) in strict mode', () => {
    const body = ast.body as AnyNode[];
    expect(body[0].type).toBe('ExpressionStatement');
    expect(body[0].directive).toBe('use strict');
    // acorn applies the directive, so strict-only errors (with, octal literals, duplicate params) would have thrown.
    expect(() => parse("'use strict';(()=>{with(a){}})();", { ecmaVersion: 2019, sourceType: 'script' })).toThrow();
    const kinds = new Set<string>();
    walk(ast, (n) => {
      kinds.add(n.type);
    });
    expect([...kinds].filter((k) => /^(Import|Export|Chain)/.test(k))).toEqual([]);
  });

  it('is one IIFE: nothing but the directive and a single call at the top level', () => {
    const body = ast.body as AnyNode[];
    expect(body).toHaveLength(2);
    const call = (body[1] as AnyNode).expression as AnyNode;
    expect(call.type).toBe('CallExpression');
    expect((call.callee as AnyNode).type).toMatch(/FunctionExpression$/);
  });

  it('is ASCII text with no NUL byte', () => {
    const bytes = Buffer.from(code, 'utf8');
    expect(bytes.length).toBe(code.length);
    expect(bytes.includes(0)).toBe(false);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b >= 0x7f || (b < 0x20 && b !== 0x0a && b !== 0x09 && b !== 0x0d)) throw new Error(`byte 0x${b.toString(16)} at ${i}`);
    }
  });

  it('calls require() only with a literal Kaluma built-in, and uses require for nothing else', () => {
    const required: string[] = [];
    walk(ast, (n, parent) => {
      if (n.type !== 'Identifier' || n.name !== 'require' || !isReference(n, parent)) return;
      // No esbuild __require shim: every `require` is the callee of require("<name>").
      expect(parent && parent.type).toBe('CallExpression');
      expect((parent as AnyNode).callee).toBe(n);
      const args = (parent as AnyNode).arguments as AnyNode[];
      expect(args).toHaveLength(1);
      expect(args[0].type).toBe('Literal');
      required.push(args[0].value as string);
    });
    expect(required.length).toBeGreaterThan(0);
    for (const name of required) expect(KALUMA_BUILTINS).toContain(name);
    expect(new Set(required)).toEqual(new Set(['net', 'wifi', 'rp2', 'wdt', 'pico_cyw43']));
  });

  it('reads no global that Kaluma lacks', () => {
    // esbuild never gives a local a global's name it uses, so a name read somewhere and
    // declared nowhere is a global.
    const declared = new Set<string>();
    const read = new Set<string>();
    const declare = (p: AnyNode | null): void => {
      if (!p) return;
      if (p.type === 'Identifier') declared.add(p.name as string);
      else if (p.type === 'ObjectPattern') for (const q of p.properties as AnyNode[]) declare(q.type === 'RestElement' ? q : (q.value as AnyNode));
      else if (p.type === 'ArrayPattern') for (const q of p.elements as AnyNode[]) declare(q);
      else if (p.type === 'RestElement') declare(p.argument as AnyNode);
      else if (p.type === 'AssignmentPattern') declare(p.left as AnyNode);
    };
    walk(ast, (n, parent) => {
      if (n.type === 'VariableDeclarator') declare(n.id as AnyNode);
      else if (n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression') {
        declare(n.id as AnyNode | null);
        for (const p of n.params as AnyNode[]) declare(p);
      } else if (n.type === 'ClassDeclaration' || n.type === 'ClassExpression') declare(n.id as AnyNode | null);
      else if (n.type === 'CatchClause') declare(n.param as AnyNode | null);
      else if (n.type === 'Identifier' && isReference(n, parent)) read.add(n.name as string);
    });
    const globals = [...read].filter((name) => !declared.has(name)).sort();
    console.log('globals the firmware reads: ' + globals.join(' '));
    expect(globals.filter((g) => !KALUMA_GLOBALS.has(g))).toEqual([]);
    // The ones the firmware really needs from Kaluma are there.
    expect(globals).toEqual(expect.arrayContaining(['require', 'millis', 'setInterval', 'setTimeout', 'clearTimeout', 'storage', 'TextEncoder', 'TextDecoder', 'process']));
  });
});
