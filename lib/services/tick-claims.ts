import type { RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { RedlockError } from '../redlock.errors.js';
import { safeMessage } from '../redaction.js';
import { LET_EXPIRE } from './lock.js';
import { MAX_TTL } from './lock-options.js';
import type { Redlock } from './redlock.engine.js';

/** Default of `tickTolerance`: the clock difference between instances a tick claim absorbs. */
export const DEFAULT_TICK_TOLERANCE = 1_000;

/**
 * How long after its nominal second a cron tick may fire and still count as that tick. Cron
 * ticks fall on whole seconds of the instance's own clock and a timer never fires early, so a
 * run that starts at 12:00:00.900 belongs to the tick of 12:00:00.
 */
const LATE_FIRE = 900;

/**
 * Kept on top of the tolerance in a claim's ttl: scheduling latency (timers, a busy event loop)
 * and the claim's own round trip.
 */
const CLAIM_MARGIN = 1_000;

/** The nominal time (epoch ms, whole seconds) of the cron tick firing at `wallNow`. */
export function tickOf(wallNow: number): number {
  return Math.floor((wallNow + (1_000 - LATE_FIRE)) / 1_000) * 1_000;
}

/**
 * Once-per-tick claims for cron jobs whose instances' clocks disagree.
 *
 * Every instance's cron fires tick T when its own clock reads T, so with clocks up to `s` apart
 * the instances fire the same tick up to `s` apart in real time. A lock held only while the
 * job runs cannot tell "tick T, again" (a lagging instance) from "tick T + 1": a 10 ms job is
 * long finished when the lagging instance fires, and it runs the tick a second time. So each
 * run first claims its tick: a lock on `<job key>:tick:<T>`, T read from the instance's own
 * clock (the same clock that fired the cron, so every instance names a tick alike however far
 * apart the clocks are). The claim is never released: it expires `tolerance` + 1 s after it was
 * taken, by which time every instance whose clock is within `tolerance` has fired tick T and
 * found it claimed. Tick T + 1 is another key, so a tolerance as long as the period loses no tick.
 */
export class TickClaims {
  constructor(
    private readonly engine: Redlock,
    private readonly logger: RedlockLogger | undefined,
  ) {}

  /**
   * Claims the current tick of the job locking `resources`. Resolves `true` when this call
   * took it (the caller runs the job), `false` when another run has it or the nodes could not
   * say (then nobody can know the tick is free: it is skipped, with a warning).
   */
  async claim(resources: readonly string[], tolerance: number, label: string): Promise<boolean> {
    const tick = tickOf(this.engine.clock.wallNow());
    const resource = `${resources.join(',')}:tick:${tick}`;
    try {
      const lock = await this.engine.tryAcquire(resource, {
        ttl: tolerance + CLAIM_MARGIN,
        wait: 0,
        autoExtend: false,
        holdAtLeast: 0,
        maxHold: MAX_TTL,
        mode: 'write',
        fencing: false,
      });
      if (!lock) return false;
      // Not released, at shutdown either: a lagging instance must still find the tick taken.
      lock[LET_EXPIRE]();
      return true;
    } catch (error) {
      if (!(error instanceof RedlockError)) throw error;
      this.logger?.warn(
        `${label}: skipped the tick of ${new Date(tick).toISOString()}, which could not be claimed (${safeMessage(error)}).`,
      );
      return false;
    }
  }
}
