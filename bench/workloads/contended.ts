/**
 * Workload 3: 8 workers on one hot key, ~1 ms hold, a fixed window; in the bench process or
 * spread over child processes. Reports acquisitions/s, hand-offs/s (an acquisition by another
 * worker than the previous holder), wait percentiles, give-ups, mutual-exclusion violations
 * (a hold that began before the previous one ended) and the "stuck" share from a sampler that
 * reads the key on every node every ~5 ms.
 */
import type { BenchConfig } from '../core/config.js';
import { mono, sleep } from '../core/clock.js';
import {
  type ContenderId,
  type ContenderSettings,
  contenderInfo,
  createContender,
  redisKeyOf,
} from '../core/contenders.js';
import { forkTracked, nextMessage, send, stopChild } from '../core/processes.js';
import { type RedisAdmin, StuckSampler } from '../core/redis-tools.js';
import { type LatencySummary, summarize } from '../core/stats.js';
import type { WorkerConfigMessage } from './contended-worker.js';
import { type HotLoopRecords, type HotLoopSpec, runHotLoop } from './hot-loop.js';

export interface ContendedResult {
  readonly contender: ContenderId;
  readonly label: string;
  readonly nodes: number;
  readonly processes: number;
  readonly workers: number;
  readonly windowMs: number;
  readonly acquisitions: number;
  readonly acquisitionsPerSec: number;
  readonly handoffs: number;
  readonly handoffsPerSec: number;
  /** Hand-offs to a worker in another process (multi-process runs only). */
  readonly crossProcessHandoffsPerSec: number | undefined;
  readonly wait: LatencySummary;
  /** How long each hold lasted (acquired to release call), ms. */
  readonly holdMeanMs: number;
  /** From a release call to the next acquisition (any worker): the hand-off latency, ms. */
  readonly gap: LatencySummary;
  readonly giveUps: number;
  readonly cut: number;
  readonly abandoned: number;
  /** Holds that began before the previous hold ended: must be 0 for a correct lock. */
  readonly overlaps: number;
  readonly samples: number;
  readonly stuckSamples: number;
  /** stuck samples / all samples. */
  readonly stuckShare: number;
  /** Stuck samples identical to the previous sample: a split that lasted ≥ ~5 ms. */
  readonly lingeringSamples: number;
  /** Ours only: attempts per acquisition (from its `acquired` events). */
  readonly attemptsPerAcquisition: number | undefined;
  /** A single uncontended worker: the stuck share a perfect hand-off would show (sampler floor). */
  readonly calibration: boolean;
  readonly releaseErrors: number;
  readonly firstError: string | undefined;
}

export interface ContendedContext {
  readonly urls: readonly string[];
  readonly admin: RedisAdmin;
  readonly config: BenchConfig;
  readonly log: (line: string) => void;
  readonly contenders: readonly ContenderId[];
}

const SETUP_TIMEOUT_MS = 20_000;

export async function runContended(
  nodes: number,
  processes: number,
  ctx: ContendedContext,
): Promise<ContendedResult[]> {
  const results: ContendedResult[] = [];
  for (const id of ctx.contenders) {
    results.push(await runOne(id, nodes, processes, ctx.config.contended.workers, ctx));
  }
  if (nodes > 1 && processes === 1) {
    // Calibration: one worker, no contention. Nodes apply each SET/DEL at slightly different
    // moments and the sampler's reads are not simultaneous either, so even a perfect hand-off
    // shows some "stuck" samples; this row measures that floor on this machine.
    const id = ctx.contenders.includes('limit') ? 'limit' : ctx.contenders[0];
    if (id) results.push(await runOne(id, nodes, processes, 1, ctx));
  }
  return results;
}

async function runOne(
  id: ContenderId,
  nodes: number,
  processes: number,
  workers: number,
  { urls, admin, config, log }: ContendedContext,
): Promise<ContendedResult> {
  const c = { ...config.contended, workers };
  const nodeUrls = urls.slice(0, nodes);
  const resource = `bench:hot:${id}`;
  const settings: ContenderSettings = { mode: 'contended', ttl: c.ttl, waitMs: c.waitMs };
  const perProcess = Math.ceil(c.workers / processes);
  const specFor = (index: number): HotLoopSpec => ({
    resource,
    workers: Math.min(perProcess, c.workers - index * perProcess),
    firstWorker: index * perProcess,
    holdMs: c.holdMs,
    drainMs: c.drainMs,
    maxAcquisitionsPerWorker: c.maxAcquisitionsPerWorker,
  });
  await admin.flushAll(nodes);
  const sampler = new StuckSampler(
    nodeUrls,
    redisKeyOf(id, resource),
    c.sampleEveryMs,
    Math.ceil(c.windowMs / c.sampleEveryMs) + 10,
  );
  let records: HotLoopRecords[];
  let startAt: number;
  let windowEnd: number;
  try {
    await sampler.ready();
    if (processes === 1) {
      const contender = await createContender(id, nodeUrls, settings);
      try {
        startAt = mono() + 50;
        windowEnd = startAt + c.windowMs;
        const sampling = scheduleSampler(sampler, startAt, windowEnd);
        records = [await runHotLoop(contender, specFor(0), startAt, windowEnd)];
        await sampling;
      } finally {
        await Promise.race([contender.close(), sleep(2_000)]);
      }
    } else {
      const children = Array.from({ length: processes }, () =>
        forkTracked('./contended-worker.js', import.meta.url),
      );
      try {
        const ready = children.map((child) => nextMessage(child, 'ready', SETUP_TIMEOUT_MS));
        children.forEach((child, index) => {
          const message: WorkerConfigMessage = {
            type: 'config',
            contender: id,
            urls: nodeUrls,
            settings,
            spec: specFor(index),
          };
          send(child, message);
        });
        await Promise.all(ready);
        startAt = mono() + 100;
        windowEnd = startAt + c.windowMs;
        const done = children.map((child) =>
          nextMessage<{ type: 'result'; records: HotLoopRecords }>(
            child,
            'result',
            c.windowMs + c.drainMs + SETUP_TIMEOUT_MS,
          ),
        );
        for (const child of children) send(child, { type: 'start', startAt, windowEnd });
        const sampling = scheduleSampler(sampler, startAt, windowEnd);
        records = (await Promise.all(done)).map((message) => message.records);
        await sampling;
      } finally {
        await Promise.all(children.map((child) => stopChild(child)));
      }
    }
  } finally {
    sampler.close();
  }
  const result = analyse(
    id,
    nodes,
    processes,
    workers,
    config,
    records,
    startAt,
    windowEnd,
    sampler,
  );
  log(
    `  contended ${nodes} node(s) ${processes} proc ${workers} worker(s) ${result.label}: ${result.acquisitionsPerSec.toFixed(0)} acq/s, ` +
      `${result.handoffsPerSec.toFixed(0)} hand-offs/s, wait p99 ${result.wait.p99.toFixed(1)} ms, ` +
      `give-ups ${result.giveUps}, stuck ${(result.stuckShare * 100).toFixed(1)} % (${result.lingeringSamples} lingering), overlaps ${result.overlaps}` +
      (result.attemptsPerAcquisition
        ? `, ${result.attemptsPerAcquisition.toFixed(1)} attempts/acq`
        : '') +
      (result.firstError ? ` (${result.firstError})` : ''),
  );
  return result;
}

