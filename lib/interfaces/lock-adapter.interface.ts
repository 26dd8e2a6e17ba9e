/**
 * The contract between the Redlock engine and one storage node.
 *
 * A backend (a Redis client, the in-memory store, a future client library) is one class that
 * implements this interface; the engine talks to every node only through it, and the shared
 * adapter contract suite (`test/contract/`) checks that a backend keeps these promises:
 *
 * - **Atomic, all or nothing per node.** `acquire`, `extend` and `release` act on every key of
 *   the call or on none of them, in one step no other client can interleave with (a Lua script
 *   on Redis, a synchronous section in memory).
 * - **Compare-and-set on the owner value.** `extend` and `release` touch a key only while it
 *   holds exactly `value`; a stale owner can never extend or delete the next owner's lock.
 * - **The node owns expiry.** Keys expire by the node's own clock (`PX`), never by the caller's.
 * - **Fencing counters** live beside each lock key and only ever move up while they exist
 *   (see {@link AcquireReply.fence}); they expire `fenceRetention` ms after the lock's own ttl.
 * - **A fair line per key (optional, single-key calls).** An adapter with {@link leaveLine}
 *   keeps a line of waiters per key: a free key goes only to the head of a non-empty line, so a
 *   newcomer never overtakes a waiter, and release notifications name the head.
 * - **No queueing while disconnected.** A call on a node that cannot be reached rejects
 *   promptly; the engine applies its own per-node timeout on top and treats a late answer as
 *   lost.
 * - **Adapters never close what they did not create.** `close()` releases only resources the
 *   adapter opened itself (owned connections, subscriber connections).
 */
export interface LockAdapter {
  /** A display name for logs and errors (`redis://10.0.0.5:6379/0`): never credentials. */
  readonly name: string;

  /**
   * Rejects keys this backend cannot lock together, before anything is sent (e.g. keys in
   * different Cluster hash slots). Throws an `Error` whose message says what to change.
   */
  validateKeys?(keys: readonly string[]): void;

  /**
   * Takes every key for `value` with a ttl of `ttl` ms when none of them exists.
   *
   * On success the node also raises the fencing counter of each key to
   * `max(counter + 1, fenceSeed)` over all keys of the call and returns that number.
   * When any key is held, nothing changes and the reply carries the longest remaining ttl of
   * the held keys (`-1` when a key has no expiry), so a waiter never sleeps past an expiry.
   *
   * Adapters with lines (see {@link leaveLine}), for a single key: while the key's line has a
   * live head other than `line.id`, the key is busy even when free (the reply's ttl then lasts
   * until the head's place would lapse); a call with `line` that does not get the key takes or
   * renews its place (ordered by `line.ticket`, lasting `line.patience` ms), and one that gets
   * it leaves the line. Multi-key calls ignore lines.
   */
  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
    line?: LineArgs,
  ): Promise<AcquireReply>;

  /**
   * Optional, and the sign that the adapter keeps lines: takes waiter `id` out of the line of
   * `key` (it gave up or got the lock elsewhere) and, when the key is free, announces the new
   * head so it does not wait for its timer.
   */
  leaveLine?(key: string, id: string): Promise<void>;

  /** Resets the ttl of every key to `ttl` ms if, and only if, every key still holds `value`. */
  extend(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply>;

  /**
   * Deletes every key that holds `value` and publishes a release notification for each deleted
   * key. Keys holding another value are left alone.
   *
   * With `rejoin` (adapters with lines, single key): the caller gives back a partial
   * acquisition but keeps waiting, so it first takes its place in the key's line again, and
   * the notification is not sent when it would name the caller itself.
   */
  release(keys: readonly string[], value: string, rejoin?: LineArgs): Promise<OwnerReply>;

  /**
   * Raises the fencing counter of every key to at least `fence.token`, if every key still holds
   * `value`. Used by the engine when nodes of one acquisition returned different counters.
   */
  syncFence(
    keys: readonly string[],
    value: string,
    fence: FenceArgs & { token: number },
  ): Promise<OwnerReply>;

  /**
   * Read (shared) locks. Optional: the engine refuses read locks on a node without them.
   *
   * `acquireShared` adds `value` as one more reader of every key (all or nothing), each reader
   * with its own expiry, and answers busy while a writer holds a key or waits for one: a writer
   * that finds readers (in `acquire`) marks its wait so that no new reader gets in, so writers
   * are not starved. The reply's `fence` is the latest counter, not raised. `extendShared`
   * renews the reader's own expiry; `releaseShared` removes it and, when a key has no reader
   * left, publishes the release notification. `acquire` treats keys held by readers as busy.
   */
  acquireShared?(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<AcquireReply>;
  extendShared?(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply>;
  releaseShared?(keys: readonly string[], value: string): Promise<OwnerReply>;

  /** Remaining ttl in ms of the longest-lived existing key: `-2` none exists, `-1` no expiry. */
  inspect(keys: readonly string[]): Promise<number>;

  /**
   * Calls `listener` whenever one of `keys` is released through {@link release} by any client,
   * with the id of the head of the key's line at that moment (`''` when the line is empty or
   * the adapter keeps none). Resolves once the subscription is active, so a release after that
   * is never missed; resolves to the function that ends the subscription. Subscriptions to the
   * same key are shared.
   */
  onRelease(keys: readonly string[], listener: ReleaseListener): Promise<() => void>;

  /** Resolves when the node answers; rejects otherwise. */
  ping(): Promise<void>;

  /**
   * Optional: resolves once the adapter's connection is established (or rejects after
   * `timeout` ms). The module awaits it at startup so the first lock does not race the connect.
   */
  ready?(timeout: number): Promise<void>;

  /** Closes what this adapter opened. Safe to call twice. */
  close(): Promise<void>;
}

/** Called on a release with the id of the head of the key's line (`''` when none). */
export type ReleaseListener = (next: string) => void;

/** A waiting caller's place in the line of a single-key lock (see {@link LockAdapter.acquire}). */
export interface LineArgs {
  /** The waiter's id: the same on every attempt of one call, on every node. */
  readonly id: string;
  /**
   * Its place: the call's start on the caller's clock in microseconds, the same on every node,
   * so every node orders its line alike (ties go by id).
   */
  readonly ticket: number;
  /** How long (ms) the place lasts unless the waiter comes back. */
  readonly patience: number;
}

/** Fencing arguments of an acquisition. */
export interface FenceArgs {
  /** Lower bound for the new counter value: the acquiring client's clock in microseconds. */
  seed: number;
  /** How long (ms) a counter outlives the lock's ttl. */
  retention: number;
}

/** What a node says to an acquisition. */
export type AcquireReply =
  | {
      readonly acquired: true;
      /** the fencing counter after this acquisition */ readonly fence: number;
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
