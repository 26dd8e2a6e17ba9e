import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import {
  LockNotAcquiredError,
  RedlockError,
  RedlockUnavailableError,
  WriteLockHeldError,
} from '../redlock.errors.js';
import type { Failure, Target } from './quorum-round.js';

/**
 * Errors of acquisitions in which not even a majority of the nodes answered: the outage that
 * degraded mode covers. A semaphore that lacks the extra nodes its permit needs (see
 * permitQuorum) while a majority answers is not one: it fails as usual.
 */
export const UNANSWERED = new WeakSet<RedlockError>();

/** The error an acquisition throws after its last failed round, `failure`. */
export function failureError(
  target: Target,
  failure: Failure,
  opts: ResolvedLockOptions,
): RedlockError {
  const what = target.resources.join(', ');
  if (failure.fatal) {
    return new RedlockError(`Could not lock ${what}: ${failure.fatal}.`, {
      resources: target.resources,
      nodes: failure.nodes,
    });
  }
  if (failure.busy) {
    const ErrorClass = opts.mode === 'read' ? WriteLockHeldError : LockNotAcquiredError;
    return new ErrorClass(
      (opts.mode === 'read'
        ? `Resource ${what} is write-locked, or a writer is waiting for it,`
        : opts.permits > 1
          ? `All ${opts.permits} permits of ${what} are taken (or a lock holds it)`
          : `Resource ${what} is locked by another owner`) +
        (opts.wait > 0 ? ` and stayed locked for the ${opts.wait} ms wait.` : '.'),
      { resources: target.resources, nodes: failure.nodes, retryAfter: failure.holderTtl },
    );
  }
  const error = new RedlockUnavailableError(`Could not lock ${what}: ${failure.reason}.`, {
    resources: target.resources,
    nodes: failure.nodes,
  });
  if (failure.outage) UNANSWERED.add(error);
  return error;
}
