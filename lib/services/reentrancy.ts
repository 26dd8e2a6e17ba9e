import { AsyncLocalStorage } from 'node:async_hooks';
import type { LockMode } from '../interfaces/lock-options.interface.js';
import { LockNotAcquiredError, RedlockError } from '../redlock.errors.js';
import type { Clock, TimerHandle } from './clock.js';
import type { Lease } from './lease.js';
import type { Lock } from './lock.js';

/**
 * A scope of work that holds a lease: one `using`/`@WithLock` call. Frames form the async call
 * chain: the innermost is the store of the AsyncLocalStorage.
 */
export interface Frame {
  readonly lease: Lease;
  readonly parent: Frame | undefined;
  /** Nested scopes that reuse this frame's lease take turns through it (siblings serialize). */
  readonly gate: Gate;
  /** Nested scopes that joined this frame and have not ended. */
  holds: number;
  /** Called when `holds` drops to 0 while the frame's own scope waits to end. */
  idle: (() => void) | undefined;
  /** The frame's scope is ending: nested scopes may no longer join it. */
  closing: boolean;
}

/**
 * Who holds a lock in an async call chain.
 *
 * - A nested `using` for resources a scope up the chain holds reuses that lock instead of
 *   deadlocking against itself; nested scopes of one holder run one at a time, in call order
 *   (two siblings started with `Promise.all` never run together).
 * - Work that escapes its scope (an un-awaited task, an event listener) and enters a nested
 *   scope keeps the lock held: the owner's scope releases only after every nested scope that
 *   relies on its lock has ended. A nested scope whose lock was lost rejects with the loss.
 * - A nested scope for more resources than the chain holds takes the missing ones itself; its
 *   lock covers all of them and is lost when any lock it relies on is lost.
 * - A write scope on a key the chain holds for reading fails at once: the upgrade would
 *   wait for its own read lock.
 */
export class Reentrancy {
  private readonly storage = new AsyncLocalStorage<Frame>();

  constructor(private readonly clock: Clock) {}

  /** The innermost lock of the calling chain, or the innermost one covering `key`. */
  current(key?: string): Lock | undefined {
    for (let frame = this.storage.getStore(); frame; frame = frame.parent) {
      if (key === undefined || frame.lease.covers(key)) return frame.lease.lock;
    }
    return undefined;
  }

  /**
   * What the chain already holds of `keys` in `mode`: the frames to reuse (innermost first,
   * one per key at most) and the keys still missing.
   */
  plan(keys: readonly string[], mode: LockMode): { frames: Frame[]; missing: string[] } {
    const frames: Frame[] = [];
    const missing: string[] = [];
    for (const key of keys) {
      let found: Frame | undefined;
      for (let frame = this.storage.getStore(); frame; frame = frame.parent) {
        const lease = frame.lease;
        if (frame.closing || lease.released) continue;
        const held = lease.modeOf(key);
        if (!held) continue;
        if (mode === 'write' && held === 'read') {
          throw new RedlockError(
            `Cannot take a write lock on ${key} inside a scope that holds a read lock on it: release the read lock first (an upgrade would wait for itself).`,
            { resources: lease.resources },
          );
        }
        found = frame;
        break;
      }
      if (!found) missing.push(key);
      else if (!frames.includes(found)) frames.push(found);
    }
    return { frames, missing };
  }

  /**
   * Joins the scopes of `frames` as a nested scope: counts as relying on their leases (so
   * their owners wait for it), then takes each frame's turn, waiting at most `wait` ms.
   * Returns the function that leaves them again.
   */
  async join(frames: readonly Frame[], wait: number, signal?: AbortSignal): Promise<() => void> {
    for (const frame of frames) {
      const lost = frame.lease.lost;
      if (lost) throw lost;
    }
    for (const frame of frames) frame.holds += 1;
    const turns: (() => void)[] = [];
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      for (const turn of turns.splice(0)) turn();
      for (const frame of frames) {
        frame.holds -= 1;
        if (frame.holds === 0) frame.idle?.();
      }
    };
    try {
      // Outer frames first, the same order for every caller, so two joiners never deadlock.
      for (const frame of [...frames].reverse()) {
        turns.push(await frame.gate.enter(this.clock, wait, signal, frame.lease.resources));
      }
    } catch (error) {
      leave();
      throw error;
    }
    return leave;
  }

  /** A frame for a scope holding `lease`, nested in the calling chain. */
  frame(lease: Lease): Frame {
    const parent = this.storage.getStore();
    return { lease, parent, gate: new Gate(), holds: 0, idle: undefined, closing: false };
  }

  /** Runs `fn` with `frame` as the innermost scope of its async chain. */
  run<T>(frame: Frame, fn: () => T): T {
    return this.storage.run(frame, fn);
  }

  /**
   * From now on no nested scope may join `frame`; returns a promise that resolves once every
   * scope that joined it has ended, or `undefined` when none is left already (so the caller
   * can release at once, in the same tick: commands sent after the scope ended then queue
   * behind the release). A scope waits here for work it started that outlived it: that work
   * still runs under the scope's lock, and its turn among siblings must not pass on before.
   */
  settle(frame: Frame): Promise<void> | undefined {
    frame.closing = true;
    if (frame.holds === 0) return undefined;
    return new Promise<void>((resolve) => (frame.idle = resolve));
  }
}

/** A first-come, first-served turn among the nested scopes of one frame. */
class Gate {
  private busy = false;
  private readonly queue: (() => void)[] = [];

  /** Waits for the turn (at most `wait` ms); resolves to the function that ends it. */
  enter(
    clock: Clock,
    wait: number,
    signal: AbortSignal | undefined,
    resources: readonly string[],
  ): Promise<() => void> {
    signal?.throwIfAborted();
    if (!this.busy) {
      this.busy = true;
      return Promise.resolve(this.exit());
    }
    return new Promise((resolve, reject) => {
      const stop = (): void => {
        const index = this.queue.indexOf(turn);
        if (index >= 0) this.queue.splice(index, 1);
        clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const turn = (): void => {
        stop();
        resolve(this.exit());
      };
      const onAbort = (): void => {
        stop();
        reject(signal!.reason as Error);
      };
      const timer: TimerHandle = clock.setTimeout(() => {
        stop();
        reject(
          new LockNotAcquiredError(
            `Resource ${resources.join(', ')} is held by a sibling scope of the same lock for longer than the ${wait} ms wait.`,
            { resources },
          ),
        );
      }, wait);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(turn);
    });
  }

  private exit(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      if (next) next();
      else this.busy = false;
    };
  }
}
