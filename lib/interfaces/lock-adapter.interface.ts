import type { LockInspector } from './lock-inspector.interface.js';

/**
 * The contract between the Redlock engine and one storage node.
 *
 * A backend (a Redis connection, the in-memory store, a future client library) is one class
 * that implements this interface; the engine talks to every node only through it, and the
 * shared adapter contract suite (`nestjs-redlock/testing`) checks that a backend keeps these
 * promises:
 *
 * - **Atomic, all or nothing per node.** `acquire`, `extend` and `release` act on every key of
 *   the call or on none of them, in one step no other client can interleave with (a single
 *   command or a Lua script on Redis, a synchronous section in memory).
 * - **Safe to send twice.** A client may replay a command whose reply it never saw (ioredis
 *   does after a reconnect). A replay never changes the outcome: an `acquire` that finds every
 *   key already holding its own `value` answers `acquired` (without raising the fencing counter
 *   again); a replayed `release` or `extend` acts on nothing more than the first did (a replayed
 *   release answers `expired`, the keys being gone already).
 * - **Compare-and-set on the owner value.** `extend`, `release` and `syncFence` touch a key
 *   only while it holds exactly `value`; a stale owner can never extend or delete the next
 *   owner's lock.
 * - **The node owns expiry.** Keys expire by the node's own clock (`PX`), never by the caller's.
 * - **Fencing counters never expire and never go down.** One counter per node (per hash slot on
 *   a Cluster), in a key no resource can name (it starts with `\u0000`). An acquisition with
 *   `fence: true` raises it by one and returns the new value; nothing else touches it except
 *   {@link LockAdapter.syncFence}, which only raises it.
 * - **No queueing while disconnected.** A call on a node that cannot be reached rejects
 *   promptly; the engine applies its own per-node timeout on top and treats a late answer as
 *   lost.
 * - **Adapters never close what they did not create.** `close()` releases only resources the
 *   adapter opened itself (owned connections, subscriber connections), and returns within a
 *   bounded time even when the node is gone.
 *
 * Optional abilities are explicit capability objects ({@link LockAdapter.shared}), never
 * optional methods.
 */
/**
 * Where the message of a release notification starts in the released owner value: after the
 * 22 characters of its random (secret) part, so only the public holder suffix is published.
 */
export const RELEASE_MESSAGE_FROM = 22;

export interface LockAdapter {
  /** A display name for logs and errors (`redis://10.0.0.5:6379/0`): never credentials. */
  readonly name: string;

  /**
   * Rejects keys this backend cannot lock together, before anything is sent (e.g. keys in
   * different Cluster hash slots). Throws an `Error` whose message says what to change.
   */
  validateKeys?(keys: readonly string[]): void;

  /**
   * Takes every key for `value` with a ttl of `ttl` ms when none of them exists (or every one
   * already holds `value`: a replay). With `options.fence`, also raises the node's fencing
   * counter by one and returns it (as a decimal string when it passed 2^53 - 1, so the engine
   * can refuse it rather than hand out a wrong token).
   *
   * When any key is held by another value (or by readers), nothing changes and the reply
   * carries the longest remaining ttl of the held keys (`-1` when a key has no expiry), so a
   * waiter never sleeps past an expiry.
   */
  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    options?: AcquireOptions,
  ): Promise<AcquireReply>;

  /**
   * Resets the ttl of every key to `ttl` ms if every key that exists holds `value`, and
   * re-creates (with `NX`) any key that is missing: a node that lost the key (restart without
   * persistence, failover) is repaired while the engine still holds a quorum. The reply is
   * `ok` only when every key existed with `value`; a repaired key answers `expired`, so it does
   * not count toward the quorum of this extension. When any key holds another value nothing
   * changes and the reply is `taken`.
   */
  extend(keys: readonly string[], value: string, ttl: number): Promise<OwnerReply>;

  /**
   * Deletes every key that holds `value` and publishes a release notification for each deleted
   * key. Keys holding another value are left alone. With {@link ReleaseOptions.undo} the
   * notification's message is `''` (see {@link onRelease}).
   */
  release(keys: readonly string[], value: string, options?: ReleaseOptions): Promise<OwnerReply>;

  /**
   * Raises the node's fencing counter (of the keys' slot) to at least `token` (a decimal
   * integer string), if every key still holds `value`. Used by the engine when the nodes of
   * one acquisition returned different counters, so the issued token is stored on a quorum.
   */
  syncFence(keys: readonly string[], value: string, token: string): Promise<OwnerReply>;

  /** Remaining ttl in ms of the longest-lived existing key: `-2` none exists, `-1` no expiry. */
  inspect(keys: readonly string[]): Promise<number>;

  /**
   * Calls `listener` (at least once) whenever one of `keys` is released through {@link release} (or a reader
   * leaves and none is left) by any client. Resolves once the subscription is active, so a
   * release after that is never missed; resolves to the function that ends the subscription.
   * Subscriptions to the same key are shared.
   *
   * `listener` gets the notification's message when there is one: for a release through
   * {@link release} of a value whose 23rd character is a dot, as in the engine's owner values,
   * the value from that dot on ({@link RELEASE_MESSAGE_FROM}): the public holder suffix
   * `.<instance tag>.<time>`, never the secret part before it; otherwise, and for an
   * {@link ReleaseOptions.undo}, `''`. Waiters use it to tell which instance ended its turn;
   * it is a hint, never proof of anything (anyone may publish on the channel).
   */
  onRelease(keys: readonly string[], listener: (message?: string) => void): Promise<() => void>;

  /** Resolves when the node answers; rejects otherwise. */
  ping(): Promise<void>;

  /**
   * Optional: resolves once the adapter's connection is established (or rejects after
   * `timeout` ms). The engine awaits it before the first lock so that lock does not race the
   * connect.
   */
  ready?(timeout: number): Promise<void>;

  /** Read (shared) locks; absent when the backend has none (the engine then refuses them). */
  readonly shared?: SharedLocks;

  /**
   * Passing a held lock straight to its next owner; absent: the engine releases the lock and
   * the next owner acquires it (see {@link HandOff}).
   */
  readonly handOff?: HandOff;

  /** Listing, holder records and force release for operators; absent: the node is not listed. */
  readonly inspector?: LockInspector;

  /** Closes what this adapter opened, within a bounded time. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Passing a held (writer) lock to its next owner without freeing its keys in between: the
 * engine's in-process hand-off, which gives a caller of the same process waiting for the same
 * keys the lock in one compare-and-set instead of a release, a notification and a new race.
 */
