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
 *
 * This file is the driver: it creates the engines, starts the plan's tasks and faults on
 * schedule and waits for them to settle. The rest of the runner, one concept per file:
 * `context.ts` (a run's shared state), `op-record.ts` (an operation's record), `scopes.ts` and
 * `acquisitions.ts` (the operations), `checks.ts` (the checks that judge the records),
 * `end-of-run.ts` (what must hold once everything settled, and the shutdown), `world.ts` (what
 * a world provides), `stats.ts` (the figures), `skewed-clock.ts` and `helpers.ts`.
 */
import type { RejectionTap as SupportTap } from '../../support/host-process.js';
import { clearTimeout, setTimeout } from 'node:timers';
import { MemoryLockAdapter } from '../../../lib/adapters/memory.adapter.js';
import { Redlock } from '../../../lib/services/redlock.engine.js';
import type { Mode, Violation } from '../../support/witness.js';
import { abortOp, acquireOp, permitOp } from './acquisitions.js';
import { RunContext } from './context.js';
import { finish } from './end-of-run.js';
import { count, describeError, noop, unique } from './helpers.js';
import { describe } from './op-record.js';
import type { EnginePlan, Fault, Plan } from './plan.js';
import { scope } from './scopes.js';
import { SkewedClock } from './skewed-clock.js';
import type { RunStats } from './stats.js';
import type { RunWorld, World } from './world.js';

export interface RunResult {
  violations: Violation[];
  stats: RunStats;
}

/** Unhandled rejections seen by the host process while the run went on. */
export type RejectionTap = Pick<SupportTap, 'take'>;

const CUT_RECONNECT_MS = 20;

/** Runs one plan; never throws for what it checks (violations are returned). */
export async function runPlan(world: World, plan: Plan, tap: RejectionTap): Promise<RunResult> {
  return new Run(world, plan, tap).execute();
}

class Run {
  private readonly ctx: RunContext;

  constructor(
    world: World,
    plan: Plan,
    private readonly tap: RejectionTap,
  ) {
    this.ctx = new RunContext(world, plan);
  }

  async execute(): Promise<RunResult> {
    const ctx = this.ctx;
    const started = performance.now();
    ctx.lag.enable();
    this.tap.take();
    const runWorld = await ctx.world.open(ctx.plan, ctx.engineCount);
    try {
      this.createEngines(runWorld);
      await this.drive(runWorld);
      await finish(ctx, runWorld);
    } finally {
      for (const timer of ctx.timers) clearTimeout(timer);
      await Promise.allSettled(ctx.heals.map((heal) => heal()));
      await runWorld.close();
      ctx.lag.disable();
    }
    for (const reason of this.tap.take()) {
      ctx.fail('unhandled-rejection', describeError(reason));
    }
    if (process.env.RELIABILITY_TRACE === '1') this.trace();
    const w = ctx.witness.stats;
    Object.assign(ctx.stats, {
      runs: 1,
      sections: w.sections,
      reads: w.reads,
      writes: w.writes,
      lateAborts: w.lateAborts,
      fencingChecks: w.fencingChecks,
      fencingSkipped: w.fencingSkipped,
      runMs: Math.round(performance.now() - started),
      ...ctx.book.stats,
    });
    for (const record of ctx.records) {
      count(ctx.stats.ops, record.kind);
      count(ctx.stats.outcomes, record.outcome ?? 'unsettled');
    }
    return { violations: ctx.witness.violations, stats: ctx.stats };
  }

  private createEngines(runWorld: RunWorld): void {
    const ctx = this.ctx;
    const { lock } = ctx.plan;
    const defaults = {
      ttl: lock.ttl,
      wait: lock.wait,
      retryDelay: lock.retryDelay,
      retryJitter: lock.retryJitter,
      nodeTimeout: lock.nodeTimeout,
    };
    const logger = { log: noop, warn: noop, error: noop, debug: noop };
    for (let i = 0; i < ctx.engineCount; i += 1) {
      const spec: EnginePlan = ctx.plan.engines[i]!;
      const clock = new SkewedClock(spec.wallSkew, spec.rate);
      ctx.clocks.push(clock);
      ctx.engines.push(
        new Redlock(runWorld.adapters[i]!, {
          lock: defaults,
          clock: { now: () => clock.now(), wallNow: () => clock.wallNow() },
          circuitBreaker: spec.breaker ? { failureThreshold: 3, coolDown: 150 } : false,
          logger,
          handOff: spec.handOff,
          onEvent: (event) => {
            if (event.type === 'acquired' && event.handedOver) ctx.stats.handOffs += 1;
          },
          degraded: ctx.plan.degraded
            ? { store: new MemoryLockAdapter({ name: 'memory://degraded' }) }
            : undefined,
        }),
      );
    }
    ctx.observer = new Redlock(runWorld.observer, { lock: defaults, circuitBreaker: false });
  }

