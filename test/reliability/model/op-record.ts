/**
 * The record of one operation of a run (a scope at any depth, an acquisition, an aborted wait, a
 * permit holder): what it asked for, under which scopes, and when it was called, entered its
 * body, left it and settled. The driver fills it in; the checks (`checks.ts`) judge it.
 */
import type { Mode } from '../../support/witness.js';
import type { RunContext } from './context.js';

export type Kind =
  | 'using'
  | 'nested'
  | 'sibling'
  | 'escape'
  | 'acquire'
  | 'tryAcquire'
  | 'abort'
  | 'permit-using'
  | 'permit-acquire'
  | 'permit-tryAcquire';

export interface OpRecord {
  readonly id: number;
  readonly kind: Kind;
  readonly engine: number;
  readonly res: string[];
  readonly mode: Mode;
  /** A semaphore's permits when `res` is one semaphore (see `permits.ts`). */
  readonly permits: number | undefined;
  readonly lineage: number[];
  readonly parent: OpRecord | undefined;
  /**
   * Per resource this scope works on, the scope up the chain whose lock holds it (the scope
   * that took it), when the chain holds it: the lock this scope joins for it.
   */
  readonly owners: Map<string, OpRecord>;
  readonly calledAt: number;
  /**
   * Runs (in part) under a lock up the chain: `owners` is not empty. A scope joins the
   * innermost scope of its chain that covers a resource and is still in its body; one whose
   * body ended lets nobody new in, so a task it started later acquires on its own.
   */
  readonly joined: boolean;
  /** Until when what this operation acquired stays taken (release, or expiry). */
  heldUntil?: number;
  bodyStart?: number;
  bodyEnd?: number;
  settledAt?: number;
  abortedAt?: number;
  outcome?: string;
  children: OpRecord[];
}

/** A new operation's record, called now, under `parent` (undefined for a top-level task). */
export function openRecord(
  ctx: RunContext,
  kind: Kind,
  engine: number,
  res: string[],
  mode: Mode,
  parent: OpRecord | undefined,
): OpRecord {
  const id = ctx.nextId++;
  // The engine joins, per resource, the innermost scope up the chain that covers it and is
  // still open (in its body): a scope whose body ended lets nobody new in.
  const owners = new Map<string, OpRecord>();
  for (const r of res) {
    for (let up = parent; up; up = up.parent) {
      if (!up.res.includes(r) || up.bodyStart === undefined || up.bodyEnd !== undefined) continue;
      owners.set(r, up.owners.get(r) ?? up);
      break;
    }
  }
  const joined = owners.size > 0;
  const record: OpRecord = {
    id,
    kind,
    engine,
    res,
    mode,
    permits: ctx.book.permitsOf(res),
    lineage: [...(parent?.lineage ?? []), id],
    parent,
    owners,
    calledAt: ctx.now(),
    joined,
    children: [],
  };
  parent?.children.push(record);
  ctx.records.push(record);
  return record;
}

export function* descendants(record: OpRecord): Generator<OpRecord> {
  for (const child of record.children) {
    yield child;
    yield* descendants(child);
  }
}

export function describe(record: OpRecord): string {
  const of = record.permits === undefined ? '' : ` of ${record.permits}`;
  return `e${record.engine}#${record.lineage.join('/')} ${record.kind}(${record.mode} ${record.res.join('+')}${of})`;
}
