/**
 * Runs one schedule (a `Plan`) against a world (in-memory nodes behind simulated links, or
 * real Redis servers behind fault proxies) and checks it with the independent witness.
 *
 * Each simulated process is a `Redlock` engine with its own connections. Its critical sections
 * report to the witness; every call is timed; at the end every fault is healed and the nodes
 * are searched for keys left behind. What is checked:
 *
 * - exclusion and fencing (the witness);
 * - bounded waits: every acquisition settles within its wait plus a few node timeouts, a
 *   release within two node timeouts, an aborted wait promptly, `close()` promptly;
 * - liveness: a writer never waits while nobody holds its resources for longer than a retry
 *   delay plus a few node timeouts (outside fault windows);
 * - scopes: a task started inside a scope that ran under its lock ends before the scope's
 *   `using` resolves; errors are the library's typed errors; no unhandled rejection;
 * - a stale owner's release never frees a resource another holder is inside;
 * - after everything settled and the ttls passed: no lock key left, no lease still registered;
 * - semaphores (`permits.ts`): never more holders than permits, permit fencing order, no wait
 *   for a free permit (and the bounds and scope checks above, as for locks).
 */
import type { RejectionTap as SupportTap } from '../../support/host-process.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { MemoryLockAdapter } from '../../../lib/adapters/memory.adapter.js';
import type { LockAdapter } from '../../../lib/interfaces/lock-adapter.interface.js';
import {
  LockLostError,
  LockNotAcquiredError,
  RedlockError,
  RedlockUnavailableError,
} from '../../../lib/redlock.errors.js';
import type { Lock } from '../../../lib/services/lock.js';
import { Redlock } from '../../../lib/services/redlock.engine.js';
import { type Mode, type Violation, Witness } from '../../support/witness.js';
import {
  emptyPermitStats,
  PermitBook,
  type PermitHold,
  type PermitStats,
  quorumOf,
} from './permits.js';
import type {
  AbortOp,
  AcquireOp,
  EnginePlan,
  Fault,
  PermitOp,
  Plan,
  ScopeOp,
  Step,
} from './plan.js';

/** One run's connections into a world. */
export interface RunWorld {
  /** Adapters of each engine: its own connections or links to every node. */
  readonly adapters: readonly (readonly LockAdapter[])[];
  /** Fault-free adapters on the same nodes, for the checker's own questions. */
  readonly observer: readonly LockAdapter[];
  /** Applies a fault now; resolves to the function that heals it. */
  inject(fault: Fault, engines: number): Promise<() => Promise<void>>;
  /** Every lock key on every node (read directly, past any fault), with its remaining ttl. */
  lockKeys(): Promise<{ node: number; key: string; pttl: number }[]>;
  /** Stops a node for the engines' `close()`; resolves to the function that resumes it. */
  pauseNode(node: number): Promise<() => Promise<void>>;
  /** Closes the engines' adapters (what a shutdown does after `Redlock.close()`). */
  closeAdapters(): Promise<void>;
  /** Whether nothing is on its way any more (no delayed or queued command or reply). */
  idle(): boolean;
  /** Heals everything and closes what the run opened. */
  close(): Promise<void>;
}

export interface World {
  readonly kind: 'memory' | 'redis';
  /** Slack on top of computed bounds: event-loop and scheduling noise of a loaded machine. */
  readonly slack: number;
  open(plan: Plan, engines: number): Promise<RunWorld>;
}

export interface RunStats extends PermitStats {
  runs: number;
  sections: number;
  reads: number;
  writes: number;
  lateAborts: number;
  fencingChecks: number;
  fencingSkipped: number;
  livenessChecked: number;
  longestGapMs: number;
  maxAcquireMs: number;
  /** Sections told of their lock's loss by the signal, and the latest past the validity (ms). */
  lossNotices: number;
  latestLossMs: number;
  /** RedlockUnavailableError with no fault active: nodes too slow for their timeout (load). */
  unavailableWithoutFault: number;
  ops: Record<string, number>;
  outcomes: Record<string, number>;
  faults: Record<string, number>;
  runMs: number;
}

export function emptyStats(): RunStats {
  return {
    runs: 0,
    sections: 0,
    reads: 0,
    writes: 0,
    lateAborts: 0,
    fencingChecks: 0,
    fencingSkipped: 0,
    livenessChecked: 0,
    longestGapMs: 0,
    maxAcquireMs: 0,
    lossNotices: 0,
    latestLossMs: 0,
    unavailableWithoutFault: 0,
    ...emptyPermitStats(),
    ops: {},
    outcomes: {},
    faults: {},
    runMs: 0,
  };
}

