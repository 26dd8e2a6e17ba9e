import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { AcquisitionContext } from './acquisition.js';
import type { Lease } from './lease.js';
import type { Grant, Target } from './quorum-round.js';

/**
 * A granted round made into the caller's lease, reported as `acquired`. A caller that gave up
 * while the round was in flight never sees the lock: it is released and the abort is thrown.
 */
export function granted(
  ctx: AcquisitionContext,
  target: Target,
  opts: ResolvedLockOptions,
  grant: Grant,
  autoExtend: boolean,
  parents: readonly Lease[] | undefined,
  attempts: number,
  started: number,
): Lease | Promise<never> {
  const lease = ctx.grant(target, opts, grant, autoExtend, parents);
  const { signal } = opts;
  if (signal?.aborted) {
    return lease.release().then(
      () => signal.throwIfAborted() as never,
      () => signal.throwIfAborted() as never,
    );
  }
  ctx.emit(
    {
      type: 'acquired',
      resources: target.resources,
      fencingToken: lease.token,
      attempts,
      waited: ctx.clock.now() - started,
      handedOver: grant.handOff !== undefined,
    },
    lease,
  );
  return lease;
}
