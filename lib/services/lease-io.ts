import type { LockAdapter, OwnerReply } from '../interfaces/lock-adapter.interface.js';
import type {
  RedlockEvent,
  RedlockLogger,
  ReleaseStatus,
} from '../interfaces/redlock-events.interface.js';
import { LockLostError, RedlockUnavailableError } from '../redlock.errors.js';
import { type Clock, type TimerHandle, WallOffset } from './clock.js';
import { rejection } from './rejection.js';
import { HeldLeases } from './held-leases.js';
import type { LeaseShapes } from './lease-shape.js';
import type { Lease, LeaseDriver } from './lease.js';
import { NO_LEASES } from './rare-lease-state.js';
import { validateTtl } from './lock-options.js';
import type { HandOffs } from './hand-off.js';
import type { NodeGuard } from './node-guard.js';
import { safeMessage } from '../redaction.js';
import { describeNodes, type NodeResult } from './quorum.js';
import { countOk, validUntil } from './quorum.js';
import { permitQuorum } from './permit-quorum.js';

/**
 * The node I/O of held leases: extension (quorum, with the validity re-computed from the
 * moment the extension was sent), release, and what happens when a lease is lost. Keeps the
 * set of leases held, so the engine can wait for them at shutdown, and the set of released
 * leases whose keys are kept until their `holdAtLeast` window ends, so shutdown can free them.
 */
export class LeaseIO implements LeaseDriver {
  readonly held = new HeldLeases<Lease>();
  readonly shapes: LeaseShapes = new Map();
  readonly wallOffset: WallOffset;
  private readonly renewWarned = new WeakSet<Lease>();
  private drained: (() => void) | undefined;
  /** Released leases whose keys stay until the end of their holdAtLeast window. */
  private readonly heldBack = new Map<Lease, TimerHandle>();
  private shuttingDown = false;
  /** Whether a quorum confirmed: one function for every extension and release. */
  private readonly confirmed = (partial: readonly NodeResult<OwnerReply>[]): boolean =>
    countOk(partial) >= this.quorum;

  constructor(
    private readonly adapters: readonly LockAdapter[],
    private readonly quorum: number,
    readonly clock: Clock,
    readonly keyPrefix: string,
    private readonly nodes: NodeGuard,
    private readonly logger: RedlockLogger | undefined,
    private readonly emit: (event: RedlockEvent, lease?: Lease) => void,
    /** In-process hand-offs; absent when they are off. */
    private readonly handOffs?: HandOffs,
    /** Told when a lease ends, whatever the way (see `WaitingLines.ended`). */
    private readonly ended?: (lease: Lease) => void,
  ) {
    this.wallOffset = new WallOffset(clock);
  }