export interface HandOff {
  /**
   * When every key holds `value`, sets every key to `next` with a ttl of `ttl` ms, all or
   * nothing, in one step no other client can interleave with, and answers `ok`. A replay
   * (every key already holds `next`) answers `ok` and changes nothing. Otherwise nothing
   * changes and the reply is `taken` when any key holds another value (or readers, or a
   * semaphore's holders), else `expired` (a key is gone). Publishes no release notification:
   * the keys are never free. Touches no fencing counter.
   */
  transfer(keys: readonly string[], value: string, next: string, ttl: number): Promise<OwnerReply>;
}

/** Options of {@link LockAdapter.acquire}. */
export interface AcquireOptions {
  /** Raise and return the fencing counter (only when someone asked for a token). */
  readonly fence?: boolean;
  /**
   * {@link SharedLocks} only: the holders are a semaphore's, at most `permits` of them per key
   * at once (the cap is the caller's to keep the same for a key). A fenced grant then raises
   * the counter like a writer's, so every permit gets its own token.
   */
  readonly permits?: number;
}

/** Options of {@link LockAdapter.release}. */
export interface ReleaseOptions {
  /**
   * The engine takes back keys of an attempt that never became a held lock (a round without a
   * quorum, a grant that came too late, a hand-off its caller did not take). Waiters are told
   * as for any release, but the message names no holder: no holder's turn ended, so other
   * processes must not count it as that instance's turn (see `TurnOrder`).
   */
  readonly undo?: boolean;
}

/** Options of {@link SharedLocks.release}. */
export interface SharedReleaseOptions {
  /** The holder is a semaphore's (see {@link AcquireOptions.permits}): every release announces. */
  readonly permits?: number;
}

/**
 * Read (shared) locks: any number of readers of a key at once, none while a writer holds it.
 *
 * `acquire` adds `value` as one more reader of every key (all or nothing), each reader with its
 * own expiry, and answers busy while a writer holds a key or waits for one: a writer that finds
 * readers (in {@link LockAdapter.acquire}) marks its wait so that no new reader gets in, so
 * writers are not starved. With `fence`, the reply carries the current counter, not raised.
 * `extend` renews the reader's own expiry; `release` removes it and, when a key has no reader
 * left, publishes the release notification. A writer's `acquire` treats keys held by readers
 * as busy.
 *
 * Semaphores are the same structure with a cap: `acquire` with `permits` also answers busy
 * while a key already has `permits` live holders (with the time until the first of them
 * expires), and `release` with `permits` publishes on every release, each freeing a permit.
 * `syncFence` accepts a live holder of every key as the owner.
 */
export interface SharedLocks {
  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    options?: AcquireOptions,
  ): Promise<AcquireReply>;
  extend(keys: readonly string[], value: string, ttl: number): Promise<OwnerReply>;
  release(
    keys: readonly string[],
    value: string,
    options?: SharedReleaseOptions,
  ): Promise<OwnerReply>;
}

/** What a node says to an acquisition. */
export type AcquireReply =
  | {
      readonly acquired: true;
      /**
       * The fencing counter after this acquisition, when `fence` was asked: a number, or a
       * decimal string when it no longer fits a double exactly (past 2^53 - 1).
       */
      readonly fence?: number | string;
    }
  | {
      readonly acquired: false;
      /** longest remaining ttl of the held keys, `-1` when unbounded */ readonly ttl: number;
    };

/**
 * What a node says to a compare-and-set operation: `ok` when every key held `value` (and the
 * operation happened); otherwise whether the keys had `expired` (absent) or were `taken` (at
 * least one holds another value).
 */
export type OwnerReply = 'ok' | 'expired' | 'taken';

/**
 * Prefix of every helper key (fencing counters). Resource keys may not start with it, so no
 * resource can ever name a helper key: the engine refuses such keys.
 */
export const HELPER_KEY_PREFIX = '\u0000redlock:';

/** Whether `value` already is an adapter (duck-typed: adapters may come from other packages). */
export function isLockAdapter(value: unknown): value is LockAdapter {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<LockAdapter>;
  return (
    typeof candidate.acquire === 'function' &&
    typeof candidate.release === 'function' &&
    typeof candidate.extend === 'function' &&
    typeof candidate.onRelease === 'function'
  );
}
