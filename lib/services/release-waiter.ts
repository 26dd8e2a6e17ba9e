import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { Clock, TimerHandle } from './clock.js';
import type { HandOffRequest } from './hand-off.js';
import type { Lease } from './lease.js';
import { LineMarks } from './line-marks.js';
import { TurnOrder } from './turn-order.js';
import type { Grant } from './quorum-round.js';

/**
 * How long (ms) a line counts as contested after a caller of this process last found its keys
 * held by another process: about as long as such a waiter keeps trying. A stale mark costs
 * only a hold-back of two round trips at the end of a chain of hand-offs.
 */
const CONTEST_MEMORY = 10_000;

/**
 * One acquisition's way of sleeping between attempts: it wakes on a release notification from
 * any node, on its timer, or rejects when the caller's signal aborts. A notification that
 * arrives while an attempt is in flight is remembered (`reset` clears it just before each
 * attempt), so a release between a failed attempt and the sleep is never lost.
 */
export class ReleaseWaiter {
  private notified = false;
  /** Whether the last `wait` ended on a release notification rather than its timer. */
  woken = false;
  private wake: (() => void) | undefined;
  private readonly stops: (() => void)[] = [];
  private closed = false;
  /** What this caller asked for, when a lock handed over in-process could serve it. */
  request: HandOffRequest | undefined = undefined;
  /** The grant of a lock handed over to this waiter, until the waiter takes it. */
  handed: Grant | undefined = undefined;

  constructor(
    private readonly clock: Clock,
    private readonly adapters: readonly LockAdapter[],
    private readonly keys: readonly string[],
    /** Whether this waiter is first among this process's waiters for the keys. */
    readonly isHead: () => boolean = () => true,
    /** Told the message of every release notification (see `TurnOrder.released`). */
    private readonly announced?: (message: string | undefined) => void,
  ) {}

  /** Wakes the waiter now (or lets its next `wait` return at once). */
  promote(): void {
    this.notified = true;
    this.wake?.();
  }

  /** Whether the waiter sleeps in {@link wait} (not in an attempt): a lock handed over wakes it. */
  get parked(): boolean {
    return this.wake !== undefined;
  }

  /**
   * Gives the waiter a lock handed over by the holder of this process, ending its sleep; a
   * waiter busy elsewhere (in a round) finds it when that is over.
   */
  handOver(grant: Grant): void {
    this.handed = grant;
    this.wake?.();
  }

  /**
   * Subscribes on every node, waiting at most `timeout` ms: a node that has not confirmed by
   * then is still subscribed when it does, and until then the timer covers for it.
   */
  async subscribe(timeout: number): Promise<void> {
    const subscriptions = this.adapters.map((adapter) => {
      let subscribed: Promise<() => void>;
      try {
        subscribed = adapter.onRelease(this.keys, (message?: string) => {
          // Only the head of this process's line reacts (and tells the line's turn order, once
          // per notification however many wait); the others wait their turn.
          if (!this.isHead()) return;
          this.announced?.(message);
          this.promote();
        });
      } catch {
        return Promise.resolve(); // polling on the timer remains
      }
      return subscribed.then(
        (stop) => {
          if (this.closed) stop();
          else this.stops.push(stop);
        },
        () => undefined,
      );
    });
    let timer: TimerHandle | undefined;
    await Promise.race([
      Promise.all(subscriptions),
      new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, timeout, false))),
    ]);
    this.clock.clearTimeout(timer);
  }

  /** Forgets notifications seen so far; call right before an attempt. */
  reset(): void {
    this.notified = false;
  }

  /** Sleeps up to `ms`, less if a release is announced; rejects with the signal's reason. */
  wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    this.woken = this.notified;
    if (this.notified) return Promise.resolve();
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
      };
      const onAbort = (): void => {
        done();
        reject(signal!.reason as Error);
      };
      const timer = this.clock.setTimeout(() => {
        done();
        resolve();
      }, ms);
      this.wake = () => {
        this.woken = true;
        done();
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    this.closed = true;
    this.wake = undefined;
    for (const stop of this.stops.splice(0)) stop();
  }
}

/**
 * This process's callers waiting for the same keys, in arrival order. Only the head of a line
 * makes attempts and reacts to release notifications; a caller arriving while others wait
 * joins the back (it would otherwise win every time, one round trip ahead of their
 * notification). Waiters behind the head sleep on their own timers too, so none of them depends
 * on the head to wake it: a head that takes the lock and lets it expire instead of releasing
 * costs the next one at most its retry delay after the expiry.
 */
