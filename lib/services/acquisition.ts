import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockEvent } from '../interfaces/redlock-events.interface.js';
import type { RedlockError } from '../redlock.errors.js';
import { sleep } from './clock.js';
import type { Lease } from './lease.js';
import { nodeTimeoutOf } from './lock-options.js';
import {
  acquireRound,
  type Failure,
  type Grant,
  type RoundContext,
  type Target,
} from './quorum-round.js';
import { lineOf, type ReleaseWaiter, type WaitingLines } from './release-waiter.js';
import { mustQueue, noteBusy } from './line-holders.js';
import { handOffRequest } from './hand-off.js';
import { confirmedHanded, giveBack } from './handed-grants.js';
import { granted } from './granted-lease.js';
import { rejection } from './rejection.js';
import { failureError } from './acquisition-failure.js';
import { retryDelayOf } from './retry-policies.js';
import { roundTrip, shuffle, sleepFor } from './wait-pacing.js';

/** The engine parts the wait loop needs. */
export interface AcquisitionContext extends RoundContext {
  readonly lines: WaitingLines;
  /** The locks this engine holds (to tell its own holders from other processes'). */
  readonly held: Iterable<Lease>;
  /** Waits (bounded) for nodes still making their first connection. */
  /** Undefined once the nodes have had their first chance to connect. */
  ready(timeout: number): Promise<void> | undefined;
  /** Turns a grant into a registered lease. */
  grant(
    target: Target,
    opts: ResolvedLockOptions,
    grant: Grant,
    autoExtend: boolean,
    parents?: readonly Lease[],
  ): Lease;
  /** Throws when the engine no longer takes new locks (shutting down). */
  assertOpen(resources: readonly string[]): void;
  /** Reports an event; `lease` identifies the lock for diagnostics_channel subscribers. */
  emit(event: RedlockEvent, lease?: Lease): void;
}

/**
 * Consecutive rounds in which no quorum answered before an acquisition gives up as unavailable:
 * with nodes down, callers learn it within about two node timeouts instead of after `wait`.
 */
const UNANSWERED_ROUNDS = 2;

/** Races lost after release notifications past which a waiter skips the pilot round. */
const SENIOR_AFTER = 2;

/**
 * Acquires `target`, waiting per the retry policy while it is busy: the wait loop.
 *
 * A waiter sleeps until a release notification, the holder's reported expiry, or its retry
 * delay, whichever comes first, so it never waits for a lock nobody holds longer than one
 * retry delay. Callers of this process wait in line (see {@link WaitingLines}). There is always
 * one last attempt at the `wait` deadline. Resolves to the lease or to the error to throw.
 *
 * Not async: most acquisitions are one plain round on nodes already connected, with nobody of
 * this process in line, and that round is sent from here and granted in one continuation.
 * Only an acquisition that must wait (for the nodes' first connection, behind its line, or
 * for the lock) enters the loop, which picks up after that first round exactly as if it had
 * made it itself. An async frame for every acquisition cost about 1 KB and two promises.
 */
export function obtain(
  ctx: AcquisitionContext,
  target: Target,
  opts: ResolvedLockOptions,
  autoExtend: boolean,
  parents?: readonly Lease[],
): Promise<Lease | RedlockError> {
  try {
    ctx.assertOpen(target.resources);
    opts.signal?.throwIfAborted();
    const started = ctx.clock.now();
    const timeout = nodeTimeoutOf(opts);
    const connecting = ctx.ready(timeout);
    if (connecting || (opts.mode === 'write' && opts.wait > 0 && mustQueue(ctx, target.keys))) {
      return waitFor(ctx, target, opts, autoExtend, parents, started, connecting);
    }
    return acquireRound(ctx, target, opts, timeout, false, started).then((outcome) =>
      'value' in outcome
        ? granted(ctx, target, opts, outcome, autoExtend, parents, 1, started)
        : waitFor(ctx, target, opts, autoExtend, parents, started, undefined, outcome),
    );
  } catch (error) {
    return rejection(error);
  }
}

/**
 * The wait loop of {@link obtain}: after `first`, the failed first round `obtain` made itself,
 * or from the start when the nodes are still connecting (`connecting`) or others of this
 * process are in line.
 */
