import { randomFillSync } from 'node:crypto';
import type { AcquireReply, LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { NodeOutcome } from '../redlock.errors.js';
import type { Clock } from './clock.js';
import { FenceError, parseFence } from './fencing.js';
import type { NodeGuard } from './node-guard.js';
import { describeNodes, type NodeResult } from './quorum.js';
import type { Rollbacks } from './rollback.js';

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
}

/** Why an attempt did not get the keys. */
export interface Failure {
  /** Held by another owner on a quorum of the nodes that answered. */
  readonly busy: boolean;
  /** Fewer than a quorum of nodes answered at all: the only case degraded mode covers. */
  readonly unanswered: boolean;
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

type Reply = AcquireReply & { readonly token?: number };

/**
 * One Redlock round: the same acquisition sent to every node at once, decided as soon as a
 * quorum has answered one way, with the validity `ttl - elapsed - (ttl * driftFactor + 2)`
 * checked after every step (fence write-back included). A failed round takes back what it took
 * before it returns (see {@link Rollbacks}).
 */
export async function acquireRound(
  ctx: RoundContext,
  target: Target,
  opts: ResolvedLockOptions,
  timeout: number,
): Promise<Grant | Failure> {
  const { adapters, quorum, clock } = ctx;
  const { keys } = target;
  const { ttl } = opts;
  // Readers and a semaphore's permits live in the nodes' shared structure; only the permits
  // raise the fencing counter there (each grant gets its own token, like a writer's).
  const counted = opts.permits > 1;
  const read = opts.mode === 'read' || counted;
  const exclusive = !read || counted;
  const fence = opts.fencing
    ? counted
      ? { fence: true, permits: opts.permits }
      : FENCE
    : undefined;
  const shareOptions = counted ? (fence ?? { permits: opts.permits }) : fence;
  const value = ownerValue(ctx.instanceTag, clock);
  const start = clock.now();
  let fatal: string | undefined;
  const results = await ctx.nodes.ask<Reply>(
    adapters,
    (adapter) =>
      (read
        ? adapter.shared!.acquire(keys, value, ttl, shareOptions)
        : adapter.acquire(keys, value, ttl, fence)
      ).then((reply) => {
        if (!fence || !reply.acquired) return reply;
        try {
          return { acquired: true, token: parseFence(reply.fence, exclusive ? 1 : 0) };
        } catch (error) {
          // The node holds the keys but its token is unusable: undo it like an error.
          if (error instanceof FenceError && /2\^53/.test(error.message)) fatal = error.message;
          throw error;
        }
      }),
    timeout,
    (partial, pending) => {
      let acquired = 0;
      let busy = 0;
      for (const result of partial) {
        if (result.status === 'ok') {
          if (result.value.acquired) acquired += 1;
          else busy += 1;
        }
      }
      if (acquired >= quorum) return true;
      // Success is out of reach and we can already tell busy from unavailable.
      return acquired + pending < quorum && acquired + busy >= quorum;
    },
  );

  let acquired = 0;
  let answered = 0;
  let holderTtl: number | undefined;
  let token = 0;
  const granted: LockAdapter[] = [];
  const unsure: LockAdapter[] = [];
  results.forEach((result, index) => {
    const adapter = adapters[index]!;
    if (result.status !== 'ok') {
      unsure.push(adapter);
      return;
    }
    answered += 1;
    if (result.value.acquired) {
      acquired += 1;
      granted.push(adapter);
      token = Math.max(token, result.value.token ?? 0);
    } else if (result.value.ttl >= 0) {
      holderTtl = Math.min(holderTtl ?? Infinity, result.value.ttl);
    }
  });
  const deadline = start + ttl - (Math.floor(ttl * opts.driftFactor) + 2);
  let reason = `${acquired} of ${adapters.length} nodes granted the lock, ${quorum} needed`;

  if (acquired >= quorum) {
    let fenced = true;
    if (fence && exclusive) {
      fenced = await syncFences(ctx, results, granted, keys, value, token, timeout);
      if (!fenced) reason = 'the fencing counters could not be brought in line on a quorum';
    }
    if (fenced && deadline > clock.now()) {
      return { value, fencingToken: fence ? token : undefined, deadline, start };
    }
    if (fenced) reason = `the validity ran out while acquiring (ttl ${ttl} ms is too short)`;
  }

  // Late nodes get twice as long as the round took (at least 10 ms) before we move on.
  const grace = Math.min(timeout, Math.max(10, 2 * (clock.now() - start)));
  await ctx.rollbacks.undo(
    granted,
    unsure,
    { keys, value, read, permits: counted ? opts.permits : undefined, timeout, until: start + ttl },
    grace,
  );
  return {
    busy: answered >= quorum && acquired < quorum,
    unanswered: answered < quorum,
    nodes: describeNodes(adapters, results, (reply) => (reply.acquired ? 'acquired' : 'taken')),
    holderTtl,
    reason: fatal ?? reason,
    split: acquired > 0 && adapters.length > 1,
    fatal,
  };
}

const FENCE = Object.freeze({ fence: true });

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
  granted: readonly LockAdapter[],
  keys: readonly string[],
  value: string,
  token: number,
  timeout: number,
): Promise<boolean> {
  const behind = granted.filter((adapter) => {
    const result = results[ctx.adapters.indexOf(adapter)]!;
    return result.status === 'ok' && result.value.acquired && result.value.token !== token;
  });
  const agreeing = granted.length - behind.length;
  if (agreeing >= ctx.quorum) return true;
  const quorum = ctx.quorum - agreeing;
  const synced = await ctx.nodes.ask(
    behind,
    (adapter) => adapter.syncFence(keys, value, String(token)),
    timeout,
    (partial) => countOk(partial) >= quorum,
  );
  return countOk(synced) >= quorum;
}

/** How many nodes answered `ok`. */
export function countOk(results: readonly NodeResult<unknown>[]): number {
  let ok = 0;
  for (const result of results) if (result.status === 'ok' && result.value === 'ok') ok += 1;
  return ok;
}

// Owner values come from a pooled buffer of crypto-random bytes: one syscall per 256 locks.
const POOL = Buffer.alloc(16 * 256);
let poolOffset = POOL.length;

/**
 * A new owner value for every acquisition attempt: 128 random bits from `node:crypto` as 22
 * base64url characters, then, when the engine has an instance tag, `.<tag>.<wall ms, base 36>`
 * (`Xq3…22 chars.k9Df0aZ1.mhx2k1qz`). The suffix is holder information that `inspect()` reads
 * back from the value itself, so naming the holder costs no command per lock (the tag points to
 * the instance record, see `instance-record.ts`). At most 44 bytes, so Redis still stores it as
 * an embstr like a 32-hex value. Only the random part is secret; the suffix is public.
 */
export function ownerValue(tag?: string, clock?: Pick<Clock, 'wallNow'>): string {
  if (poolOffset >= POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const token = POOL.toString('base64url', poolOffset, poolOffset + 16);
  poolOffset += 16;
  if (tag === undefined) return token;
  const wall = clock ? clock.wallNow() : Date.now();
  // Number#toString(36) costs more than the rest together, and under load many locks of one
  // engine share a millisecond: the suffix is made once per engine tag and ms.
  if (wall !== suffixWall || tag !== suffixTag) {
    suffixWall = wall;
    suffixTag = tag;
    suffix = `.${tag}.${wall.toString(36)}`;
  }
  return token + suffix;
}

let suffixWall = NaN;
let suffixTag = '';
let suffix = '';
