/**
 * The fast-check driver of the model suites: generates plans, runs them within a time budget,
 * prints the seed, replays a failing one, and collects figures for RELIABILITY.md.
 *
 * Replay: `RELIABILITY_SEED=<seed> RELIABILITY_PATH=<path>` runs exactly the failing plan
 * (add `RELIABILITY_REPEAT=<n>` to run it n times: a plan fixes the schedule, not the
 * interleavings of a real network). `RELIABILITY_SHRINK=1` lets fast-check shrink a failure
 * (slow: every shrink step is a real run). `RELIABILITY_SCALE=<n>` (npm run soak) multiplies
 * the time budget and the size of the plans. `RELIABILITY_KEEP_GOING=1` records violations and
 * goes on with the next plan (each reported with the seed and path that replay it); the test
 * still fails at the end.
 */
import fc from 'fast-check';
import { tapRejections } from '../../support/host-process.js';
import type { Violation } from '../../support/witness.js';
import { planArb, type Plan, type WorldKind } from './plan.js';
import { runPlan } from './runner.js';
import { addStats, emptyStats, type RunStats } from './stats.js';
import type { World } from './world.js';

export const SCALE = Math.max(1, Number(process.env.RELIABILITY_SCALE ?? 1));

export interface ModelOptions {
  /** For messages and results: `model-memory`. */
  name: string;
  /** The spec file, for the replay command. */
  file: string;
  world: World;
  /** Wall time for new runs at scale 1 (a run started before it ends finishes). */
  budgetMs: number;
}

export interface ModelReport {
  name: string;
  world: WorldKind;
  seed: number;
  path: string | undefined;
  replay: string;
  failed: boolean;
  /** Plans executed (with RELIABILITY_REPEAT, runs count each repetition). */
  plans: number;
  stats: RunStats;
  violations: (Violation & { seed: number; path: string })[];
  counterexample: Plan | undefined;
  message: string | undefined;
  durationMs: number;
  budgetMs: number;
}

export function seedFromEnv(): number {
  const fromEnv = process.env.RELIABILITY_SEED;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) | 0;
  return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
}

