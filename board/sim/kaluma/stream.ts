/**
 * Kaluma's `stream` module (src/modules/stream/stream.js), ported line for line
 * because net.Socket's write quirks live here, not in the driver:
 *  - write() appends to one string buffer `_wbuf` (a Uint8Array goes through
 *    String.fromCharCode.apply), schedules flush() with setTimeout 0 and calls `cb`
 *    synchronously: every write of one event-loop turn leaves as ONE native write;
 *  - write() returns `_wbuf.length === 0`, i.e. false for any non-empty write;
 *  - the native write calls back synchronously, before flush() clears `_wbuf`, so flush()
 *    always sees data pending, reschedules itself, finds nothing and returns without
 *    emitting 'drain': 'drain' never fires;
 *  - end() flushes synchronously, then _final(); the driver's shutdown callback emits
 *    'end' locally.
 */
import { EventEmitter } from './events';

export interface StreamHost {
  /** The board's setTimeout (cancelled by a reboot or a crash). */
  setTimeout(fn: () => void, ms: number): number;
  /** String.fromCharCode.apply(null, bytes) with the engine's limits. */
  binaryString(bytes: Uint8Array): string;
  isUint8Array(value: unknown): value is Uint8Array;
}

type Callback = (err?: unknown) => void;

export interface StreamModule {
  Readable: typeof KalumaReadableBase;
  Writable: typeof KalumaWritableBase;
  Duplex: typeof KalumaWritableBase;
}

// Declared for typing; the real classes are made per boot by createStreamModule().
declare class KalumaReadableBase extends EventEmitter {
  destroyed: boolean;
  readableEnded: boolean;
  destroy(): void;
  push(chunk: unknown): this;
  _destroy(cb: Callback): void;
  _afterDestroy(): void;
  _afterEnd(): void;
}

declare class KalumaWritableBase extends KalumaReadableBase {
  _wbuf: string;
  writableEnded: boolean;
  writableFinished: boolean;
  write(chunk: unknown, cb?: Callback): boolean;
  end(chunk?: unknown, cb?: Callback): this;
  flush(cb?: () => void): void;
  finish(): void;
  _write(data: string, cb: Callback): void;
  _final(cb: Callback): void;
  _afterFinish(): void;
}

export function createStreamModule(host: StreamHost): StreamModule {
  class Stream extends EventEmitter {
    destroyed = false;

    _destroy(_cb: Callback): void {}

    _afterDestroy(): void {
      if (!this.destroyed) {
        this.destroyed = true;
        this.emit('close');
      }
    }

    destroy(): void {
      if (!this.destroyed) {
        this._destroy((err) => {
          if (err) this.emit('error', err);
          else this._afterDestroy();
        });
      }
    }
  }

  class Readable extends Stream {
    readableEnded = false;

    _afterEnd(): void {
      if (!this.readableEnded) {
        this.readableEnded = true;
        this.emit('end');
      }
    }

    push(chunk: unknown): this {
      this.emit('data', chunk);
      return this;
    }
  }

  class Writable extends Stream {
    _wbuf = '';
    writableEnded = false;
    writableFinished = false;
    readableEnded = false;

    _write(_data: string, _cb: Callback): void {}
    _final(_cb: Callback): void {}

    _afterFinish(): void {
      if (!this.writableFinished) {
        this.emit('finish');
        this.writableFinished = true;
      }
    }

    write(chunk: unknown, cb?: Callback): boolean {
      if (!this.writableEnded) {
        if (chunk) {
          if (host.isUint8Array(chunk)) this._wbuf += host.binaryString(chunk);
          else this._wbuf += chunk as string;
        }
        host.setTimeout(() => {
          this.flush();
        }, 0);
        if (cb) cb();
      }
      return this._wbuf.length === 0;
    }

    end(chunk?: unknown, cb?: Callback): this {
      if (typeof chunk === 'function') {
        cb = chunk as Callback;
        chunk = undefined;
      }
      if (chunk) {
        if (host.isUint8Array(chunk)) this._wbuf += host.binaryString(chunk);
        else this._wbuf += chunk as string;
      }
      if (cb) this.once('finish', cb);
      this.writableEnded = true;
      if (this._wbuf.length > 0) {
        this.flush(() => {
          this.finish();
        });
      } else {
        this.finish();
      }
      return this;
    }

    flush(cb?: () => void): void {
      if (!this.writableFinished) {
        if (this._wbuf.length > 0) {
          this._write(this._wbuf, (err) => {
            if (err) {
              this._wbuf = '';
              this.emit('error', err);
            } else if (this._wbuf.length > 0) {
              host.setTimeout(() => {
                this.flush(cb);
              }, 0);
            } else {
              this.emit('drain');
              if (cb) cb();
            }
          });
          this._wbuf = '';
        } else if (cb) {
          cb();
        }
      } else if (cb) {
        cb();
      }
    }

    finish(): void {
      if (this.writableEnded && this._wbuf.length === 0) {
        this._final((err) => {
          if (err) this.emit('error', err);
          else this._afterFinish();
        });
      }
    }

    _afterEnd(): void {
      if (!this.readableEnded) {
        this.readableEnded = true;
        this.emit('end');
      }
    }

    push(chunk: unknown): this {
      this.emit('data', chunk);
      return this;
    }
  }

  // stream.js: `class Duplex extends Writable /*, Readable */` with the readable half copied in.
  class Duplex extends Writable {}

  return {
    Readable: Readable as unknown as typeof KalumaReadableBase,
    Writable: Writable as unknown as typeof KalumaWritableBase,
    Duplex: Duplex as unknown as typeof KalumaWritableBase,
  };
}