export function addStats(into: RunStats, from: RunStats): void {
  for (const key of [
    'runs',
    'sections',
    'reads',
    'writes',
    'lateAborts',
    'fencingChecks',
    'fencingSkipped',
    'livenessChecked',
    'runMs',
    'unavailableWithoutFault',
    'lossNotices',
    'permitGrants',
    'permitSections',
    'permitFencingChecks',
    'permitTokensShared',
    'permitWaitsChecked',
  ] as const) {
    into[key] += from[key];
  }
  into.longestGapMs = Math.max(into.longestGapMs, from.longestGapMs);
  into.maxAcquireMs = Math.max(into.maxAcquireMs, from.maxAcquireMs);
  into.latestLossMs = Math.max(into.latestLossMs, from.latestLossMs);
  into.maxPermitHolders = Math.max(into.maxPermitHolders, from.maxPermitHolders);
  into.longestPermitGapMs = Math.max(into.longestPermitGapMs, from.longestPermitGapMs);
  for (const key of ['ops', 'outcomes', 'faults'] as const) {
    for (const [k, v] of Object.entries(from[key])) into[key][k] = (into[key][k] ?? 0) + v;
  }
}

export interface RunResult {
  violations: Violation[];
  stats: RunStats;
}

/** Unhandled rejections seen by the host process while the run went on. */
export type RejectionTap = Pick<SupportTap, 'take'>;

type Kind =
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

