import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { saveResult } from './report.js';
import { type ModelReport, runModel, SCALE, summarize } from './model/property.js';
import { RedisWorld } from './model/redis-world.js';

/**
 * Randomized schedules over 3 real redis-server nodes, each engine behind fault proxies of its
 * own; faults hit single connections (latency, blackhole, cut, cut mid-command, refused
 * connections, an engine partitioned from a majority) and whole nodes (SIGSTOP, SIGKILL and
 * restart without data). See model/runner.ts for what is checked.
 */
describe('model: randomized schedules over 3 Redis nodes behind fault proxies', () => {
  let world: RedisWorld;
  let report: ModelReport | undefined;
  const BUDGET_MS = 26_000;

  beforeAll(async () => {
    world = await RedisWorld.start();
  });

  afterAll(async () => {
    await world?.stop();
    // A replay (RELIABILITY_PATH) runs one plan: it does not stand for the suite's figures.
    if (!report || process.env.RELIABILITY_PATH) return;
    await saveResult({
      suite: 'model-redis',
      title: 'Model, 3 Redis nodes behind fault proxies',
      file: 'test/reliability/model-redis.spec.ts',
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
        name: 'model-redis',
        file: 'test/reliability/model-redis.spec.ts',
        world,
        budgetMs: BUDGET_MS,
      });
      expect(report.message ?? 'no violation').toBe('no violation');
      expect(report.stats.sections).toBeGreaterThan(0);
    },
    BUDGET_MS * SCALE + 60_000,
  );
});
