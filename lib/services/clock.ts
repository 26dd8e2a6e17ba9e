/**
 * Time as the engine sees it. Validity is measured on `now()`, a monotonic clock, so a wall
 * clock that jumps (NTP step, manual change) never turns an expired lock into a held one;
 * `wallNow()` only labels times for humans (`expiresAt`) and seeds fencing counters.
 */
export interface Clock {
  /** Monotonic milliseconds, arbitrary origin. */
  now(): number;
  /** Epoch milliseconds. */
  wallNow(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};
