import type { LockOptions } from '../interfaces/lock-options.interface.js';
import { scheduledJob, type ScheduledJobOptions } from './scheduled-job.js';

/** Options of `@OnOneInstance`. */
export interface OnOneInstanceOptions
  extends ScheduledJobOptions, Pick<LockOptions, 'ttl' | 'nodeTimeout' | 'driftFactor'> {
  /**
   * The owner's lease: renewed while the owner lives; when the owner dies another instance
   * takes the job over within this long.
   * @default the module's `lock.ttl` (10 s)
   */
  ttl?: LockOptions['ttl'];
}

/**
 * Runs a scheduled method (`@Cron`, `@Interval`, `@Timeout`) on one instance of the
 * application: the first instance to tick takes the job's lease and keeps it while it lives;
 * the others skip every run. If the owner dies, the next instance to tick after its lease ran
 * out (within `ttl`) takes over; at shutdown the owner finishes its current run and releases
 * the lease, so another instance takes over at its next tick. On `@Cron` methods each run also
 * claims its tick, so a new owner whose clock lags never runs a tick the old owner already ran.
 * A skipped run resolves to `undefined` without calling the method.
 *
 * Runs on the owner can overlap when one lasts longer than the period; add
 * `waitForCompletion: true` to `@Cron` to prevent that.
 *
 * @example
 * ```ts
 * @Cron(CronExpression.EVERY_HOUR, { waitForCompletion: true })
 * @OnOneInstance()
 * async rollUp() { ... }
 * ```
 */
export function OnOneInstance(options: OnOneInstanceOptions = {}): MethodDecorator {
  return scheduledJob('@OnOneInstance', 'one-instance', options, [
    'ttl',
    'nodeTimeout',
    'driftFactor',
  ]);
}
