/**
 * The WHATWG-style events of the client, without DOM classes (Kaluma has no
 * EventTarget): plain objects, `on<type>` properties and add/removeEventListener.
 */
import type { PicowsError } from '../errors';
import type { CloseCause } from './close-cause';

export interface OpenEvent {
  type: 'open';
}
export interface MessageEvent {
  type: 'message';
  /** A string for text; an ArrayBuffer or Uint8Array (see binaryType) for binary. */
  data: string | ArrayBuffer | Uint8Array;
}
export interface ErrorEvent {
  type: 'error';
  error: PicowsError;
  message: string;
}
export interface CloseEvent {
  type: 'close';
  code: number;
  reason: string;
  wasClean: boolean;
  /** What happened locally: a 401, a pong timeout, a lost Wi-Fi link never hide behind 1006. */
  cause: CloseCause;
  /** The failure, when there was one. */
  error: PicowsError | null;
}

export interface EventMap {
  open: OpenEvent;
  message: MessageEvent;
  error: ErrorEvent;
  close: CloseEvent;
}
export type EventType = keyof EventMap;
type Listener<K extends EventType> = (ev: EventMap[K]) => void;

/** Listeners per type, dispatched in order; an `on<type>` handler runs first. */
export class EventSource {
  onopen: Listener<'open'> | null = null;
  onmessage: Listener<'message'> | null = null;
  onerror: Listener<'error'> | null = null;
  onclose: Listener<'close'> | null = null;
  private listeners: { [K in EventType]?: Listener<K>[] } = {};

  addEventListener<K extends EventType>(type: K, fn: Listener<K>): void {
    const list = (this.listeners[type] || (this.listeners[type] = [])) as Listener<K>[];
    if (list.indexOf(fn) < 0) list.push(fn);
  }

  removeEventListener<K extends EventType>(type: K, fn: Listener<K>): void {
    const list = this.listeners[type] as Listener<K>[] | undefined;
    if (!list) return;
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  }

  /** Calls every listener; one that throws does not stop the others or the client. */
  protected dispatch<K extends EventType>(ev: EventMap[K]): void {
    const type = ev.type as K;
    // A switch, not this['on' + type]: building the name and a keyed lookup cost ~45 ns
    // a message, a seventh of the receive path (bench/README.md, the client section).
    const handler = (type === 'message' ? this.onmessage : type === 'open' ? this.onopen : type === 'close' ? this.onclose : this.onerror) as Listener<K> | null;
    if (handler) this.invoke(handler, ev);
    const list = this.listeners[type] as Listener<K>[] | undefined;
    if (list) {
      if (list.length === 1) this.invoke(list[0], ev);
      else if (list.length > 1) {
        const copy = list.slice();
        for (let i = 0; i < copy.length; i++) this.invoke(copy[i], ev);
      }
    }
  }

  private invoke<K extends EventType>(fn: Listener<K>, ev: EventMap[K]): void {
    try {
      fn.call(this, ev);
    } catch (e) {
      listenerThrew(e);
    }
  }
}

/** Where a throwing listener's error goes: the console, never the protocol. */
export function listenerThrew(e: unknown): void {
  console.error('picows: an event listener threw:', e);
}
