import type { LockOptions } from '../interfaces/lock-options.interface.js';
import { scheduledJob, type ScheduledJobOptions } from './scheduled-job.js';

/** Options of `@WithoutOverlapping`: the run lock's options, plus the job's key and tolerance. */
export interface WithoutOverlappingOptions
  extends ScheduledJobOptions, Omit<LockOptions, 'signal' | 'mode' | 'fencing'> {
  /**
   * How long a run waits for the previous run (on any instance) to end before it is skipped.
   * @default 0 (skip at once)
   */
  wait?: LockOptions['wait'];
}

const LOCK_KEYS = [
  'ttl',
  'wait',
  'retryDelay',
  'retryJitter',
  'retryCount',
  'driftFactor',
  'nodeTimeout',
  'autoExtend',
  'waitForNodes',
  'holdAtLeast',
  'maxHold',
] as const;

/**
 * Never runs a scheduled method while its previous run is still running on any instance: each
 * run holds the job's lock (extended while it runs); a run that finds it busy is skipped, or
 * waits up to `wait` first. On `@Cron` methods each run also claims its tick, so an instance
 * whose clock lags never runs a tick again after a short run elsewhere. A skipped run resolves
 * to `undefined` without calling the method.
 *
 * @example
 * ```ts
 * @Cron('*\/10 * * * * *')
 * @WithoutOverlapping({ maxHold: '5m' })
 * async syncInventory() { ... }
 * ```
 */
export function WithoutOverlapping(options: WithoutOverlappingOptions = {}): MethodDecorator {
  return scheduledJob(
    '@WithoutOverlapping',
    'no-overlap',
    { ...options, wait: (options as WithoutOverlappingOptions | null)?.wait ?? 0 },
    LOCK_KEYS,
  );
}
