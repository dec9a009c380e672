import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, no typings
import { hoistConstants } from '../firmware/hoist-constants.mjs';

const hoist = hoistConstants as (code: string) => string;
const run = (code: string, extra: object = {}): unknown => runInNewContext(code, { out: [] as unknown[], ...extra });

describe('hoistConstants (firmware/hoist-constants.mjs)', () => {
  it('declares a repeated string once at the top of the program and the result runs the same', () => {
    const code =
      '"use strict";(()=>{let s="waiting-link";function f(x){return x==="waiting-link"?1:x==="broken-peer"?2:0}' +
      'out.push(f("waiting-link"),f("broken-peer"),f("broken-peer"),f("broken-peer"),{"waiting-link":s}["waiting-link"])})();out';
    const out = hoist(code);
    expect(out.startsWith('"use strict";(()=>{var aa="waiting-link",ab="broken-peer";')).toBe(true);
    expect(out.match(/"waiting-link"/g)).toHaveLength(2); // the declaration and the property key
    expect(out.length).toBeLessThan(code.length);
    expect(run(out)).toEqual(run(code));
  });

  it('leaves require() arguments, directives and strings that would not pay for their declaration', () => {
    const code = '"use strict";(()=>{"use strict";const n=require("net"),w=require("net");out.push(n,w,"ab","ab","ab","a-longer-one")})();out';
    const out = hoist(code);
    expect(out).toContain('require("net")');
    expect(out).toContain('(()=>{"use strict";');
    expect(out).toBe(code);
    expect(run(out, { require: (m: string) => m })).toEqual(['net', 'net', 'ab', 'ab', 'ab', 'a-longer-one']);
  });

  it('keeps words apart where the quotes did (case"x", return"x", "x"in o)', () => {
    const code =
      '"use strict";(()=>{function f(x){switch(x){case"local-close":return"user-stop";default:return"local-close"in{}?1:"user-stop"}}' +
      'out.push(f("local-close"),f("local-close"),f(0),"user-stop")})();out';
    const out = hoist(code);
    expect(out).toContain('case aa:return ab;');
    expect(run(out)).toEqual(run(code));
  });

  it('never takes a name the bundle already uses', () => {
    const code = '"use strict";(()=>{let aa=1,ab=2;out.push(aa,ab,"0123456789","0123456789","0123456789")})();out';
    const out = hoist(code);
    expect(out).toContain('var ac="0123456789";');
    expect(run(out)).toEqual(run(code));
  });

  it('hoists void 0 and built-ins that nothing declares, never a shadowed or swappable one', () => {
    const code =
      '"use strict";(()=>{function f(a){let b=new Uint8Array(a);return b instanceof Uint8Array&&void 0===a?0:Math.min(b.length,Math.max(1,Math.floor(a/2)))}' +
      'function g(String){return [String,void 0,void 0,void 0,void 0,setTimeout===setTimeout,setTimeout===setTimeout]}' +
      'out.push(f(4),f(new Uint8Array(3)),new Uint8Array(2).length,g(5),void 0,typeof Math.abs,Math.PI>Math.E)})();out';
    const out = hoist(code);
    expect(out).toMatch(/^"use strict";\(\(\)=>\{var [^;]*\b[a-z][a-z]=Math\b/);
    expect(out).not.toMatch(/=String\b/); // a parameter is named String somewhere: left alone
    expect(out).not.toContain('void 0');
    expect(out).not.toContain('new Uint8Array(');
    expect(out).toContain('function g(String){return [String,');
    expect(out).toContain('setTimeout===setTimeout');
    expect(run(out, { setTimeout })).toEqual(run(code, { setTimeout }));
  });
});
