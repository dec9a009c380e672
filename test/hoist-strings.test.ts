import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, no typings
import { hoistStrings } from '../firmware/hoist-strings.mjs';

const hoist = hoistStrings as (code: string) => string;
const run = (code: string, extra: object = {}): unknown => runInNewContext(code, { out: [] as unknown[], ...extra });

describe('hoistStrings (firmware/hoist-strings.mjs)', () => {
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
});
