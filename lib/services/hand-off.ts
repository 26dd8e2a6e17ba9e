import type { LockAdapter, OwnerReply } from '../interfaces/lock-adapter.interface.js';
import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import { describe } from '../redaction.js';
import { RedlockConfigError } from '../redlock.errors.js';
import type { Clock } from './clock.js';
import { parseDuration } from './duration.js';
import type { Lease } from './lease.js';
import type { NodeGuard } from './node-guard.js';
import { ownerValue } from './owner-value.js';
import { countOk, type NodeResult, validUntil } from './quorum.js';
import { lineOf, type WaitingLines } from './release-waiter.js';
import { roundTrip } from './wait-pacing.js';

/**
 * In-process hand-offs (`handOff` engine and module option): how often in a row a released
 * lock may pass straight to the next caller of this process waiting for the same keys, and
 * for how long after the chain began. `false` turns them off.
 *
 * @example
 * ```ts
 * RedlockModule.forRoot({ nodes, handOff: { max: 8, window: '100ms' } }); // longer turns
 * RedlockModule.forRoot({ nodes, handOff: false }); // every release frees the keys
 * ```
 */
export interface HandOffOptions {
  /**
   * Hand-offs in a row before a release frees the keys for every contender. @default 3 (with
   * turns going round the processes, 8 gave 10 % more locks per second on a hot key across
   * processes for twice the wait p99 of the other processes)
   */
  max?: number;
  /** Milliseconds (or a duration) after the chain's first acquisition past which none follows. @default 50 */
  window?: number | string;
}

/** {@link HandOffOptions} resolved: `undefined` when hand-offs are off. */
export interface HandOffPolicy {
  readonly max: number;
  readonly window: number;
}

export const DEFAULT_HAND_OFF: HandOffPolicy = Object.freeze({ max: 3, window: 50 });

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
 * token must come from the nodes' counters, a reentrant scope relies on its parents, and a
 * `holdAtLeast` release needs to know when the keys expire, so those callers always take the
 * lock the usual way.
 */
export function handOffRequest(
  opts: ResolvedLockOptions,
  nodeTimeout: number,
  parents: readonly Lease[] | undefined,
): HandOffRequest | undefined {
  if (opts.mode !== 'write' || opts.permits !== 1 || opts.fencing || opts.holdAtLeast > 0) {
    return undefined;
  }
  if (parents !== undefined && parents.length > 0) return undefined;
  return { ttl: opts.ttl, driftFactor: opts.driftFactor, nodeTimeout };
}

/** Where a lease stands in a chain of hand-offs, and the transfer that gave it its keys. */
export interface HandOffChain {
  /** Monotonic time of the chain's first acquisition. */
  readonly since: number;
  readonly count: number;
  /** The new validity once a quorum confirmed the transfer; `undefined` when none did. */
  readonly confirmed: Promise<number | undefined>;
  /** Sends the transfer now, unless it is already sent (see {@link HandOffs.flush}). */
  readonly send: () => void;
}

/**
 * In-process hand-offs: a released lock goes straight to the first caller of this process
 * waiting for the same keys, instead of a release, a notification and a new race of every
 * waiter. The keys move to the new owner's own value by one compare-and-set per node
 * (`HandOff.transfer`); they are never free in between, so nobody else can take them.
 *
 * The new owner does not wait for that round: it starts on the validity the previous owner
 * had (the same proof of holding, from the last round a quorum confirmed), and once a quorum
 * confirms the transfer its validity is counted from the transfer, as from an acquisition. A
 * transfer no quorum confirms ends the new owner's lock as lost (its `signal` aborts) and
 * frees the keys. The transfer goes out on the next turn of the event loop, once the new owner
 * has resumed, or before the new owner's first command if that comes sooner
 * ({@link HandOffs.flush}): everything it sends (its release, its extensions, the next
 * transfer) follows the transfer on each node's connection, so the nodes see them in that
 * order.
 *
 * Only when the previous owner's validity has at least a node timeout left, so the transfer can
 * be confirmed in time. Bounded, so waiters of other processes (which see no release while the
 * lock passes from hand to hand here) are not starved: at most `max` hand-offs in a row, and
 * none once `window` ms have passed since the chain's first acquisition. Then the release frees
 * the keys and every contender races as usual.
 */
export class HandOffs {
  private readonly chains = new WeakMap<Lease, HandOffChain>();
  /** Transfers handed over and not yet sent: while none is, `flush` costs one comparison. */
  private unsent = 0;
  private readonly confirmedBy = (partial: readonly NodeResult<OwnerReply>[]): boolean =>
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

  /**
   * Takes in `lease`, made from a handed-over grant: its place in the chain, and the outcome
   * of its transfer (a longer validity, or the loss of the lock).
   */
  adopt(lease: Lease, chain: HandOffChain): void {
    this.chains.set(lease, chain);
    void chain.confirmed.then((deadline) => {
      if (deadline === undefined) {
        lease.lose('no quorum confirmed its hand-off from the previous holder of this process');
      } else {
        lease.confirmed(deadline);
      }
    });
  }

