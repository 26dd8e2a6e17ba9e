/**
 * The semaphore side of the model runner: who holds a permit of which semaphore, and what is
 * checked about it.
 *
 * - **The cap.** At no moment do more than `permits` holders hold a permit of a semaphore.
 *   Holding is decided as for locks (the witness's `held()`): a holder counts while its grant is
 *   registered and its lock is valid by its engine's own view, `lock.isHeld()`, which reads the
 *   engine's (skewed, faster or slower) clock against the validity and turns false at a release
 *   call and for good at a loss. A holder's lapse is a late abort, not a second holder. Holders
 *   are only added at grants and `isHeld()` never turns true again, so checking at each grant
 *   checks every moment. Nested scopes on the semaphore join their scope's permit: one holder.
 * - **Fencing.** A fenced permit's token is greater than that of every fenced permit of the same
 *   semaphore released (or lapsed) before it was asked for (README, "Semaphores": holders at the
 *   same time may share a token on several nodes, which is counted; on one node every grant
 *   raises the one counter, so tokens there are unique). Only grants made before a node lost its
 *   data (and with it its counter) are compared, as the witness does for locks.
 * - **Liveness.** A waiter for a permit is never kept waiting for longer than its bound while
 *   fewer than `permits` holders hold the semaphore (outside fault windows).
 */
import type { Lock } from '../../../lib/services/lock.js';

/**
 * How many of `nodes` nodes must grant: a majority for a lock, ⌊N·P/(P+1)⌋+1 (at least a
 * majority) for a permit of P (README, "Semaphores"; written out here, not imported).
 */
export function quorumOf(nodes: number, permits: number | undefined): number {
  const majority = Math.floor(nodes / 2) + 1;
  if (permits === undefined || permits <= 1) return majority;
  return Math.max(majority, Math.floor((nodes * permits) / (permits + 1)) + 1);
}

export interface PermitStats {
  /** Permits granted (top-level holders). */
  permitGrants: number;
  /** Critical sections run under a permit (nested scopes included). */
  permitSections: number;
  /** The most holders of one semaphore at once (by the rule above). */
  maxPermitHolders: number;
  permitFencingChecks: number;
  /** Fenced permits held at the same time that got the same token (several nodes only). */
  permitTokensShared: number;
  permitWaitsChecked: number;
  /** The longest a waiter for a permit saw one free (ms). */
  longestPermitGapMs: number;
}

export function emptyPermitStats(): PermitStats {
  return {
    permitGrants: 0,
    permitSections: 0,
    maxPermitHolders: 0,
    permitFencingChecks: 0,
    permitTokensShared: 0,
    permitWaitsChecked: 0,
    longestPermitGapMs: 0,
  };
}

/** One granted permit, from its grant until it is released or lapses. */
interface Grant {
  readonly resource: string;
  readonly lock: Lock;
  readonly label: string;
  /** When the acquisition was called (witness ms). */
  readonly asked: number;
  readonly from: number;
  readonly token: number | undefined;
  /** When its holder let go: release called, or the validity ended (fencing). */
  released: number | undefined;
  /** Until when the permit stays taken: release done, or expiry (liveness). */
  to: number | undefined;
}

interface PermitWait {
  readonly resource: string;
  readonly from: number;
  readonly to: number;
  readonly bound: number;
  readonly label: string;
}

/** The handle of a permit's holder, shaped like the witness's `hold`. */
export interface PermitHold {
  /** The holder lets go now (before its release is sent) or at its validity's end. */
  released(at: number): void;
  /** The permit is free again on the nodes' side (release answered, or expired). */
  end(at?: number): void;
}

export class PermitBook {
  readonly stats = emptyPermitStats();
  private readonly grants = new Map<string, Grant[]>();
  private readonly waits: PermitWait[] = [];
  private fencingFrom: number | undefined;

  constructor(
    /** Permits of each semaphore resource. */
    private readonly permits: ReadonlyMap<string, number>,
    private readonly now: () => number,
    private readonly fail: (kind: string, detail: string) => void,
  ) {}

  /** The semaphore's permits, when the resources are one semaphore (else a lock). */
  permitsOf(resources: readonly string[]): number | undefined {
    return resources.length === 1 ? this.permits.get(resources[0]!) : undefined;
  }