/** Starts the sampler at `startAt` and resolves when its window is over. */
async function scheduleSampler(
  sampler: StuckSampler,
  startAt: number,
  windowEnd: number,
): Promise<void> {
  const delay = startAt - mono();
  if (delay > 0) await sleep(delay);
  sampler.start(performance.now() + (windowEnd - mono()));
  const rest = windowEnd - mono();
  if (rest > 0) await sleep(rest);
  sampler.stop();
}

function analyse(
  id: ContenderId,
  nodes: number,
  processes: number,
  workers: number,
  config: BenchConfig,
  records: readonly HotLoopRecords[],
  startAt: number,
  windowEnd: number,
  sampler: StuckSampler,
): ContendedResult {
  const holds: { worker: number; acquiredAt: number; releasedAt: number }[] = [];
  const waits: number[] = [];
  let giveUps = 0;
  let cut = 0;
  let abandoned = 0;
  let releaseErrors = 0;
  let firstError: string | undefined;
  let attemptCount = 0;
  let attemptAcquisitions = 0;
  for (const part of records) {
    if (part.attempts) {
      attemptCount += part.attempts.attempts;
      attemptAcquisitions += part.attempts.acquisitions;
    }
    for (let i = 0; i < part.worker.length; i += 1) {
      holds.push({
        worker: part.worker[i]!,
        acquiredAt: part.acquiredAt[i]!,
        releasedAt: part.releasedAt[i]!,
      });
    }
    waits.push(...part.waits);
    giveUps += part.giveUps;
    cut += part.cut;
    abandoned += part.abandoned;
    releaseErrors += part.releaseErrors;
    firstError ??= part.firstError;
  }
  holds.sort((a, b) => a.acquiredAt - b.acquiredAt);
  let overlaps = 0;
  let lastRelease = -Infinity;
  let acquisitions = 0;
  let handoffs = 0;
  let crossProcess = 0;
  const perProcess = Math.ceil(workers / processes);
  let previous: number | undefined;
  let holdSum = 0;
  const gaps: number[] = [];
  for (const hold of holds) {
    if (hold.acquiredAt < lastRelease) overlaps += 1;
    const before = lastRelease;
    lastRelease = Math.max(lastRelease, hold.releasedAt);
    if (hold.acquiredAt < startAt || hold.acquiredAt > windowEnd) continue;
    acquisitions += 1;
    holdSum += hold.releasedAt - hold.acquiredAt;
    if (previous !== undefined) gaps.push(hold.acquiredAt - before);
    if (previous !== undefined && hold.worker !== previous) handoffs += 1;
    if (
      previous !== undefined &&
      Math.floor(hold.worker / perProcess) !== Math.floor(previous / perProcess)
    ) {
      crossProcess += 1;
    }
    previous = hold.worker;
  }
  const seconds = (windowEnd - startAt) / 1_000;
  return {
    contender: id,
    label: contenderInfo(id).label(nodes),
    nodes,
    processes,
    workers,
    windowMs: config.contended.windowMs,
    acquisitions,
    acquisitionsPerSec: acquisitions / seconds,
    handoffs,
    handoffsPerSec: handoffs / seconds,
    crossProcessHandoffsPerSec: processes > 1 ? crossProcess / seconds : undefined,
    wait: summarize(Float64Array.from(waits).sort()),
    holdMeanMs: acquisitions === 0 ? Number.NaN : holdSum / acquisitions,
    gap: summarize(Float64Array.from(gaps).sort()),
    giveUps,
    cut,
    abandoned,
    overlaps,
    samples: sampler.samples,
    stuckSamples: sampler.stuck,
    stuckShare: sampler.samples === 0 ? 0 : sampler.stuck / sampler.samples,
    lingeringSamples: sampler.lingering,
    attemptsPerAcquisition:
      attemptAcquisitions > 0 ? attemptCount / attemptAcquisitions : undefined,
    calibration: workers === 1,
    releaseErrors,
    firstError,
  };
}
