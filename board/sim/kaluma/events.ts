/**
 * Kaluma's `events` module, ported line for line from src/modules/events/events.js
 * (itself from IoT.js): listeners live in `_events`, `once` wraps with a `.listener`
 * back-reference, and emitting 'error' with no listener THROWS (the Error itself, or
 * Error("Uncaught 'error' event") for anything else).
 */
type Listener = ((...args: unknown[]) => void) & { listener?: Listener; type?: string };

function isError(value: unknown): boolean {
  // Realm-independent `instanceof Error`: errors may come from the sandbox's realm.
  return Object.prototype.toString.call(value) === '[object Error]';
}

export class EventEmitter {
  _events: Record<string, Listener[] | undefined> = {};

  emit(type: string, ...args: unknown[]): boolean {
    if (!this._events) this._events = {};
    if (type === 'error' && !this._events.error) {
      const err = args[0];
      if (isError(err)) throw err;
      throw new Error("Uncaught 'error' event");
    }
    const listeners = this._events[type];
    if (Array.isArray(listeners)) {
      const copy = listeners.slice();
      for (let i = 0; i < copy.length; ++i) copy[i].apply(this, args);
      return true;
    }
    return false;
  }

  addListener(type: string, listener: Listener): this {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    if (!this._events) this._events = {};
    if (!this._events[type]) this._events[type] = [];
    this._events[type]!.push(listener);
    return this;
  }

  on(type: string, listener: Listener): this {
    return this.addListener(type, listener);
  }

  removeListener(type: string, listener: Listener): this {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const listeners = this._events[type];
    if (Array.isArray(listeners)) {
      for (let i = listeners.length - 1; i >= 0; --i) {
        if (listeners[i] === listener || (listeners[i].listener && listeners[i].listener === listener)) {
          listeners.splice(i, 1);
          if (!listeners.length) delete this._events[type];
          break;
        }
      }
    }
    return this;
  }

  off(type: string, listener: Listener): this {
    return this.removeListener(type, listener);
  }

  removeAllListeners(type?: string): this {
    if (arguments.length === 0) this._events = {};
    else delete this._events[type as string];
    return this;
  }

  listeners(type: string): Listener[] {
    return this._events[type] || [];
  }

  listenerCount(type: string): number {
    return this.listeners(type).length;
  }

  once(type: string, listener: Listener): this {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const f: Listener = function (this: EventEmitter, ...args: unknown[]) {
      this.removeListener(f.type as string, f);
      (f.listener as Listener).apply(this, args);
    };
    f.type = type;
    f.listener = listener;
    this.on(type, f);
    return this;
  }
}