  private async drive(runWorld: RunWorld): Promise<void> {
    const ctx = this.ctx;
    ctx.origin = ctx.now();
    // A fault leaves traces for a while after it heals: keys taken before it expire within a
    // ttl, breakers cool down, replayed commands arrive late.
    const aftermath = ctx.maxTtl * 2 + 6 * ctx.nt + 300;
    for (const fault of ctx.plan.faults) {
      const span =
        'for' in fault ? fault.for : fault.kind === 'restart' ? fault.down : CUT_RECONNECT_MS * 3;
      ctx.windows.push([ctx.origin + fault.at, ctx.origin + fault.at + span + aftermath]);
    }
    const faultsDone: Promise<void>[] = [];
    for (const fault of ctx.plan.faults) {
      faultsDone.push(ctx.at(fault.at, () => this.injectFault(runWorld, fault)));
    }
    for (const task of ctx.plan.tasks) {
      const engine = task.engine % ctx.engineCount;
      void ctx.track(
        ctx.at(task.at, () => {
          const op = task.op;
          if (op.kind === 'using') {
            const res = unique(op.res.map((r) => ctx.resource(r)));
            const mode: Mode = op.mode === 'inherit' ? 'write' : op.mode;
            return scope(ctx, engine, op, res, mode, undefined, 'using');
          }
          if (op.kind === 'abort') return abortOp(ctx, engine, op);
          if (op.kind === 'permit') return permitOp(ctx, engine, op, 0);
          return acquireOp(ctx, engine, op);
        }),
      );
      // The other holders of a burst of permits, each on the next engine.
      if (task.op.kind !== 'permit') continue;
      const op = task.op;
      const copies = ctx.plan.semaphores[op.sem % ctx.plan.semaphores.length]! + op.surplus;
      for (let k = 1; k < copies; k += 1) {
        const copy = (engine + k) % ctx.engineCount;
        void ctx.track(ctx.at(task.at + k * op.spread, () => permitOp(ctx, copy, op, k)));
      }
    }
    await Promise.all(faultsDone);
    // Everything started must settle: the longest legitimate run of a task is bounded by its
    // waits, bodies and node timeouts; far past that it hangs.
    const cap = 8_000 + 4 * (ctx.plan.lock.wait + ctx.maxTtl);
    const settled = await this.allSettled(cap);
    if (!settled) {
      const open = ctx.records.filter((r) => r.settledAt === undefined);
      ctx.fail(
        'hang',
        `${open.length} call(s) did not settle within ${cap} ms: ${open
          .slice(0, 5)
          .map((r) => describe(r))
          .join('; ')}`,
      );
    }
  }

  private async allSettled(cap: number): Promise<boolean> {
    const ctx = this.ctx;
    const deadline = ctx.now() + cap;
    while (ctx.pending.size > 0) {
      const left = deadline - ctx.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), left);
      });
      const outcome = await Promise.race([
        Promise.allSettled([...ctx.pending]).then(() => 'done' as const),
        timedOut,
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout') return false;
    }
    return true;
  }

  private async injectFault(runWorld: RunWorld, fault: Fault): Promise<void> {
    const ctx = this.ctx;
    count(ctx.stats.faults, fault.kind);
    const from = ctx.now();
    // A node restarted without its data forgets its fencing counter (and its locks).
    if (fault.kind === 'restart') {
      ctx.witness.relaxFencing();
      ctx.book.relaxFencing();
    }
    const heal = await runWorld.inject(fault, ctx.engineCount);
    ctx.heals.push(heal);
    // One-shot faults heal themselves.
    if (fault.kind === 'cut' || fault.kind === 'cutMid') return;
    const span = 'for' in fault ? fault.for : fault.down;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ctx.timers.delete(timer);
        resolve();
      }, span);
      ctx.timers.add(timer);
    });
    await heal();
    const late = ctx.now() - (from + span);
    if (late > 50) {
      // Healing took long (a restart): stretch the fault's window accordingly.
      ctx.windows.push([from, ctx.now() + ctx.maxTtl * 2 + 6 * ctx.nt + 300]);
    }
  }

  /** RELIABILITY_TRACE=1: every operation's timeline (ms since the run began). */
  private trace(): void {
    const ctx = this.ctx;
    const t = (v: number | undefined): string =>
      v === undefined ? '-' : String(Math.round(v - ctx.origin));
    const lines = ctx.records.map(
      (r) =>
        `  ${describe(r).padEnd(40)} called ${t(r.calledAt).padStart(5)} body ${t(r.bodyStart).padStart(5)}..${t(r.bodyEnd).padEnd(5)} settled ${t(r.settledAt).padStart(5)} ${r.outcome ?? ''}`,
    );
    process.stdout.write(`[reliability] trace:\n${lines.join('\n')}\n`);
  }
}
