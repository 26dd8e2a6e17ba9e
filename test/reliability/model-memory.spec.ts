import { afterAll, describe, expect, it } from '@jest/globals';
import { saveResult } from './report.js';
import { MemoryWorld } from './model/memory-world.js';
import { type ModelReport, runModel, SCALE, summarize } from './model/property.js';

/**
 * Randomized schedules over the memory store: 2–3 engines (simulated processes) share 1 or 3
 * `MemoryLockAdapter` nodes, each engine over its own simulated links; faults hit the links and
 * the nodes. See model/runner.ts for what is checked.
 */
describe('model: randomized schedules over the memory store', () => {
  let report: ModelReport | undefined;
  const BUDGET_MS = 18_000;

  afterAll(async () => {
    // A replay (RELIABILITY_PATH) runs one plan: it does not stand for the suite's figures.
    if (!report || process.env.RELIABILITY_PATH) return;
    await saveResult({
      suite: 'model-memory',
      title: 'Model, memory store (1 or 3 nodes, simulated links)',
      file: 'test/reliability/model-memory.spec.ts',
      kind: 'model',
      scale: SCALE,
      at: new Date().toISOString(),
      durationMs: report.durationMs,
      seeds: [report.seed],
      failed: report.failed,
      summary: summarize(report),
      faults: report.stats.faults,
      violations: report.violations,
    });
  });

  it(
    'keeps exclusion, fencing order, bounded waits and liveness on every generated schedule',
    async () => {
      report = await runModel({
        name: 'model-memory',
        file: 'test/reliability/model-memory.spec.ts',
        world: new MemoryWorld(),
        budgetMs: BUDGET_MS,
      });
      expect(report.message ?? 'no violation').toBe('no violation');
      expect(report.stats.sections).toBeGreaterThan(0);
    },
    BUDGET_MS * SCALE + 60_000,
  );
});