  /** A permit was granted to `lock` (its acquisition just resolved): checks the cap. */
  grant(resource: string, lock: Lock, info: { label: string; asked: number; token?: number }) {
    const permits = this.permits.get(resource)!;
    let list = this.grants.get(resource);
    if (!list) this.grants.set(resource, (list = []));
    this.stats.permitGrants += 1;
    if (lock.isHeld()) {
      const live = list.filter((g) => g.lock !== lock && g.lock.isHeld());
      this.stats.maxPermitHolders = Math.max(this.stats.maxPermitHolders, live.length + 1);
      if (live.length >= permits) {
        this.fail(
          'over-admission',
          `${info.label} got a permit of ${resource} while ${live.length} other holder(s) held theirs: ${live.length + 1} holders, more than its ${permits} permits (${live
            .map((g) => `${g.label} since +${Math.round(g.from)} ms`)
            .join('; ')})`,
        );
      }
    }
    const grant: Grant = {
      resource,
      lock,
      label: info.label,
      asked: info.asked,
      from: this.now(),
      token: info.token,
      released: undefined,
      to: undefined,
    };
    list.push(grant);
    const hold: PermitHold = {
      released: (at) => {
        grant.released = Math.min(grant.released ?? at, at);
      },
      end: (at = this.now()) => {
        if (grant.to !== undefined) return;
        hold.released(at);
        grant.to = Math.max(grant.from, at);
      },
    };
    return hold;
  }

  /** A critical section under a permit starts: its lock must be valid (its signal said not). */
  section(lock: Lock, label: string, resource: string): void {
    this.stats.permitSections += 1;
    if (!lock.isHeld()) {
      this.fail(
        'entered-without-lock',
        `${label} entered ${resource} although its permit is not held (its signal did not say so)`,
      );
    }
  }

  /** Tokens of permits granted from now on are not compared (a node lost its counters). */
  relaxFencing(): void {
    this.fencingFrom ??= this.now();
  }

  /** Records a top-level wait for a permit (from its call to its grant or its giving up). */
  waited(wait: PermitWait): void {
    this.waits.push(wait);
  }

  /** Once every holder ended: fencing order, and the waits against the free stretches. */
  check(nodes: number, excluded: readonly (readonly [number, number])[]): void {
    for (const list of this.grants.values()) this.checkFencing(list, nodes);
    for (const wait of this.waits) {
      if (excluded.some(([from, to]) => wait.from < to && wait.to > from)) continue;
      this.checkWait(wait);
    }
  }

  private checkFencing(list: readonly Grant[], nodes: number): void {
    const fenced = list.filter(
      (g) => g.token !== undefined && (this.fencingFrom === undefined || g.from < this.fencingFrom),
    );
    for (const later of fenced) {
      for (const earlier of fenced) {
        if (earlier === later) continue;
        if (earlier.released !== undefined && later.asked > earlier.released) {
          this.stats.permitFencingChecks += 1;
          if (later.token! <= earlier.token!) {
            this.fail(
              'fencing',
              `${later.label} got permit token ${later.token} of ${later.resource}, not above ${earlier.token} of ${earlier.label} released at +${Math.round(earlier.released)} ms, before it asked at +${Math.round(later.asked)} ms`,
            );
          }
        } else if (later.token === earlier.token && later.from > earlier.from) {
          if (nodes > 1) {
            this.stats.permitTokensShared += 1;
          } else {
            this.fail(
              'fencing',
              `${later.label} got permit token ${later.token} of ${later.resource}, the same as ${earlier.label} on a single node`,
            );
          }
        }
      }
    }
  }

  /** The longest stretch of the wait during which fewer than `permits` holders held. */
  private checkWait(wait: PermitWait): void {
    this.stats.permitWaitsChecked += 1;
    const permits = this.permits.get(wait.resource)!;
    const events: [number, number][] = [];
    for (const g of this.grants.get(wait.resource) ?? []) {
      const to = g.to ?? Infinity;
      if (to <= wait.from || g.from >= wait.to) continue;
      events.push([Math.max(g.from, wait.from), 1], [Math.min(to, wait.to), -1]);
    }
    // Ends before starts at one instant: a hand-over is not a free stretch of zero length.
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let holders = 0;
    let freeSince: number | undefined = wait.from;
    let gap = 0;
    let gapAt = wait.from;
    for (const [at, delta] of events) {
      holders += delta;
      if (holders >= permits && freeSince !== undefined) {
        if (at - freeSince > gap) [gap, gapAt] = [at - freeSince, freeSince];
        freeSince = undefined;
      } else if (holders < permits && freeSince === undefined) {
        freeSince = at;
      }
    }
    if (freeSince !== undefined && wait.to - freeSince > gap) {
      [gap, gapAt] = [wait.to - freeSince, freeSince];
    }
    this.stats.longestPermitGapMs = Math.max(this.stats.longestPermitGapMs, Math.round(gap));
    if (gap > wait.bound) {
      this.fail(
        'waited-for-free-permit',
        `${wait.label} waited ${Math.round(gap)} ms (from +${Math.round(gapAt)} ms) while fewer than ${permits} holders held ${wait.resource}; bound ${Math.round(wait.bound)} ms (wait +${Math.round(wait.from)}..+${Math.round(wait.to)} ms)`,
      );
    }
  }
}
