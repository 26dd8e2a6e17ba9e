import type { AcquireReply, LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { NodeOutcome } from '../redlock.errors.js';
import type { Clock } from './clock.js';
import { FenceError, parseFence } from './fencing.js';
import type { NodeGuard } from './node-guard.js';
import { describeNodes, type NodeResult, validUntil } from './quorum.js';
import { ownerValue } from './owner-value.js';
import { permitQuorum } from './permit-quorum.js';
import { rejection } from './rejection.js';
import { holding, settle } from './round-settlement.js';
import type { Rollbacks } from './rollback.js';
import type { HandOffChain } from './hand-off.js';

/** Validated resource names and their keys (`keyPrefix + resource`), in call order. */
export interface Target {
  readonly resources: readonly string[];
  readonly keys: readonly string[];
}

/** A quorum granted the keys: what the lease is made of. */
export interface Grant {
  readonly value: string;
  readonly fencingToken: number | undefined;
  /** Monotonic time at which the validity runs out. */
  readonly deadline: number;
  readonly start: number;
  /** Set when the keys came by an in-process hand-off (see `HandOffs`): where in its chain. */
  readonly handOff?: HandOffChain;
}

/** Why an attempt did not get the keys. */
export interface Failure {
  /**
   * Held by another owner: refused by enough of the nodes that answered (a quorum answered, or a
   * majority did and their refusals alone rule out a grant).
   */
  readonly busy: boolean;
  /** Fewer than a quorum of nodes answered, and not busy. */
  readonly unanswered: boolean;
  /**
   * Fewer than a majority answered: the outage degraded mode covers (a permit short of only its
   * extra nodes is not one).
   */
  readonly outage: boolean;
  readonly nodes: readonly NodeOutcome[];
  /** Shortest remaining ttl a busy node reported, for the next sleep. */
  readonly holderTtl: number | undefined;
  readonly reason: string;
  /** We took some nodes but not a quorum: a split vote with other contenders. */
  readonly split: boolean;
  /** A fencing counter the engine must not hand out (past 2^53 - 1): retrying cannot help. */
  readonly fatal?: string;
}

/** The engine parts one round needs. */
export interface RoundContext {
  readonly adapters: readonly LockAdapter[];
  readonly quorum: number;
  readonly clock: Clock;
  readonly nodes: NodeGuard;
  readonly rollbacks: Rollbacks;
  /** Names this engine in owner values (holder information); absent: plain random values. */
  readonly instanceTag?: string;
}

/** A node's answer, with its fencing token once parsed. */
export type Reply = AcquireReply & { readonly token?: number };

/**
 * One Redlock round: the same acquisition sent to every node at once, decided as soon as a
 * quorum has answered one way, with the validity `ttl - elapsed - (ttl * driftFactor + 2)`
 * checked after every step (fence write-back included). A failed round takes back what it took
 * before it returns (see {@link Rollbacks}).
 *
 * With `pilot`, on several nodes, the round asks one node first, the same one for every
 * contender of these keys, and the others only once that node granted. Waiters of several
 * processes woken by the same release otherwise race on every node at once and split the
 * votes (each takes some nodes, none a quorum, all take them back): measured on 5 nodes with
 * 4 processes, 3.5–4.3 attempts per acquisition. The pilot node settles the race in one
 * round trip, for one more round trip for the winner. Safety is the same (a quorum of
 * grants within the validity, measured from before the first request); a pilot that fails
 * or does not answer is asked along with the others as in a plain round. The engine uses it
 * only after a release notification or a split, once the waiter has seen a race, never on a
 * first attempt or a timer-driven retry, and makes a plain round at least once per retry
 * delay: a stale key left on the pilot node alone then delays acquisitions by at most one
 * retry delay, not its ttl. A waiter that lost two races after wake-ups makes plain rounds,
 * a round trip ahead of the pilot rounds, so losing is not left to chance again and again.
 */
export function acquireRound(
  ctx: RoundContext,
  target: Target,
  opts: ResolvedLockOptions,
  timeout: number,
  pilot = false,
  start = ctx.clock.now(),
): Promise<Grant | Failure> {
  // Not async: a plain round (nearly every round) is one fan-out and one continuation that
  // decides it; only a round that must also write fences back, take back what it took, or
  // ask the pilot node first goes on in an async frame (about 1 KB and two promises fewer).
  try {
    const { adapters, clock } = ctx;
    const { keys } = target;
    const { ttl } = opts;
    // Readers and a semaphore's permits live in the nodes' shared structure; only the permits
    // raise the fencing counter there (each grant raises it, like a writer's; holders at the
    // same time may share a value on several nodes).
    const counted = opts.permits > 1;
    // A permit needs more nodes than a lock (see permitQuorum); the round's steps read it here.
    const quorum = counted ? permitQuorum(adapters.length, opts.permits, ctx.quorum) : ctx.quorum;
    if (quorum !== ctx.quorum) ctx = withQuorum(ctx, quorum);
    const read = opts.mode === 'read' || counted;
    const exclusive = !read || counted;
    const fence = opts.fencing
      ? counted
        ? { fence: true, permits: opts.permits }
        : FENCE
      : undefined;
    const shareOptions = counted ? (fence ?? { permits: opts.permits }) : fence;
    const round: Round = {
      target,
      opts,
      timeout,
      start,
      value: ownerValue(ctx.instanceTag, clock),
      fenced: fence !== undefined,
      read,
      exclusive,
      fatal: undefined,
    };
    const { value } = round;
    // Unfenced, the adapter's own promise: no closure here, one promise and one turn fewer per node.
    const withToken = fence
      ? (reply: Reply): Reply => {
          if (!reply.acquired) return reply;
          try {
            return { acquired: true, token: parseFence(reply.fence, exclusive ? 1 : 0) };
          } catch (error) {
            // The node holds the keys but its token is unusable: undo it like an error.
            if (error instanceof FenceError && /2\^53/.test(error.message)) {
              round.fatal = error.message;
            }
            throw error;
          }
        }
      : undefined;
    const call = (adapter: LockAdapter): Promise<Reply> => {
      const reply = read
        ? adapter.shared!.acquire(keys, value, ttl, shareOptions)
        : adapter.acquire(keys, value, ttl, fence);
      return withToken ? reply.then(withToken) : reply;
    };
    if (pilot && adapters.length > 1) {
      return piloted(ctx, round, call, pilotOf(keys, adapters.length));
    }
    return ctx.nodes
      .ask<Reply>(adapters, call, timeout, decidedAt(quorum, 0), start)
      .then((results) => conclude(ctx, round, results));
  } catch (error) {
    return rejection(error);
  }
}

/** `ctx` deciding by `quorum` nodes instead of its own (a semaphore's round). */
function withQuorum(ctx: RoundContext, quorum: number): RoundContext {
  const { adapters, clock, nodes, rollbacks, instanceTag } = ctx;
  return { adapters, quorum, clock, nodes, rollbacks, instanceTag };
}

/** What one round sends and how it is decided: shared by its steps. */
export interface Round {
  readonly target: Target;
  readonly opts: ResolvedLockOptions;
  readonly timeout: number;
  /** Monotonic time the round started: its validity is measured from here. */
  readonly start: number;
  readonly value: string;
  readonly fenced: boolean;
  readonly read: boolean;
  readonly exclusive: boolean;
  /** Set by a node's reply: a fencing counter the engine must not hand out. */
  fatal: string | undefined;
}

/** A pilot round (see {@link acquireRound}): the pilot node first, the others once it granted. */
async function piloted(
  ctx: RoundContext,
  round: Round,
  call: (adapter: LockAdapter) => Promise<Reply>,
  pilotIndex: number,
): Promise<Grant | Failure> {
  const { adapters, quorum } = ctx;
  const [first] = await ctx.nodes.ask<Reply>([adapters[pilotIndex]!], call, round.timeout);
  if (first!.status === 'ok' && !first!.value.acquired) {
    // Held (or being taken) by another contender: nothing was taken, nothing to undo.
    const results = adapters.map((_, index) => (index === pilotIndex ? first! : NOT_ASKED));
    return {
      busy: true,
      unanswered: false,
      outage: false,
      nodes: describeNodes(adapters, results, () => 'taken'),
      holderTtl: first!.value.ttl >= 0 ? first!.value.ttl : undefined,
      reason: `the first node asked refused the lock, ${quorum} of ${adapters.length} needed`,
      split: false,
    };
  }
  const others = adapters.filter((_, index) => index !== pilotIndex);
  const granted = first!.status === 'ok' ? 1 : 0;
  const rest = await ctx.nodes.ask<Reply>(others, call, round.timeout, decidedAt(quorum, granted));
  return conclude(ctx, round, [...rest.slice(0, pilotIndex), first!, ...rest.slice(pilotIndex)]);
}

/**
 * The round's verdict from the nodes' answers: the grant, at once when no fence needs writing
 * back; otherwise, or for a failure, once the fences are written or what was taken is undone.
 */
function conclude(
  ctx: RoundContext,
  round: Round,
  results: readonly NodeResult<Reply>[],
): Grant | Failure | Promise<Grant | Failure> {
  const { quorum, clock } = ctx;
  const { ttl } = round.opts;
  let acquired = 0;
  let token = 0;
  for (const result of results) {
    if (result.status === 'ok' && result.value.acquired) {
      acquired += 1;
      token = Math.max(token, result.value.token ?? 0);
    }
  }
  // Whole milliseconds, rounded down (never late), so that a held lease stores a small integer.
  const deadline = validUntil(round.start, ttl, round.opts.driftFactor);
  if (
    acquired >= quorum &&
    (!(round.fenced && round.exclusive) || holding(results, token) >= quorum) &&
    deadline > clock.now()
  ) {
    return {
      value: round.value,
      fencingToken: round.fenced ? token : undefined,
      deadline,
      start: round.start,
    };
  }
  return settle(ctx, round, results, acquired, token, deadline);
}

const FENCE = Object.freeze({ fence: true });

type Decided = (partial: readonly NodeResult<Reply>[], pending: number) => boolean;
/** By quorum, then by grants decided before the fan-out: made once, not per round. */
const DECIDED: Decided[][] = [];

/**
 * Whether a round's answers so far decide it: a quorum granted, or success is out of reach and
 * busy can already be told from unavailable. `before`: grants decided before this fan-out (the
 * pilot's answer), toward the quorum.
 */
function decidedAt(quorum: number, before: number): Decided {
  const byBefore = (DECIDED[quorum] ??= []);
  return (byBefore[before] ??= (partial, pending) => {
    let acquired = before;
    let busy = 0;
    for (const result of partial) {
      if (result.status === 'ok') {
        if (result.value.acquired) acquired += 1;
        else busy += 1;
      }
    }
    if (acquired >= quorum) return true;
    return acquired + pending < quorum && acquired + busy >= quorum;
  });
}
const NOT_ASKED: NodeResult<never> = { status: 'pending' };

/**
 * The node every contender of `keys` asks first in a pilot round: a hash of the first key, so
 * that contenders agree without talking, and locks on different keys spread over the nodes.
 */
export function pilotOf(keys: readonly string[], nodes: number): number {
  const key = keys[0] ?? '';
  let hash = 0;
  for (let i = 0; i < key.length; i += 1) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0;
  return (hash >>> 0) % nodes;
}
