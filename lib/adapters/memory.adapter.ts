import type {
  AcquireOptions,
  AcquireReply,
  HandOff,
  LockAdapter,
  OwnerReply,
  ReleaseOptions,
  SharedLocks,
} from '../interfaces/lock-adapter.interface.js';
import { RELEASE_MESSAGE_FROM } from '../interfaces/lock-adapter.interface.js';
import { ACQUIRED, assertKeys, assertToken, assertTtl, fenceValue } from './adapter-args.js';
import { INTENT_MS, Keyspace, Longest, remaining, WRITER_INTENT } from './memory-keyspace.js';
import { MemorySharedLocks } from './memory-shared-locks.js';
import { MemoryHandOff } from './memory-hand-off.js';
import type { LockInspector } from '../interfaces/lock-inspector.interface.js';
import { MemoryLockInspector } from './lock-inspector.memory.js';

/** Options of {@link MemoryLockAdapter}. */
export interface MemoryLockAdapterOptions {
  /**
   * Display name for logs and errors.
   * @default 'memory://'
   */
  name?: string;
  /**
   * Monotonic clock in milliseconds that owns expiry, as a Redis server's clock does. Tests pass
   * a manual clock to step through ttls without sleeping.
   * @default () => performance.now()
   */
  now?: () => number;
}

/** The background sweep only matters for idle stores after a burst, so it runs rarely. */
const SWEEP_INTERVAL_MS = 1_000;
/** Bounds the work of one background tick, so a huge store never stalls the event loop. */
const SWEEP_SLICE = 1_024;

interface Subscription {
  readonly listener: (message?: string) => void;
  active: boolean;
}

/**
 * The embedded lock store behind `memory://` nodes: one process, no network, and the twin of a
 * Redis node: every operation follows the Lua script of the Redis adapter step by step and gives
 * the same reply for the same sequence of calls (a differential test checks this against a real
 * server). Owner values, expiry by the store's own clock, all-or-nothing multi-key calls,
 * replay-safe acquisitions, extend-or-repair, one fencing counter that never expires, read locks,
 * hand-offs and release notifications all behave as on Redis.
 *
 * Every operation runs in one synchronous section, so no other call can interleave with it. A
 * key is gone from the instant the clock reaches its expiry. Expired entries are dropped when
 * touched and by a sweep that does a little work per call (and a bounded slice each second while
 * idle), so memory follows the live keys. Locks are not shared with other processes: use it for
 * single-process apps and tests.
 *
 * @example
 * ```ts
 * const store = new MemoryLockAdapter();
 * const reply = await store.acquire(['lock:report'], ownerValue, 10_000, { fence: true });
 * if (reply.acquired) {
 *   // ... work, fenced by reply.fence ...
 *   await store.release(['lock:report'], ownerValue);
 * }
 * await store.close();
 * ```
 */
export class MemoryLockAdapter implements LockAdapter {
  readonly name: string;
  readonly shared: SharedLocks;
  /** Hand-offs from one owner value to the next, as the Redis script does them. */
  readonly handOff: HandOff;
  /** Listing, instance records and force release, as on Redis. */
  readonly inspector: LockInspector;

  private readonly now: () => number;
  private readonly keys = new Keyspace();
  /** The store's one fencing counter: it never expires and only goes up. */
  private counter = 0n;
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(options: MemoryLockAdapterOptions = {}) {
    this.name = options.name ?? 'memory://';
    this.now = options.now ?? (() => performance.now());
    this.shared = new MemorySharedLocks({
      keys: this.keys,
      run: (keys, body) => this.run(keys, body),
      counter: () => this.counter,
      raise: () => ++this.counter,
      announce: (keys) => this.announce(keys),
    });
    this.handOff = new MemoryHandOff({
      keys: this.keys,
      run: (keys, body) => this.run(keys, body),
    });
    this.inspector = new MemoryLockInspector({
      keys: this.keys,
      run: (keys, body, requireKeys) => this.run(keys, body, requireKeys),
      // Zero means no fenced lock yet: like a Redis counter key that does not exist.
      counter: () => (this.counter === 0n ? undefined : this.counter),
      raiseCounter: () => ++this.counter,
      announce: (keys) => this.announce(keys),
      waiters: (key) => this.subscriptions.get(key)?.size ?? 0,
    });
    // The per-call sweep only runs while the store is used; this one frees a burst of keys
    // once the store goes quiet. Unref'd: a lock store must never keep the process alive.
    this.sweepTimer = setInterval(
      () => this.keys.sweep(this.now(), SWEEP_SLICE),
      SWEEP_INTERVAL_MS,
    );
    this.sweepTimer.unref();
  }

