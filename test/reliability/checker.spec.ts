import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';
import { renderReport, type ScenarioResult, type WorkerStats } from './report.js';

/**
 * The mutual-exclusion checker: worker processes (worker.mjs, on the built library) hammer
 * resources on 5 real Redis lock nodes while faults are injected; a sixth Redis holds what the
 * critical sections touch. `RELIABILITY_SCALE=5` (npm run soak) runs each window 5x longer.
 */
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const WORKER = join(here, 'worker.mjs');
const SCALE = Number(process.env.RELIABILITY_SCALE ?? 1);
const LOCK = { ttl: 500, wait: 1_000, nodeTimeout: 50 };
const HOT = ['hot'];
const MANY = Array.from({ length: 16 }, (_, i) => `r${i}`);

interface Worker {
  id: number;
  child: ChildProcess;
  stats: Promise<WorkerStats | undefined>;
}

const results: ScenarioResult[] = [];

describe('mutual exclusion under faults (5 lock nodes, 4 worker processes)', () => {
  let fleet: RedisFleet;
  let data: Redis;
  let lockUrls: string[];

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'lib', 'index.js'))) {
      throw new Error('The checker runs workers on the built library: run `npm run build` first.');
    }
    fleet = await startRedisFleet({ nodes: 6 });
    lockUrls = fleet.urls.slice(0, 5);
    data = fleet.nodes[5]!.client();
  }, 30_000);

  beforeEach(async () => {
    await Promise.all(fleet.nodes.map((node) => node.resume()));
    await Promise.all(fleet.nodes.map((node) => node.client().flushall()));
  });

  afterAll(async () => {
    await fleet?.stop();
    const out = join(here, 'results');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'latest.json'), JSON.stringify({ scale: SCALE, results }, null, 2));
    if (process.env.RELIABILITY_REPORT === '1') {
      await writeFile(join(root, 'RELIABILITY.md'), renderReport(results, SCALE));
    }
  });

  function spawnWorkers(
    count: number,
    resources: readonly string[],
    quota?: number,
    readWrite = false,
  ): Promise<Worker[]> {
    return Promise.all(
      Array.from({ length: count }, (_, id) => {
        const child = fork(WORKER, [], {
          env: {
            ...process.env,
            RELIABILITY_WORKER: JSON.stringify({
              id,
              lockUrls,
              dataUrl: fleet.urls[5],
              resources,
              lock: LOCK,
              quota,
              readWrite,
            }),
          },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        const stats = new Promise<WorkerStats | undefined>((resolve) => {
          // A worker killed while holding last reported its figures with 'holding'.
          let last: WorkerStats | undefined;
          child.on('message', (message: { type: string; stats?: WorkerStats }) => {
            if (message.type === 'holding') last = message.stats;
            if (message.type === 'stats') resolve(message.stats);
          });
          child.once('exit', () => resolve(last));
        });
        return new Promise<Worker>((resolve, reject) => {
          child.once('error', reject);
          child.on('message', (message: { type: string }) => {
            if (message.type === 'ready') resolve({ id, child, stats });
          });
        });
      }),
    );
  }

  /** Runs a scenario: workers work for `seconds` (x SCALE) while `faults` runs beside them. */
  async function scenario(
    name: string,
    checks: string,
    options: {
      resources?: readonly string[];
      /** How long the workers run; or, with `quota`, until each has done that many sections. */
      seconds: number;
      quota?: number;
      /** Workers take read locks 70 % of the time and write locks otherwise. */
      readWrite?: boolean;
      faults?: (workers: Worker[]) => Promise<Partial<ScenarioResult>>;
    },
  ): Promise<ScenarioResult> {
    const resources = options.resources ?? HOT;
    const workers = await spawnWorkers(4, resources, options.quota, options.readWrite);
    const started = performance.now();
    for (const worker of workers) worker.child.send({ type: 'run' });
    const window =
      options.quota === undefined
        ? new Promise((resolve) => setTimeout(resolve, options.seconds * 1_000 * SCALE))
        : Promise.all(workers.map((worker) => worker.stats));
    const [extra] = await Promise.all([options.faults?.(workers) ?? {}, window]);
    for (const worker of workers) if (worker.child.connected) worker.child.send({ type: 'stop' });
    const stats = (await Promise.all(workers.map((worker) => worker.stats))).filter(
      (s): s is WorkerStats => s !== undefined,
    );
    const counted = await Promise.all(resources.map((r) => data.get(`cnt:${r}`)));
    const sections = stats.reduce((sum, s) => sum + s.criticalSections, 0);
    const result: ScenarioResult = {
      name,
      checks,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      criticalSections: sections,
      violations: sum(stats, 'violations'),
      lostUpdates: sections - counted.reduce((total, v) => total + Number(v ?? 0), 0),
      fencedRejectedWhileHeld: sum(stats, 'fencedRejectedWhileHeld'),
      staleAccepted: sum(stats, 'staleAccepted'),
      staleRejected: sum(stats, 'staleRejected'),
      errors: stats.reduce<Record<string, number>>((all, s) => {
        for (const [k, v] of Object.entries(s.errors)) all[k] = (all[k] ?? 0) + v;
        return all;
      }, {}),
      unexpected: stats.flatMap((s) => s.unexpected),
      maxSettleMs: Math.round(Math.max(0, ...stats.map((s) => s.maxSettleMs))),
      faults: 0,
      pausedSignalAborted: sum(stats, 'pausedSignalAborted'),
      reads: sum(stats, 'reads'),
      writes: sum(stats, 'writes'),
      maxWriteWaitMs: Math.round(Math.max(0, ...stats.map((s) => s.maxWriteWaitMs))),
      pausedSignalNotAborted: sum(stats, 'pausedSignalNotAborted'),
      ...extra,
    };
    results.push(result);
    // The only passing result, whatever the scenario.
    expect({
      violations: result.violations,
      lostUpdates: result.lostUpdates,
      fencedRejectedWhileHeld: result.fencedRejectedWhileHeld,
      staleAccepted: result.staleAccepted,
      unexpected: result.unexpected,
    }).toEqual({
      violations: 0,
      lostUpdates: 0,
      fencedRejectedWhileHeld: 0,
      staleAccepted: 0,
      unexpected: [],
    });
    expect(result.criticalSections).toBeGreaterThan(0);
    return result;
  }

  const nodes = () => fleet.nodes.slice(0, 5);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('keeps one holder at a time on a hot resource', async () => {
    await scenario('hot resource, no faults', 'occupancy, lost updates, fenced writes', {
      seconds: 6,
    });
  }, 60_000);

  it('survives SIGKILL of 2 of 5 nodes, brought back after the max ttl', async () => {
    await scenario('SIGKILL 2 of 5 nodes', 'quorum of 3 keeps working; restarted nodes rejoin', {
      seconds: 4,
      faults: async () => {
        await sleep(800 * SCALE);
        await Promise.all([nodes()[0]!.kill(), nodes()[1]!.kill()]);
        // The documented rule: a node that lost its data stays down longer than the max ttl.
        await sleep(LOCK.ttl + 200);
        await Promise.all([nodes()[0]!.restart(), nodes()[1]!.restart()]);
        return { faults: 2 };
      },
    });
  }, 60_000);

  it('survives a node stopped (SIGSTOP) for longer than the per-node timeout', async () => {
    await scenario('SIGSTOP 1 node for 20x the node timeout', 'slow node never delays the quorum', {
      seconds: 3,
      faults: async () => {
        await sleep(500 * SCALE);
        await nodes()[2]!.pause();
        await sleep(LOCK.nodeTimeout * 20);
        await nodes()[2]!.resume();
        return { faults: 1 };
      },
    });
  }, 60_000);

  it('stays safe across a node restarted without persistence, kept down past the max ttl', async () => {
    await scenario(
      'restart 1 node without persistence (down > max ttl)',
      'the documented delayed-restart rule',
      {
        seconds: 3,
        faults: async () => {
          let restarts = 0;
          for (const index of [3, 4]) {
            await sleep(400 * SCALE);
            await nodes()[index]!.kill();
            await sleep(LOCK.ttl + 200);
            await nodes()[index]!.restart();
            restarts += 1;
          }
          return { faults: restarts };
        },
      },
    );
  }, 60_000);

  it('settles every call with a typed error while the majority is lost, and recovers', async () => {
    const result = await scenario(
      'majority lost (3 of 5 stopped), then back',
      'no hang; typed errors; recovery',
      {
        seconds: 4,
        faults: async (workers) => {
          await sleep(500 * SCALE);
          await Promise.all([0, 1, 2].map((i) => nodes()[i]!.pause()));
          await sleep(1_500);
          const acquisitions = new Promise<number>((resolve) => {
            for (const worker of workers) {
              worker.child.send({ type: 'report-acquisitions', on: true });
              worker.child.on('message', (m: { type: string; at: number }) => {
                if (m.type === 'acquired') resolve(m.at);
              });
            }
          });
          const resumed = Date.now();
          await Promise.all([0, 1, 2].map((i) => nodes()[i]!.resume()));
          const recoveryMs = (await acquisitions) - resumed;
          return { faults: 3, recoveryMs };
        },
      },
    );
    expect(result.errors.RedlockUnavailableError ?? 0).toBeGreaterThan(0);
    // Bounded: the wait, plus one attempt's node timeout and its clean-up, plus slack.
    expect(result.maxSettleMs).toBeLessThanOrEqual(LOCK.wait + 4 * LOCK.nodeTimeout + 500);
    expect(result.recoveryMs).toBeLessThan(2_000);
  }, 60_000);

  it('hands a crashed holder’s lock on within ttl + 100 ms', async () => {
    const result = await scenario(
      'holder SIGKILLed while holding',
      'next holder within ttl + 100 ms',
      {
        seconds: 3,
        faults: async (workers) => {
          await sleep(500 * SCALE);
          const [victim, ...others] = workers;
          const holding = new Promise<number>((resolve) => {
            victim!.child.on('message', (m: { type: string; at: number }) => {
              if (m.type === 'holding') resolve(m.at);
            });
          });
          victim!.child.send({ type: 'crash-when-holding' });
          await holding;
          victim!.child.kill('SIGKILL');
          const killedAt = Date.now();
          const next = new Promise<number>((resolve) => {
            for (const worker of others) {
              worker.child.send({ type: 'report-acquisitions', on: true });
              worker.child.on('message', (m: { type: string; at: number }) => {
                if (m.type === 'acquired') resolve(m.at);
              });
            }
          });
          return { faults: 1, handoverMs: (await next) - killedAt };
        },
      },
    );
    expect(result.handoverMs).toBeLessThanOrEqual(LOCK.ttl + 100);
  }, 60_000);

  it('aborts a paused holder’s signal and refuses its late fenced write', async () => {
    const result = await scenario(
      'holder event loop blocked for ttl + 300 ms',
      'signal aborts; stale write refused',
      {
        seconds: 3,
        faults: async (workers) => {
          await sleep(500 * SCALE);
          workers[0]!.child.send({ type: 'block', ms: LOCK.ttl + 300 });
          return { faults: 1 };
        },
      },
    );
    expect(result.pausedSignalAborted).toBe(1);
    expect(result.pausedSignalNotAborted).toBe(0);
    expect(result.staleRejected).toBe(1);
  }, 60_000);

  it('keeps readers apart from writers across processes, and writers are not starved', async () => {
    const result = await scenario(
      'read-write locks: 70 % readers, 30 % writers',
      'no reader with a writer, no two writers; writers get through',
      { seconds: 4, readWrite: true },
    );
    // Both kinds make progress, and no writer gave up behind the readers (a reader's give-up
    // would be WriteLockHeldError): writers are not starved.
    expect(result.reads).toBeGreaterThan(0);
    expect(result.writes).toBeGreaterThan(0);
    expect(result.errors.LockNotAcquiredError ?? 0).toBe(0);
  }, 60_000);

  it('ignores wall-clock jumps of minutes in either direction', async () => {
    await scenario(
      'Date.now jumps +5 min / -5 min in workers',
      'validity uses the monotonic clock',
      {
        seconds: 3,
        faults: async (workers) => {
          await sleep(500 * SCALE);
          workers[0]!.child.send({ type: 'clock', offsetMs: 5 * 60_000 });
          workers[1]!.child.send({ type: 'clock', offsetMs: -5 * 60_000 });
          return { faults: 2 };
        },
      },
    );
  }, 60_000);

  it('keeps one holder per resource over 16 resources (tops the run up to 20k sections)', async () => {
    // Runs last, until the whole run reaches 20k x SCALE sections, whatever the machine's speed.
    const done = results.reduce((sum, r) => sum + r.criticalSections, 0);
    const quota = Math.max(500, Math.ceil((20_000 * SCALE - done) / 4));
    await scenario('16 resources, no faults', 'occupancy per resource, lost updates', {
      resources: MANY,
      seconds: 0,
      quota,
    });
  }, 300_000);

  it('ran at least 20k critical sections across the scenarios', () => {
    const total = results.reduce((sum, r) => sum + r.criticalSections, 0);
    expect(total).toBeGreaterThanOrEqual(20_000 * SCALE);
  });
});

function sum(stats: readonly WorkerStats[], key: keyof WorkerStats): number {
  return stats.reduce((total, s) => total + Number(s[key]), 0);
}
