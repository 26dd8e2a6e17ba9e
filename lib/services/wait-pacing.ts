import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { Failure } from './quorum-round.js';

/*
 * How long a waiter of the wait loop (acquisition.ts) pauses between attempts, besides the
 * retry policy's own delay (retry-policies.ts).
 */

/**
 * Lets the other waiters woken by the same release go first, or not, at random: waiters of
 * several processes (or engines) race for a released key, and without this the one whose
 * notification happens to be read first would win every race, starving the others.
 */
export function shuffle(): Promise<void> {
  let hops = Math.floor(Math.random() * 3);
  return new Promise((resolve) => {
    const hop = (): void => {
      if (hops-- <= 0) resolve();
      else setImmediate(hop);
    };
    hop();
  });
}

/** A round trip's worth of pause, bounded by the per-node timeout: 1 ms, at most a tenth of it. */
export function roundTrip(timeout: number): number {
  return Math.max(0.5, Math.min(1, timeout / 10));
}

/** Never sleep past the holder's expiry: its release notification may never come. */
export function sleepFor(
  retryDelay: number,
  opts: ResolvedLockOptions,
  failure: Failure,
  remaining: number,
): number {
  let delay = retryDelay;
  if (failure.holderTtl !== undefined) {
    delay = Math.min(delay, failure.holderTtl + Math.random() * opts.retryJitter);
  }
  return Math.max(0, Math.min(delay, remaining));
}
