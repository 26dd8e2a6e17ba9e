/**
 * How many of `nodes` nodes must grant a semaphore's permit (`permits` > 1) for the cap to hold.
 *
 * A majority is not enough. Each node caps its own holders, but holders that got different
 * majorities add up past the cap: on 3 nodes with 4 permits, six holders can each hold 2 nodes
 * while no node holds more than 4 (pigeonhole: H holders of q nodes each fill H·q ≤ N·permits
 * places). Requiring q > N·permits / (permits + 1) nodes per holder makes `permits + 1` holders
 * impossible. That is every node of 3 for any semaphore, 4 of 5 for 2 or 3 permits and 5 of 5
 * from 4: a semaphore tolerates fewer node failures than a lock, and fails closed (unavailable)
 * when fewer nodes answer. Never less than `majority` (permits 1 is a plain lock's majority).
 *
 * @example
 * ```ts
 * permitQuorum(3, 4, 2); // 3
 * permitQuorum(5, 2, 3); // 4
 * ```
 */
export function permitQuorum(nodes: number, permits: number, majority: number): number {
  if (permits <= 1) return majority;
  return Math.max(majority, Math.floor((nodes * permits) / (permits + 1)) + 1);
}
