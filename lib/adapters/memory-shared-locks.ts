import type {
  AcquireOptions,
  AcquireReply,
  OwnerReply,
  SharedLocks,
  SharedReleaseOptions,
} from '../interfaces/lock-adapter.interface.js';
import { ACQUIRED, assertTtl, fenceValue, permitsArg } from './adapter-args.js';
import {
  type Keyspace,
  Longest,
  type ReadersEntry,
  remaining,
  WRITER_INTENT,
} from './memory-keyspace.js';

/** What the read locks share with the memory adapter that owns them. */
export interface MemoryStore {
  readonly keys: Keyspace;
  /** Runs one operation as a synchronous section with one clock reading (see the adapter). */
  run<T>(keys: readonly string[], body: (now: number) => T): Promise<T>;
  /** The store's fencing counter. */
  counter(): bigint;
  /** Raises the store's fencing counter by one and returns it. */
  raise(): bigint;
  /** Notifies the release listeners of the keys. */
  announce(keys: readonly string[]): void;
}

/**
 * The `shared` capability of the memory store: read locks, each operation the twin of its
 * script in `redis-scripts.ts` (see `memory-keyspace.ts` for the layout they share).
 */
export class MemorySharedLocks implements SharedLocks {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  /** As the SHARED_ACQUIRE script: join every key as a reader unless a writer holds or waits. */
  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    options?: AcquireOptions,
  ): Promise<AcquireReply> {
    return this.#store.run(keys, (now): AcquireReply => {
      assertTtl(ttl);
      const cap = permitsArg(options?.permits);
      const longest = new Longest();
      let joined = 0;
      for (const key of keys) {
        const entry = this.#store.keys.get(key, now);
        if (entry?.kind === 'readers') {
          const holders = this.#store.keys.liveReaders(key, entry, now);
          if (entry.members.has(value)) continue;
          joined += 1;
          const intent = entry.members.get(WRITER_INTENT);
          if (intent !== undefined) longest.add(Math.ceil(intent - now));
          else if (cap > 0 && holders >= cap) longest.add(firstExpiry(entry.members, now));
        } else if (entry !== undefined) {
          longest.add(remaining(entry, now));
        } else {
          joined += 1;
        }
      }
      if (longest.value !== undefined) return { acquired: false, ttl: longest.value };
      for (const key of keys) {
        const entry = this.#store.keys.readers(key, now);
        // A replay keeps the expiry the first call gave it (ZADD NX).
        if (!entry.members.has(value)) entry.members.set(value, now + ttl);
        this.#store.keys.keepUntilLast(key, entry, now);
      }
      if (options?.fence !== true) return ACQUIRED;
      // Each permit gets its own token; a replay (already a holder everywhere) does not count.
      const counter = cap > 0 && joined > 0 ? this.#store.raise() : this.#store.counter();
      return { acquired: true, fence: fenceValue(counter) };
    });
  }

  /** As the SHARED_EXTEND script. */
  extend(keys: readonly string[], value: string, ttl: number): Promise<OwnerReply> {
    return this.#store.run(keys, (now): OwnerReply => {
      assertTtl(ttl);
      let missing = false;
      const held: ReadersEntry[] = [];
      for (const key of keys) {
        const entry = this.#store.keys.get(key, now);
        if (entry === undefined) {
          missing = true;
        } else if (entry.kind !== 'readers') {
          return 'taken';
        } else {
          this.#store.keys.liveReaders(key, entry, now);
          if (entry.members.has(value)) held.push(entry);
          else missing = true;
        }
      }
      if (missing) return 'expired';
      for (const [i, entry] of held.entries()) {
        entry.members.set(value, now + ttl);
        this.#store.keys.keepUntilLast(keys[i]!, entry, now);
      }
      return 'ok';
    });
  }

  /** As the SHARED_RELEASE script. */
  release(
    keys: readonly string[],
    value: string,
    options?: SharedReleaseOptions,
  ): Promise<OwnerReply> {
    const counted = permitsArg(options?.permits) > 0;
    return this.#store.run(keys, (now): OwnerReply => {
      let taken = false;
      let missing = false;
      const freed: string[] = [];
      for (const key of keys) {
        const entry = this.#store.keys.get(key, now);
        if (entry?.kind === 'readers') {
          this.#store.keys.liveReaders(key, entry, now);
          if (entry.members.delete(value)) {
            // The last reader left (a waiting writer may go), or a semaphore's permit is free.
            if (counted || this.#store.keys.liveReaders(key, entry, now) === 0) freed.push(key);
            this.#store.keys.keepUntilLast(key, entry, now);
          } else {
            missing = true;
          }
        } else if (entry !== undefined) {
          taken = true;
        } else {
          missing = true;
        }
      }
      this.#store.announce(freed);
      return taken ? 'taken' : missing ? 'expired' : 'ok';
    });
  }
}

/** Milliseconds until the first live holder expires (ZRANGE 0 0 of the script). */
function firstExpiry(members: ReadonlyMap<string, number>, now: number): number {
  let first = Infinity;
  for (const [member, expiresAt] of members) {
    if (member !== WRITER_INTENT && expiresAt < first) first = expiresAt;
  }
  return first === Infinity ? 0 : Math.max(0, Math.ceil(first - now));
}
