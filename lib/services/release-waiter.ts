import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';

/** How long a waiter named by some nodes waits for the rest of a quorum to name it, in ms. */
const NAMED_GRACE_MS = 3;
/** How long a key counts as contended from other processes after one of theirs was named. */
const SHARED_MS = 1_000;

/** What a waiter knows of the other waiters of its process for the same key. */
export interface LineContext {
  /** Whether `id` is the line id of a waiter of this process. */
  isLocal(id: string): boolean;
  /** Notes that a waiter of another process was named the head. */
  markShared(): void;
}

/**
 * One acquisition's way of sleeping between attempts: it wakes on a release notification from
 * any node, on its timer, or rejects when the caller's signal aborts.
 * A notification that arrives while an attempt is in flight is remembered (`reset` clears it
 * just before each attempt), so a release between a failed attempt and the sleep is never lost.
 */
export class ReleaseWaiter {
  private notified = false;
  private wake: (() => void) | undefined;
  private readonly stops: (() => void)[] = [];
  private closed = false;
  // Nodes that named this waiter as the head of their line since the last reset.
  private readonly namedBy = new Set<number>();
  private grace: NodeJS.Timeout | undefined;
  /** Whether this waiter holds a place in the nodes' line (set by the engine). */
  registered = false;

  constructor(
    private readonly adapters: readonly LockAdapter[],
    private readonly keys: readonly string[],
    /** Whether this waiter is first in line among this process's waiters for the keys. */
    readonly isHead: () => boolean = () => true,
    /** The waiter's id in the nodes' line of the key, when the nodes keep one. */
    readonly lineId?: string,
    /** How many nodes must name this waiter before it goes (the quorum). */
    private readonly quorum = 1,
    private readonly context?: LineContext,
  ) {}

  private heard(node: number, next: string): void {
    if (this.lineId === undefined || next === '') {
      // No line on that node: only the head of this process's line reacts.
      if (this.isHead()) this.promote();
      return;
    }
    // A release that names the head of the nodes' line wakes that waiter only, in whichever
    // process it waits. It goes once a quorum of nodes has named it (the key is free there),
    // not on the first: an attempt that raced the holder's release to the other nodes would
    // split, and take a round more. A slow or silent node only delays it by the grace period.
    if (next !== this.lineId) {
      // Another process's waiter is first: the key is contended across processes, so waiters
      // here must hold places too (see WaitingLines.leave); a head without one takes it now.
      if (this.context && !this.context.isLocal(next)) {
        this.context.markShared();
        if (!this.registered && this.isHead()) this.promote();
      }
      return;
    }
    this.namedBy.add(node);
    if (this.namedBy.size >= this.quorum) this.promote();
    else this.grace ??= setTimeout(() => this.promote(), NAMED_GRACE_MS);
  }

  /** Wakes the waiter now (or lets its next `wait` return at once). */
  promote(): void {
    this.clearGrace();
    this.notified = true;
    this.wake?.();
  }

  private clearGrace(): void {
    clearTimeout(this.grace);
    this.grace = undefined;
    this.namedBy.clear();
  }

  /**
   * Subscribes on every node, waiting at most `timeout` ms: a node that has not confirmed by
   * then is still subscribed when it does, and until then the timer covers for it.
   */
  async subscribe(timeout: number): Promise<void> {
    const subscriptions = this.adapters.map((adapter, node) =>
      adapter
        .onRelease(this.keys, (next) => this.heard(node, next))
        .then(
          (stop) => {
            if (this.closed) stop();
            else this.stops.push(stop);
          },
          () => undefined, // polling on the timer remains
        ),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(subscriptions),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout))),
    ]);
    clearTimeout(timer);
  }

  /** Forgets notifications seen so far; call right before an attempt. */
  reset(): void {
    this.notified = false;
    this.clearGrace();
  }

  /** Sleeps up to `ms`, less if a release is announced; rejects with the signal's reason. */
  wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.notified) return Promise.resolve();
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
      };
      const onAbort = (): void => {
        done();
        reject(signal!.reason as Error);
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, ms);
      this.wake = () => {
        done();
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    this.closed = true;
    this.clearGrace();
    this.wake = undefined;
    for (const stop of this.stops.splice(0)) stop();
  }
}

/**
 * This process's callers waiting for the same keys, in arrival order. Only the head of a line
 * reacts to release notifications, and a caller arriving while others wait joins the back: it
 * would otherwise win every time, one round trip ahead of their notification.
 */
export class WaitingLines {
  private readonly lines = new Map<string, ReleaseWaiter[]>();
  // Until when (performance.now() ms) a line's key counts as contended from other processes.
  private readonly sharedUntil = new Map<string, number>();

  constructor(
    private readonly adapters: readonly LockAdapter[],
    /** How many nodes must name a waiter before it goes (see ReleaseWaiter). */
    private readonly quorum = 1,
  ) {}

  /** How many callers wait in line `id` (0 when there is none). */
  length(id: string): number {
    return this.lines.get(id)?.length ?? 0;
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
    lineId?: string,
  ): Promise<ReleaseWaiter> {
    if (!lined) {
      const waiter = new ReleaseWaiter(this.adapters, keys);
      await waiter.subscribe(timeout);
      return waiter;
    }
    let line = this.lines.get(id);
    if (!line) this.lines.set(id, (line = []));
    const members = line;
    const waiter: ReleaseWaiter = new ReleaseWaiter(
      this.adapters,
      keys,
      () => members[0] === waiter,
      lineId,
      this.quorum,
      {
        isLocal: (name) => members.some((member) => member.lineId === name),
        markShared: () => this.sharedUntil.set(id, performance.now() + SHARED_MS),
      },
    );
    members.push(waiter);
    await waiter.subscribe(timeout);
    return waiter;
  }

  /**
   * Leaves the line. A head that got the lock leaves the next caller to be woken by its
   * release; a head that gave up hands its turn on at once. With `fair` (the nodes keep lines)
   * and the key contended from other processes lately, the next caller goes at once too, to
   * take its place in the nodes' line while the lock is held: otherwise the release would name
   * a waiter elsewhere and this one would sleep on. Within one process nobody else is named,
   * and the next caller is woken by the release as before, with no extra attempt.
   */
  leave(id: string, waiter: ReleaseWaiter, acquired: boolean, fair = false): void {
    waiter.close();
    const line = this.lines.get(id);
    if (!line) return;
    const index = line.indexOf(waiter);
    if (index >= 0) line.splice(index, 1);
    if (line.length === 0) {
      this.lines.delete(id);
      this.sharedUntil.delete(id);
    } else if (index === 0 && (!acquired || (fair && this.isShared(id)))) {
      line[0]!.promote();
    }
  }

  private isShared(id: string): boolean {
    return (this.sharedUntil.get(id) ?? 0) > performance.now();
  }
}