async function waitFor(
  ctx: AcquisitionContext,
  target: Target,
  opts: ResolvedLockOptions,
  autoExtend: boolean,
  parents: readonly Lease[] | undefined,
  started: number,
  connecting: Promise<void> | undefined,
  first?: Failure,
): Promise<Lease | RedlockError> {
  const { signal } = opts;
  const { clock } = ctx;
  const waitUntil = started + opts.wait;
  const timeout = nodeTimeoutOf(opts);
  if (connecting) await connecting;
  // Writers line up; readers do not (they can all go in together once the writer is done).
  const lined = opts.mode === 'write';
  const queueId = lineOf(target.keys);
  const request = handOffRequest(opts, timeout, parents);
  const quiet = lined && opts.permits === 1 && opts.retryCount === Infinity;
  let waiter: ReleaseWaiter | undefined;
  let attempts = 0;
  let unanswered = 0;
  let failure: Failure | undefined;
  let acquired = false;
  // Whether the next attempt asks the pilot node first (see acquireRound): after a release
  // notification or a split vote, when contenders of other processes race for the keys.
  // - Only once a race was seen (a split, or a round right after a wake-up that found the keys
  //   taken again): with no other contender, as for a line inside one process, a plain round
  //   is one round trip shorter.
  // - Never more than a retry delay after the last plain round: a stale key on the pilot node
  //   alone refuses every pilot round, and notifications (other contenders' take-backs) can
  //   come faster than the retry timer; without this bound they could keep a waiter out of a
  //   lock nobody holds.
  // - Not for a waiter that lost SENIOR_AFTER races after wake-ups (unless it just split): it
  //   asks every node at once, a round trip ahead of the pilot rounds of those woken with it,
  //   so a waiter that keeps losing the race wins the next one instead of waiting on luck.
  let pilot = false;
  let raced = false;
  let afterWake = false;
  let lost = 0;
  let lastPlainRound = started;
  const pilotAfter = (woken: boolean, delay: number, split = false): boolean => {
    afterWake = woken;
    if (!split && lost >= SENIOR_AFTER) return false;
    return woken && raced && clock.now() - lastPlainRound < delay;
  };
  try {
    if (!first && lined && opts.wait > 0 && mustQueue(ctx, target.keys)) {
      // Others of this process wait already: queue behind them instead of overtaking.
      waiter = await ctx.lines.join(
        queueId,
        target.keys,
        Math.min(timeout, opts.wait),
        lined,
        request,
      );
    }
    for (;;) {
      // Behind another waiter of this process: no attempt until it is our turn (or the wait
      // ends). The timer re-checks, so a head that took the lock and let it expire costs us at
      // most one retry delay; a head that gave up or releases wakes us at once.
      while (waiter && lined && !waiter.isHead()) {
        const left = waitUntil - clock.now();
        if (left <= 0) break;
        waiter.reset();
        const delay = retryDelayOf(Math.max(1, attempts), opts);
        await waiter.wait(Math.min(left, delay), signal);
        pilot = pilotAfter(waiter.woken, delay);
      }
      if (waiter?.handed) {
        // The holder of this process released the lock straight to us (see HandOffs). The
        // transfer was the round that took the keys for us: one attempt.
        signal?.throwIfAborted();
        // Nothing awaited in the usual case (still valid): the hot key's fast path.
        const handed =
          waiter.handed.deadline > clock.now()
            ? waiter.handed
            : await confirmedHanded(ctx, target.keys, waiter.handed, opts.ttl, timeout);
        waiter.handed = undefined;
        if (!handed) continue;
        const lease = granted(
          ctx,
          target,
          opts,
          handed,
          autoExtend,
          parents,
          attempts + 1,
          started,
        );
        if (lease instanceof Promise) return await lease;
        acquired = true;
        ctx.lines.holding(queueId, lease);
        return lease;
      }
      const local = waiter && quiet && !first ? ctx.lines.holder(queueId) : undefined;
      const yielding = waiter && lined && !first ? ctx.lines.heldBack(queueId) : 0;
      if ((local || yielding > 0) && waitUntil - clock.now() > 0) {
        // This process holds the keys: a round could only answer busy. Sleep until the holder
        // hands them over, its release is announced, or it expires. (Not for a caller with a
        // retryCount: it counts rounds on the nodes, and gives up after them.) Or a chain of
        // hand-offs here just ended: give waiters of other processes their turn first.
        waiter!.reset();
        const delay = retryDelayOf(Math.max(1, attempts), opts);
        const until = local
          ? Math.min(waitUntil, local.deadline + 1) - clock.now()
          : Math.min(waitUntil - clock.now(), yielding);
        await waiter!.wait(Math.max(1, Math.min(until, delay)), signal);
        continue;
      }
      let attemptStart: number;
      let outcome: Grant | Failure;
      // Whether the round is made from this loop, in line: only those tell who holds the keys
      // (see noteBusy).
      const inLine = first === undefined;
      if (first) {
        // obtain's own first round: a plain one, made at `started`.
        attemptStart = started;
        outcome = first;
        first = undefined;
      } else {
        ctx.assertOpen(target.resources);
        attemptStart = clock.now();
        waiter?.reset();
        outcome = await acquireRound(ctx, target, opts, timeout, pilot, attemptStart);
      }
      attempts += 1;
      if (!pilot) lastPlainRound = attemptStart;
      pilot = false;
      // Handed over while the round was in flight: the round could only find the keys held
      // (by the releasing holder, then the transfer), so take the hand-off. A round that got
      // the keys after all (a node had lost them) is kept; `finally` gives the grant back.
      if (waiter?.handed && !('value' in outcome)) continue;
      if (!('value' in outcome)) {
        if (lined && inLine && outcome.busy) noteBusy(ctx, queueId);
        const lostRace = afterWake && outcome.busy;
        if (outcome.split || lostRace) raced = true;
        if (lostRace) lost += 1;
      }
      afterWake = false;
      if ('value' in outcome) {
        const lease = granted(ctx, target, opts, outcome, autoExtend, parents, attempts, started);
        // A promise only for a caller that gave up meanwhile: it rejects with the abort reason.
        if (lease instanceof Promise) return await lease;
        acquired = true;
        if (lined && opts.permits === 1) ctx.lines.holding(queueId, lease);
        return lease;
      }
      failure = outcome;
      if (failure.fatal) break;
      unanswered = failure.unanswered ? unanswered + 1 : 0;
      if (unanswered >= UNANSWERED_ROUNDS && !opts.waitForNodes) break;
      const remaining = waitUntil - clock.now();
      if (attempts >= opts.retryCount || remaining <= 0 || attemptStart >= waitUntil) break;
      if (!waiter) {
        // Subscribe only once contended, then retry at once: a release that happened while
        // subscribing would otherwise go unnoticed until the timer.
        waiter = await ctx.lines.join(
          queueId,
          target.keys,
          Math.min(timeout, remaining),
          lined,
          request,
        );
        signal?.throwIfAborted();
        pilot = pilotAfter(outcome.split, retryDelayOf(attempts, opts), outcome.split);
        continue;
      }
      if (outcome.split) {
        // Split vote: every contender took some nodes and all are now taking them back. The
        // releases would wake them all at once into the same split again; the pilot node
        // settles the next race, after a short random pause that lets the take-backs land.
        await sleep(clock, Math.random() * Math.min(remaining, roundTrip(timeout)), signal);
        pilot = pilotAfter(true, retryDelayOf(attempts, opts), true);
        continue;
      }
      const delay = retryDelayOf(attempts, opts);
      await waiter.wait(sleepFor(delay, opts, outcome, remaining), signal);
      pilot = pilotAfter(waiter.woken, delay);
      if (waiter.woken && !waiter.handed) await shuffle();
    }
  } finally {
    if (waiter) {
      ctx.lines.leave(queueId, waiter, acquired);
      // Handed over but not taken (this caller gave up, or got the keys by its own round).
      if (waiter.handed) giveBack(ctx, target.keys, waiter.handed, opts.ttl, timeout);
    }
  }
  // Every way out of the loop above went through at least one failed round.
  const failed = failure;
  const error = failureError(target, failed, opts);
  ctx.emit({
    type: 'failed',
    resources: target.resources,
    attempts,
    waited: clock.now() - started,
    error,
    nodes: failed.nodes,
  });
  return error;
}
