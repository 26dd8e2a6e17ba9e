import type { Lease } from './lease.js';
import { lineOf, type WaitingLines } from './release-waiter.js';

/*
 * Who holds the keys a writer of this process waits for: a lock of this process (then its
 * waiters sleep until it hands over or releases) or another process (then the line is
 * contested, and a chain of hand-offs here lets that process go first at its end).
 */

/** What of the engine the judgement needs. */
export interface LineView {
  readonly lines: WaitingLines;
  /** The locks this engine holds. */
  readonly held: Iterable<Lease>;
}

/**
 * Whether a writer must queue at once, without a first round: others of this process wait for
 * the keys, this process holds them (the round could only answer busy), or a chain of
 * hand-offs here just ended and waiters of other processes go first.
 */
export function mustQueue(ctx: LineView, keys: readonly string[]): boolean {
  const id = lineOf(keys);
  return (
    ctx.lines.length(id) > 0 || ctx.lines.holder(id) !== undefined || ctx.lines.heldBack(id) > 0
  );
}

/** Held leases looked through for the holder of busy keys before assuming another process. */
const OWN_HOLDER_SCAN = 64;

/**
 * A writer's round, made in line, found the keys of line `id` held. By a lock of this engine taken
 * without waiting (so not yet known as the line's holder): it becomes the holder, and its
 * waiters sleep until it hands over or releases. Otherwise by another process or engine: the
 * line is contested (see {@link WaitingLines.contest}). With more held locks than the scan
 * looks through, contested, the safe side for waiters elsewhere.
 *
 * Judged on the next turn of the event loop when no lock of this engine holds the keys yet:
 * callers of this process that made rounds together (at start-up, or before any of them was in
 * line) see the keys taken by one of them whose grant has not yet become a lease. Not for the
 * first round `obtain` makes on its own, for the same reason.
 */
export function noteBusy(ctx: LineView, id: string): void {
  if (ctx.lines.holder(id) !== undefined || ownHolder(ctx, id)) return;
  setImmediate(() => {
    if (ctx.lines.holder(id) === undefined && !ownHolder(ctx, id)) ctx.lines.contest(id);
  });
}

/**
 * Whether a lock of this engine holds the keys of line `id`; a plain exclusive one becomes the
 * line's holder. A reader or a semaphore's permit of this process is neither a holder to wait
 * behind quietly nor a sign of another process.
 */
function ownHolder(ctx: LineView, id: string): boolean {
  let scanned = 0;
  for (const lease of ctx.held) {
    if (++scanned > OWN_HOLDER_SCAN) return false;
    if (lease.keyless || lineOf(lease.keys) !== id || !lease.isHeld()) continue;
    if (lease.mode === 'write' && lease.permits === 1) ctx.lines.holding(id, lease);
    return true;
  }
  return false;
}
