import type { LockAdapter, OwnerReply } from '../interfaces/lock-adapter.interface.js';
import type {
  RedlockEvent,
  RedlockLogger,
  ReleaseStatus,
} from '../interfaces/redlock-events.interface.js';
import { LockLostError, RedlockUnavailableError } from '../redlock.errors.js';
import type { Clock } from './clock.js';
import type { Lease, LeaseDriver } from './lease.js';
import { validateTtl } from './lock-options.js';
import type { NodeGuard } from './node-guard.js';
import { safeMessage } from '../redaction.js';
import { describeNodes } from './quorum.js';
import { countOk } from './quorum-round.js';

/**
 * The node I/O of held leases: extension (quorum, with the validity re-computed from the
 * moment the extension was sent), release, and what happens when a lease is lost. Keeps the
 * set of leases held, so the engine can wait for them at shutdown.
 */
export class LeaseIO implements LeaseDriver {
  readonly held = new Set<Lease>();
  private readonly renewWarned = new WeakSet<Lease>();
  private drained: (() => void) | undefined;

  constructor(
    private readonly adapters: readonly LockAdapter[],
    private readonly quorum: number,
    readonly clock: Clock,
    private readonly nodes: NodeGuard,
    private readonly logger: RedlockLogger | undefined,
    private readonly emit: (event: RedlockEvent) => void,
  ) {}

  /** Resolves once no lease is held (immediately when none is). */
  whenDrained(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  async extendLease(lease: Lease, ttl: number): Promise<number> {
    validateTtl(ttl, 'ttl');
    if (lease.keys.length === 0) return lease.deadline;
    const timeout = Math.min(lease.nodeTimeout, Math.max(1, Math.floor(ttl / 2)));
    const quorum = this.quorum;
    const start = this.clock.now();
    const results = await this.nodes.ask<OwnerReply>(
      this.adapters,
      (adapter) =>
        lease.mode === 'read'
          ? adapter.shared!.extend(lease.keys, lease.value, ttl)
          : adapter.extend(lease.keys, lease.value, ttl),
      timeout,
      (partial) => countOk(partial) >= quorum,
    );
    const deadline = start + ttl - (Math.floor(ttl * lease.driftFactor) + 2);
    const ok = countOk(results);
    const nodes = describeNodes(this.adapters, results, (reply) =>
      reply === 'ok' ? 'acquired' : reply,
    );
    const what = lease.resources.join(', ');
    if (ok >= quorum && deadline > this.clock.now()) {
      this.renewWarned.delete(lease);
      this.emit({ type: 'extended', resources: lease.resources, expiresAt: lease.expiresAt() });
      return deadline;
    }
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

  async releaseLease(lease: Lease): Promise<ReleaseStatus> {
    this.forget(lease);
    for (const companion of lease.companions ?? []) void companion.release().catch(() => undefined);
    if (lease.keys.length === 0) return 'released';
    const quorum = this.quorum;
    // Sent to every node, open circuit or not: a node that failed meanwhile may still hold
    // the key, or run the acquisition queued in its client once it reconnects.
    const results = await this.nodes.always<OwnerReply>(
      this.adapters,
      (adapter) =>
        lease.mode === 'read'
          ? adapter.shared!.release(lease.keys, lease.value)
          : adapter.release(lease.keys, lease.value),
      lease.nodeTimeout,
      (partial) => countOk(partial) >= quorum,
    );
    let released = 0;
    let taken = 0;
    let answered = 0;
    for (const result of results) {
      if (result.status !== 'ok') continue;
      answered += 1;
      if (result.value === 'ok') released += 1;
      else if (result.value === 'taken') taken += 1;
    }
    let status: ReleaseStatus;
    if (released >= quorum) status = 'released';
    else if (taken > 0) status = 'taken';
    else if (answered >= quorum) status = 'expired';
    else {
      throw new RedlockUnavailableError(
        `Could not confirm the release of ${lease.resources.join(', ')}: ${answered} of ${this.adapters.length} nodes answered; the keys expire by themselves.`,
        {
          resources: lease.resources,
          nodes: describeNodes(this.adapters, results, (reply) =>
            reply === 'ok' ? 'acquired' : reply,
          ),
        },
      );
    }
    this.emit({
      type: 'released',
      resources: lease.resources,
      status,
      held: this.clock.now() - lease.acquiredAt,
    });
    return status;
  }

  leaseLost(lease: Lease, error: LockLostError): void {
    this.forget(lease);
    this.logger?.warn(error.message);
    this.emit({ type: 'lost', resources: lease.resources, error });
    for (const companion of lease.companions ?? []) void companion.release().catch(() => undefined);
    if (lease.keys.length === 0) return;
    // Keys an extension re-created, or that are still ours somewhere, would block others.
    void this.nodes.always(
      this.adapters,
      (adapter) =>
        lease.mode === 'read'
          ? adapter.shared!.release(lease.keys, lease.value)
          : adapter.release(lease.keys, lease.value),
      lease.nodeTimeout,
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
    if (this.held.size === 0) this.drained?.();
  }
}
