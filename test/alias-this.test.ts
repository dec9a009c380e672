import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, no typings
import { aliasThis } from '../firmware/alias-this.mjs';

const alias = aliasThis as (code: string) => string;
const run = (code: string): unknown => runInNewContext('"use strict";' + code);

describe('aliasThis (firmware/alias-this.mjs)', () => {
  it('aliases a method that says `this` four times or more, arrows included, and the result runs the same', () => {
    const code =
      'var C=class{constructor(){this.a=1;this.b=2;this.c=3;this.d=4}m(){let f=()=>this.a+this.b;return f()+this.c+this.d}};new C().m()';
    const out = alias(code);
    expect(out).toContain('let $=this;');
    expect(out.match(/this/g)).toHaveLength(2); // one alias per function
    expect(run(out)).toBe(run(code));
    expect(out.length).toBeLessThan(code.length);
  });

  it('leaves a derived constructor, nested functions and parameters alone', () => {
    const code =
      'var B=class{constructor(){this.z=0}};var D=class extends B{constructor(){super();this.a=1;this.b=2;this.c=3;this.d=4}' +
      'm(y=this.a){function g(){return this===undefined}return [y,g(),this.a,this.b,this.c,this.d]}};JSON.stringify(new D().m())';
    const out = alias(code);
    expect(out).toContain('constructor(){super();this.a=1;this.b=2;this.c=3;this.d=4}');
    expect(out).toContain('m(y=this.a){let $=this;');
    expect(out).toContain('function g(){return this===undefined}');
    expect(run(out)).toBe(run(code));
  });

  it('picks a name that nothing in the function uses, parameters included, and joins a leading let', () => {
    const code = 'var C=class{m($,_){let a=this.x;return [$,_,a,this.x,this.y,this.x,this.y].join()}};var c=new C();c.x=7;c.y=8;c.m(1,2)';
    const out = alias(code);
    expect(out).toContain('m($,_){let b=this,a=b.x;');
    expect(run(out)).toBe(run(code));
  });

  it('inserts after a function\'s own directive, and does nothing below four uses', () => {
    const fn = 'function f(){"use strict";return this.a+this.b+this.c+this.d}f.call({a:1,b:2,c:3,d:4})';
    expect(alias(fn)).toContain('"use strict";let $=this;');
    expect(run(alias(fn))).toBe(10);
    const few = 'function f(){return this.a+this.b+this.c}';
    expect(alias(few)).toBe(few);
  });
});