interface OpRecord {
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

const CUT_RECONNECT_MS = 20;

/** Runs one plan; never throws for what it checks (violations are returned). */
export async function runPlan(world: World, plan: Plan, tap: RejectionTap): Promise<RunResult> {
  return new Run(world, plan, tap).execute();
}

class Run {
  private readonly witness = new Witness();
  private readonly book: PermitBook;
  /** How late this process's timers fired: a loaded machine stretches every bound by it. */
  private readonly lag = monitorEventLoopDelay({ resolution: 10 });
  private readonly stats = emptyStats();
  private readonly records: OpRecord[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly heals: (() => Promise<void>)[] = [];
  private readonly windows: [number, number][] = [];
  private readonly engineCount: number;
  private readonly maxTtl: number;
  private readonly nt: number;
  private origin = 0;
  /** Locks held right now by top-level operations, per resource: for the stale-release check. */
  private readonly holding = new Map<string, Set<Lock>>();
  private engines: Redlock[] = [];
  private clocks: SkewedClock[] = [];
  private observer: Redlock | undefined;
  private nextId = 1;

  constructor(
    private readonly world: World,
    private readonly plan: Plan,
    private readonly tap: RejectionTap,
  ) {
    this.engineCount = plan.degraded ? 1 : plan.engines.length;
    this.book = new PermitBook(
      new Map(plan.semaphores.map((permits, i) => [`s${i}`, permits])),
      () => this.now(),
      (kind, detail) => this.fail(kind, detail),
    );
    this.maxTtl = plan.lock.ttl;
    this.nt = plan.lock.nodeTimeout;
  }

  private now(): number {
    return this.witness.elapsed();
  }

  private fail(kind: string, detail: string): void {
    this.witness.fail(kind, detail);
  }

  async execute(): Promise<RunResult> {
    const started = performance.now();
    this.lag.enable();
    this.tap.take();
    const runWorld = await this.world.open(this.plan, this.engineCount);
    try {
      this.createEngines(runWorld);
      await this.drive(runWorld);
      await this.finish(runWorld);
    } finally {
      for (const timer of this.timers) clearTimeout(timer);
      await Promise.allSettled(this.heals.map((heal) => heal()));
      await runWorld.close();
      this.lag.disable();
    }
    for (const reason of this.tap.take()) {
      this.fail('unhandled-rejection', describeError(reason));
    }
    if (process.env.RELIABILITY_TRACE === '1') this.trace();
    const w = this.witness.stats;
    Object.assign(this.stats, {
      runs: 1,
      sections: w.sections,
      reads: w.reads,
      writes: w.writes,
      lateAborts: w.lateAborts,
      fencingChecks: w.fencingChecks,
      fencingSkipped: w.fencingSkipped,
      runMs: Math.round(performance.now() - started),
      ...this.book.stats,
    });
    for (const record of this.records) {
      count(this.stats.ops, record.kind);
      count(this.stats.outcomes, record.outcome ?? 'unsettled');
    }
    return { violations: this.witness.violations, stats: this.stats };
  }

  // ---- set-up --------------------------------------------------------------------------------

  private createEngines(runWorld: RunWorld): void {
    const { lock } = this.plan;
    const defaults = {
      ttl: lock.ttl,
      wait: lock.wait,
      retryDelay: lock.retryDelay,
      retryJitter: lock.retryJitter,
      nodeTimeout: lock.nodeTimeout,
    };
    const logger = { log: noop, warn: noop, error: noop, debug: noop };
    for (let i = 0; i < this.engineCount; i += 1) {
      const spec: EnginePlan = this.plan.engines[i]!;
      const clock = new SkewedClock(spec.wallSkew, spec.rate);
      this.clocks.push(clock);
      this.engines.push(
        new Redlock(runWorld.adapters[i]!, {
          lock: defaults,
          clock: { now: () => clock.now(), wallNow: () => clock.wallNow() },
          circuitBreaker: spec.breaker ? { failureThreshold: 3, coolDown: 150 } : false,
          logger,
          degraded: this.plan.degraded
            ? { store: new MemoryLockAdapter({ name: 'memory://degraded' }) }
            : undefined,
        }),
      );
    }
    this.observer = new Redlock(runWorld.observer, { lock: defaults, circuitBreaker: false });
  }

  private holdOn(res: readonly string[], lock: Lock): () => void {
    for (const r of res) {
      let set = this.holding.get(r);
      if (!set) this.holding.set(r, (set = new Set()));
      set.add(lock);
    }
    return () => {
      for (const r of res) this.holding.get(r)?.delete(lock);
    };
  }

  /**
   * The holding of a top-level grant: the witness's for locks, a permit for semaphores. A
   * nested scope on a semaphore joins its scope's permit: no holder of its own.
   */
  private holdOf(record: OpRecord, lock: Lock): PermitHold {
    if (record.permits === undefined) {
      const held = this.witness.hold(record.res, record.mode);
      return { released: noop, end: (at) => held.end(at) };
    }
    if (record.parent !== undefined) return { released: noop, end: noop };
    return this.book.grant(record.res[0]!, lock, {
      label: this.describe(record),
      asked: record.calledAt,
      token: tokenOf(lock),
    });
  }

  private resource(index: number): string {
    return `r${index % this.plan.resources}`;
  }

  // ---- the schedule --------------------------------------------------------------------------

  private async drive(runWorld: RunWorld): Promise<void> {
    this.origin = this.now();
    // A fault leaves traces for a while after it heals: keys taken before it expire within a
    // ttl, breakers cool down, replayed commands arrive late.
    const aftermath = this.maxTtl * 2 + 6 * this.nt + 300;
    for (const fault of this.plan.faults) {
      const span =
        'for' in fault ? fault.for : fault.kind === 'restart' ? fault.down : CUT_RECONNECT_MS * 3;
      this.windows.push([this.origin + fault.at, this.origin + fault.at + span + aftermath]);
    }
    const faultsDone: Promise<void>[] = [];
    for (const fault of this.plan.faults) {
      faultsDone.push(this.at(fault.at, () => this.injectFault(runWorld, fault)));
    }
    for (const task of this.plan.tasks) {
      const engine = task.engine % this.engineCount;
      void this.track(
        this.at(task.at, () => {
          const op = task.op;
          if (op.kind === 'using') {
            const res = unique(op.res.map((r) => this.resource(r)));
            const mode: Mode = op.mode === 'inherit' ? 'write' : op.mode;
            return this.scope(engine, op, res, mode, undefined, 'using');
          }
          if (op.kind === 'abort') return this.abortOp(engine, op);
          if (op.kind === 'permit') return this.permitOp(engine, op, 0);
          return this.acquireOp(engine, op);
        }),
      );
      // The other holders of a burst of permits, each on the next engine.
      if (task.op.kind !== 'permit') continue;
      const op = task.op;
      const copies = this.plan.semaphores[op.sem % this.plan.semaphores.length]! + op.surplus;
      for (let k = 1; k < copies; k += 1) {
        const copy = (engine + k) % this.engineCount;
        void this.track(this.at(task.at + k * op.spread, () => this.permitOp(copy, op, k)));
      }
    }
    await Promise.all(faultsDone);
    // Everything started must settle: the longest legitimate run of a task is bounded by its
    // waits, bodies and node timeouts; far past that it hangs.
    const cap = 8_000 + 4 * (this.plan.lock.wait + this.maxTtl);
    const settled = await this.allSettled(cap);
    if (!settled) {
      const open = this.records.filter((r) => r.settledAt === undefined);
      this.fail(
        'hang',
        `${open.length} call(s) did not settle within ${cap} ms: ${open
          .slice(0, 5)
          .map((r) => this.describe(r))
          .join('; ')}`,
      );
    }
  }

  private async allSettled(cap: number): Promise<boolean> {
    const deadline = this.now() + cap;
    while (this.pending.size > 0) {
      const left = deadline - this.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), left);
      });
      const outcome = await Promise.race([
        Promise.allSettled([...this.pending]).then(() => 'done' as const),
        timedOut,
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout') return false;
    }
    return true;
  }

