import type { LockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { LockLostError, LockNotAcquiredError, RedlockError } from '../redlock.errors.js';
import { safeMessage } from '../redaction.js';
import type { Lock } from './lock.js';
import { MAX_TTL } from './lock-options.js';
import type { Redlock } from './redlock.engine.js';
import { TickClaims } from './tick-claims.js';

/**
 * `one-instance`: one instance owns the job through a lease it keeps while it lives; only the
 * owner runs it. `no-overlap`: any instance may run it, never two runs at once.
 */
export type JobKind = 'one-instance' | 'no-overlap';

/** One run of a scheduled job, as the decorators describe it. */
export interface JobRun {
  readonly kind: JobKind;
  /** `Class.method`, for log lines. */
  readonly label: string;
  /** The job's lock resource: the owner lease (`one-instance`) or the run lock (`no-overlap`). */
  readonly resource: string;
  /** Options of that lease or lock, over the module's defaults. */
  readonly options: LockOptions;
  /** Claim the cron tick first (see `TickClaims`) with this tolerance; 0: no claim. */
  readonly tickTolerance: number;
}

interface Ownership {
  lock: Lock | undefined;
  taking: Promise<Lock | null> | undefined;
  running: number;
}

/**
 * Runs scheduled jobs for `@OnOneInstance` and `@WithoutOverlapping`, one coordinator per
 * application. A run that must not happen here resolves to `undefined` without calling the job.
 *
 * Ownership (`one-instance`): the first instance to find the job's lease free takes it and
 * keeps it (auto-extended) from tick to tick; the others fail to take it and skip. When the
 * owner dies its lease expires within its ttl and the next instance to tick takes over. At
 * shutdown the owner lets its current run finish, then releases the lease at once, so the
 * next tick elsewhere takes over without waiting for the ttl.
 */
export class JobCoordinator {
  readonly ticks: TickClaims;
  private readonly owners = new Map<string, Ownership>();
  private closing = false;

  constructor(
    private readonly engine: Redlock,
    private readonly logger: RedlockLogger | undefined,
  ) {
    this.ticks = new TickClaims(engine, logger);
  }

  /** Runs `invoke` if this instance should run this tick of the job; `undefined` otherwise. */
  run(job: JobRun, invoke: () => unknown): Promise<unknown> {
    if (this.closing) return Promise.resolve(undefined);
    return job.kind === 'one-instance' ? this.runOwned(job, invoke) : this.runAlone(job, invoke);
  }

  /** Whether this application owns the `@OnOneInstance` job locking `resource`. */
  owns(resource: string): boolean {
    return this.owners.get(resource)?.lock?.isHeld() ?? false;
  }

  /**
   * Shutdown: no new runs; each owned job is handed over (its lease released) as soon as its
   * current run, if any, has finished. The engine's own shutdown waits for those releases.
   */
  stepDown(): void {
    this.closing = true;
    for (const owner of this.owners.values()) {
      if (owner.running === 0) void this.handOver(owner);
    }
  }

  private async runOwned(job: JobRun, invoke: () => unknown): Promise<unknown> {
    let owner = this.owners.get(job.resource);
    if (!owner) {
      owner = { lock: undefined, taking: undefined, running: 0 };
      this.owners.set(job.resource, owner);
    }
    if (!owner.lock?.isHeld()) {
      const lock = await this.takeOwnership(job, owner);
      if (!lock) return undefined;
    }
    return this.runTick(job, owner, invoke);
  }

  private async takeOwnership(job: JobRun, owner: Ownership): Promise<Lock | null> {
    owner.lock = undefined;
    // Two ticks at once on this instance share one attempt.
    owner.taking ??= this.engine
      .tryAcquire(job.resource, {
        ...job.options,
        wait: 0,
        autoExtend: true,
        holdAtLeast: 0,
        maxHold: MAX_TTL,
      })
      .finally(() => (owner.taking = undefined));
    let lock: Lock | null;
    try {
      lock = await owner.taking;
    } catch (error) {
      if (!(error instanceof RedlockError)) throw error;
      this.logger?.warn(
        `${job.label}: skipped a run, the owner of the job could not be determined (${safeMessage(error)}).`,
      );
      return null;
    }
    if (!lock) return null;
    if (this.closing) {
      await lock.release().catch(() => undefined);
      return null;
    }
    if (owner.lock !== lock) {
      owner.lock = lock;
      this.logger?.log(`${job.label}: this instance runs the job from now on.`);
      lock.signal.addEventListener(
        'abort',
        () => {
          if (lock.signal.reason instanceof LockLostError) {
            this.logger?.warn(
              `${job.label}: this instance lost the job (${lock.signal.reason.message}); another instance may take it over.`,
            );
          }
        },
        { once: true },
      );
    }
    return lock;
  }

  private async runTick(job: JobRun, owner: Ownership, invoke: () => unknown): Promise<unknown> {
    owner.running += 1;
    try {
      if (job.tickTolerance > 0) {
        const claimed = await this.ticks.claim([job.resource], job.tickTolerance, job.label);
        if (!claimed) return undefined;
      }
      return await invoke();
    } finally {
      owner.running -= 1;
      if (this.closing && owner.running === 0) void this.handOver(owner);
    }
  }

  private async runAlone(job: JobRun, invoke: () => unknown): Promise<unknown> {
    if (job.tickTolerance > 0) {
      const claimed = await this.ticks.claim([job.resource], job.tickTolerance, job.label);
      if (!claimed) return undefined;
    }
    let scope;
    try {
      scope = await this.engine.enter(job.resource, job.options);
    } catch (error) {
      // Busy: the previous run is still going somewhere. Unknown: skipping is the safe side.
      if (error instanceof LockNotAcquiredError) return undefined;
      if (!(error instanceof RedlockError)) throw error;
      this.logger?.warn(
        `${job.label}: skipped a run, whether the previous one still runs could not be determined (${safeMessage(error)}).`,
      );
      return undefined;
    }
    let result: unknown;
    try {
      result = await scope.run(invoke);
    } finally {
      await scope.exit();
    }
    scope.throwIfLost();
    return result;
  }

  private async handOver(owner: Ownership): Promise<void> {
    const lock = owner.lock;
    owner.lock = undefined;
    if (!lock) return;
    await lock.release().catch((error: unknown) => {
      this.logger?.warn(
        `Release of the job lease ${lock.resources.join(', ')} failed (${safeMessage(error)}); it expires by itself.`,
      );
    });
  }
}
