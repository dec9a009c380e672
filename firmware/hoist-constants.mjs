// A size pass over the minified firmware: a constant the bundle spells out again and
// again becomes one `var` at the top of the program, and every use becomes that name:
//  - string literals ("waiting-link" 6 times, "broken-peer" 6, "INTERNAL_ERROR" 5...);
//  - `void 0` (44 times), as a declared-but-unassigned variable;
//  - the built-ins in BUILTINS (`new Uint8Array(` 16 times, `Math.` 28), which no
//    program replaces (timers, console and require are left alone: a test harness or
//    the REPL may swap them after the program has loaded).
// esbuild and terser leave repeats alone (gzip makes them free on the web); on the Pico W
// the source's bytecode lives in the heap.
//
// Safe by construction:
//  - the new names are two-character identifiers that appear nowhere in the bundle, so
//    they neither shadow nor are shadowed;
//  - they are declared first thing in the program's own function (the bundle is
//    `"use strict";(()=>{ ... })();`), before any code can read them;
//  - a space goes in where the quote separated it from a word (`case"x"`, `return"x"`);
//  - a built-in is hoisted only when nothing in the bundle declares that name;
//  - left alone: property keys, directives, and require()'s argument (Kaluma's built-ins
//    stay plain `require("net")` calls, which the bundle tests look for).
// Only constants whose every use together saves more than their declaration costs move.
import { parse } from 'acorn';

/** Global objects whose value never changes under the program. */
const BUILTINS = ['Math', 'Uint8Array', 'Int32Array', 'Uint32Array', 'Float64Array', 'String', 'Object', 'Number', 'Array', 'Error', 'TypeError', 'JSON', 'BigInt'];
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

/** Returns `code` with its repeated constants hoisted; `code` must be `...(()=>{ body })();`. */
export function hoistConstants(code) {
  const ast = parse(code, { ecmaVersion: 2019 });
  const used = new Set();
  const uses = new Map(); // raw literal -> nodes
  let program = null; // the IIFE's arrow function body
  const declared = new Set();
  const add = (raw, n) => {
    if (!uses.has(raw)) uses.set(raw, []);
    uses.get(raw).push(n);
  };
  const walk = (n, parent) => {
    if (n.type === 'Identifier') {
      used.add(n.name);
      const member = parent && parent.type === 'MemberExpression' && parent.property === n && !parent.computed;
      const key = parent && (parent.type === 'Property' || parent.type === 'MethodDefinition') && parent.key === n && !parent.computed;
      const binding =
        parent && ((parent.type === 'VariableDeclarator' && parent.id === n) || ((parent.type === 'FunctionDeclaration' || parent.type === 'FunctionExpression' || parent.type === 'ArrowFunctionExpression') && parent.params.includes(n)) || ((parent.type === 'FunctionDeclaration' || parent.type === 'ClassDeclaration' || parent.type === 'FunctionExpression' || parent.type === 'ClassExpression') && parent.id === n) || (parent.type === 'CatchClause' && parent.param === n));
      if (binding) declared.add(n.name);
      else if (!member && !key && BUILTINS.includes(n.name)) add(n.name, n);
    }
    if (n.type === 'UnaryExpression' && n.operator === 'void' && n.argument.type === 'Literal' && n.argument.value === 0) {
      add('void 0', n);
      return;
    }
    if (!program && n.type === 'ArrowFunctionExpression' && n.body.type === 'BlockStatement') program = n.body;
    if (n.type === 'Literal' && typeof n.value === 'string') {
      const key = parent && parent.type === 'Property' && parent.key === n && !parent.computed;
      const directive = parent && parent.type === 'ExpressionStatement' && parent.directive !== undefined;
      const required = parent && parent.type === 'CallExpression' && parent.callee.type === 'Identifier' && parent.callee.name === 'require';
      if (!key && !directive && !required) add(n.raw, n);
    }
    children(n, walk);
  };
  walk(ast, null);
  if (!program) throw new Error('hoistStrings: the bundle is not wrapped in an arrow function');

  const names = [];
  for (const a of FIRST) for (const b of NEXT) if (!used.has(a + b)) names.push(a + b);
  const edits = [];
  const decls = [];
  // Declared as `name=raw`, or just `name` for `void 0`.
  const declCost = (raw) => (raw === 'void 0' ? 3 : raw.length + 4);
  const picked = [...uses.entries()]
    .filter(([raw]) => !declared.has(raw))
    .map(([raw, nodes]) => [raw, nodes, nodes.length * (raw.length - 2) - declCost(raw)])
    .filter((e) => e[2] > 0)
    .sort((x, y) => y[2] - x[2]);
  for (const [raw, nodes] of picked) {
    const name = names.shift();
    if (!name) break;
    decls.push(raw === 'void 0' ? name : name + '=' + raw);
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
