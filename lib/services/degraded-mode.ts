import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockEvent, RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { type RedlockError, RedlockUnavailableError } from '../redlock.errors.js';
import { UNANSWERED } from './acquisition-failure.js';
import type { Clock } from './clock.js';
import { Lease } from './lease.js';
import type { Target } from './quorum-round.js';

/** How an engine takes a lock on its own nodes; the degraded mode wraps two of them. */
export type Obtain = (
  target: Target,
  opts: ResolvedLockOptions,
  autoExtend: boolean,
  parents?: readonly Lease[],
) => Promise<Lease | RedlockError>;

/**
 * Opt-in degraded mode: when no quorum of nodes answers, locks come from a process-local store
 * instead of failing.
 *
 * What it promises: the in-process lock is taken first, for every acquisition, outage or not,
 * and held as long as the distributed one; so one process never has two holders of a key, on
 * the way into an outage, during it, or on the way out. It falls back only when the nodes did
 * not answer (errors, timeouts, open circuits): a busy answer, a validity that ran out or
 * counters that could not be synced are failures as usual. What it gives up, loudly: during an
 * outage other processes are not excluded. It never hands out a fenced lock from the local store:
 * those acquisitions fail with `RedlockUnavailableError` as without degraded mode.
 */
export class DegradedMode {
  private active = false;

  constructor(
    private readonly local: Obtain,
    private readonly remote: Obtain,
    private readonly clock: Clock,
    private readonly logger: RedlockLogger | undefined,
    private readonly emit: (event: RedlockEvent) => void,
  ) {}

  get isActive(): boolean {
    return this.active;
  }

  async obtain(
    target: Target,
    opts: ResolvedLockOptions,
    autoExtend: boolean,
    parents?: readonly Lease[],
  ): Promise<Lease | RedlockError> {
    const started = this.clock.now();
    const local = await this.local(target, opts, autoExtend, parents);
    if (!(local instanceof Lease)) return local;
    const wait = Math.max(0, opts.wait - (this.clock.now() - started));
    let remote: Lease | RedlockError;
    try {
      remote = await this.remote(target, { ...opts, wait }, autoExtend, parents);
    } catch (error) {
      await local.release().catch(() => undefined);
      throw error;
    }
    if (remote instanceof Lease) {
      remote.companions = [local];
      this.set(false, target.resources);
      return remote;
    }
    if (UNANSWERED.has(remote)) {
      this.set(true, target.resources);
      // Fail closed on fencing: the local store numbers its own tokens, which cannot be put
      // above those the nodes issued (a fenced store would see them go backwards).
      if (!opts.fencing) return local;
      await local.release().catch(() => undefined);
      return new RedlockUnavailableError(
        `${remote.message} Degraded mode hands out no fenced locks: a process-local fencing token cannot be ordered after the tokens the nodes issued.`,
        { resources: remote.resources, nodes: remote.nodes, cause: remote },
      );
    }
    await local.release().catch(() => undefined);
    return remote;
  }

  private set(active: boolean, resources: readonly string[]): void {
    if (this.active === active) return;
    this.active = active;
    this.logger?.warn(
      active
        ? 'DEGRADED MODE: no quorum of lock nodes answers; locks are now process-local and do NOT exclude other instances.'
        : 'Degraded mode over: a quorum of lock nodes answers again; locks are distributed.',
    );
    this.emit({ type: 'degraded', resources, active });
  }
}