export async function runModel(options: ModelOptions): Promise<ModelReport> {
  const seed = seedFromEnv();
  const path = process.env.RELIABILITY_PATH || undefined;
  const repeat = Math.max(1, Number(process.env.RELIABILITY_REPEAT ?? 1));
  const shrink = process.env.RELIABILITY_SHRINK === '1';
  const keepGoing = process.env.RELIABILITY_KEEP_GOING === '1';
  const found: (Violation & { seed: number; path: string })[] = [];
  let index = -1;
  const budgetMs = options.budgetMs * SCALE;
  // Plans grow with the scale: a replay needs the same one.
  const scaled = SCALE > 1 ? `RELIABILITY_SCALE=${SCALE} ` : '';
  const replay = `${scaled}RELIABILITY_SEED=${seed} RELIABILITY_PATH=<path> npm run test:jest -- ${options.file}`;
  process.stdout.write(
    `[reliability] ${options.name}: seed ${seed}${path ? ` path ${path}` : ''}, budget ${budgetMs} ms, scale ${SCALE}\n`,
  );
  const tap = tapRejections();
  const stats = emptyStats();
  const started = performance.now();
  const deadline = started + budgetMs;
  let plans = 0;
  let lastViolations: Violation[] = [];
  try {
    const property = fc.asyncProperty(planArb(options.world.kind, SCALE), async (plan) => {
      index += 1;
      // Once the budget is spent the remaining generated plans pass without running.
      if (path === undefined && performance.now() > deadline) return true;
      for (let i = 0; i < repeat; i += 1) {
        plans += 1;
        const result = await runPlan(options.world, plan, tap);
        addStats(stats, result.stats);
        if (result.violations.length > 0 && keepGoing) {
          // Without shrinking, the path of the n-th plan is its index.
          const runPath = path ?? String(index);
          for (const v of result.violations) found.push({ ...v, seed, path: runPath });
          process.stdout.write(
            `[reliability] ${options.name}: violations (replay ${scaled}RELIABILITY_SEED=${seed} RELIABILITY_PATH=${runPath}):\n${result.violations
              .map((v) => `  - [${v.kind}] ${v.detail}`)
              .join('\n')}\n`,
          );
          continue;
        }
        if (result.violations.length > 0) {
          lastViolations = result.violations;
          throw new Error(
            `${result.violations.length} violation(s):\n${result.violations
              .map((v) => `  - [${v.kind}] +${v.at} ms ${v.detail}`)
              .join('\n')}`,
          );
        }
      }
      return true;
    });
    const details = await fc.check(property, {
      seed,
      path,
      // A run takes at least a few hundred ms: this many plans always outlast the budget.
      numRuns: path === undefined ? Math.ceil(budgetMs / 100) + 10 : 1,
      endOnFailure: !shrink,
    });
    const failedPath = details.counterexamplePath ?? undefined;
    if (!details.failed && found.length > 0) {
      return {
        name: options.name,
        world: options.world.kind,
        seed,
        path: found[0]!.path,
        replay,
        failed: true,
        plans,
        stats,
        violations: found,
        counterexample: undefined,
        message: `${options.name}: ${found.length} violation(s) in ${new Set(found.map((v) => v.path)).size} plan(s):\n${found
          .map(
            (v) =>
              `  - [${v.kind}] (RELIABILITY_SEED=${v.seed} RELIABILITY_PATH=${v.path}) ${v.detail}`,
          )
          .join('\n')}`,
        durationMs: Math.round(performance.now() - started),
        budgetMs,
      };
    }
    const message = details.failed
      ? `${options.name} failed (seed ${details.seed}, path ${failedPath}).\n` +
        `Replay: ${scaled}RELIABILITY_SEED=${details.seed} RELIABILITY_PATH=${failedPath} npm run test:jest -- ${options.file}\n` +
        `${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}\n` +
        `Plan: ${JSON.stringify(details.counterexample?.[0])}`
      : undefined;
    if (message) process.stdout.write(`[reliability] ${message}\n`);
    return {
      name: options.name,
      world: options.world.kind,
      seed: details.seed,
      path: failedPath,
      replay,
      failed: details.failed,
      plans,
      stats,
      violations: details.failed
        ? lastViolations.map((v) => ({ ...v, seed: details.seed, path: failedPath ?? '' }))
        : [],
      counterexample: details.counterexample?.[0],
      message,
      durationMs: Math.round(performance.now() - started),
      budgetMs,
    };
  } finally {
    tap.stop();
  }
}

/** The figures of a model run for results and RELIABILITY.md. */
export function summarize(report: ModelReport): Record<string, number | string> {
  const s = report.stats;
  return {
    plans: report.plans,
    'after a failing plan':
      process.env.RELIABILITY_KEEP_GOING === '1' ? 'went on (KEEP_GOING)' : 'stopped',
    sections: s.sections,
    'reader sections': s.reads,
    operations: Object.values(s.ops).reduce((a, b) => a + b, 0),
    'operations by kind': Object.entries(s.ops)
      .map(([k, n]) => `${k} ${n}`)
      .join(', '),
    outcomes: Object.entries(s.outcomes)
      .map(([k, n]) => `${k} ${n}`)
      .join(', '),
    'fencing checks (skipped after data loss)': `${s.fencingChecks} (${s.fencingSkipped})`,
    'late aborts (lock lapsed, section still inside)': s.lateAborts,
    'waits checked for liveness': s.livenessChecked,
    'longest free gap a waiter saw (ms)': s.longestGapMs,
    'slowest acquisition (ms)': Math.round(s.maxAcquireMs),
    'losses told by the signal (latest past validity, ms)': `${s.lossNotices} (${s.latestLossMs})`,
    'unavailable with no fault active (slow nodes)': s.unavailableWithoutFault,
    'aborted waits granted first, checked as acquisitions': s.abortLocksChecked,
    'locks handed over in-process (checked as any other)': s.handOffs,
    'permits granted (most holders of one semaphore at once)': `${s.permitGrants} (${s.maxPermitHolders})`,
    'permit sections': s.permitSections,
    'permit fencing checks (tokens shared by holders at once)': `${s.permitFencingChecks} (${s.permitTokensShared})`,
    'permit waits checked (longest free-permit gap, ms)': `${s.permitWaitsChecked} (${s.longestPermitGapMs})`,
    violations: report.violations.length,
  };
}
