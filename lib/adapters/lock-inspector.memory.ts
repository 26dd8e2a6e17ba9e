import { HELPER_KEY_PREFIX } from '../interfaces/lock-adapter.interface.js';
import type {
  ForcedRelease,
  KeyListing,
  KeyState,
  LockInspector,
} from '../interfaces/lock-inspector.interface.js';
import { fenceValue } from './adapter-args.js';
import { INSTANCE_KEY_PREFIX } from './lock-inspector.js';
import { type Keyspace, remaining, WRITER_INTENT } from './memory-keyspace.js';
import { globMatcher } from './redis-glob.js';

/** What the memory inspector borrows from the memory adapter that owns it. */
export interface InspectedMemoryStore {
  readonly keys: Keyspace;
  /** Runs one operation as a synchronous section with one clock reading (see the adapter). */
  run<T>(keys: readonly string[], body: (now: number) => T, requireKeys?: boolean): Promise<T>;
  /** The fencing counter, or `undefined` before any fenced lock. */
  counter(): bigint | undefined;
  /** Raises the fencing counter by one (only called when it exists). */
  raiseCounter(): bigint;
  /** Notifies the release listeners of the keys. */
  announce(keys: readonly string[]): void;
  /** How many calls wait for a release of `key`. */
  waiters(key: string): number;
}

/**
 * The `inspector` capability of the memory store, the twin of `RedisLockInspector` and its
 * scripts: the same globs, the same key states, the same force release. Instance records live
 * beside the locks as helper keys, as on Redis, so listings skip them the same way.
 */
export class MemoryLockInspector implements LockInspector {
  readonly #store: InspectedMemoryStore;

  constructor(store: InspectedMemoryStore) {
    this.#store = store;
  }

  list(match: string, limit: number): Promise<KeyListing> {
    const matches = globMatcher(match);
    return this.#store.run(
      [],
      (now): KeyListing => {
        const found: KeyState[] = [];
        for (const [key] of this.#store.keys.entries.live(now)) {
          if (key.startsWith(HELPER_KEY_PREFIX) || !matches(key)) continue;
          if (found.length === limit) return { keys: found, truncated: true };
          const state = this.#state(key, now);
          if (state) found.push(state);
        }
        return { keys: found, truncated: false };
      },
      false,
    );
  }

  instances(tags: readonly string[]): Promise<Map<string, string>> {
    return this.#store.run(
      [],
      (now) => {
        const found = new Map<string, string>();
        for (const tag of tags) {
          const entry = this.#store.keys.get(INSTANCE_KEY_PREFIX + tag, now);
          if (entry?.kind === 'writer') found.set(tag, entry.value);
        }
        return found;
      },
      false,
    );
  }

  announce(tag: string, record: string, ttl: number): Promise<void> {
    return this.#store.run(
      [],
      (now) => this.#store.keys.setWriter(INSTANCE_KEY_PREFIX + tag, record, now + ttl),
      false,
    );
  }

  /** As the FORCE_RELEASE script. */
  forceRelease(key: string): Promise<ForcedRelease> {
    return this.#store.run([key], (now): ForcedRelease => {
      const deleted = this.#store.keys.get(key, now) !== undefined;
      if (deleted) {
        this.#store.keys.delete(key);
        this.#store.announce([key]);
      }
      const raised = this.#store.counter() === undefined ? undefined : this.#store.raiseCounter();
      return { deleted, fenceCounter: raised === undefined ? undefined : fenceValue(raised) };
    });
  }

  /** As the KEY_STATE script (read-only: lapsed readers are skipped, not removed). */
  #state(key: string, now: number): KeyState | undefined {
    const entry = this.#store.keys.get(key, now)!;
    const counter = this.#store.counter();
    const common = {
      key,
      ttl: remaining(entry, now),
      fenceCounter: counter === undefined ? undefined : fenceValue(counter),
      waiters: this.#store.waiters(key),
    };
    if (entry.kind === 'writer') {
      return {
        ...common,
        mode: 'write',
        holders: [{ value: entry.value, ttl: common.ttl }],
        writerWaiting: false,
      };
    }
    const holders: { value: string; ttl: number }[] = [];
    let writerWaiting = false;
    for (const [member, expiresAt] of entry.members) {
      if (expiresAt <= now) continue;
      if (member === WRITER_INTENT) writerWaiting = true;
      else holders.push({ value: member, ttl: Math.floor(expiresAt - now) });
    }
    if (holders.length === 0) return undefined;
    return { ...common, mode: 'read', holders, writerWaiting };
  }
}
