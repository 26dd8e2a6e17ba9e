import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockLogger } from '../interfaces/redlock-events.interface.js';
import type { RedlockError } from '../redlock.errors.js';
import { safeMessage } from '../redaction.js';
import type { Clock } from './clock.js';
import { Lease } from './lease.js';
import type { Lock } from './lock.js';
import type { Grant, Target } from './quorum-round.js';
import type { Frame, Reentrancy } from './reentrancy.js';
import { rejection } from './rejection.js';

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
 *
 * Not async: most scopes hold nothing of their target yet, and are one acquisition made into
 * a scope in its continuation; only a scope nested in another that holds some of its keys
 * goes through {@link joinScope}.
 */
export function openScope(
  parts: ScopeParts,
  target: Target,
  opts: ResolvedLockOptions,
): Promise<LockScope> {
  try {
    const { frames, missing } = parts.reentrancy.plan(target.keys, opts.mode);
    if (frames.length > 0 || missing.length !== target.keys.length) {
      return joinScope(parts, target, opts, frames, missing);
    }
    return parts.obtain(target, opts, opts.autoExtend ?? true, NO_PARENTS).then((obtained) => {
      if (!(obtained instanceof Lease)) throw obtained;
      return scopeOf(parts, obtained, obtained, NOTHING_TO_LEAVE);
    });
  } catch (error) {
    return rejection(error);
  }
}

const NO_PARENTS: readonly Lease[] = Object.freeze([]);
const NOTHING_TO_LEAVE = (): void => undefined;

/** {@link openScope} inside scopes that hold some of the keys: joins them first. */
async function joinScope(
  parts: ScopeParts,
  target: Target,
  opts: ResolvedLockOptions,
  frames: readonly Frame[],
  missing: readonly string[],
): Promise<LockScope> {
  const leave =
    frames.length > 0
      ? await parts.reentrancy.join(frames, opts.wait, opts.signal)
      : NOTHING_TO_LEAVE;
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
  return scopeOf(parts, lease, own, leave);
}

/**
 * The scope over `lease`; `own`: the lease it took itself and releases on exit. Exit waits for
 * nested scopes still relying on the lock, releases, then lets the joined scopes go on
 * (`leave`). Not async either when nothing nested is left: the release's own continuation.
 */
function scopeOf(
  parts: ScopeParts,
  lease: Lease,
  own: Lease | undefined,
  leave: () => void,
): LockScope {
  const frame = parts.reentrancy.frame(lease);
  const failed = (error: unknown): void => {
    parts.logger?.warn(
      `Release of ${own!.resources.join(', ')} failed (${safeMessage(error)}); the keys expire by themselves.`,
    );
    leave();
  };
  const exit = async (nested: Promise<unknown> | undefined): Promise<void> => {
    if (nested) await nested;
    if (own) await own.release().then(leave, failed);
    else leave();
  };
  return {
    lock: lease.lock,
    run: (fn) => parts.reentrancy.run(frame, fn),
    exit: () => {
      try {
        const nested = parts.reentrancy.settle(frame);
        if (nested || !own) return exit(nested);
        return own.release().then(leave, failed);
      } catch (error) {
        return rejection(error);
      }
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
