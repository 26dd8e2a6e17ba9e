import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import { countOk, describeNodes, majorityOf, type NodeResult } from './quorum.js';
import type { Failure, Grant, Reply, Round, RoundContext } from './quorum-round.js';

/*
 * The rare end of a quorum round (see quorum-round.ts): writing fencing counters back, or
 * taking back what a failed round took. A plain granted round never comes here.
 */

/** A round that needs more than its answers: fence write-back, or taking back what it took. */
export async function settle(
  ctx: RoundContext,
  round: Round,
  results: readonly NodeResult<Reply>[],
  acquired: number,
  token: number,
  deadline: number,
): Promise<Grant | Failure> {
  const { adapters, quorum, clock } = ctx;
  const { target, opts, timeout, start, value } = round;
  const { keys } = target;
  const { ttl } = opts;
  // Made only for a failure: a granted round must not pay for a message nobody reads.
  let reason: string | undefined;
  if (acquired >= quorum) {
    let fenced = true;
    if (round.fenced && round.exclusive) {
      fenced = await syncFences(ctx, results, keys, value, token, timeout);
      if (!fenced) reason = 'the fencing counters could not be brought in line on a quorum';
    }
    if (fenced && deadline > clock.now()) {
      return { value, fencingToken: round.fenced ? token : undefined, deadline, start };
    }
    if (fenced) reason = `the validity ran out while acquiring (ttl ${ttl} ms is too short)`;
  }

  let answered = 0;
  let holderTtl: number | undefined;
  for (const result of results) {
    if (result.status !== 'ok') continue;
    answered += 1;
    if (!result.value.acquired && result.value.ttl >= 0) {
      holderTtl = Math.min(holderTtl ?? Infinity, result.value.ttl);
    }
  }
  const counted = opts.permits > 1;
  // Late nodes get twice as long as the round took (at least 10 ms) before we move on.
  const grace = Math.min(timeout, Math.max(10, 2 * (clock.now() - start)));
  await ctx.rollbacks.undo(
    granting(adapters, results),
    adapters.filter((_, index) => results[index]!.status !== 'ok'),
    {
      keys,
      value,
      read: round.read,
      permits: counted ? opts.permits : undefined,
      timeout,
      until: start + ttl,
    },
    grace,
  );
  const { fatal } = round;
  // Busy also when a majority answered and the refusals alone rule out a grant, whatever the
  // silent nodes would say: a full semaphore with a node down (a permit needs more than a
  // majority, see permitQuorum) is full, not an outage. For a lock (quorum = majority) this is
  // the first case already.
  const majority = majorityOf(adapters.length);
  const busy =
    (answered >= quorum && acquired < quorum) ||
    (answered >= majority && answered - acquired > adapters.length - quorum);
  return {
    busy,
    unanswered: answered < quorum && !busy,
    outage: answered < majority,
    nodes: describeNodes(adapters, results, (reply) => (reply.acquired ? 'acquired' : 'taken')),
    holderTtl,
    reason:
      fatal ??
      reason ??
      `${acquired} of ${adapters.length} nodes granted the lock, ${quorum} needed`,
    split: acquired > 0 && adapters.length > 1,
    fatal,
  };
}

/**
 * The nodes that granted, listed only when needed (fence write-back, rollback): a plain
 * granted round does not build the list.
 */
function granting(adapters: readonly LockAdapter[], results: readonly NodeResult<Reply>[]) {
  return adapters.filter((_, index) => {
    const result = results[index]!;
    return result.status === 'ok' && result.value.acquired;
  });
}

/**
 * Brings the fencing counters of the granting nodes up to `token` when they disagree.
 *
 * Why: each node keeps its own counter, and attempts that reached only a minority leave the
 * counters diverged. The maximum over one quorum is then not monotonic on its own: a later
 * quorum may miss the node that held the high value. Writing `token` back to a quorum before
 * the lock is handed out restores the invariant the proof needs: every issued token is stored
 * on a quorum, any later quorum shares a node with it, and that node answers a later
 * acquisition with at least `token + 1`. When all granting nodes agree, nothing is sent.
 */
async function syncFences(
  ctx: RoundContext,
  results: readonly NodeResult<Reply>[],
  keys: readonly string[],
  value: string,
  token: number,
  timeout: number,
): Promise<boolean> {
  const agreeing = holding(results, token);
  if (agreeing >= ctx.quorum) return true;
  const behind = ctx.adapters.filter((_, index) => {
    const result = results[index]!;
    return result.status === 'ok' && result.value.acquired && result.value.token !== token;
  });
  const quorum = ctx.quorum - agreeing;
  const synced = await ctx.nodes.ask(
    behind,
    (adapter) => adapter.syncFence(keys, value, String(token)),
    timeout,
    (partial) => countOk(partial) >= quorum,
  );
  return countOk(synced) >= quorum;
}

/**
 * Granting nodes whose fencing counter already stands at `token`: with a quorum of them, no
 * counter needs writing back (see syncFences), and the grant can be decided at once.
 */
export function holding(results: readonly NodeResult<Reply>[], token: number): number {
  let count = 0;
  for (const result of results) {
    if (result.status === 'ok' && result.value.acquired && result.value.token === token) count += 1;
  }
  return count;
}