  /** Resolves once no lease is held (immediately when none is). */
  whenDrained(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  async extendLease(lease: Lease, ttl: number): Promise<number> {
    validateTtl(ttl, 'ttl');
    if (lease.keyless) return lease.deadline;
    this.handOffs?.flush(lease);
    const keys = lease.keys;
    const timeout = Math.min(lease.nodeTimeout, Math.max(1, Math.floor(ttl / 2)));
    const quorum = this.quorumOf(lease);
    const start = this.clock.now();
    const results = await this.nodes.ask<OwnerReply>(
      this.adapters,
      (adapter) =>
        lease.shared
          ? adapter.shared!.extend(keys, lease.value, ttl)
          : adapter.extend(keys, lease.value, ttl),
      timeout,
      quorum === this.quorum ? this.confirmed : (partial) => countOk(partial) >= quorum,
    );
    const deadline = validUntil(start, ttl, lease.driftFactor);
    const ok = countOk(results);
    if (ok >= quorum && deadline > this.clock.now()) {
      this.renewWarned.delete(lease);
      this.emit(
        // The new expiry: the lease applies `deadline` once this returns.
        { type: 'extended', resources: lease.resources, expiresAt: lease.expiryAt(deadline) },
        lease,
      );
      return deadline;
    }
    const nodes = describeNodes(this.adapters, results, (reply) =>
      reply === 'ok' ? 'acquired' : reply,
    );
    const what = lease.resources.join(', ');
    // Nodes that answered without holding it for us: past N - quorum, no quorum can confirm.
    const refused = results.filter((r) => r.status === 'ok' && r.value !== 'ok').length;
    if (refused > this.adapters.length - quorum) {
      throw new LockLostError(
        `Lock on ${what} was lost: only ${ok} of ${this.adapters.length} nodes still held it for this owner.`,
        { resources: lease.resources, nodes },
      );
    }
    throw new RedlockUnavailableError(
      `Could not extend the lock on ${what}: ${ok} of ${this.adapters.length} nodes confirmed, ${quorum} needed.`,
      { resources: lease.resources, nodes },
    );
  }

  releaseLease(lease: Lease): Promise<ReleaseStatus> {
    // Not async, like the engine's acquire: one promise per release fewer with promise hooks on.
    try {
      this.handOffs?.flush(lease);
      this.forget(lease);
      for (const companion of lease.companions ?? NO_LEASES)
        void companion.release().catch(() => undefined);
      if (lease.keyless) return Promise.resolve('released');
      // holdUntil is past acquiredAt only with holdAtLeast: no clock read for the others.
      const holdUntil = lease.holdUntil;
      if (
        lease.released &&
        !this.shuttingDown &&
        holdUntil > lease.acquiredAt &&
        holdUntil - this.clock.now() >= 1
      ) {
        return this.holdBack(lease);
      }
      // Its `released` comes before the new owner's `acquired` (its continuation runs later).
      // Its keys went to the next caller of this process (see `HandOffs`).
      if (this.handOffs?.offer(lease))
        return Promise.resolve(this.reportReleased(lease, 'released'));
      return this.free(lease);
    } catch (error) {
      return rejection(error);
    }
  }

  /** The compare-and-set delete on the nodes, reported as `released`. */
  private free(lease: Lease): Promise<ReleaseStatus> {
    // Sent to every node, open circuit or not: a node that failed meanwhile may still hold
    // the key, or run the acquisition queued in its client once it reconnects.
    return this.nodes
      .always<OwnerReply>(this.adapters, this.releaseOn(lease), lease.nodeTimeout, this.confirmed)
      .then((results) => this.released(lease, results));
  }

  /** A release's outcome from the nodes' answers, reported as a `released` event. */
  private released(lease: Lease, results: readonly NodeResult<OwnerReply>[]): ReleaseStatus {
    return this.reportReleased(lease, this.releaseStatus(lease, results, 'release'));
  }

  /** Reports the end of `lease` as `released` with `status`, and returns the status. */
  private reportReleased(lease: Lease, status: ReleaseStatus): ReleaseStatus {
    this.emit(
      {
        type: 'released',
        resources: lease.resources,
        status,
        held: this.clock.now() - lease.acquiredAt,
      },
      lease,
    );
    return status;
  }

  leaseLost(lease: Lease, error: LockLostError): void {
    this.handOffs?.flush(lease);
    this.forget(lease);
    this.logger?.warn(error.message);
    this.emit(
      {
        type: 'lost',
        resources: lease.resources,
        error,
        held: this.clock.now() - lease.acquiredAt,
      },
      lease,
    );
    for (const companion of lease.companions ?? NO_LEASES)
      void companion.release().catch(() => undefined);
    if (lease.keyless) return;
    // Keys an extension re-created, or that are still ours somewhere, would block others.
    void this.nodes.always(this.adapters, this.releaseOn(lease), lease.nodeTimeout);
  }

  /**
   * The end of a lease by `letExpire()` (a tick claim): no node I/O, its keys expire by
   * themselves. Reported as `released`, what its `release()` resolves to, so `onEvent`, the
   * `release` channel and the locks-held metric see the lock end here, as for a `holdAtLeast`
   * release, whose keys also stay on the nodes after it.
   */
  relinquish(lease: Lease): void {
    this.forget(lease);
    this.reportReleased(lease, 'released');
  }

  /**
   * From now on releases delete at once, whatever their `holdAtLeast`; the keys kept for
   * leases released earlier are deleted now (compare-and-set, so never someone else's).
   */
  async beginShutdown(): Promise<void> {
    this.shuttingDown = true;
    const leases = [...this.heldBack.keys()];
    for (const lease of leases) this.clock.clearTimeout(this.heldBack.get(lease));
    this.heldBack.clear();
    await this.releaseHeldBack(leases);
  }

  /** Deletes kept keys (compare-and-set); failures are left to the keys' own expiry. */
  private async releaseHeldBack(leases: readonly Lease[]): Promise<void> {
    await Promise.allSettled(
      leases.map((lease) =>
        this.nodes.always(this.adapters, this.releaseOn(lease), lease.nodeTimeout),
      ),
    );
  }

  /**
   * The release of a lease inside its `holdAtLeast` window: the keys stay, and expire when the
   * window ends. When their ttl already ends there (within a node timeout), nothing is sent;
   * otherwise one compare-and-set sets their ttl to what is left of the window (shorter or
   * longer). That is an extension, not a delete, so a replay is harmless: arriving late, it
   * finds the keys held by the next owner and changes nothing (`taken`), or finds them gone and
   * keeps them for at most the rest of the window it was sent with.
   */
  private async holdBack(lease: Lease): Promise<ReleaseStatus> {
    const now = this.clock.now();
    const left = lease.holdUntil - now;
    const expires = lease.keysExpireAt();
    let status: ReleaseStatus = 'released';
    if (expires < lease.holdUntil || expires > lease.holdUntil + lease.nodeTimeout) {
      const keys = lease.keys;
      // Rounded up, plus the drift allowance: the keys must outlive the window on every node.
      const ttl = Math.ceil(left) + Math.floor(left * lease.driftFactor) + 2;
      const results = await this.nodes.always<OwnerReply>(
        this.adapters,
        (adapter) =>
          lease.shared
            ? adapter.shared!.extend(keys, lease.value, ttl)
            : adapter.extend(keys, lease.value, ttl),
        lease.nodeTimeout,
        (partial) => countOk(partial) >= this.quorumOf(lease),
      );
      status = this.releaseStatus(lease, results, 'keep');
    }
    if (status !== 'taken' && this.shuttingDown) {
      // Shutdown began while the hold was being set: it gives way like the others.
      await this.releaseHeldBack([lease]);
    } else if (status !== 'taken') {
      const timer = this.clock.setTimeout(
        () => this.heldBack.delete(lease),
        Math.max(0, lease.holdUntil - this.clock.now()),
        false,
      );
      this.heldBack.set(lease, timer);
    }
    this.emit(
      { type: 'released', resources: lease.resources, status, held: now - lease.acquiredAt },
      lease,
    );
    return status;
  }

  /**
   * The nodes that must confirm an extension of `lease`: a majority, or for a semaphore's
   * permit as many as its grant needed (see permitQuorum).
   */
  private quorumOf(lease: Lease): number {
    return permitQuorum(this.adapters.length, lease.permits, this.quorum);
  }

  /** The compare-and-set delete of `lease`'s keys on one node: a shared holder's, or a plain key's. */
  private releaseOn(lease: Lease): (adapter: LockAdapter) => Promise<OwnerReply> {
    const keys = lease.keys;
    return lease.shared
      ? (adapter) => adapter.shared!.release(keys, lease.value, { permits: lease.permits })
      : (adapter) => adapter.release(keys, lease.value);
  }

  /** How a release (or a hold-back) ended on the nodes; throws when no quorum answered. */
  private releaseStatus(
    lease: Lease,
    results: readonly NodeResult<OwnerReply>[],
    action: 'keep' | 'release',
  ): ReleaseStatus {
    let released = 0;
    let taken = 0;
    let answered = 0;
    for (const result of results) {
      if (result.status !== 'ok') continue;
      answered += 1;
      if (result.value === 'ok') released += 1;
      else if (result.value === 'taken') taken += 1;
    }
    // Keeping a permit's keys for its holdAtLeast window holds the permit: as many nodes as it.
    const quorum = action === 'keep' ? this.quorumOf(lease) : this.quorum;
    if (released >= quorum) return 'released';
    if (taken > 0) return 'taken';
    if (answered >= quorum) return 'expired';
    const what = lease.resources.join(', ');
    throw new RedlockUnavailableError(
      `Could not confirm the ${action === 'keep' ? `hold of ${what} until the end of its holdAtLeast window` : `release of ${what}`}: ${answered} of ${this.adapters.length} nodes answered; the keys expire by themselves.`,
      {
        resources: lease.resources,
        nodes: describeNodes(this.adapters, results, (reply) =>
          reply === 'ok' ? 'acquired' : reply,
        ),
      },
    );
  }

  renewalFailed(lease: Lease, error: unknown): void {
    if (this.renewWarned.has(lease)) return;
    this.renewWarned.add(lease);
    this.logger?.warn(
      `Renewal of the lock on ${lease.resources.join(', ')} failed (${safeMessage(error)}); retrying until its validity runs out.`,
    );
  }

  private forget(lease: Lease): void {
    this.held.delete(lease);
    this.ended?.(lease);
    if (this.held.size === 0) this.drained?.();
  }
}
