import type {
  AcquireReply,
  FenceArgs,
  LineArgs,
  LockAdapter,
  OwnerReply,
  ReleaseListener,
} from '../interfaces/lock-adapter.interface.js';
import { type Expiring, ExpiringMap } from './expiring-map.js';

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

/** Entries checked per map on every operation: enough to outpace one new entry per call. */
const SWEEP_STEP = 4;
/** The background sweep only matters for idle stores after a burst, so it runs rarely. */
const SWEEP_INTERVAL_MS = 1_000;
/** Bounds the work of one background tick, so a huge store never stalls the event loop. */
const SWEEP_SLICE = 1_024;

interface LockEntry extends Expiring {
  readonly value: string;
}

interface FenceEntry extends Expiring {
  counter: number;
}

interface ReaderSet {
  readonly members: Map<string, number>;
  intentUntil: number;
}

/** How long a writer that found readers keeps new readers out (renewed while it waits). */
const WRITER_INTENT_MS = 1_000;

function lastExpiry(readers: ReaderSet): number {
  let last = readers.intentUntil;
  for (const expiresAt of readers.members.values()) last = Math.max(last, expiresAt);
  return last;
}

interface Subscription {
  readonly listener: ReleaseListener;
  active: boolean;
}

/** A waiter's place in a key's line: its ticket, and until when the place lasts. */
interface Place {
  readonly ticket: number;
  until: number;
}

/**
 * The embedded lock store behind `memory://` nodes: one process, no network, the same
 * semantics as a Redis node (owner values, expiry by the store's own clock, all-or-nothing
 * multi-key calls, compare-and-set extend and release, fencing counters, waiting lines, release
 * notifications).
 *
 * Every operation runs in one synchronous section, so no other call can interleave with it. A
 * key is gone from the instant the clock reaches its expiry, so a lock never outlives its ttl.
 * Expired entries are dropped when touched and by a sweep that does a little work per call (and
 * a bounded slice each second while idle), so memory follows the live keys, not the keys ever
 * used. Locks are not shared with other processes: use it for single-process apps and tests.
 *
 * @example
 * ```ts
 * const store = new MemoryLockAdapter();
 * const fence = { seed: Date.now() * 1000, retention: 60_000 };
 * const reply = await store.acquire(['lock:report'], ownerValue, 10_000, fence);
 * if (reply.acquired) {
 *   // ... work, fenced by reply.fence ...
 *   await store.release(['lock:report'], ownerValue);
 * }
 * await store.close();
 * ```
 */
export class MemoryLockAdapter implements LockAdapter {
  readonly name: string;

