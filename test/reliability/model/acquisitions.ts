/**
 * The top-level operations besides scopes: an explicit acquisition held through a body and
 * released, left to expire or released late (the stale-release check), one holder of a burst
 * of permits, and a wait aborted by its signal (granted first, its lock is held and released as
 * an acquisition's, with the same checks).
 */
import { clearTimeout, setTimeout } from 'node:timers';
import type { Lock } from '../../../lib/services/lock.js';
import { bound, checkAcquisition, checkToken, classify } from './checks.js';
import type { RunContext } from './context.js';
import { lostOrReleased, unique } from './helpers.js';
import { describe, openRecord, type OpRecord } from './op-record.js';
import type { AbortOp, AcquireOp, PermitOp, ScopeOp } from './plan.js';
import { scope, work } from './scopes.js';

/** One holder of a burst of permits: a scope, or an acquisition held as `acquireOp` does. */
export function permitOp(
  ctx: RunContext,
  engine: number,
  op: PermitOp,
  copy: number,
): Promise<void> {
  const res = [`s${op.sem % ctx.plan.semaphores.length}`];
  // The copies of a burst draw their own fencing (the first one's, then alternating).
  const fencing = copy % 2 === 0 ? op.fencing : !op.fencing;
  if (op.via === 'using') {
    const scopeOp: ScopeOp = {
      kind: 'using',
      res: [],
      rel: 'same',
      extra: 0,
      mode: 'inherit',
      fencing,
      body: op.body,
    };
    return scope(ctx, engine, scopeOp, res, 'write', undefined, 'permit-using');
  }
  const body = op.body.filter((step) => step.kind === 'work' || step.kind === 'extend');
  const acquire: AcquireOp = { ...op, kind: op.via, res: [], mode: 'write', fencing, body };
  return acquireOp(ctx, engine, acquire, res);
}

export async function acquireOp(
  ctx: RunContext,
  engine: number,
  op: AcquireOp,
  sem?: string[],
): Promise<void> {
  const res = sem ?? unique(op.res.map((r) => ctx.resource(r)));
  const kind = sem ? (`permit-${op.kind}` as const) : op.kind;
  const record = openRecord(ctx, kind, engine, res, op.mode, undefined);
  const redlock = ctx.engines[engine]!;
  const options = {
    mode: op.mode,
    fencing: op.fencing,
    ...(record.permits && { permits: record.permits }),
  };
  let lock: Lock | null;
  try {
    lock =
      op.kind === 'tryAcquire'
        ? await redlock.tryAcquire(res, options)
        : await redlock.acquire(res, options);
  } catch (error) {
    record.outcome = classify(ctx, record, error, {});
    record.settledAt = ctx.now();
    checkAcquisition(ctx, record);
    return;
  }
  if (lock === null) {
    record.outcome = 'busy';
    record.settledAt = ctx.now();
    checkAcquisition(ctx, record);
    return;
  }
  await holdGranted(ctx, engine, record, lock, op);
}

/** How a granted lock is held and ended. */
type Holding = Pick<AcquireOp, 'fencing' | 'body' | 'end' | 'lateBy'>;

/**
 * A granted lock, held as an explicit acquisition holds it: its wait checked, registered as a
 * holder (the witness or the permit book, and `holding` for the stale-release check), its token
 * checked, its body run, then ended by `op.end` (a release is timed against its bound).
 */
