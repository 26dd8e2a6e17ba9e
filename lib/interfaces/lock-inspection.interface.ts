import type { NodeOutcome } from '../redlock.errors.js';
import type { InstanceInfo } from '../services/instance-record.js';

export type { InstanceInfo };

/**
 * What `RedlockService.inspect()` saw: the locks held on the nodes right now, merged over the
 * nodes, and how each node answered. Never contains owner values (they would let the reader
 * release or extend someone else's lock) nor credentials.
 */
export interface LockInspection {
  /** Held locks, by resource name. */
  readonly locks: readonly InspectedLock[];
  /** Each node, in configuration order. */
  readonly nodes: readonly InspectedNode[];
  /** More locks matched than `limit`: the listing is incomplete. */
  readonly truncated: boolean;
  /** Epoch ms at which the inspection was made (ttls count down from here). */
  readonly at: number;
}

/** How one node answered an inspection. */
export interface InspectedNode {
  readonly node: string;
  /** `unsupported`: the node's adapter has no `inspector` capability. */
  readonly status: 'ok' | 'error' | 'timeout' | 'unsupported';
  /** Why it failed, never with credentials. */
  readonly message?: string;
  /** Locks this node holds among those listed. */
  readonly locks: number;
}

/** One held resource. */
export interface InspectedLock {
  readonly resource: string;
  /**
   * `write` (exclusive) or `read` (shared: `holders` are the readers, or the permit holders of
   * a semaphore, which the nodes store alike).
   */
  readonly mode: 'write' | 'read';
  /** Who holds it: one writer, or each reader (the most widely held first). */
  readonly holders: readonly LockHolder[];
  /** Remaining ms of the longest-held holder (`-1`: a key without expiry, not ours). */
  readonly ttl: number;
  /** Nodes on which the key exists. */
  readonly nodes: number;
  /**
   * Whether one holder has it on a majority of nodes (otherwise: being taken, or expiring). A
   * semaphore's permit needs more nodes than a majority (every node of 3, 4 of 5 for 2 or 3
   * permits), and the nodes do not record the cap: for permits this says only that a majority
   * hold it, not that the permit is valid.
   */
  readonly quorum: boolean;
  /**
   * Highest fencing counter of the resource's nodes (slot), when fenced locks were used there.
   * The holder's token (if it took one) is at most this; `holders[i].fencingToken` is exact for
   * locks of this process.
   */
  readonly fencingCounter?: number | string;
  /**
   * Processes waiting for its release (subscribed to its release notifications); a process
   * stays subscribed for 0.1–0.2 s after its last waiter left.
   */
  readonly waiters: number;
  /** A writer waits for the readers to leave (new readers are kept out meanwhile). */
  readonly writerWaiting: boolean;
}

/** One holder of a lock. */
export interface LockHolder {
  /**
   * A short public id of the owner (a hash of its owner value): tells holders apart and
   * matches across nodes, without revealing the value.
   */
  readonly id: string;
  /** The holder's instance (from its instance record), when known. */
  readonly instance?: InstanceInfo & { readonly tag: string };
  /** Epoch ms of the acquisition, when the owner value carries it. */
  readonly acquiredAt?: number;
  /** Remaining ms (the smallest over the nodes that hold it). */
  readonly ttl: number;
  /** Nodes on which this holder has the key. */
  readonly nodes: number;
  /** Whether this process (this engine) holds it. */
  readonly local: boolean;
  /** The exact fencing token, for fenced locks of this process. */
  readonly fencingToken?: number;
}

/** Options of `RedlockService.inspect()`. */
export interface InspectOptions {
  /**
   * Most locks listed; past it the listing stops and says `truncated`.
   * @default 1_000
   */
  limit?: number;
}

/** Options of `RedlockService.forceRelease()`. */
export interface ForceReleaseOptions {
  /** Who releases it, for the log line and the `forceReleased` event (`'ops:alice'`). */
  by: string;
}

/** What `RedlockService.forceRelease()` did. */
export interface ForceReleaseResult {
  readonly resource: string;
  /** Nodes on which a key was there and was deleted (0: nobody held it). */
  readonly deleted: number;
  /** Each node's outcome (`acquired` here means: answered). */
  readonly nodes: readonly NodeOutcome[];
  /**
   * The raised fencing counter, when fenced locks were ever used on these nodes: every token
   * handed out before is lower. Give it to the store the lock protects as its new minimum, and
   * the old holder's writes are refused from now on.
   */
  readonly fencingCounter?: number | string;
}