  private readonly now: () => number;
  private readonly locks = new ExpiringMap<LockEntry>();
  private readonly fences = new ExpiringMap<FenceEntry>();
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  // Read leases per key: owner value -> expiry, and until when a waiting writer keeps new
  // readers out. Emptied sets are dropped on access.
  private readonly readers = new Map<string, ReaderSet>();
  // Waiting lines of single keys: waiter id -> place. Emptied lines are dropped.
  private readonly lines = new Map<string, Map<string, Place>>();
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(options: MemoryLockAdapterOptions = {}) {
    this.name = options.name ?? 'memory://';
    this.now = options.now ?? (() => performance.now());
    // The per-call sweep only runs while the store is used; this one frees a burst of keys
    // once the store goes quiet. Unref'd: a lock store must never keep the process alive.
    this.sweepTimer = setInterval(() => {
      const now = this.now();
      this.sweep(now, SWEEP_SLICE);
      this.sweepLines(now, SWEEP_SLICE);
    }, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
    line?: LineArgs,
  ): Promise<AcquireReply> {
    return this.run(keys, (now): AcquireReply => {
      assertTtl(ttl);
      assertFence(fence);

      // Only single-key calls take part in lines (as on Redis).
      const lineKey = keys.length === 1 ? keys[0] : undefined;
      if (lineKey !== undefined) {
        const head = this.lineHead(lineKey, now);
        if (head !== undefined && head.id !== line?.id) {
          this.joinLine(lineKey, line, now);
          const held = this.locks.get(lineKey, now);
          const holder = held === undefined ? 0 : held.expiresAt - now;
          return { acquired: false, ttl: Math.ceil(Math.max(holder, head.until - now, 0)) };
        }
      }

      let busy = -1;
      for (const key of keys) {
        const held = this.locks.get(key, now);
        if (held !== undefined) busy = Math.max(busy, held.expiresAt - now);
        const readers = this.liveReaders(key, now);
        if (readers !== undefined && readers.members.size > 0) {
          // Mark the wait so no new reader gets in (writers are not starved), and come back
          // before the mark expires or when the last reader's lease ends.
          const intent = Math.min(ttl, WRITER_INTENT_MS);
          readers.intentUntil = now + intent;
          busy = Math.max(busy, Math.min(lastExpiry(readers) - now, intent / 2));
        }
      }
      // Rounded up like a whole-millisecond PTTL that never undershoots, so a waiter that
      // sleeps this long finds the key gone.
      if (busy >= 0) {
        if (lineKey !== undefined) this.joinLine(lineKey, line, now);
        return { acquired: false, ttl: Math.ceil(busy) };
      }
      if (lineKey !== undefined && line !== undefined) this.removePlace(lineKey, line.id);

      let token = fence.seed;
      for (const key of keys) {
        token = Math.max(token, (this.fences.get(key, now)?.counter ?? 0) + 1);
      }
      const expiresAt = now + ttl;
      for (const key of keys) {
        this.readers.delete(key);
        this.locks.set(key, { value, expiresAt });
        this.fences.set(key, { counter: token, expiresAt: expiresAt + fence.retention });
      }
      return { acquired: true, fence: token };
    });
  }

  extend(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply> {
    return this.run(keys, (now): OwnerReply => {
      assertTtl(ttl);
      assertFence(fence);

      const owned = this.ownedEntries(keys, value, now);
      if (typeof owned === 'string') return owned;
      const expiresAt = now + ttl;
      for (const [i, key] of keys.entries()) {
        owned[i]!.expiresAt = expiresAt;
        // A counter must outlive its lock; without one there is nothing to keep (Redis PEXPIRE
        // on a missing key is a no-op too).
        const counter = this.fences.get(key, now);
        if (counter !== undefined) counter.expiresAt = expiresAt + fence.retention;
      }
      return 'ok';
    });
  }

  release(keys: readonly string[], value: string, rejoin?: LineArgs): Promise<OwnerReply> {
    return this.run(keys, (now): OwnerReply => {
      let taken = false;
      let missing = false;
      const notify = new Set<Subscription>();
      const single = keys.length === 1 && this.locks.get(keys[0]!, now)?.value === value;
      if (single && rejoin !== undefined) this.joinLine(keys[0]!, rejoin, now);
      // As on Redis, a single key's release names the head of its line, never to itself.
      const next = single ? (this.lineHead(keys[0]!, now)?.id ?? '') : '';
      const announce = rejoin === undefined || next !== rejoin.id;
      for (const key of keys) {
        const held = this.locks.get(key, now);
        if (held === undefined) {
          missing = true;
        } else if (held.value !== value) {
          taken = true;
        } else {
          this.locks.delete(key);
          if (!announce) continue;
          // A set, so a listener on several released keys wakes once per release.
          for (const subscription of this.subscriptions.get(key) ?? []) notify.add(subscription);
        }
      }
      for (const subscription of notify) {
        // Listeners run after this call, as a Redis message would arrive, so a listener never
        // sees the store mid-operation; each gets its own microtask so a throwing listener
        // cannot starve the others. A subscription ended before delivery is skipped: after
        // unsubscribe, no more calls.
        queueMicrotask(() => {
          if (subscription.active) subscription.listener(next);
        });
      }
      return taken ? 'taken' : missing ? 'expired' : 'ok';
    });
  }

  syncFence(
    keys: readonly string[],
    value: string,
    fence: FenceArgs & { token: number },
  ): Promise<OwnerReply> {
    return this.run(keys, (now): OwnerReply => {
      assertFence(fence);
      if (!Number.isFinite(fence.token)) {
        throw new RangeError(`fence token must be a finite number, got ${fence.token}`);
      }

      const owned = this.ownedEntries(keys, value, now);
      if (typeof owned === 'string') return owned;
      for (const [i, key] of keys.entries()) {
        const expiresAt = owned[i]!.expiresAt + fence.retention;
        const counter = this.fences.get(key, now);
        if (counter === undefined) {
          this.fences.set(key, { counter: fence.token, expiresAt });
        } else {
          // Counters only ever move up, and never expire before their lock does.
          counter.counter = Math.max(counter.counter, fence.token);
          counter.expiresAt = Math.max(counter.expiresAt, expiresAt);
        }
      }
      return 'ok';
    });
  }

  acquireShared(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<AcquireReply> {
    return this.run(keys, (now): AcquireReply => {
      assertTtl(ttl);
      assertFence(fence);
      let busy = -1;
      for (const key of keys) {
        const held = this.locks.get(key, now);
        if (held !== undefined) busy = Math.max(busy, held.expiresAt - now);
        const readers = this.liveReaders(key, now);
        if (readers !== undefined && readers.intentUntil > now) {
          busy = Math.max(busy, readers.intentUntil - now);
        }
      }
      if (busy >= 0) return { acquired: false, ttl: Math.ceil(busy) };
      let token = 0;
      for (const key of keys) {
        let readers = this.readers.get(key);
        if (readers === undefined)
          this.readers.set(key, (readers = { members: new Map(), intentUntil: 0 }));
        readers.members.set(value, now + ttl);
        token = Math.max(token, this.fences.get(key, now)?.counter ?? 0);
      }
      return { acquired: true, fence: token };
    });
  }

  extendShared(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply> {
    return this.run(keys, (now): OwnerReply => {
      assertTtl(ttl);
      for (const key of keys) {
        if (this.locks.get(key, now) !== undefined) return 'taken';
        if (this.liveReaders(key, now)?.members.has(value) !== true) return 'expired';
      }
      for (const key of keys) {
        this.readers.get(key)!.members.set(value, now + ttl);
        const counter = this.fences.get(key, now);
        if (counter !== undefined)
          counter.expiresAt = Math.max(counter.expiresAt, now + ttl + fence.retention);
      }
      return 'ok';
    });
  }

  releaseShared(keys: readonly string[], value: string): Promise<OwnerReply> {
    return this.run(keys, (now): OwnerReply => {
      let released = false;
      for (const key of keys) {
        const readers = this.liveReaders(key, now);
        if (readers === undefined || !readers.members.delete(value)) continue;
        released = true;
        if (readers.members.size > 0) continue;
        if (readers.intentUntil <= now) this.readers.delete(key);
        // The last reader left: a waiting writer may go.
        this.announce(key, '');
      }
      return released ? 'ok' : 'expired';
    });
  }

  inspect(keys: readonly string[]): Promise<number> {
    return this.run(
      keys,
      (now) => {
        let longest = -2;
        for (const key of keys) {
          const held = this.locks.get(key, now);
          if (held !== undefined) longest = Math.max(longest, Math.ceil(held.expiresAt - now));
          const readers = this.liveReaders(key, now);
          if (readers !== undefined && readers.members.size > 0) {
            longest = Math.max(longest, Math.ceil(lastExpiry(readers) - now));
          }
        }
        return longest;
      },
      false,
    );
  }

  leaveLine(key: string, id: string): Promise<void> {
    return this.run([key], (now) => {
      if (!this.removePlace(key, id)) return;
      if (this.locks.get(key, now) !== undefined || this.liveReaders(key, now) !== undefined)
        return;
      const head = this.lineHead(key, now);
      if (head !== undefined) this.announce(key, head.id);
    });
  }

  onRelease(keys: readonly string[], listener: ReleaseListener): Promise<() => void> {
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
      this.locks.clear();
      this.fences.clear();
      this.readers.clear();
      this.lines.clear();
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
  stats(): { locks: number; fences: number; subscribedKeys: number; lines: number } {
    return {
      locks: this.locks.size,
      fences: this.fences.size,
      subscribedKeys: this.subscriptions.size,
      lines: this.lines.size,
    };
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
      if (requireKeys && keys.length === 0) {
        throw new RangeError('a lock operation needs at least one key');
      }
      const now = this.now();
      this.sweep(now, SWEEP_STEP);
      return Promise.resolve(body(now));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The key's read leases with expired ones dropped; `undefined` when none is left. */
  private liveReaders(key: string, now: number): ReaderSet | undefined {
    const readers = this.readers.get(key);
    if (readers === undefined) return undefined;
    for (const [member, expiresAt] of readers.members) {
      if (expiresAt <= now) readers.members.delete(member);
    }
    if (readers.members.size === 0 && readers.intentUntil <= now) {
      this.readers.delete(key);
      return undefined;
    }
    return readers;
  }

  /**
   * The entries of `keys` if every one holds `value`; otherwise the compare-and-set verdict:
   * `taken` when any key holds another value, `expired` when some are merely gone.
   */
  private ownedEntries(
    keys: readonly string[],
    value: string,
    now: number,
  ): LockEntry[] | 'taken' | 'expired' {
    const owned: LockEntry[] = [];
    let missing = false;
    for (const key of keys) {
      const held = this.locks.get(key, now);
      if (held === undefined) missing = true;
      else if (held.value !== value) return 'taken';
      else owned.push(held);
    }
    return missing ? 'expired' : owned;
  }

  private sweep(now: number, budget: number): void {
    this.locks.sweep(now, budget);
    this.fences.sweep(now, budget);
  }

  /** The first live place of the key's line (lowest ticket, then id); lapsed places go. */
  private lineHead(key: string, now: number): { id: string; until: number } | undefined {
    const places = this.lines.get(key);
    if (places === undefined) return undefined;
    let head: { id: string; ticket: number; until: number } | undefined;
    for (const [id, place] of places) {
      if (place.until <= now) {
        places.delete(id);
      } else if (
        head === undefined ||
        place.ticket < head.ticket ||
        (place.ticket === head.ticket && id < head.id)
      ) {
        head = { id, ticket: place.ticket, until: place.until };
      }
    }
    if (places.size === 0) this.lines.delete(key);
    return head;
  }

  /** Takes or renews the caller's place: the ticket stays, the patience starts again. */
  private joinLine(key: string, line: LineArgs | undefined, now: number): void {
    if (line === undefined || line.id === '') return;
    let places = this.lines.get(key);
    if (places === undefined) this.lines.set(key, (places = new Map<string, Place>()));
    const place = places.get(line.id);
    if (place === undefined)
      places.set(line.id, { ticket: line.ticket, until: now + line.patience });
    else place.until = now + line.patience;
  }

  private removePlace(key: string, id: string): boolean {
    const places = this.lines.get(key);
    if (places === undefined || !places.delete(id)) return false;
    if (places.size === 0) this.lines.delete(key);
    return true;
  }

  /** Drops lapsed places of lines nobody touches any more (a caller that walked away). */
  private sweepLines(now: number, budget: number): void {
    let checked = 0;
    for (const key of this.lines.keys()) {
      if (checked++ >= budget) break;
      this.lineHead(key, now);
    }
  }

  /** Calls the key's release listeners with `next`, each in its own microtask. */
  private announce(key: string, next: string): void {
    for (const subscription of this.subscriptions.get(key) ?? []) {
      queueMicrotask(() => {
        if (subscription.active) subscription.listener(next);
      });
    }
  }
}

function assertTtl(ttl: number): void {
  // Redis refuses `PX 0` and negative expiries; refusing here keeps the two backends alike.
  if (!Number.isFinite(ttl) || ttl <= 0) {
    throw new RangeError(`ttl must be a positive number of milliseconds, got ${ttl}`);
  }
}

function assertFence(fence: FenceArgs): void {
  if (!Number.isFinite(fence.seed)) {
    throw new RangeError(`fence seed must be a finite number, got ${fence.seed}`);
  }
  if (!Number.isFinite(fence.retention) || fence.retention < 0) {
    throw new RangeError(`fence retention must be a non-negative number, got ${fence.retention}`);
  }
}