async function holdGranted(
  ctx: RunContext,
  engine: number,
  record: OpRecord,
  lock: Lock,
  op: Holding,
): Promise<void> {
  const res = record.res;
  record.bodyStart = ctx.now();
  checkAcquisition(ctx, record);
  const held = ctx.holdOf(record, lock);
  const letGo = ctx.holdOn(res, lock);
  const hold = {
    end: (at = ctx.now()): void => {
      held.end(at);
      letGo();
      record.heldUntil = at;
    },
  };
  checkToken(ctx, record, lock, op.fencing);
  try {
    for (const step of op.body) {
      lock.signal.throwIfAborted();
      if (step.kind === 'work') await work(ctx, engine, lock, record, step.ms);
      else await lock.extend();
    }
  } catch (error) {
    classify(ctx, record, error, {});
  }
  record.bodyEnd = ctx.now();
  if (op.end === 'expire') {
    hold.end(ctx.expiry(engine, lock));
    record.outcome = 'expired';
    record.settledAt = ctx.now();
    return;
  }
  if (op.end === 'late-release') {
    await lostOrReleased(lock);
    const expiredAt = ctx.expiry(engine, lock);
    hold.end(expiredAt);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ctx.timers.delete(timer);
        resolve();
      }, op.lateBy);
      ctx.timers.add(timer);
    });
    await staleRelease(ctx, record, lock, res);
    return;
  }
  const releaseAt = ctx.now();
  held.released(releaseAt);
  try {
    const status = await lock.release();
    record.outcome = `release:${status}`;
    hold.end(status === 'released' ? ctx.now() : Math.max(ctx.now(), ctx.expiry(engine, lock)));
  } catch (error) {
    record.outcome = classify(ctx, record, error, {});
    hold.end(Math.max(ctx.now(), ctx.expiry(engine, lock)));
  }
  record.settledAt = ctx.now();
  bound(ctx, record, 'release', ctx.now() - releaseAt, 2 * ctx.nt + ctx.world.slack);
}

/**
 * A release long after the lock expired: whatever it answers, a holder that is inside the
 * resource and still holds its lock keeps it (no owner check would delete its key).
 */
async function staleRelease(
  ctx: RunContext,
  record: OpRecord,
  lock: Lock,
  res: string[],
): Promise<void> {
  // Holders of these resources whose locks are valid right now.
  const others = res.flatMap((resource) =>
    [...(ctx.holding.get(resource) ?? [])]
      .filter((other) => other !== lock && other.isHeld())
      .map((other) => ({ resource, other })),
  );
  const started = ctx.now();
  try {
    const status = await lock.release();
    record.outcome = `late-release:${status}`;
  } catch (error) {
    record.outcome = classify(ctx, record, error, {});
  }
  record.settledAt = ctx.now();
  bound(ctx, record, 'release', ctx.now() - started, 2 * ctx.nt + ctx.world.slack);
  if (others.length === 0 || ctx.inFaultWindow(started, ctx.now())) return;
  for (const { resource, other } of others) {
    let locked: boolean;
    try {
      locked = await ctx.observer!.isLocked(resource);
    } catch {
      continue;
    }
    // Still held by its owner (registered, valid) after the check: the key must be there.
    if (!locked && ctx.holding.get(resource)?.has(other) && other.isHeld()) {
      ctx.fail(
        'stale-release',
        `${describe(record)}: a release after its lock expired freed ${resource} while another owner (${other.value.slice(0, 8)}) still held it`,
      );
    }
  }
}

/** An aborted wait that was granted first: asked without fencing, no body, released at once. */
const GRANTED_BEFORE_ABORT: Holding = { fencing: false, body: [], end: 'release', lateBy: 0 };

export async function abortOp(ctx: RunContext, engine: number, op: AbortOp): Promise<void> {
  const res = unique(op.res.map((r) => ctx.resource(r)));
  const record = openRecord(ctx, 'abort', engine, res, 'write', undefined);
  const controller = new AbortController();
  const timer = setTimeout(() => {
    ctx.timers.delete(timer);
    record.abortedAt = ctx.now();
    controller.abort();
  }, op.after);
  ctx.timers.add(timer);
  let lock: Lock;
  try {
    lock = await ctx.engines[engine]!.acquire(res, { signal: controller.signal });
  } catch (error) {
    record.settledAt = ctx.now();
    record.outcome = classify(ctx, record, error, { abort: true });
    checkAcquisition(ctx, record);
    return;
  } finally {
    clearTimeout(timer);
    ctx.timers.delete(timer);
  }
  // Granted before the abort: held and released as `acquireOp` does, with its checks.
  ctx.stats.abortLocksChecked += 1;
  await holdGranted(ctx, engine, record, lock, GRANTED_BEFORE_ABORT);
}