  private at(ms: number, fn: () => Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        fn().then(
          () => resolve(),
          (error: unknown) => {
            this.fail('harness', describeError(error));
            resolve();
          },
        );
      }, ms);
      this.timers.add(timer);
    });
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(noop);
    return promise;
  }

  private async injectFault(runWorld: RunWorld, fault: Fault): Promise<void> {
    count(this.stats.faults, fault.kind);
    const from = this.now();
    // A node restarted without its data forgets its fencing counter (and its locks).
    if (fault.kind === 'restart') {
      this.witness.relaxFencing();
      this.book.relaxFencing();
    }
    const heal = await runWorld.inject(fault, this.engineCount);
    this.heals.push(heal);
    // One-shot faults heal themselves.
    if (fault.kind === 'cut' || fault.kind === 'cutMid') return;
    const span = 'for' in fault ? fault.for : fault.down;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, span);
      this.timers.add(timer);
    });
    await heal();
    const late = this.now() - (from + span);
    if (late > 50) {
      // Healing took long (a restart): stretch the fault's window accordingly.
      this.windows.push([from, this.now() + this.maxTtl * 2 + 6 * this.nt + 300]);
    }
  }

  // ---- operations ----------------------------------------------------------------------------

  private record(
    kind: Kind,
    engine: number,
    res: string[],
    mode: Mode,
    parent: OpRecord | undefined,
  ): OpRecord {
    const id = this.nextId++;
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
      permits: this.book.permitsOf(res),
      lineage: [...(parent?.lineage ?? []), id],
      parent,
      owners,
      calledAt: this.now(),
      joined,
      children: [],
    };
    parent?.children.push(record);
    this.records.push(record);
    return record;
  }

  /** `using` at any depth; never rejects (outcomes are recorded). */
  private async scope(
    engine: number,
    op: ScopeOp,
    res: string[],
    mode: Mode,
    parent: OpRecord | undefined,
    kind: Kind,
  ): Promise<void> {
    const record = this.record(kind, engine, res, mode, parent);
    // A write on a resource the chain holds for reading: refused at once.
    const upgrade = mode === 'write' && res.some((r) => record.owners.get(r)?.mode === 'read');
    let hold: PermitHold | undefined;
    let letGo: (() => void) | undefined;
    try {
      await this.engines[engine]!.using(
        res,
        async (lock) => {
          record.bodyStart = this.now();
          hold = this.holdOf(record, lock);
          if (!parent) letGo = this.holdOn(res, lock);
          this.checkToken(record, lock, op.fencing);
          if (upgrade && record.joined) {
            this.fail(
              'upgrade-not-refused',
              `${this.describe(record)}: a write scope inside a read scope of ${res.join('+')} ran instead of failing`,
            );
          }
          try {
            await this.body(engine, op.body, lock, record);
          } finally {
            record.bodyEnd = this.now();
            hold.released(record.bodyEnd);
          }
        },
        { mode, fencing: op.fencing, ...(record.permits && { permits: record.permits }) },
      );
      record.outcome = 'ok';
    } catch (error) {
      record.outcome = this.classify(record, error, { upgrade });
    } finally {
      record.settledAt = this.now();
      hold?.end();
      letGo?.();
      this.checkAcquisition(record);
    }
  }

  private async body(
    engine: number,
    steps: readonly Step[],
    lock: Lock,
    record: OpRecord,
  ): Promise<void> {
    for (const step of steps) {
      lock.signal.throwIfAborted();
      switch (step.kind) {
        case 'work':
          await this.work(engine, lock, record, step.ms);
          break;
        case 'extend':
          try {
            await lock.extend();
          } catch (error) {
            this.classify(record, error, {});
            if (error instanceof LockLostError) throw error;
          }
          break;
        case 'nested': {
          const [res, mode] = this.childOf(record, step.op);
          await this.scope(engine, step.op, res, mode, record, 'nested');
          break;
        }
        case 'siblings':
          await Promise.all(
            step.ops.map((op) => {
              const [res, mode] = this.childOf(record, op);
              return this.scope(engine, op, res, mode, record, 'sibling');
            }),
          );
          break;
        case 'escape': {
          const [res, mode] = this.childOf(record, step.op);
          const start = (): Promise<void> =>
            this.scope(engine, step.op, res, mode, record, 'escape');
          if (step.delay === 0) void this.track(start());
          else void this.track(this.at(step.delay, start));
          break;
        }
      }
    }
  }

  private childOf(parent: OpRecord, op: ScopeOp): [string[], Mode] {
    const extra = this.resource(op.extra);
    const res =
      op.rel === 'same' ? parent.res : op.rel === 'more' ? unique([...parent.res, extra]) : [extra];
    return [res, op.mode === 'inherit' ? parent.mode : op.mode];
  }

  /** A critical section: reports to the witness while it works; stops when the lock is lost. */
  private async work(engine: number, lock: Lock, record: OpRecord, ms: number): Promise<void> {
    lock.signal.throwIfAborted();
    if (record.permits !== undefined) {
      // Permit holders share the resource: the cap is checked at their grants (`permits.ts`).
      this.book.section(lock, this.describe(record), record.res[0]!);
      try {
        await abortable(ms, lock.signal);
      } catch (error) {
        if (error instanceof LockLostError) this.checkLossNotice(engine, lock, record);
        throw error;
      }
      return;
    }
    const ticket = this.witness.enter({
      resources: record.res,
      mode: record.mode,
      holder: `e${engine}`,
      lineage: record.lineage,
      token: tokenOf(lock),
      held: () => lock.isHeld(),
      label: this.describe(record),
    });
    try {
      await abortable(ms, lock.signal);
    } catch (error) {
      if (error instanceof LockLostError) this.checkLossNotice(engine, lock, record);
      throw error;
    } finally {
      this.witness.exit(ticket);
    }
  }

  /**
   * A lost lock's signal aborts by the end of its validity, whatever its renewal is waiting for:
   * the keys may be gone from the nodes from then on, so a section that hears later can overlap
   * the next holder's. (The witness cannot see this: it asks `isHeld()`, which reads the clock.)
   */
  private checkLossNotice(engine: number, lock: Lock, record: OpRecord): void {
    const clock = this.clocks[engine]!;
    const late = Math.max(0, (clock.wallNow() - lock.expiresAt) / clock.rate);
    this.stats.lossNotices += 1;
    this.stats.latestLossMs = Math.max(this.stats.latestLossMs, Math.round(late));
    const lag = this.lag.max / 1e6;
    // Timers fire a millisecond or two late and the deadline is rounded to whole ms.
    if (late > LOSS_NOTICE_MS + lag) {
      this.fail(
        'late-loss',
        `${this.describe(record)}: its signal aborted ${Math.round(late)} ms after its validity ended (+${Math.round(lag)} ms event-loop lag)`,
      );
    }
  }

  /** One holder of a burst of permits: a scope, or an acquisition held as `acquireOp` does. */
  private permitOp(engine: number, op: PermitOp, copy: number): Promise<void> {
    const res = [`s${op.sem % this.plan.semaphores.length}`];
    // The copies of a burst draw their own fencing (the first one's, then alternating).
    const fencing = copy % 2 === 0 ? op.fencing : !op.fencing;
    if (op.via === 'using') {
      const scope: ScopeOp = {
        kind: 'using',
        res: [],
        rel: 'same',
        extra: 0,
        mode: 'inherit',
        fencing,
        body: op.body,
      };
      return this.scope(engine, scope, res, 'write', undefined, 'permit-using');
    }
    const body = op.body.filter((step) => step.kind === 'work' || step.kind === 'extend');
    const acquire: AcquireOp = { ...op, kind: op.via, res: [], mode: 'write', fencing, body };
    return this.acquireOp(engine, acquire, res);
  }

  private async acquireOp(engine: number, op: AcquireOp, sem?: string[]): Promise<void> {
    const res = sem ?? unique(op.res.map((r) => this.resource(r)));
    const kind = sem ? (`permit-${op.kind}` as const) : op.kind;
    const record = this.record(kind, engine, res, op.mode, undefined);
    const redlock = this.engines[engine]!;
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
      record.outcome = this.classify(record, error, {});
      record.settledAt = this.now();
      this.checkAcquisition(record);
      return;
    }
    if (lock === null) {
      record.outcome = 'busy';
      record.settledAt = this.now();
      this.checkAcquisition(record);
      return;
    }
    record.bodyStart = this.now();
    this.checkAcquisition(record);
    const held = this.holdOf(record, lock);
    const letGo = this.holdOn(res, lock);
    const hold = {
      end: (at = this.now()): void => {
        held.end(at);
        letGo();
        record.heldUntil = at;
      },
    };
    this.checkToken(record, lock, op.fencing);
    try {
      for (const step of op.body) {
        lock.signal.throwIfAborted();
        if (step.kind === 'work') await this.work(engine, lock, record, step.ms);
        else await lock.extend();
      }
    } catch (error) {
      this.classify(record, error, {});
    }
    record.bodyEnd = this.now();
    if (op.end === 'expire') {
      hold.end(this.expiry(engine, lock));
      record.outcome = 'expired';
      record.settledAt = this.now();
      return;
    }
    if (op.end === 'late-release') {
      await lostOrReleased(lock);
      const expiredAt = this.expiry(engine, lock);
      hold.end(expiredAt);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, op.lateBy);
        this.timers.add(timer);
      });
      await this.staleRelease(record, lock, res);
      return;
    }
    const releaseAt = this.now();
    held.released(releaseAt);
    try {
      const status = await lock.release();
      record.outcome = `release:${status}`;
      hold.end(
        status === 'released' ? this.now() : Math.max(this.now(), this.expiry(engine, lock)),
      );
    } catch (error) {
      record.outcome = this.classify(record, error, {});
      hold.end(Math.max(this.now(), this.expiry(engine, lock)));
    }
    record.settledAt = this.now();
    this.bound(record, 'release', this.now() - releaseAt, 2 * this.nt + this.world.slack);
  }

  /**
   * A release long after the lock expired: whatever it answers, a holder that is inside the
   * resource and still holds its lock keeps it (no owner check would delete its key).
   */
  private async staleRelease(record: OpRecord, lock: Lock, res: string[]): Promise<void> {
    // Holders of these resources whose locks are valid right now.
    const others = res.flatMap((resource) =>
      [...(this.holding.get(resource) ?? [])]
        .filter((other) => other !== lock && other.isHeld())
        .map((other) => ({ resource, other })),
    );
    const started = this.now();
    try {
      const status = await lock.release();
      record.outcome = `late-release:${status}`;
    } catch (error) {
      record.outcome = this.classify(record, error, {});
    }
    record.settledAt = this.now();
    this.bound(record, 'release', this.now() - started, 2 * this.nt + this.world.slack);
    if (others.length === 0 || this.inFaultWindow(started, this.now())) return;
    for (const { resource, other } of others) {
      let locked: boolean;
      try {
        locked = await this.observer!.isLocked(resource);
      } catch {
        continue;
      }
      // Still held by its owner (registered, valid) after the check: the key must be there.
      if (!locked && this.holding.get(resource)?.has(other) && other.isHeld()) {
        this.fail(
          'stale-release',
          `${this.describe(record)}: a release after its lock expired freed ${resource} while another owner (${other.value.slice(0, 8)}) still held it`,
        );
      }
    }
  }

  private async abortOp(engine: number, op: AbortOp): Promise<void> {
    const res = unique(op.res.map((r) => this.resource(r)));
    const record = this.record('abort', engine, res, 'write', undefined);
    const controller = new AbortController();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      record.abortedAt = this.now();
      controller.abort();
    }, op.after);
    this.timers.add(timer);
    let lock: Lock;
    try {
      lock = await this.engines[engine]!.acquire(res, { signal: controller.signal });
    } catch (error) {
      record.settledAt = this.now();
      record.outcome = this.classify(record, error, { abort: true });
      this.checkAcquisition(record);
      return;
    } finally {
      clearTimeout(timer);
      this.timers.delete(timer);
    }
    record.bodyStart = this.now();
    this.checkAcquisition(record);
    const hold = this.witness.hold(res, 'write');
    try {
      await lock.release();
    } catch (error) {
      this.classify(record, error, {});
    }
    hold.end();
    record.outcome = 'ok';
    record.settledAt = this.now();
  }

  // ---- checks --------------------------------------------------------------------------------

  /** The error's kind; anything but the library's typed errors is a violation. */
  private classify(
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
        this.fail(
          'unavailable-although-busy',
          `${this.describe(record)}: ${error.message} [${error.nodes.map((n) => n.outcome).join(', ')}]`,
        );
      }
      const to = record.settledAt ?? this.now();
      if (!this.inFaultWindow(record.calledAt, to)) this.stats.unavailableWithoutFault += 1;
      return error.name;
    }
    if (error instanceof LockNotAcquiredError || error instanceof LockLostError) return error.name;
    if (error instanceof RedlockError) {
      if (expect.upgrade || error.constructor !== RedlockError) return error.name;
      this.fail('unexpected-error', `${this.describe(record)}: ${describeError(error)}`);
      return error.name;
    }
    this.fail('unexpected-error', `${this.describe(record)}: ${describeError(error)}`);
    return 'unexpected';
  }

  private checkToken(record: OpRecord, lock: Lock, fencing: boolean): void {
    const token = tokenOf(lock);
    // A scope that reuses (part of) a lock up the chain carries that lock's token.
    if (record.parent !== undefined) return;
    if (fencing && token === undefined) {
      this.fail(
        'fencing',
        `${this.describe(record)}: taken with { fencing: true } but has no token`,
      );
    }
    if (!fencing && token !== undefined) {
      this.fail(
        'fencing',
        `${this.describe(record)}: taken without fencing but has token ${token}`,
      );
    }
  }

  private bound(record: OpRecord, what: string, took: number, limit: number): void {
    if (what === 'acquire') this.stats.maxAcquireMs = Math.max(this.stats.maxAcquireMs, took);
    // The longest the event loop was held up so far (other work on a loaded machine).
    const lag = this.lag.max / 1e6;
    if (took > limit + lag) {
      this.fail(
        'slow-settle',
        `${this.describe(record)}: ${what} took ${Math.round(took)} ms, bound ${Math.round(limit)} ms (+${Math.round(lag)} ms event-loop lag)`,
      );
    }
  }

  /** Acquisition latency and, for top-level writers that waited, the liveness record. */
  private checkAcquisition(record: OpRecord): void {
    const { wait, retryDelay, retryJitter } = this.plan.lock;
    const end = record.bodyStart ?? record.settledAt!;
    const took = end - record.calledAt;
    const nested = record.parent !== undefined;
    const waitOf = record.kind === 'tryAcquire' ? 0 : wait;
    // ready + subscribe + a round (acquire, fence write-back, rollback) + the last attempt.
    let limit = (nested ? 2 * waitOf : waitOf) + 6 * this.nt + this.world.slack;
    if (this.plan.degraded) limit += waitOf + 6 * this.nt;
    if (
      record.kind === 'abort' &&
      record.abortedAt !== undefined &&
      record.outcome === 'AbortError'
    ) {
      this.bound(record, 'abort', end - record.abortedAt, 3 * this.nt + this.world.slack);
    }
    this.bound(record, 'acquire', took, limit);
    if (nested || record.mode !== 'write' || waitOf === 0 || this.plan.degraded) return;
    const busy = record.outcome === 'LockNotAcquiredError';
    if (record.bodyStart === undefined && !busy) return;
    const to =
      record.kind === 'abort' && record.abortedAt !== undefined
        ? Math.min(end, record.abortedAt)
        : end;
    if (record.permits !== undefined) {
      this.book.waited({
        resource: record.res[0]!,
        from: record.calledAt,
        to,
        bound: retryDelay + retryJitter + 4 * this.nt + this.world.slack,
        label: this.describe(record),
      });
      return;
    }
    this.witness.waited({
      resources: record.res,
      mode: 'write',
      from: record.calledAt,
      to,
      bound: retryDelay + retryJitter + 4 * this.nt + this.world.slack,
      label: this.describe(record),
    });
  }

  /**
   * Scopes, once everything settled: a task started inside a body that joined its lock ends
   * before the scope that owns that lock resolves; a scope resolves promptly once its body and
   * the tasks relying on it are done.
   */
  private checkScopes(): void {
    for (const record of this.records) {
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
        const blocker = this.records.some((other) => {
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
          this.fail(
            'self-deadlock',
            `${this.describe(record)} waited ${Math.round(to - from)} ms and gave up as busy, although only its own chain held ${record.res.join('+')}`,
          );
        }
      }
    }
    for (const record of this.records) {
      if (record.settledAt === undefined || record.bodyStart === undefined) continue;
      if (record.kind === 'escape') {
        const end = record.bodyEnd ?? Infinity;
        for (const owner of new Set(record.owners.values())) {
          if (owner.settledAt !== undefined && owner.settledAt < end) {
            this.fail(
              'escaped-task-outlived-scope',
              `${this.describe(record)} ran under the lock of ${this.describe(owner)} until +${Math.round(end)} ms, but that scope resolved at +${Math.round(owner.settledAt)} ms`,
            );
          }
        }
      }
      if (!['using', 'nested', 'sibling', 'escape', 'permit-using'].includes(record.kind)) continue;
      let last = record.bodyEnd ?? record.bodyStart;
      for (const d of this.descendants(record)) {
        if (d.calledAt < record.settledAt) last = Math.max(last, d.settledAt ?? Infinity);
      }
      if (last === Infinity) continue;
      this.bound(record, 'exit', record.settledAt - last, 2 * this.nt + this.world.slack);
    }
  }

  private *descendants(record: OpRecord): Generator<OpRecord> {
    for (const child of record.children) {
      yield child;
      yield* this.descendants(child);
    }
  }

  // ---- the end of a run ----------------------------------------------------------------------

  private async finish(runWorld: RunWorld): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled(this.heals.splice(0).map((heal) => heal()));
    if (this.witness.open > 0) {
      this.fail('harness', `${this.witness.open} section(s) never left`);
    }
    this.checkScopes();
    // Healed faults may leave commands on their way (delayed, queued while disconnected): a
    // network settles before anyone can say what the nodes hold.
    const quiet = this.now() + 3_000;
    while (!runWorld.idle() && this.now() < quiet) {
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
    const liveness = this.witness.checkLiveness(this.windows);
    this.book.check(this.plan.nodes, this.windows);
    this.stats.livenessChecked = liveness.checked;
    this.stats.longestGapMs = Math.round(liveness.longestGap);

    // Keys: each expires by itself within its ttl, and nothing renews it any more.
    let keys = await runWorld.lockKeys();
    if (process.env.RELIABILITY_TRACE === '1') {
      process.stdout.write(
        `[reliability] keys at +${Math.round(this.now() - this.origin)}: ${JSON.stringify(keys)}\n`,
      );
    }
    for (const key of keys) {
      if (key.pttl === -1 || key.pttl > this.maxTtl + 50) {
        this.fail('key-without-bound', `node ${key.node} holds ${key.key} with pttl ${key.pttl}`);
      }
    }
    const registered = this.engines.some((engine) => engine.heldCount > 0);
    const longest = Math.max(0, ...keys.map((k) => k.pttl));
    if (longest > 0 || registered) {
      // No event tells that a ttl ran out: wait for it (at most one ttl).
      const wait = Math.min(Math.max(longest, registered ? this.maxTtl : 0), this.maxTtl) + 30;
      await new Promise<void>((resolve) => setTimeout(resolve, wait));
      keys = await runWorld.lockKeys();
      const late = Math.max(0, ...keys.map((k) => k.pttl));
      if (late > 0) {
        // A write the network still held when the quiet wait above gave up (it is capped) can
        // land afterwards and set a key with a fresh ttl. That key too must expire within its
        // own ttl, with nothing renewing it: one more wait for it, then none may remain.
        await new Promise<void>((resolve) => setTimeout(resolve, Math.min(late, this.maxTtl) + 30));
        keys = await runWorld.lockKeys();
      }
      for (const key of keys) {
        this.fail(
          'key-left-behind',
          `node ${key.node} still holds ${key.key} (pttl ${key.pttl}) after every scope ended and the ttl passed`,
        );
      }
      this.engines.forEach((engine, index) => {
        if (engine.heldCount > 0) {
          this.fail(
            'lease-leak',
            `engine e${index} still registers ${engine.heldCount} lease(s) after every scope ended and the ttl passed`,
          );
        }
      });
    }

    // Shutdown: returns promptly, also with a node stopped.
    const resume = this.plan.closeWhilePaused ? await runWorld.pauseNode(0) : undefined;
    const closeStarted = this.now();
    const closing = Promise.allSettled([
      ...this.engines.map((engine) => engine.close()),
      this.observer!.close(),
    ]);
    const closed = await Promise.race([
      closing.then(() => true),
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 2_000);
        void closing.then(() => clearTimeout(timer));
      }),
    ]);
    if (!closed) this.fail('hang', 'Redlock.close() did not return within 2 s');
    else if (this.now() - closeStarted > 2 * this.nt + this.world.slack) {
      this.fail('slow-settle', `close() took ${Math.round(this.now() - closeStarted)} ms`);
    }
    // The adapters close within a bounded time too, also on a stopped node.
    const adaptersClosed = runWorld.closeAdapters();
    const done = await Promise.race([
      adaptersClosed.then(() => true),
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 3_000);
        void adaptersClosed.then(() => clearTimeout(timer));
      }),
    ]);
    if (!done) this.fail('hang', 'closing the adapters did not return within 3 s');
    await resume?.();
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** RELIABILITY_TRACE=1: every operation's timeline (ms since the run began). */
  private trace(): void {
    const t = (v: number | undefined): string =>
      v === undefined ? '-' : String(Math.round(v - this.origin));
    const lines = this.records.map(
      (r) =>
        `  ${this.describe(r).padEnd(40)} called ${t(r.calledAt).padStart(5)} body ${t(r.bodyStart).padStart(5)}..${t(r.bodyEnd).padEnd(5)} settled ${t(r.settledAt).padStart(5)} ${r.outcome ?? ''}`,
    );
    process.stdout.write(`[reliability] trace:\n${lines.join('\n')}\n`);
  }

  private inFaultWindow(from: number, to: number): boolean {
    return this.windows.some(([a, b]) => from < b && to > a);
  }

  /** When the lock's validity ends, on the witness clock (skew and rate undone). */
  private expiry(engine: number, lock: Lock): number {
    const clock = this.clocks[engine]!;
    const remaining = (lock.expiresAt - clock.wallNow()) / clock.rate;
    return this.now() + Math.max(0, remaining);
  }

  private describe(record: OpRecord): string {
    const of = record.permits === undefined ? '' : ` of ${record.permits}`;
    return `e${record.engine}#${record.lineage.join('/')} ${record.kind}(${record.mode} ${record.res.join('+')}${of})`;
  }
}

/** How late past its validity a lost lock's signal may abort: timer and rounding noise. */
const LOSS_NOTICE_MS = 10;

/** A client clock: wall time off by `skew`, monotonic time running at `rate`. */
class SkewedClock {
  private readonly base = performance.now();

  constructor(
    private readonly skew: number,
    readonly rate: number,
  ) {}

  now(): number {
    return this.base + (performance.now() - this.base) * this.rate;
  }

  wallNow(): number {
    return Date.now() + this.skew;
  }
}

function tokenOf(lock: Lock): number | undefined {
  try {
    const token: unknown = lock.fencingToken;
    return typeof token === 'number' ? token : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves when the lock's signal aborts (lost at its expiry, or released). */
function lostOrReleased(lock: Lock): Promise<void> {
  const signal = lock.signal;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}

function isAbort(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'AbortError'
  );
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

function noop(): void {}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const lines = process.env.RELIABILITY_TRACE === '1' ? 30 : 4;
    return `${error.name}: ${error.message}${error.stack ? `\n${error.stack.split('\n').slice(1, lines).join('\n')}` : ''}`;
  }
  return String(error);
}