  /** As the ACQUIRE script (and the single-key `SET NX PX GET` it stands in for). */
  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    options?: AcquireOptions,
  ): Promise<AcquireReply> {
    return this.run(keys, (now): AcquireReply => {
      assertTtl(ttl);
      const longest = new Longest();
      const free: string[] = [];
      for (const key of keys) {
        const entry = this.keys.get(key, now);
        if (entry === undefined) {
          free.push(key);
        } else if (entry.kind === 'readers') {
          if (this.keys.liveReaders(key, entry, now) > 0) {
            // Mark the wait so no new reader gets in (writers are not starved).
            const intent = Math.min(ttl, INTENT_MS);
            entry.members.set(WRITER_INTENT, now + intent);
            this.keys.keepUntilLast(key, entry, now);
            const lastReader = Math.ceil(this.keys.lastReader(entry) - now);
            longest.add(Math.min(lastReader, Math.floor(intent / 2)));
          } else {
            free.push(key);
          }
        } else if (entry.value !== value) {
          longest.add(remaining(entry, now));
        }
      }
      if (longest.value !== undefined) return { acquired: false, ttl: longest.value };
      for (const key of free) this.keys.setWriter(key, value, now + ttl);
      if (options?.fence !== true) return ACQUIRED;
      // A replay (every key already ours) must not count twice.
      if (free.length > 0) this.counter++;
      return { acquired: true, fence: fenceValue(this.counter) };
    });
  }

  /** As the EXTEND script: extend what is ours, re-create what is missing, touch nothing taken. */
  extend(keys: readonly string[], value: string, ttl: number): Promise<OwnerReply> {
    return this.run(keys, (now): OwnerReply => {
      assertTtl(ttl);
      const status = this.ownership(keys, value, now);
      if (status === 'taken') return status;
      for (const key of keys) {
        const entry = this.keys.get(key, now);
        if (entry === undefined) this.keys.setWriter(key, value, now + ttl);
        else entry.expiresAt = now + ttl;
      }
      return status;
    });
  }

  /** As the RELEASE script. */
  release(keys: readonly string[], value: string, options?: ReleaseOptions): Promise<OwnerReply> {
    return this.run(keys, (now): OwnerReply => {
      let taken = false;
      let missing = false;
      const released: string[] = [];
      for (const key of keys) {
        const entry = this.keys.get(key, now);
        if (entry?.kind === 'writer' && entry.value === value) {
          this.keys.delete(key);
          released.push(key);
        } else if (entry !== undefined) {
          taken = true;
        } else {
          missing = true;
        }
      }
      this.announce(released, options?.undo ? '' : releaseMessage(value));
      return taken ? 'taken' : missing ? 'expired' : 'ok';
    });
  }

  /** As the SYNC_FENCE script. */
  syncFence(keys: readonly string[], value: string, token: string): Promise<OwnerReply> {
    return this.run(keys, (now): OwnerReply => {
      assertToken(token);
      const status = this.ownership(keys, value, now, true);
      if (status !== 'ok') return status;
      const raised = BigInt(token);
      if (raised > this.counter) this.counter = raised;
      return 'ok';
    });
  }

  /** As the INSPECT script (or PTTL for one key). */
  inspect(keys: readonly string[]): Promise<number> {
    return this.run(keys, (now) => {
      let longest = -2;
      for (const key of keys) {
        const entry = this.keys.get(key, now);
        if (entry !== undefined) longest = Math.max(longest, remaining(entry, now));
      }
      return longest;
    });
  }

  onRelease(keys: readonly string[], listener: (message?: string) => void): Promise<() => void> {
    return this.run(
      keys,
      () => {
        const subscription: Subscription = { listener, active: true };
        const unique = [...new Set(keys)];
        for (const key of unique) {
          let set = this.subscriptions.get(key);
          if (set === undefined) this.subscriptions.set(key, (set = new Set()));
          set.add(subscription);
        }
        return () => {
          if (!subscription.active) return;
          subscription.active = false;
          for (const key of unique) {
            const set = this.subscriptions.get(key);
            if (set === undefined) continue;
            set.delete(subscription);
            // Drop empty sets, or a stream of one-off keys would leave one entry each behind.
            if (set.size === 0) this.subscriptions.delete(key);
          }
        };
      },
      false,
    );
  }

  ping(): Promise<void> {
    return this.run([], () => undefined, false);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      clearInterval(this.sweepTimer);
      this.keys.clear();
      // Pending notifications check `active`, so nothing is delivered after close.
      for (const set of this.subscriptions.values()) {
        for (const subscription of set) subscription.active = false;
      }
      this.subscriptions.clear();
    }
    return Promise.resolve();
  }

  /**
   * Entry counts, including expired entries no sweep has reached yet. For diagnostics and
   * tests: the numbers show whether memory is bounded, not how many locks are held.
   */
  stats(): { locks: number; subscribedKeys: number } {
    return { locks: this.keys.size, subscribedKeys: this.subscriptions.size };
  }

  /** `ok` when every key holds `value`; else `taken` if any holds something else; else `expired`. */
  /** Whether `value` holds every key; `holders`: a semaphore's live holder counts too. */
  private ownership(
    keys: readonly string[],
    value: string,
    now: number,
    holders = false,
  ): OwnerReply {
    let missing = false;
    for (const key of keys) {
      const entry = this.keys.get(key, now);
      if (entry === undefined) missing = true;
      else if (holders && entry.kind === 'readers') {
        if ((entry.members.get(value) ?? now) <= now) missing = true;
      } else if (entry.kind !== 'writer' || entry.value !== value) return 'taken';
    }
    return missing ? 'expired' : 'ok';
  }

  /**
   * Runs one operation as a single synchronous section (nothing can interleave with it), with
   * one clock reading, and its share of the sweep. Failures reject rather than throw, as they
   * would over a network.
   */
  private run<T>(
    keys: readonly string[],
    body: (now: number) => T,
    requireKeys = true,
  ): Promise<T> {
    try {
      if (this.closed) {
        throw new Error(`${this.name}: the memory lock store is closed; create a new adapter`);
      }
      if (requireKeys) assertKeys(keys);
      const now = this.now();
      this.keys.sweep(now);
      return Promise.resolve(body(now));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Calls the release listeners of the keys, once per listener however many of its keys were
   * freed. Listeners run after the call, as a Redis message would arrive, so none sees the store
   * mid-operation; each in its own microtask so a throwing listener cannot starve the others. A
   * subscription ended before delivery is skipped: after unsubscribe, no more calls. The
   * message is a release's, as the RELEASE script publishes it, or empty.
   */
  private announce(keys: readonly string[], message = ''): void {
    if (keys.length === 0) return;
    const notify = new Set<Subscription>();
    for (const key of keys) {
      for (const subscription of this.subscriptions.get(key) ?? []) notify.add(subscription);
    }
    for (const subscription of notify) {
      queueMicrotask(() => {
        if (subscription.active) subscription.listener(message);
      });
    }
  }
}

/** As the RELEASE script announces a release: the owner value's public holder suffix, or ''. */
function releaseMessage(value: string): string {
  return value.charCodeAt(RELEASE_MESSAGE_FROM) === 46 ? value.slice(RELEASE_MESSAGE_FROM) : '';
}
