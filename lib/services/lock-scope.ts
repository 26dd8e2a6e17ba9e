import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockLogger } from '../interfaces/redlock-events.interface.js';
import type { RedlockError } from '../redlock.errors.js';
import { safeMessage } from '../redaction.js';
import type { Clock } from './clock.js';
import { Lease } from './lease.js';
import type { Lock } from './lock.js';
import type { Grant, Target } from './quorum-round.js';
import type { Reentrancy } from './reentrancy.js';

/** A lock held for the length of some work; see {@link Redlock.enter}. */
export interface LockScope {
  readonly lock: Lock;
  /** Runs `fn` in the async context that owns the lock (for reentrancy). */
  run<T>(fn: () => T): T;
  /** Ends the scope: waits for nested scopes relying on the lock, then releases what it took. */
  exit(): Promise<void>;
  /** Throws the `LockLostError` if the lock was lost while the scope was open. */
  throwIfLost(): void;
}

/** The engine parts a scope is built from. */
export interface ScopeParts {
  readonly reentrancy: Reentrancy;
  readonly clock: Clock;
  readonly logger: RedlockLogger | undefined;
  obtain(
    target: Target,
    opts: ResolvedLockOptions,
    autoExtend: boolean,
    parents?: readonly Lease[],
  ): Promise<Lease | RedlockError>;
  grant(
    target: Target,
    opts: ResolvedLockOptions,
    grant: Grant,
    autoExtend: boolean,
    parents?: readonly Lease[],
    keys?: readonly string[],
  ): Lease;
}

/**
 * Opens the scope of one `using`/`@WithLock` call (see {@link Reentrancy} for who holds what):
 * joins the locks the call chain already holds of `target`, takes the missing keys, and builds
 * the lock that covers them all.
 */
export async function openScope(
  parts: ScopeParts,
  target: Target,
  opts: ResolvedLockOptions,
): Promise<LockScope> {
  const { frames, missing } = parts.reentrancy.plan(target.keys, opts.mode);
  const leave =
    frames.length > 0
      ? await parts.reentrancy.join(frames, opts.wait, opts.signal)
      : () => undefined;
  let lease: Lease;
  let own: Lease | undefined;
  try {
    // A write scope reuses a read scope's lease only through a new one in its own mode: the
    // read scope may hold this key for writing through its own parent.
    if (frames.length === 1 && missing.length === 0 && reusable(frames[0]!.lease, opts)) {
      lease = frames[0]!.lease;
    } else {
      const parents = frames.map((frame) => frame.lease);
      const mine =
        missing.length === target.keys.length
          ? target
          : { keys: missing, resources: target.resources };
      const obtained =
        missing.length === 0
          ? parts.grant(
              target,
              opts,
              { value: '', fencingToken: undefined, deadline: Infinity, start: parts.clock.now() },
              false,
              parents,
              [],
            )
          : await parts.obtain(mine, opts, opts.autoExtend ?? true, parents);
      if (!(obtained instanceof Lease)) throw obtained;
      lease = own = obtained;
    }
  } catch (error) {
    leave();
    throw error;
  }
  const frame = parts.reentrancy.frame(lease);
  return {
    lock: lease.lock,
    run: (fn) => parts.reentrancy.run(frame, fn),
    exit: async () => {
      const nested = parts.reentrancy.settle(frame);
      if (nested) await nested;
      if (own) {
        try {
          await own.release();
        } catch (error) {
          parts.logger?.warn(
            `Release of ${own.resources.join(', ')} failed (${safeMessage(error)}); the keys expire by themselves.`,
          );
        }
      }
      leave();
    },
    throwIfLost: () => {
      const lost = lease.lost;
      if (lost) throw lost;
    },
  };
}

/** Whether reusing `lease` as it is hands out a lock in the mode `opts` asked for. */
function reusable(lease: Lease, opts: ResolvedLockOptions): boolean {
  return opts.mode === 'read' || lease.mode === 'write';
}
