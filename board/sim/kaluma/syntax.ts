/**
 * What JerryScript 2.4 (Kaluma 1.2.1) cannot parse, found statically in a bundle
 * (kaluma.md §1): the device would throw a SyntaxError at load and reset the VM, so the
 * sandbox refuses the same programs instead of letting V8 run them. Checked: `?.`,
 * `??=`/`||=`/`&&=`, #private members, class static blocks, import()/import.meta,
 * RegExp lookbehind, named groups and the `d` flag, numeric separators [I].
 * ES module syntax fails acorn's script parse by itself.
 */
import { parse } from 'acorn';

interface AnyNode {
  type: string;
  start: number;
  operator?: string;
  regex?: { pattern: string; flags: string };
  raw?: string;
  value?: unknown;
  [key: string]: unknown;
}

function* children(node: AnyNode): Generator<AnyNode> {
  for (const key of Object.keys(node)) {
    if (key === 'loc') continue;
    const v = node[key];
    if (Array.isArray(v)) {
      for (const item of v) if (item && typeof item === 'object' && typeof (item as AnyNode).type === 'string') yield item as AnyNode;
    } else if (v && typeof v === 'object' && typeof (v as AnyNode).type === 'string') {
      yield v as AnyNode;
    }
  }
}

function lineOf(code: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < code.length; i++) if (code.charCodeAt(i) === 10) line++;
  return line;
}

/** Constructs Kaluma 1.2.1 rejects, as "line N: what" strings; [] when the program would load. */
export function checkKalumaSyntax(code: string): string[] {
  let ast: AnyNode;
  try {
    ast = parse(code, { ecmaVersion: 2022, sourceType: 'script' }) as unknown as AnyNode;
  } catch (err) {
    return [`SyntaxError: ${(err as Error).message}`];
  }
  const found: string[] = [];
  const report = (node: AnyNode, what: string) => {
    if (found.length < 20) found.push(`line ${lineOf(code, node.start)}: ${what}`);
  };
  const stack: AnyNode[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop() as AnyNode;
    switch (node.type) {
      case 'ChainExpression':
        report(node, 'optional chaining (?.)');
        break;
      case 'AssignmentExpression':
        if (node.operator === '??=' || node.operator === '||=' || node.operator === '&&=') report(node, `logical assignment (${node.operator})`);
        break;
      case 'PrivateIdentifier':
        report(node, '#private member');
        break;
      case 'StaticBlock':
        report(node, 'class static block');
        break;
      case 'ImportExpression':
        report(node, 'import()');
        break;
      case 'MetaProperty':
        if ((node.meta as AnyNode & { name?: string }).name === 'import') report(node, 'import.meta');
        break;
      case 'Literal':
        if (node.regex) {
          const { pattern, flags } = node.regex;
          if (/\(\?<[=!]/.test(pattern)) report(node, 'RegExp lookbehind');
          if (/\(\?<[A-Za-z_$]/.test(pattern)) report(node, 'RegExp named group');
          if (flags.includes('d')) report(node, 'RegExp d flag');
        } else if (typeof node.value === 'number' && typeof node.raw === 'string' && node.raw.includes('_')) {
          report(node, 'numeric separator');
        }
        break;
      default:
        break;
    }
    for (const child of children(node)) stack.push(child);
  }
  return found;
}
