/**
 * The `inspector` capability of a lock node: what operators' tools (`inspect()`, the console,
 * the CLI) need to see and clear locks. None of it runs on the lock path, and an adapter without
 * it still locks; the engine then reports the node as `unsupported` in inspections.
 *
 * A backend author keeps these promises:
 * - **No `KEYS`.** Listing walks the keyspace incrementally (`SCAN` on every master of a Cluster),
 *   so a node with millions of keys keeps serving locks while it is inspected.
 * - **Read-only listing.** `list` changes nothing: no ttl, member or counter moves.
 * - **Force release is one atomic step per key.** It deletes the key whoever holds it (a writer's
 *   value or every reader), announces the release like an ordinary one so waiters go at once, and
 *   raises the key's fencing counter when one exists (it never creates one).
 */
export interface LockInspector {
  /**
   * Lock keys matching `match`, a Redis glob over the whole key (lock prefix included, client
   * prefix not), at most `limit` of them, helper keys never included.
   */
  list(match: string, limit: number): Promise<KeyListing>;
  /** The instance records stored under these tags (JSON text as written), missing ones left out. */
  instances(tags: readonly string[]): Promise<Map<string, string>>;
  /** Stores this engine's instance record for `ttl` ms (overwriting the previous one). */
  announce(tag: string, record: string, ttl: number): Promise<void>;
  /** Deletes `key` whoever holds it, announces the release, raises its fencing counter. */
  forceRelease(key: string): Promise<ForcedRelease>;
}

/** What {@link LockInspector.list} found on one node. */
export interface KeyListing {
  readonly keys: readonly KeyState[];
  /** More keys matched than `limit`: the listing stopped early. */
  readonly truncated: boolean;
}

/** One lock key as a node holds it right now. */
export interface KeyState {
  /** The key as the adapter's other methods take it (`keyPrefix + resource`). */
  readonly key: string;
  /**
   * `write`: one owner value; `read`: a set of holders sharing the key (readers, or a
   * semaphore's permit holders: the store keeps no cap, so the two look alike).
   */
  readonly mode: 'write' | 'read';
  /** Each owner value with its remaining ms (a writer, or every live reader). */
  readonly holders: readonly { readonly value: string; readonly ttl: number }[];
  /** Remaining ms of the key itself (`-1`: no expiry). */
  readonly ttl: number;
  /** A writer waits for the readers to leave (and keeps new readers out meanwhile). */
  readonly writerWaiting: boolean;
  /**
   * The node's fencing counter for this key's slot, when fencing was ever used there: every
   * token handed out for the key so far is at most this (equal when no later fenced lock of the
   * slot was taken), so it bounds the holder's token from above. A number, or a decimal string
   * past 2^53 - 1.
   */
  readonly fenceCounter: number | string | undefined;
  /**
   * Connections subscribed to the key's release notifications on this node: how many processes
   * wait for it (each process subscribes once however many of its calls wait, and stays
   * subscribed for 0.1–0.2 s after its last waiter left); `0` when none.
   */
  readonly waiters: number;
}

/** What {@link LockInspector.forceRelease} did on one node. */
export interface ForcedRelease {
  /** Whether a key was there to delete. */
  readonly deleted: boolean;
  /** The raised fencing counter, when the slot has one. */
  readonly fenceCounter: number | string | undefined;
}
