import type { Lease } from './lease.js';

/** An empty list of leases, shared: no new array for the (many) leases without relations. */
export const NO_LEASES: readonly Lease[] = Object.freeze([]);

/** The state of the leases that use reentrant scopes, hold limits or degraded mode. */
export interface RareLeaseState {
  readonly parents: readonly Lease[];
  dependents: Lease[] | undefined;
  companions: Lease[] | undefined;
  readonly holdUntil: number;
  readonly maxHold: number | undefined;
  readonly maxHoldUntil: number;
  // Set once a renewal was cut short by maxHold: no renewal follows, the lease ends there.
  capped: boolean;
  // The ttl the keys were last set with, where it is not the acquisition's (an extension to
  // another ttl, or one cut short by maxHold): where the nodes' expiry lies.
  keysTtl: number | undefined;
}
