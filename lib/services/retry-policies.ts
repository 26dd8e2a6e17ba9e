import type { LockOptions, ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import { RedlockConfigError } from '../redlock.errors.js';
import { describe } from '../redaction.js';

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** First pause's upper bound in ms. @default 10 */
  base?: number;
  /** Growth per attempt. @default 2 */
  factor?: number;
  /** Cap on any pause in ms. @default 1_000 */
  max?: number;
}

/**
 * Exponential backoff with full jitter, as a `retryDelay` function: attempt n waits a random
 * time in [0, min(max, base * factor^(n-1))]. Full jitter spreads contending waiters best.
 * Release notifications still wake a waiter earlier; this only paces the fallback polling.
 *
 * @example
 * ```ts
 * await redlock.acquire('k', { retryDelay: exponentialBackoff({ base: 5, max: 200 }), retryJitter: 0 });
 * ```
 */
export function exponentialBackoff(
  options: ExponentialBackoffOptions = {},
): (attempt: number) => number {
  const { base = 10, factor = 2, max = 1_000 } = options;
  for (const [name, value, min] of [
    ['base', base, 0],
    ['factor', factor, 1],
    ['max', max, 0],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new RedlockConfigError(
        `exponentialBackoff.${name}`,
        `expected a finite number >= ${min}`,
      );
    }
  }
  return (attempt) => Math.random() * Math.min(max, base * factor ** Math.max(0, attempt - 1));
}

/**
 * Named sets of `LockOptions`, spread into a call or the module defaults.
 *
 * - `default`: the library defaults spelled out (ttl 10 s, wait 5 s, 200 ms + 0–50 ms polling).
 * - `fast`: short critical sections such as rate limiters: ttl 1 s, wait 250 ms, node timeout
 *   25 ms, exponential backoff from 2 ms up to 50 ms, no extra jitter.
 *
 * @example
 * ```ts
 * @WithLock('quota:<0>', { ...LockPresets.fast, onBusy: 'skip' })
 * ```
 */
export const LockPresets = {
  default: { ttl: 10_000, wait: 5_000, retryDelay: 200, retryJitter: 50, driftFactor: 0.01 },
  fast: {
    ttl: 1_000,
    wait: 250,
    nodeTimeout: 25,
    retryDelay: exponentialBackoff({ base: 2, factor: 2, max: 50 }),
    retryJitter: 0,
    driftFactor: 0.01,
  },
} as const satisfies Record<string, LockOptions>;

/**
 * The retry policy's pause after attempt `attempt`, jitter included. A `retryDelay` function
 * that returns something other than a finite number of ms >= 0 is a configuration error: taken
 * as 0 it would hammer the nodes.
 */
export function retryDelayOf(attempt: number, opts: ResolvedLockOptions): number {
  const base = typeof opts.retryDelay === 'function' ? opts.retryDelay(attempt) : opts.retryDelay;
  if (typeof base !== 'number' || !Number.isFinite(base) || base < 0) {
    throw new RedlockConfigError(
      'retryDelay',
      `the function returned ${describe(base)} for attempt ${attempt}; expected milliseconds >= 0`,
    );
  }
  return base + Math.random() * opts.retryJitter;
}
