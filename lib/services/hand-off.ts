import type { LockAdapter, OwnerReply } from '../interfaces/lock-adapter.interface.js';
import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { ReleaseStatus } from '../interfaces/redlock-events.interface.js';
import { describe } from '../redaction.js';
import { RedlockConfigError } from '../redlock.errors.js';
import type { Clock } from './clock.js';
import { parseDuration } from './duration.js';
import type { Lease } from './lease.js';
import type { NodeGuard } from './node-guard.js';
import { ownerValue } from './owner-value.js';
import { countOk, type NodeResult } from './quorum.js';
import type { Grant } from './quorum-round.js';
import { lineOf, type WaitingLines } from './release-waiter.js';

/**
 * In-process hand-offs (`handOff` engine and module option): how often in a row a released
 * lock may pass straight to the next caller of this process waiting for the same keys, and
 * for how long after the chain began. `false` turns them off.
 *
 * @example
 * ```ts
 * RedlockModule.forRoot({ nodes, handOff: { max: 4, window: '20ms' } });
 * RedlockModule.forRoot({ nodes, handOff: false }); // every release frees the keys
 * ```
 */
export interface HandOffOptions {
  /** Hand-offs in a row before a release frees the keys for every contender. @default 8 */
  max?: number;
  /** Milliseconds (or a duration) after the chain's first acquisition past which none follows. @default 50 */
  window?: number | string;
}

/** {@link HandOffOptions} resolved: `undefined` when hand-offs are off. */
export interface HandOffPolicy {
  readonly max: number;
  readonly window: number;
}

export const DEFAULT_HAND_OFF: HandOffPolicy = Object.freeze({ max: 8, window: 50 });

/** Validates `handOff`; throws `RedlockConfigError` naming the option. */
export function resolveHandOff(raw: unknown, name = 'handOff'): HandOffPolicy | undefined {
  if (raw === undefined) return DEFAULT_HAND_OFF;
  if (raw === false) return undefined;
  if (typeof raw !== 'object' || raw === null) {
    throw new RedlockConfigError(name, `expected { max?, window? } or false, got ${describe(raw)}`);
  }
  const options = raw as HandOffOptions;
  const max = options.max ?? DEFAULT_HAND_OFF.max;
  if (!Number.isInteger(max) || max < 0 || max > 1_000_000) {
    throw new RedlockConfigError(
      `${name}.max`,
      `expected a whole number from 0 to 1000000, got ${describe(max)}`,
    );
  }
  const window = parseDuration(options.window ?? DEFAULT_HAND_OFF.window, `${name}.window`);
  if (typeof window !== 'number' || !Number.isFinite(window) || window < 0) {
    throw new RedlockConfigError(
      `${name}.window`,
      `expected milliseconds >= 0 or a duration such as '50ms', got ${describe(window)}`,
    );
  }
  return max === 0 || window === 0 ? undefined : Object.freeze({ max, window });
}

/** What a waiting caller asked for, kept on its waiter when a hand-off could serve it. */
export interface HandOffRequest {
  readonly ttl: number;
  readonly driftFactor: number;
  readonly nodeTimeout: number;
}

/**
 * The request of a caller a handed-over lock can serve: a plain exclusive lock. A fencing
 * token must come from the nodes' counters and a reentrant scope relies on its parents, so
 * those callers always take the lock the usual way.
 */
export function handOffRequest(
  opts: ResolvedLockOptions,
  nodeTimeout: number,
  parents: readonly Lease[] | undefined,
): HandOffRequest | undefined {
  if (opts.mode !== 'write' || opts.permits !== 1 || opts.fencing) return undefined;
  if (parents !== undefined && parents.length > 0) return undefined;
  return { ttl: opts.ttl, driftFactor: opts.driftFactor, nodeTimeout };
}

/** Where a lease stands in a chain of hand-offs: its first acquisition and how many followed. */
export interface HandOffChain {
  readonly since: number;
  readonly count: number;
}

/**
 * In-process hand-offs: a released lock goes straight to the first caller of this process
 * waiting for the same keys, in one compare-and-set per node (`HandOff.transfer`, from the old
 * owner value to a new one), instead of a release, a notification and a new race of every
 * waiter. The keys are never free in between, so nobody else can take them; the new owner
 * gets a new owner value and a validity counted from the transfer, as from an acquisition.
 *
 * Bounded, so waiters of other processes (which see no release while the lock passes from
 * hand to hand here) are not starved: at most `max` hand-offs in a row, and none once `window`
 * ms have passed since the chain's first acquisition. Then the release frees the keys and
 * every contender races as usual. A transfer that no quorum confirms in time gives nothing to
 * the waiter (it goes on waiting as before) and ends in a plain release.
 */
