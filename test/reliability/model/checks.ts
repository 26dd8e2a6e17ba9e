/**
 * The checks that judge an operation's record as it settles, and the scopes once everything
 * settled: errors are the library's typed errors (and "unavailable" only when no quorum could
 * answer), fencing tokens as asked for, bounded waits, liveness records for the witness and the
 * permit book, scopes that outlive neither their tasks nor wait for themselves, and a lost
 * lock's signal that aborts by the end of its validity.
 */
import {
  LockLostError,
  LockNotAcquiredError,
  RedlockError,
  RedlockUnavailableError,
} from '../../../lib/redlock.errors.js';
import type { Lock } from '../../../lib/services/lock.js';
import type { RunContext } from './context.js';
import { describeError, isAbort, tokenOf } from './helpers.js';
import { descendants, describe, type OpRecord } from './op-record.js';
import { quorumOf } from './permits.js';

/** How late past its validity a lost lock's signal may abort: timer and rounding noise. */
const LOSS_NOTICE_MS = 10;

/** The error's kind; anything but the library's typed errors is a violation. */
export function classify(
  ctx: RunContext,
  record: OpRecord,
  error: unknown,
  expect: { upgrade?: boolean; abort?: boolean },
): string {
  if (isAbort(error)) {
    if (expect.abort || record.kind !== 'abort') return 'AbortError';
  }
  if (error instanceof RedlockUnavailableError) {
    // Unavailable means no quorum of nodes answered; a quorum that answered "held by another
    // owner" makes the resource busy, whatever the faults (and must not trigger degraded
    // mode). Without a fault, nodes too slow to answer mean an overloaded machine: counted.
    // A permit's quorum is larger (README): it is busy too when a majority answered and their
    // refusals alone rule out a grant, whatever the silent nodes would say.
    const n = error.nodes.length;
    const taken = error.nodes.filter((node) => node.outcome === 'taken').length;
    const answered = error.nodes.filter((node) =>
      ['acquired', 'taken', 'expired'].includes(node.outcome),
    ).length;
    const quorum = quorumOf(n, record.permits);
    if (n > 0 && (taken >= quorum || (answered >= Math.floor(n / 2) + 1 && taken > n - quorum))) {
      ctx.fail(
        'unavailable-although-busy',
        `${describe(record)}: ${error.message} [${error.nodes.map((n) => n.outcome).join(', ')}]`,
      );
    }
    const to = record.settledAt ?? ctx.now();
    if (!ctx.inFaultWindow(record.calledAt, to)) ctx.stats.unavailableWithoutFault += 1;
    return error.name;
  }
  if (error instanceof LockNotAcquiredError || error instanceof LockLostError) return error.name;
  if (error instanceof RedlockError) {
    if (expect.upgrade || error.constructor !== RedlockError) return error.name;
    ctx.fail('unexpected-error', `${describe(record)}: ${describeError(error)}`);
    return error.name;
  }
  ctx.fail('unexpected-error', `${describe(record)}: ${describeError(error)}`);
  return 'unexpected';
}

export function checkToken(ctx: RunContext, record: OpRecord, lock: Lock, fencing: boolean): void {
  const token = tokenOf(lock);
  // A scope that reuses (part of) a lock up the chain carries that lock's token.
  if (record.parent !== undefined) return;
  if (fencing && token === undefined) {
    ctx.fail('fencing', `${describe(record)}: taken with { fencing: true } but has no token`);
  }
  if (!fencing && token !== undefined) {
    ctx.fail('fencing', `${describe(record)}: taken without fencing but has token ${token}`);
  }
}

export function bound(
  ctx: RunContext,
  record: OpRecord,
  what: string,
  took: number,
  limit: number,
): void {
  if (what === 'acquire') ctx.stats.maxAcquireMs = Math.max(ctx.stats.maxAcquireMs, took);
  // The longest the event loop was held up so far (other work on a loaded machine).
  const lag = ctx.lagMs;
  if (took > limit + lag) {
    ctx.fail(
      'slow-settle',
      `${describe(record)}: ${what} took ${Math.round(took)} ms, bound ${Math.round(limit)} ms (+${Math.round(lag)} ms event-loop lag)`,
    );
  }
}

