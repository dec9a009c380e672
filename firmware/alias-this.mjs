// A size pass over the minified firmware: in a function that says `this` many times,
// `let t=this;` once and `t` everywhere else. esbuild and terser never do this (it is
// not a win for gzip, which is what the web measures), but the Pico W keeps the source's
// bytecode in its 180 KiB heap, and class-heavy code spends ~14 % of its bytes on
// `this.` (1,169 of them in build/firmware.js before this pass).
//
// Safe by construction:
//  - only `this` of the function itself and of the arrow functions inside it (arrows
//    inherit `this`); nested functions and class bodies keep theirs;
//  - never in a derived class's constructor (`this` is unusable before super());
//  - never in parameters (evaluated before the body where the alias lives);
//  - the alias is a one-letter name that no identifier in the function, its
//    parameters included, already uses, so it neither shadows nor is shadowed.
// test/firmware-bundle.test.ts runs the bundle this writes.
import { parse } from 'acorn';

const NAMES = '$_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');
/** Below this many uses the `let t=this;` costs more than it saves (3 bytes a use, 11 once). */
const MIN_USES = 4;

function children(n, fn) {
  for (const k in n) {
    if (k === 'type') continue;
    const v = n[k];
    if (Array.isArray(v)) v.forEach((x) => x && typeof x.type === 'string' && fn(x));
    else if (v && typeof v.type === 'string') fn(v);
  }
}

/** Returns `code` with `this` aliased in every function where that is shorter. */
export function aliasThis(code) {
  const ast = parse(code, { ecmaVersion: 2019 });
  const edits = [];

  const aliasIn = (fn) => {
    const uses = [];
    const names = new Set();
    const collect = (n, own) => {
      if (n.type === 'Identifier') names.add(n.name);
      if (n.type === 'ThisExpression' && own) uses.push(n);
      const nested = n.type === 'FunctionExpression' || n.type === 'FunctionDeclaration' || n.type === 'ClassBody';
      children(n, (c) => collect(c, own && !nested));
    };
    fn.params.forEach((p) => collect(p, false));
    collect(fn.body, true);
    if (uses.length < MIN_USES) return;
    const name = NAMES.find((c) => !names.has(c));
    if (!name) return;
    const body = fn.body.body;
    const directive = body.length && body[0].directive;
    const first = directive ? body[1] : body[0];
    if (first && first.type === 'VariableDeclaration' && first.kind === 'let' && code.startsWith('let ', first.start)) {
      // Joins the body's own first `let`: `let $=this,a=...` (evaluated left to right).
      edits.push([first.start + 4, first.start + 4, name + '=this,']);
    } else {
      const at = directive ? body[0].end : fn.body.start + 1;
      edits.push([at, at, 'let ' + name + '=this;']);
    }
    for (const t of uses) edits.push([t.start, t.end, name]);
  };

  const walk = (n, cls) => {
    if (n.type === 'MethodDefinition' && n.kind === 'constructor' && cls && cls.superClass) {
      children(n.value, (c) => walk(c, null)); // its nested functions still count
      return;
    }
    if (n.type === 'FunctionExpression' || n.type === 'FunctionDeclaration') aliasIn(n);
    const inner = n.type === 'ClassExpression' || n.type === 'ClassDeclaration' ? n : n.type === 'ClassBody' || n.type === 'MethodDefinition' ? cls : null;
    children(n, (c) => walk(c, inner));
  };
  walk(ast, null);

  // Right to left; at one position, the replaced `this` before the insertion in front of it.
  edits.sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  let out = code;
  for (const [start, end, text] of edits) out = out.slice(0, start) + text + out.slice(end);
  return out;
}
