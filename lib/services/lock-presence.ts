import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import { RedlockUnavailableError } from '../redlock.errors.js';
import { describeNodes, type NodeResult } from './quorum.js';

/**
 * `isLocked`'s verdict from each node's `inspect` of the keys (-2: no key there): locked when
 * a quorum of nodes has them. Fewer answers than a quorum cannot tell either way: that throws
 * rather than reads as unlocked.
 * @throws RedlockUnavailableError when fewer than a quorum of nodes answered.
 */
export function lockedOnQuorum(
  results: readonly NodeResult<number>[],
  adapters: readonly LockAdapter[],
  quorum: number,
  names: readonly string[],
): boolean {
  let answered = 0;
  let locked = 0;
  for (const result of results) {
    if (result.status !== 'ok') continue;
    answered += 1;
    if (result.value !== -2) locked += 1;
  }
  if (answered < quorum) {
    throw new RedlockUnavailableError(
      `Cannot tell whether ${names.join(', ')} is locked: ${answered} of ${adapters.length} nodes answered, ${quorum} needed.`,
      {
        resources: names,
        nodes: describeNodes(adapters, results, (ttl) => (ttl === -2 ? 'expired' : 'taken')),
      },
    );
  }
  return locked >= quorum;
}
