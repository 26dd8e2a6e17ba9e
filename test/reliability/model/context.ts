/**
 * The state of one run, shared by the driver (`runner.ts`), the operations it performs
 * (`scopes.ts`, `acquisitions.ts`), the checks (`checks.ts`) and the end of the run
 * (`end-of-run.ts`): the witness and the permit book, every operation's record, what is still
 * pending, the fault windows, the engines and their clocks.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';
import type { Lock } from '../../../lib/services/lock.js';
import type { Redlock } from '../../../lib/services/redlock.engine.js';
import { Witness } from '../../support/witness.js';
import { describeError, noop, tokenOf } from './helpers.js';
import { describe, type OpRecord } from './op-record.js';
import { PermitBook, type PermitHold } from './permits.js';
import type { Plan } from './plan.js';
import type { SkewedClock } from './skewed-clock.js';
import { emptyStats } from './stats.js';
import type { World } from './world.js';

/** The event-loop delay monitor's sampling interval (ms). */
const LAG_SAMPLE_MS = 10;

export class RunContext {
  readonly witness = new Witness();
  readonly book: PermitBook;
  /** How late this process's timers fired: a loaded machine stretches every bound by it. */
  readonly lag = monitorEventLoopDelay({ resolution: LAG_SAMPLE_MS });

  /**
   * The longest any timer of this process may have fired late so far (ms). The monitor times
   * its own sampling timer, so a stall that began between two samples reads up to one
   * sampling interval shorter than a timer due just after that sample saw it.
   */
  get lagMs(): number {
    return this.lag.max / 1e6 + LAG_SAMPLE_MS;
  }
  readonly stats = emptyStats();
  readonly records: OpRecord[] = [];
  readonly pending = new Set<Promise<unknown>>();
  readonly timers = new Set<NodeJS.Timeout>();
  readonly heals: (() => Promise<void>)[] = [];
  readonly windows: [number, number][] = [];
  readonly engineCount: number;
  readonly maxTtl: number;
  readonly nt: number;
  origin = 0;
  /** Locks held right now by top-level operations, per resource: for the stale-release check. */
  readonly holding = new Map<string, Set<Lock>>();
  engines: Redlock[] = [];
  clocks: SkewedClock[] = [];
  observer: Redlock | undefined;
  nextId = 1;

  constructor(
    readonly world: World,
    readonly plan: Plan,
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

  now(): number {
    return this.witness.elapsed();
  }

  fail(kind: string, detail: string): void {
    this.witness.fail(kind, detail);
  }

  /** Runs `fn` after `ms` (a timer the run clears at its end); a rejection is a harness failure. */
  at(ms: number, fn: () => Promise<unknown>): Promise<void> {
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

  /** Counts `promise` among what must settle before the run ends. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(noop);
    return promise;
  }

  holdOn(res: readonly string[], lock: Lock): () => void {
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
  holdOf(record: OpRecord, lock: Lock): PermitHold {
    if (record.permits === undefined) {
      const held = this.witness.hold(record.res, record.mode);
      return { released: noop, end: (at) => held.end(at) };
    }
    if (record.parent !== undefined) return { released: noop, end: noop };
    return this.book.grant(record.res[0]!, lock, {
      label: describe(record),
      asked: record.calledAt,
      token: tokenOf(lock),
    });
  }

  resource(index: number): string {
    return `r${index % this.plan.resources}`;
  }

  inFaultWindow(from: number, to: number): boolean {
    return this.windows.some(([a, b]) => from < b && to > a);
  }

  /** When the lock's validity ends, on the witness clock (skew and rate undone). */
  expiry(engine: number, lock: Lock): number {
    const clock = this.clocks[engine]!;
    const remaining = (lock.expiresAt - clock.wallNow()) / clock.rate;
    return this.now() + Math.max(0, remaining);
  }
}