  /**
   * Sends the transfer that gave `lease` its keys if it is still waiting for its turn of the
   * event loop: called before any command of `lease` (release, extension, take-back after a
   * loss), so each node runs the transfer first.
   */
  flush(lease: Lease): void {
    if (this.unsent === 0) return;
    this.chains.get(lease)?.send();
  }

  /**
   * Hands `lease`, released just now, to the first waiter of this process for its keys, when
   * that is allowed: a waiter asleep has it at once (its continuation takes it), one in a round
   * on the nodes once its round is back (the round can only find the keys held). `false` when
   * no hand-off is made (the caller releases as usual).
   */
  offer(lease: Lease): boolean {
    if (
      !lease.released ||
      lease.mode !== 'write' ||
      lease.permits !== 1 ||
      lease.keyless ||
      lease.parents.length > 0 ||
      lease.companions !== undefined ||
      !this.open()
    ) {
      return false;
    }
    const chain = this.chains.get(lease);
    // Most releases: no chain to end and nobody of this process waiting for anything.
    if (chain === undefined && this.lines.idle) return false;
    const keys = lease.keys;
    const id = lineOf(keys);
    const now = this.clock.now();
    if (
      chain !== undefined &&
      (chain.count >= this.policy.max || now - chain.since >= this.policy.window)
    ) {
      // The chain's turn is over: this release frees the keys. When no caller of this process
      // found them held by another process lately, the waiters here race for them as anyone
      // would (a waiter of another process that wins shows up, and the next chain end holds
      // back). When one did, callers of this process (those waiting, and the releaser coming
      // back) hold back for two round trips, time for a waiter of another process, woken by
      // the release, to take them; and they leave the keys to each other process that
      // released them lately until it has released them again, at most two windows
      // (TurnOrder): turns go round the processes instead of to the fastest.
      if (this.lines.contested(id)) {
        this.lines.holdBack(id, now + 2 * roundTrip(lease.nodeTimeout));
        this.lines.turnEnded(id, 2 * this.policy.window);
      }
      return false;
    }
    const waiter = this.lines.head(id);
    const request = waiter?.request;
    // Asleep, it takes the lock in its next continuation; in a round, once the round is back.
    if (!waiter || !request) return false;
    const since = chain?.since ?? lease.acquiredAt;
    const count = chain?.count ?? 0;
    if (now - since >= this.policy.window) return false;
    // The new owner runs on this validity until the transfer is confirmed.
    if (lease.deadline - now <= request.nodeTimeout) return false;
    const next = ownerValue(this.instanceTag(), this.clock);
    const { confirmed, send } = this.deferred(keys, lease.value, next, request, now);
    waiter.handOver({
      value: next,
      fencingToken: undefined,
      deadline: lease.deadline,
      start: now,
      handOff: { since, count: count + 1, confirmed, send },
    });
    // Five writes on five nodes took about 0.25 ms of this process's time (measured in the
    // hot-key bench): the new owner resumes first, and its own commands flush the transfer.
    setImmediate(send);
    return true;
  }

  /** The transfer, sent by the first call of `send`; `confirmed` settles as `transfer`. */
  private deferred(
    keys: readonly string[],
    value: string,
    next: string,
    request: HandOffRequest,
    start: number,
  ): Pick<HandOffChain, 'confirmed' | 'send'> {
    let settle!: (deadline: number | undefined) => void;
    const confirmed = new Promise<number | undefined>((resolve) => (settle = resolve));
    let sent = false;
    this.unsent += 1;
    const send = (): void => {
      if (sent) return;
      sent = true;
      this.unsent -= 1;
      this.transfer(keys, value, next, request, start).then(settle, () => settle(undefined));
    };
    return { confirmed, send };
  }

  /**
   * The compare-and-set round: resolves to the new validity once a quorum confirmed it in time,
   * or to `undefined` after freeing the old owner's keys (the new owner's lock is then lost,
   * and its loss frees what the transfer set).
   */
  private async transfer(
    keys: readonly string[],
    value: string,
    next: string,
    request: HandOffRequest,
    start: number,
  ): Promise<number | undefined> {
    const { ttl, nodeTimeout } = request;
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
        this.confirmedBy,
        start,
      );
    } catch {
      results = [];
    }
    const deadline = validUntil(start, ttl, request.driftFactor);
    if (countOk(results) >= this.quorum && deadline > this.clock.now()) {
      // A node that gave no answer (now or later) may still hold the old value: free it
      // (compare-and-set, so where the transfer landed after all, the new owner's key stays).
      // Nodes that answered need nothing: `ok` moved the key, `taken` and `expired` never had it.
      sent.forEach((reply, index) => {
        const adapter = this.adapters[index]!;
        reply.catch(() => adapter.release(keys, value).catch(() => undefined));
      });
      return deadline;
    }
    await this.nodes
      .always(this.adapters, (adapter) => adapter.release(keys, value), nodeTimeout)
      .catch(() => undefined);
    return undefined;
  }
}
