import type {
  LockAdapter,
  OwnerReply,
  ReleaseOptions,
} from '../interfaces/lock-adapter.interface.js';
import type { Clock, TimerHandle } from './clock.js';
import type { NodeGuard } from './node-guard.js';

/** An undo is announced without a holder: it ended nobody's turn (see `TurnOrder`). */
const UNDO: ReleaseOptions = Object.freeze({ undo: true });

/** What one failed attempt took, or may have taken, and must give back. */
export interface Undo {
  readonly keys: readonly string[];
  readonly value: string;
  /** Held in the shared structure (a reader or a semaphore's permit). */
  readonly read: boolean;
  /** A semaphore's cap, so that its undo announces the freed permit. */
  readonly permits?: number;
  /** Per-node timeout of the attempt. */
  readonly timeout: number;
  /** Monotonic time after which the keys have expired by themselves anyway. */
  readonly until: number;
}

/**
 * Takes back what failed attempts took.
 *
 * Nodes that granted are undone before the caller retries (so partial locks never pile up),
 * through {@link NodeGuard.always}: an open circuit must not stop the undo of a key the node
 * may hold. Nodes that did not answer in time may still execute the attempt later, so they
 * get the undo too, in the background, again and again until it lands or the attempt's ttl has
 * passed; the undo is sent on the same connection after the attempt, so it runs after it.
 */
export class Rollbacks {
  private readonly timers = new Set<TimerHandle>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly nodes: NodeGuard,
  ) {}

  /**
   * Undoes on `granted` (awaited) and on `unsure` (awaited at most `grace` ms more, then in
   * the background). A healthy node that was merely a little late answers within the grace,
   * so the keys are gone when the caller hears of the failure; a stalled one does not make the
   * caller wait for its timeout, although the quorum had decided long before.
   */
  async undo(
    granted: readonly LockAdapter[],
    unsure: readonly LockAdapter[],
    what: Undo,
    grace: number,
  ): Promise<void> {
    const settle = (adapters: readonly LockAdapter[]) =>
      adapters.length === 0
        ? Promise.resolve()
        : this.send(adapters, what).then((results) => {
            const failed = adapters.filter((_, index) => results[index]!.status !== 'ok');
            if (failed.length > 0) this.retry(failed, what, 1);
          });
    const late = settle(unsure);
    await settle(granted);
    if (unsure.length === 0) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      late,
      new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, grace, false))),
    ]);
    this.clock.clearTimeout(timer);
  }

  /** Stops the background undos (at shutdown; the keys then expire by themselves). */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers.clear();
  }

  private send(adapters: readonly LockAdapter[], what: Undo) {
    return this.nodes.always<OwnerReply>(
      adapters,
      (adapter) =>
        what.read
          ? adapter.shared!.release(what.keys, what.value, { permits: what.permits })
          : adapter.release(what.keys, what.value, UNDO),
      what.timeout,
    );
  }

  private retry(adapters: readonly LockAdapter[], what: Undo, round: number): void {
    if (this.closed || this.clock.now() >= what.until) return;
    // The first undo of an unsure node goes at once; later ones back off to spare a sick node.
    const delay = round === 0 ? 0 : Math.min(1_000, Math.max(50, what.timeout) * round);
    const timer = this.clock.setTimeout(
      () => {
        this.timers.delete(timer);
        void this.send(adapters, what).then((results) => {
          const failed = adapters.filter((_, index) => results[index]!.status !== 'ok');
          if (failed.length > 0) this.retry(failed, what, round + 1);
        });
      },
      delay,
      false,
    );
    this.timers.add(timer);
  }
}
