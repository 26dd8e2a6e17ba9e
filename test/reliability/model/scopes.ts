/**
 * A `using` scope at any depth (top-level tasks, nested, sibling and escaping scopes, permit
 * scopes), the steps of its body, and the critical sections that report to the witness or the
 * permit book while they work.
 */
import { LockLostError } from '../../../lib/redlock.errors.js';
import type { Lock } from '../../../lib/services/lock.js';
import type { Mode } from '../../support/witness.js';
import { checkAcquisition, checkLossNotice, checkToken, classify } from './checks.js';
import type { RunContext } from './context.js';
import { abortable, tokenOf, unique } from './helpers.js';
import { describe, type Kind, openRecord, type OpRecord } from './op-record.js';
import type { PermitHold } from './permits.js';
import type { ScopeOp, Step } from './plan.js';

/** `using` at any depth; never rejects (outcomes are recorded). */
export async function scope(
  ctx: RunContext,
  engine: number,
  op: ScopeOp,
  res: string[],
  mode: Mode,
  parent: OpRecord | undefined,
  kind: Kind,
): Promise<void> {
  const record = openRecord(ctx, kind, engine, res, mode, parent);
  // A write on a resource the chain holds for reading: refused at once.
  const upgrade = mode === 'write' && res.some((r) => record.owners.get(r)?.mode === 'read');
  let hold: PermitHold | undefined;
  let letGo: (() => void) | undefined;
  try {
    await ctx.engines[engine]!.using(
      res,
      async (lock) => {
        record.bodyStart = ctx.now();
        hold = ctx.holdOf(record, lock);
        if (!parent) letGo = ctx.holdOn(res, lock);
        checkToken(ctx, record, lock, op.fencing);
        if (upgrade && record.joined) {
          ctx.fail(
            'upgrade-not-refused',
            `${describe(record)}: a write scope inside a read scope of ${res.join('+')} ran instead of failing`,
          );
        }
        try {
          await body(ctx, engine, op.body, lock, record);
        } finally {
          record.bodyEnd = ctx.now();
          hold.released(record.bodyEnd);
        }
      },
      { mode, fencing: op.fencing, ...(record.permits && { permits: record.permits }) },
    );
    record.outcome = 'ok';
  } catch (error) {
    record.outcome = classify(ctx, record, error, { upgrade });
  } finally {
    record.settledAt = ctx.now();
    hold?.end();
    letGo?.();
    checkAcquisition(ctx, record);
  }
}

async function body(
  ctx: RunContext,
  engine: number,
  steps: readonly Step[],
  lock: Lock,
  record: OpRecord,
): Promise<void> {
  for (const step of steps) {
    lock.signal.throwIfAborted();
    switch (step.kind) {
      case 'work':
        await work(ctx, engine, lock, record, step.ms);
        break;
      case 'extend':
        try {
          await lock.extend();
        } catch (error) {
          classify(ctx, record, error, {});
          if (error instanceof LockLostError) throw error;
        }
        break;
      case 'nested': {
        const [res, mode] = childOf(ctx, record, step.op);
        await scope(ctx, engine, step.op, res, mode, record, 'nested');
        break;
      }
      case 'siblings':
        await Promise.all(
          step.ops.map((op) => {
            const [res, mode] = childOf(ctx, record, op);
            return scope(ctx, engine, op, res, mode, record, 'sibling');
          }),
        );
        break;
      case 'escape': {
        const [res, mode] = childOf(ctx, record, step.op);
        const start = (): Promise<void> => scope(ctx, engine, step.op, res, mode, record, 'escape');
        if (step.delay === 0) void ctx.track(start());
        else void ctx.track(ctx.at(step.delay, start));
        break;
      }
    }
  }
}

function childOf(ctx: RunContext, parent: OpRecord, op: ScopeOp): [string[], Mode] {
  const extra = ctx.resource(op.extra);
  const res =
    op.rel === 'same' ? parent.res : op.rel === 'more' ? unique([...parent.res, extra]) : [extra];
  return [res, op.mode === 'inherit' ? parent.mode : op.mode];
}

/** A critical section: reports to the witness while it works; stops when the lock is lost. */
export async function work(
  ctx: RunContext,
  engine: number,
  lock: Lock,
  record: OpRecord,
  ms: number,
): Promise<void> {
  lock.signal.throwIfAborted();
  if (record.permits !== undefined) {
    // Permit holders share the resource: the cap is checked at their grants (`permits.ts`).
    ctx.book.section(lock, describe(record), record.res[0]!);
    try {
      await abortable(ms, lock.signal);
    } catch (error) {
      if (error instanceof LockLostError) checkLossNotice(ctx, engine, lock, record);
      throw error;
    }
    return;
  }
  const ticket = ctx.witness.enter({
    resources: record.res,
    mode: record.mode,
    holder: `e${engine}`,
    lineage: record.lineage,
    token: tokenOf(lock),
    held: () => lock.isHeld(),
    label: describe(record),
  });
  try {
    await abortable(ms, lock.signal);
  } catch (error) {
    if (error instanceof LockLostError) checkLossNotice(ctx, engine, lock, record);
    throw error;
  } finally {
    ctx.witness.exit(ticket);
  }
}
