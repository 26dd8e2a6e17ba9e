import type { Lock } from '../services/lock.js';

/**
 * Implemented by a `@LeaderElection` provider that acts when this instance becomes the leader.
 * `lock` is the leader's lease for this term: `lock.fencingToken` numbers the term (it only
 * goes up from term to term), and `lock.signal` aborts when the term ends.
 *
 * @example
 * ```ts
 * @Injectable()
 * @LeaderElection('leader:billing')
 * export class BillingLeader implements OnLeadershipAcquired, OnLeadershipLost {
 *   onLeadershipAcquired(lock: Lock) { this.startSweeper(lock.fencingToken, lock.signal); }
 *   onLeadershipLost() { this.stopSweeper(); }
 * }
 * ```
 */
export interface OnLeadershipAcquired {
  onLeadershipAcquired(lock: Lock): unknown;
}

/**
 * Implemented by a `@LeaderElection` provider that must stop leading: called when the lease is
 * lost (at the latest when its validity runs out, which is before any other instance can take
 * it) and when the instance steps down at shutdown (before the lease is released).
 */
export interface OnLeadershipLost {
  onLeadershipLost(lock: Lock): unknown;
}
