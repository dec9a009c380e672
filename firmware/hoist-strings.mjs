// A size pass over the minified firmware: a string literal the bundle spells out again
// and again ("waiting-link" 6 times, "broken-peer" 6, "INTERNAL_ERROR" 5...) becomes one
// `var` at the top of the program, and every use becomes that name. esbuild and terser
// leave repeated strings alone (gzip makes them free on the web); on the Pico W the
// source's bytecode lives in the heap.
//
// Safe by construction:
//  - the new names are two-character identifiers that appear nowhere in the bundle, so
//    they neither shadow nor are shadowed;
//  - they are declared first thing in the program's own function (the bundle is
//    `"use strict";(()=>{ ... })();`), before any code can read them;
//  - a space goes in where the quote separated it from a word (`case"x"`, `return"x"`);
//  - left alone: property keys, directives, and require()'s argument (Kaluma's built-ins
//    stay plain `require("net")` calls, which the bundle tests look for).
// Only strings whose every use together saves more than their declaration costs move.
import { parse } from 'acorn';

const FIRST = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$_';
const NEXT = FIRST + '0123456789';

function children(n, fn) {
  for (const k in n) {
    if (k === 'type') continue;
    const v = n[k];
    if (Array.isArray(v)) v.forEach((x) => x && typeof x.type === 'string' && fn(x, n));
    else if (v && typeof v.type === 'string') fn(v, n);
  }
}

/** Returns `code` with its repeated string literals hoisted; `code` must be `...(()=>{ body })();`. */
export function hoistStrings(code) {
  const ast = parse(code, { ecmaVersion: 2019 });
  const used = new Set();
  const uses = new Map(); // raw literal -> nodes
  let program = null; // the IIFE's arrow function body
  const walk = (n, parent) => {
    if (n.type === 'Identifier') used.add(n.name);
    if (!program && n.type === 'ArrowFunctionExpression' && n.body.type === 'BlockStatement') program = n.body;
    if (n.type === 'Literal' && typeof n.value === 'string') {
      const key = parent && parent.type === 'Property' && parent.key === n && !parent.computed;
      const directive = parent && parent.type === 'ExpressionStatement' && parent.directive !== undefined;
      const required = parent && parent.type === 'CallExpression' && parent.callee.type === 'Identifier' && parent.callee.name === 'require';
      if (!key && !directive && !required) {
        if (!uses.has(n.raw)) uses.set(n.raw, []);
        uses.get(n.raw).push(n);
      }
    }
    children(n, walk);
  };
  walk(ast, null);
  if (!program) throw new Error('hoistStrings: the bundle is not wrapped in an arrow function');

  const names = [];
  for (const a of FIRST) for (const b of NEXT) if (!used.has(a + b)) names.push(a + b);
  const edits = [];
  const decls = [];
  const picked = [...uses.entries()]
    .map(([raw, nodes]) => [raw, nodes, nodes.length * (raw.length - 2) - (raw.length + 4)])
    .filter((e) => e[2] > 0)
    .sort((x, y) => y[2] - x[2]);
  for (const [raw, nodes] of picked) {
    const name = names.shift();
    if (!name) break;
    decls.push(name + '=' + raw);
    for (const n of nodes) {
      // `case"x"` and `return"x"` need a space once the quote is gone.
      const before = /[\w$]/.test(code.charAt(n.start - 1)) ? ' ' : '';
      const after = /[\w$]/.test(code.charAt(n.end)) ? ' ' : '';
      edits.push([n.start, n.end, before + name + after]);
    }
  }
  if (!decls.length) return code;
  edits.push([program.start + 1, program.start + 1, 'var ' + decls.join(',') + ';']);
  edits.sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  let out = code;
  for (const [start, end, text] of edits) out = out.slice(0, start) + text + out.slice(end);
  return out;
}