export class WaitingLines {
  private readonly lines = new Map<string, ReleaseWaiter[]>();
  /**
   * Locks of this process on contended keys (taken after waiting, or handed over), by line id.
   * While one is valid, a waiter for its keys makes no attempt on the nodes: they can only
   * answer busy. It sleeps until the holder hands the lock over or its release is announced.
   */
  private readonly holders = new Map<string, Lease>();
  /**
   * Lines whose callers of this process make no attempt on the keys for now: a chain of
   * hand-offs here just ended at its bound, and waiters of other processes go first.
   */
  private readonly holdBacks: LineMarks;
  /**
   * Lines whose keys a caller of this process found held by another process (or engine)
   * lately: waiters elsewhere may want them, so a chain of hand-offs here that ends at its
   * bound lets them go first. Without one, nobody else is known to wait, and holding back
   * would only leave the keys idle.
   */
  private readonly contests: LineMarks;
  /** Whose turn it is among processes after a chain of hand-offs here ended. */
  private readonly turns: TurnOrder;

  constructor(
    private readonly clock: Clock,
    private readonly adapters: readonly LockAdapter[],
    /** This engine's instance tag (its releases name it), when it has one. */
    ownTag: () => string | undefined = () => undefined,
  ) {
    this.holdBacks = new LineMarks(clock);
    this.contests = new LineMarks(clock);
    this.turns = new TurnOrder(clock, ownTag);
  }

  /** Whether no caller of this process waits for any keys. */
  get idle(): boolean {
    return this.lines.size === 0;
  }

  /** How many callers wait in line `id` (0 when there is none). */
  length(id: string): number {
    return this.lines.get(id)?.length ?? 0;
  }

  /** Records `lease`, taken on contended keys, as this process's holder of line `id`. */
  holding(id: string, lease: Lease): void {
    this.holders.set(id, lease);
  }

  /** The valid lock of this process on line `id`'s keys, when one is known. */
  holder(id: string): Lease | undefined {
    if (this.holders.size === 0) return undefined;
    const lease = this.holders.get(id);
    if (lease === undefined) return undefined;
    if (lease.isHeld()) return lease;
    this.holders.delete(id);
    return undefined;
  }

  /** Callers of this process make no attempt on line `id`'s keys before `until` (monotonic). */
  holdBack(id: string, until: number): void {
    this.holdBacks.set(id, until);
  }

  /** Milliseconds callers of this process still hold back from line `id`'s keys (0: none). */
  heldBack(id: string): number {
    return Math.max(this.holdBacks.left(id), this.turns.left(id));
  }

  /**
   * A chain of hand-offs of this process on line `id` ended where others want the keys: its
   * callers leave them to the other processes for one turn each, at most `bound` ms (see
   * {@link TurnOrder}).
   */
  turnEnded(id: string, bound: number): void {
    this.turns.ended(id, bound);
  }

  /** A caller of this process found line `id`'s keys held by another process, just now. */
  contest(id: string): void {
    this.contests.set(id, this.clock.now() + CONTEST_MEMORY);
  }

  /** Whether a caller of this process found line `id`'s keys held by another process lately. */
  contested(id: string): boolean {
    return this.contests.left(id) > 0;
  }

  /** Forgets `lease` as a holder once it ends (released, lost or let expire). */
  ended(lease: Lease): void {
    if (this.holders.size === 0 || lease.keyless) return;
    const id = lineOf(lease.keys);
    if (this.holders.get(id) === lease) this.holders.delete(id);
  }

  /** The first caller of line `id`: the one a released lock may be handed to. */
  head(id: string): ReleaseWaiter | undefined {
    return this.lines.get(id)?.[0];
  }

  /**
   * A waiter subscribed to the keys' release notifications; in line `id` when `lined`
   * (readers are not: they can all go in together once a writer is done).
   */
  async join(
    id: string,
    keys: readonly string[],
    timeout: number,
    lined: boolean,
    request?: HandOffRequest,
  ): Promise<ReleaseWaiter> {
    if (!lined) {
      const waiter = new ReleaseWaiter(this.clock, this.adapters, keys);
      await waiter.subscribe(timeout);
      return waiter;
    }
    let line = this.lines.get(id);
    if (!line) this.lines.set(id, (line = []));
    const members = line;
    const waiter: ReleaseWaiter = new ReleaseWaiter(
      this.clock,
      this.adapters,
      keys,
      () => members[0] === waiter,
      (message) => this.turns.released(id, message),
    );
    waiter.request = request;
    members.push(waiter);
    await waiter.subscribe(timeout);
    return waiter;
  }

  /**
   * Leaves the line. A head that got the lock leaves the next caller to be woken by its
   * release (or its own timer); a head that gave up hands its turn on at once.
   */
  leave(id: string, waiter: ReleaseWaiter, acquired: boolean): void {
    waiter.close();
    const line = this.lines.get(id);
    if (!line) return;
    const index = line.indexOf(waiter);
    if (index >= 0) line.splice(index, 1);
    if (line.length === 0) this.lines.delete(id);
    else if (index === 0 && !acquired) line[0]!.promote();
  }
}

/** The id of the waiting line for `keys` (the keys of a target or of a lease, prefixed). */
export function lineOf(keys: readonly string[]): string {
  return keys.length === 1 ? keys[0]! : keys.join('\n');
}