export class HandOffs {
  private readonly chains = new WeakMap<Lease, HandOffChain>();
  private readonly confirmed = (partial: readonly NodeResult<OwnerReply>[]): boolean =>
    countOk(partial) >= this.quorum;

  constructor(
    private readonly adapters: readonly LockAdapter[],
    private readonly quorum: number,
    private readonly clock: Clock,
    private readonly nodes: NodeGuard,
    private readonly lines: WaitingLines,
    private readonly policy: HandOffPolicy,
    private readonly instanceTag: () => string | undefined,
    private readonly open: () => boolean,
  ) {}

  /** Whether every node can hand off (a third-party adapter may lack `handOff`). */
  static supported(adapters: readonly LockAdapter[]): boolean {
    return adapters.every((adapter) => typeof adapter.handOff?.transfer === 'function');
  }

  /** Records that `lease` was handed over, as the `chain.count`th hand-off of its chain. */
  adopt(lease: Lease, chain: HandOffChain): void {
    this.chains.set(lease, chain);
  }

  /**
   * Hands `lease`, released just now, to the first waiter of this process for its keys, when
   * that is allowed. `undefined` when no hand-off is tried (the caller releases as usual).
   * Otherwise resolves to the release's status: `handedOver()`'s once the waiter has the lock,
   * or `free()`'s (the usual release) when the transfer failed; the waiter goes on only after
   * that release, so it never finds the old owner's keys still there.
   */
  offer(
    lease: Lease,
    free: () => Promise<ReleaseStatus>,
    handedOver: () => ReleaseStatus,
  ): Promise<ReleaseStatus> | undefined {
    if (
      !lease.released ||
      lease.mode !== 'write' ||
      lease.permits !== 1 ||
      lease.keyless ||
      lease.parents.length > 0 ||
      lease.companions !== undefined ||
      !this.open()
    ) {
      return undefined;
    }
    const keys = lease.keys;
    const waiter = this.lines.head(lineOf(keys));
    const request = waiter?.request;
    if (!waiter || !request || !waiter.parked) return undefined;
    const now = this.clock.now();
    if (lease.deadline <= now) return undefined;
    const chain = this.chains.get(lease) ?? { since: lease.acquiredAt, count: 0 };
    if (chain.count >= this.policy.max || now - chain.since >= this.policy.window) return undefined;
    let give!: (grant: Grant | undefined) => void;
    waiter.handOver(new Promise((resolve) => (give = resolve)));
    const next = { since: chain.since, count: chain.count + 1 };
    return this.transfer(lease, keys, request, next).then(async (grant) => {
      if (grant) {
        // The old owner's `released` first, then the new owner's `acquired`.
        const status = handedOver();
        give(grant);
        return status;
      }
      try {
        return await free();
      } finally {
        give(undefined);
      }
    });
  }

  /** The compare-and-set round; on failure, takes back what it set and grants nothing. */
  private async transfer(
    lease: Lease,
    keys: readonly string[],
    request: HandOffRequest,
    chain: HandOffChain,
  ): Promise<Grant | undefined> {
    const { value } = lease;
    const { ttl, nodeTimeout } = request;
    const next = ownerValue(this.instanceTag(), this.clock);
    const start = this.clock.now();
    const sent: Promise<OwnerReply>[] = [];
    let results: readonly NodeResult<OwnerReply>[];
    try {
      results = await this.nodes.ask<OwnerReply>(
        this.adapters,
        (adapter) =>
          (sent[this.adapters.indexOf(adapter)] = adapter.handOff!.transfer(
            keys,
            value,
            next,
            ttl,
          )),
        nodeTimeout,
        this.confirmed,
      );
    } catch {
      results = [];
    }
    const deadline = Math.floor(start + ttl - (Math.floor(ttl * request.driftFactor) + 2));
    if (countOk(results) >= this.quorum && deadline > this.clock.now()) {
      // A node that gave no answer (now or later) may still hold the old value: free it
      // (compare-and-set, so where the transfer landed after all, the new owner's key stays).
      // Nodes that answered need nothing: `ok` moved the key, `taken` and `expired` never had it.
      sent.forEach((reply, index) => {
        const adapter = this.adapters[index]!;
        reply.catch(() => adapter.release(keys, value).catch(() => undefined));
      });
      return { value: next, fencingToken: undefined, deadline, start, handOff: chain };
    }
    // No quorum in time: whatever the transfer set is taken back before the waiter goes on.
    await this.nodes
      .always(this.adapters, (adapter) => adapter.release(keys, next), nodeTimeout)
      .catch(() => undefined);
    return undefined;
  }
}
