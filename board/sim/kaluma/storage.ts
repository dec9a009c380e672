/**
 * Kaluma's key-value `storage` (src/modules/storage/storage.c, storage.js): a 16 KB
 * flash area with 64 slots, each holding key + value of at most 253 bytes, strings
 * only. It survives reboots. Quirk: setItem() RETURNS an Error (it does not throw) when
 * the pair is too long or the slots are full; values are stringified with toString()
 * (so null and undefined throw).
 */
import type { Realm } from './types';

export const STORAGE_SLOTS = 64;
export const STORAGE_PAIR_MAX = 253;

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The flash itself: lives with the board, not with a boot. */
export class FlashStorage {
  private readonly items = new Map<string, string>();

  constructor(initial: { [key: string]: string } = {}) {
    for (const key of Object.keys(initial)) {
      const res = this.set(key, String(initial[key]));
      if (res !== 'ok') throw new Error(`storage preset ${JSON.stringify(key)}: ${res}`);
    }
  }

  get(key: string): string | null {
    return this.items.has(key) ? (this.items.get(key) as string) : null;
  }

  set(key: string, value: string): 'ok' | 'too-long' | 'full' {
    if (byteLength(key) + byteLength(value) > STORAGE_PAIR_MAX) return 'too-long';
    if (!this.items.has(key) && this.items.size >= STORAGE_SLOTS) return 'full';
    this.items.set(key, value);
    return 'ok';
  }

  remove(key: string): void {
    this.items.delete(key);
  }

  clear(): void {
    this.items.clear();
  }

  get length(): number {
    return this.items.size;
  }

  key(index: number): string | null {
    const keys = [...this.items.keys()];
    return index >= 0 && index < keys.length ? keys[index] : null;
  }

  snapshot(): { [key: string]: string } {
    return Object.fromEntries(this.items);
  }
}

/**
 * require('storage') gives `{ Storage }` (storage.js); startup.js makes the global
 * `storage = new Storage()`. Every instance works on the same flash. Note that
 * require('storage').getItem does not exist on the device: use the global.
 */
export function createStorageModule(flash: FlashStorage, realm: () => Realm, live: () => boolean) {
  class Storage {
    setItem(key: string, value: unknown): Error | undefined {
      if (typeof key !== 'string') throw new (realm().TypeError)('"key" argument must be a string');
      if (value === null || value === undefined) throw new (realm().TypeError)(`Cannot read property 'toString' of ${value}`);
      if (!live()) return undefined;
      const res = flash.set(key, (value as { toString(): string }).toString());
      if (res === 'too-long') return new (realm().Error)('The length of key and value is too long');
      if (res === 'full') return new (realm().Error)('Storage full');
      return undefined;
    }

    getItem(key: string): string | null {
      return flash.get(String(key));
    }

    removeItem(key: string): void {
      if (live()) flash.remove(String(key));
    }

    clear(): void {
      if (live()) flash.clear();
    }

    get length(): number {
      return flash.length;
    }

    key(index: number): string | null {
      return flash.key(index);
    }
  }
  return { Storage };
}

export type StorageInstance = InstanceType<ReturnType<typeof createStorageModule>['Storage']>;
