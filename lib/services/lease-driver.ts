import type { LockMode } from '../interfaces/lock-options.interface.js';
import type { ReleaseStatus } from '../interfaces/redlock-events.interface.js';
import type { LockLostError } from '../redlock.errors.js';
import type { Clock, WallOffset } from './clock.js';
import type { Lease } from './lease.js';
import type { LeaseShapes } from './lease-shape.js';

/** What a lease needs from the engine: the I/O of extending and releasing its keys. */
export interface LeaseDriver {
  readonly clock: Clock;
  /** Labels the leases' monotonic deadlines as epoch times, steadily (see `WallOffset`). */
  readonly wallOffset: WallOffset;
  /** Put before a resource name to make its key. */
  readonly keyPrefix: string;
  /** The shapes of this engine's leases (see `leaseShape`). */
  readonly shapes: LeaseShapes;
  /** Extends on the nodes; resolves to the new monotonic deadline or throws a `RedlockError`. */
  extendLease(lease: Lease, ttl: number): Promise<number>;
  /** Releases on the nodes; resolves to how the release ended or throws a `RedlockError`. */
  releaseLease(lease: Lease): Promise<ReleaseStatus>;
  /** Reports a lost lease (logs, events) and takes back whatever keys may still be ours. */
  leaseLost(lease: Lease, error: LockLostError): void;
  /** Reports a renewal that failed without losing the lock (it will be retried). */
  renewalFailed(lease: Lease, error: unknown): void;
  /** Stops tracking a lease whose keys are left to expire by themselves (no node I/O). */
  relinquish(lease: Lease): void;
}

/** What an acquisition hands to the lease it creates. */
export interface LeaseInit {
  /** Every resource the lock covers, those held through `parents` included. */
  readonly resources: readonly string[];
  /** The keys this lease itself holds on the nodes. */
  readonly keys: readonly string[];
  readonly value: string;
  readonly fencingToken: number | undefined;
  readonly ttl: number;
  readonly nodeTimeout: number;
  readonly driftFactor: number;
  /** Monotonic time at which the validity runs out. */
  readonly deadline: number;
  readonly autoExtend: boolean;
  readonly acquiredAt: number;
  readonly mode: LockMode;
  /** 1 for a lock; more for a semaphore's permit (see `LockOptions.permits`). */
  readonly permits?: number;
  /** Leases further up the call chain this one relies on (a reentrant multi-key scope). */
  readonly parents?: readonly Lease[];
  /** `LockOptions.holdAtLeast` in ms: release keeps the keys until `acquiredAt` + this. */
  readonly holdAtLeast?: number;
  /** `LockOptions.maxHold` in ms: the lease is never renewed past `acquiredAt` + this. */
  readonly maxHold?: number;
}
