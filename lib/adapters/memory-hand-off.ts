import type { HandOff, OwnerReply } from '../interfaces/lock-adapter.interface.js';
import { assertTransfer } from './adapter-args.js';
import type { MemoryStore } from './memory-shared-locks.js';

/**
 * The `handOff` capability of the memory store, the twin of the TRANSFER script in
 * `redis-hand-off.ts`: it needs nothing of the store but its keys and its synchronous section.
 */
export class MemoryHandOff implements HandOff {
  readonly #store: Pick<MemoryStore, 'keys' | 'run'>;

  constructor(store: Pick<MemoryStore, 'keys' | 'run'>) {
    this.#store = store;
  }

  /** As the TRANSFER script: readers of a key count as another owner, as a sorted set does. */
  transfer(keys: readonly string[], value: string, next: string, ttl: number): Promise<OwnerReply> {
    return this.#store.run(keys, (now): OwnerReply => {
      assertTransfer(keys, value, next, ttl);
      let held = 0;
      let replayed = 0;
      let taken = false;
      for (const key of keys) {
        const entry = this.#store.keys.get(key, now);
        if (entry === undefined) continue;
        if (entry.kind !== 'writer') taken = true;
        else if (entry.value === value) held += 1;
        else if (entry.value === next) replayed += 1;
        else taken = true;
      }
      if (replayed === keys.length) return 'ok';
      if (held === keys.length) {
        for (const key of keys) this.#store.keys.setWriter(key, next, now + ttl);
        return 'ok';
      }
      return taken || replayed > 0 ? 'taken' : 'expired';
    });
  }
}