/** Acquisition latency and, for top-level writers that waited, the liveness record. */
export function checkAcquisition(ctx: RunContext, record: OpRecord): void {
  const { wait, retryDelay, retryJitter } = ctx.plan.lock;
  const end = record.bodyStart ?? record.settledAt!;
  const took = end - record.calledAt;
  const nested = record.parent !== undefined;
  const waitOf = record.kind === 'tryAcquire' ? 0 : wait;
  // ready + subscribe + a round (acquire, fence write-back, rollback) + the last attempt.
  let limit = (nested ? 2 * waitOf : waitOf) + 6 * ctx.nt + ctx.world.slack;
  if (ctx.plan.degraded) limit += waitOf + 6 * ctx.nt;
  if (
    record.kind === 'abort' &&
    record.abortedAt !== undefined &&
    record.outcome === 'AbortError'
  ) {
    bound(ctx, record, 'abort', end - record.abortedAt, 3 * ctx.nt + ctx.world.slack);
  }
  bound(ctx, record, 'acquire', took, limit);
  if (nested || record.mode !== 'write' || waitOf === 0 || ctx.plan.degraded) return;
  const busy = record.outcome === 'LockNotAcquiredError';
  if (record.bodyStart === undefined && !busy) return;
  const to =
    record.kind === 'abort' && record.abortedAt !== undefined
      ? Math.min(end, record.abortedAt)
      : end;
  if (record.permits !== undefined) {
    ctx.book.waited({
      resource: record.res[0]!,
      from: record.calledAt,
      to,
      bound: retryDelay + retryJitter + 4 * ctx.nt + ctx.world.slack,
      label: describe(record),
    });
    return;
  }
  ctx.witness.waited({
    resources: record.res,
    mode: 'write',
    from: record.calledAt,
    to,
    bound: retryDelay + retryJitter + 4 * ctx.nt + ctx.world.slack,
    label: describe(record),
  });
}

/**
 * Scopes, once everything settled: a task started inside a body that joined its lock ends
 * before the scope that owns that lock resolves; a scope resolves promptly once its body and
 * the tasks relying on it are done.
 */
export function checkScopes(ctx: RunContext): void {
  for (const record of ctx.records) {
    // A scope inside a chain that gave up as busy although only its own chain held what it
    // asked for (no sibling took its turn, no stranger held a resource): it waited for itself.
    // (Only for scopes whose every resource its chain holds: one that needs more may meet
    // anything on those, a waiting writer's mark included.)
    if (
      record.parent &&
      record.res.every((r) => record.owners.has(r)) &&
      (record.outcome === 'LockNotAcquiredError' || record.outcome === 'WriteLockHeldError')
    ) {
      const from = record.calledAt;
      const to = record.settledAt ?? Infinity;
      const ancestors = new Set(record.lineage.slice(0, -1));
      const blocker = ctx.records.some((other) => {
        if (other === record || ancestors.has(other.id)) return false;
        // Scopes of the same tree that joined locks up the chain take turns with it (one gate
        // per scope, whatever the resources; a turn lasts until the work it started ends; a
        // task whose parent has ended joins further up): from their call on. Anyone else
        // blocks only while it holds what it took.
        const sibling =
          other.joined &&
          other.lineage[0] === record.lineage[0] &&
          !other.lineage.includes(record.id);
        if (!sibling && !other.res.some((r) => record.res.includes(r))) return false;
        const start = sibling ? other.calledAt : other.bodyStart;
        const end = Math.max(other.settledAt ?? Infinity, other.heldUntil ?? 0);
        return start !== undefined && start < to && end > from;
      });
      if (!blocker) {
        ctx.fail(
          'self-deadlock',
          `${describe(record)} waited ${Math.round(to - from)} ms and gave up as busy, although only its own chain held ${record.res.join('+')}`,
        );
      }
    }
  }
  for (const record of ctx.records) {
    if (record.settledAt === undefined || record.bodyStart === undefined) continue;
    if (record.kind === 'escape') {
      const end = record.bodyEnd ?? Infinity;
      for (const owner of new Set(record.owners.values())) {
        if (owner.settledAt !== undefined && owner.settledAt < end) {
          ctx.fail(
            'escaped-task-outlived-scope',
            `${describe(record)} ran under the lock of ${describe(owner)} until +${Math.round(end)} ms, but that scope resolved at +${Math.round(owner.settledAt)} ms`,
          );
        }
      }
    }
    if (!['using', 'nested', 'sibling', 'escape', 'permit-using'].includes(record.kind)) continue;
    let last = record.bodyEnd ?? record.bodyStart;
    for (const d of descendants(record)) {
      if (d.calledAt < record.settledAt) last = Math.max(last, d.settledAt ?? Infinity);
    }
    if (last === Infinity) continue;
    bound(ctx, record, 'exit', record.settledAt - last, 2 * ctx.nt + ctx.world.slack);
  }
}

/**
 * A lost lock's signal aborts by the end of its validity, whatever its renewal is waiting for:
 * the keys may be gone from the nodes from then on, so a section that hears later can overlap
 * the next holder's. (The witness cannot see this: it asks `isHeld()`, which reads the clock.)
 */
export function checkLossNotice(
  ctx: RunContext,
  engine: number,
  lock: Lock,
  record: OpRecord,
): void {
  const clock = ctx.clocks[engine]!;
  const late = Math.max(0, (clock.wallNow() - lock.expiresAt) / clock.rate);
  ctx.stats.lossNotices += 1;
  ctx.stats.latestLossMs = Math.max(ctx.stats.latestLossMs, Math.round(late));
  const lag = ctx.lagMs;
  // Timers fire a millisecond or two late and the deadline is rounded to whole ms.
  if (late > LOSS_NOTICE_MS + lag) {
    ctx.fail(
      'late-loss',
      `${describe(record)}: its signal aborted ${Math.round(late)} ms after its validity ended (+${Math.round(lag)} ms event-loop lag)`,
    );
  }
}
