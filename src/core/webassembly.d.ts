/**
 * The few WebAssembly JS-API types the core uses. TypeScript's es2019 lib has none
 * (they live in lib.dom), and the device engine has no WebAssembly at all: the
 * loader checks `typeof WebAssembly` before touching it.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: BufferSource | Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Global {
    value: number;
  }
  type BufferSource = ArrayBuffer | ArrayBufferView;
  type ExportValue = unknown;
  type Exports = Record<string, unknown>;
  type Imports = Record<string, Record<string, unknown>>;
}
