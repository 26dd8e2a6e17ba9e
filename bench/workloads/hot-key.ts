/**
 * Hot key: 8 workers loop on one key (acquire, hold ~1 ms, release) for a fixed window, all in
 * the bench process or spread over child processes. The workers of every contender are built
 * once; then each round gives every contender one window, in a random order, on a key of its
 * own for that round (no leftover waiters from an earlier turn).
 */
import type { BenchConfig, HotKeyConfig } from '../core/config.js';
import { mono, sleep } from '../core/clock.js';
import {
  type Contender,
  type ContenderId,
  type ContenderSettings,
  contenderInfo,
  createContender,
  resourceName,
} from '../core/contenders.js';
import { type Audit, auditKeys } from '../core/key-audit.js';
import { forkTracked, nextMessage, send, stopChild } from '../core/processes.js';
import type { RedisAdmin } from '../core/redis-tools.js';
import { interleave, type LoadSample } from '../core/rounds.js';
import { type LatencySummary, pooledSummary } from '../core/stats.js';
import { analyseTurn, type HotKeyTurn } from './hot-key-analysis.js';
import type { WorkerBuild, WorkerConfigMessage, WorkerRunMessage } from './hot-key-worker.js';
import { type HotLoopRecords, type HotLoopSpec, runHotLoop } from './hot-loop.js';

export interface HotKeyRow {
  readonly contender: ContenderId;
  readonly label: string;
  readonly turns: readonly HotKeyTurn[];
  /**
   * Call-to-acquired time of every round's successful calls together (see `pooledSummary`):
   * the wait p50 and p99 the tables and targets use. Absent from runs before it was recorded.
   */
  readonly wait?: LatencySummary;
}

export interface HotKeyBlock {
  readonly nodes: number;
  readonly processes: number;
  readonly workers: number;
  readonly windowMs: number;
  readonly rows: readonly HotKeyRow[];
  readonly load: readonly LoadSample[];
  readonly audit: Audit;
}

export interface HotKeyContext {
  readonly urls: readonly string[];
  readonly admin: RedisAdmin;
  readonly config: BenchConfig;
  readonly log: (line: string) => void;
}

const SETUP_TIMEOUT_MS = 90_000;

/** Runs one turn of the contender built under `key`; returns every process's records. */
type TurnRunner = (
  key: string,
  spec: (index: number) => HotLoopSpec,
  startAt: number,
  windowEnd: number,
) => Promise<HotLoopRecords[]>;

interface Workers {
  readonly runTurn: TurnRunner;
  close(): Promise<void>;
}

const keyOf = (id: string, nodes: number): string => `${id}@${nodes}`;

/**
 * Every hot-key configuration. Configurations with the same number of processes share one set
 * of workers (built for each node count they need), so `--quick` does not pay for starting
 * Nest in four fresh processes twice.
 */
export async function runHotKeys(
  configs: readonly HotKeyConfig[],
  ids: readonly ContenderId[],
  ctx: HotKeyContext,
): Promise<HotKeyBlock[]> {
  const c = ctx.config.hotKey;
  const settings: ContenderSettings = { mode: 'contended', ttl: c.ttl, waitMs: c.waitMs };
  const blocks: HotKeyBlock[] = [];
  for (const processes of [...new Set(configs.map((x) => x.processes))]) {
    const group = configs.filter((x) => x.processes === processes);
    const builds = group.flatMap(({ nodes }) =>
      ids.map((id) => ({ key: keyOf(id, nodes), id, urls: ctx.urls.slice(0, nodes) })),
    );
    const setup = performance.now();
    const workers =
      processes === 1
        ? await inProcess(builds, settings)
        : await inChildren(builds, settings, processes, c.windowMs + c.drainMs + c.settleMs);
    ctx.log(
      `  hot key: ${builds.length} contenders ready in ${processes} process(es) after ${((performance.now() - setup) / 1_000).toFixed(1)} s`,
    );
    try {
      for (const config of group) blocks.push(await runConfig(config, ids, workers, ctx));
    } finally {
      await workers.close();
    }
  }
  return blocks;
}

async function runConfig(
  { nodes, processes }: HotKeyConfig,
  ids: readonly ContenderId[],
  workers: Workers,
  { admin, config, log }: HotKeyContext,
): Promise<HotKeyBlock> {
  const c = config.hotKey;
  const perProcess = Math.ceil(c.workers / processes);
  const specFor =
    (resource: string) =>
    (index: number): HotLoopSpec => ({
      resource,
      workers: Math.min(perProcess, c.workers - index * perProcess),
      firstWorker: index * perProcess,
      holdMs: c.holdMs,
      drainMs: c.drainMs,
      settleMs: c.settleMs,
      maxAcquisitionsPerWorker: c.maxAcquisitionsPerWorker,
    });
  const waits = new Map<string, Float64Array[]>(ids.map((id) => [id, []]));
  const { turns, load } = await interleave(ids, c.rounds, async (id, round) => {
    const resource = resourceName(id, 'hot', nodes, processes, round);
    // Children need a moment to receive the start time; in-process a few ms is enough.
    const startAt = mono() + (processes === 1 ? 20 : 100);
    const windowEnd = startAt + c.windowMs;
    const records = await workers.runTurn(keyOf(id, nodes), specFor(resource), startAt, windowEnd);
    waits.get(id)!.push(Float64Array.from(records.flatMap((part) => part.waits)));
    return analyseTurn(records, perProcess, processes, startAt, windowEnd, c.workers);
  });
  const rows = ids.map((id): HotKeyRow => {
    const row: HotKeyRow = {
      contender: id,
      label: contenderInfo(id).label(nodes),
      turns: turns.get(id)!,
      wait: pooledSummary(waits.get(id)!),
    };
    logRow(log, nodes, processes, row);
    return row;
  });
  const audit: Audit = {
    when: `after hot key, ${nodes} node(s), ${processes} process(es)`,
    nodes,
    owners: await auditKeys(admin.first(nodes)),
  };
  await admin.flushAll(nodes);
  return { nodes, processes, workers: c.workers, windowMs: c.windowMs, rows, load, audit };
}

async function inProcess(
  builds: readonly WorkerBuild[],
  settings: ContenderSettings,
): Promise<Workers> {
  const contenders = new Map<string, Contender>();
  const close = async (): Promise<void> => {
    await Promise.race([
      Promise.allSettled([...contenders.values()].map((x) => x.close())),
      sleep(3_000),
    ]);
  };
  try {
    for (const b of builds) contenders.set(b.key, await createContender(b.id, b.urls, settings));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    runTurn: async (key, spec, startAt, windowEnd) => [
      await runHotLoop(contenders.get(key)!, spec(0), startAt, windowEnd),
    ],
    close,
  };
}

async function inChildren(
  builds: readonly WorkerBuild[],
  settings: ContenderSettings,
  processes: number,
  turnMs: number,
): Promise<Workers> {
  const children = Array.from({ length: processes }, () =>
    forkTracked('./hot-key-worker.js', import.meta.url),
  );
  const close = async (): Promise<void> => {
    await Promise.all(children.map((child) => stopChild(child)));
  };
  try {
    const ready = children.map((child) => nextMessage(child, 'ready', SETUP_TIMEOUT_MS));
    const message: WorkerConfigMessage = { type: 'config', builds, settings };
    for (const child of children) send(child, message);
    await Promise.all(ready);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    runTurn: async (key, spec, startAt, windowEnd) => {
      const done = children.map((child) =>
        nextMessage<{ type: 'result'; records: HotLoopRecords }>(
          child,
          'result',
          turnMs + SETUP_TIMEOUT_MS,
        ),
      );
      children.forEach((child, index) => {
        const run: WorkerRunMessage = { type: 'run', key, spec: spec(index), startAt, windowEnd };
        send(child, run);
      });
      return (await Promise.all(done)).map((m) => m.records);
    },
    close,
  };
}

function logRow(
  log: (line: string) => void,
  nodes: number,
  processes: number,
  row: HotKeyRow,
): void {
  const med = (pick: (t: HotKeyTurn) => number): string => {
    const values = row.turns.map(pick).sort((a, b) => a - b);
    const value = values[Math.floor(values.length / 2)] ?? Number.NaN;
    return value.toFixed(value < 10 ? 2 : 1);
  };
  const giveUps = row.turns.reduce((sum, t) => sum + t.giveUps, 0);
  const overlaps = row.turns.reduce((sum, t) => sum + t.overlaps, 0);
  const error = row.turns.find((t) => t.firstError)?.firstError;
  log(
    `  hot key ${nodes} node(s) ${processes} proc ${row.label}: ${med((t) => t.acquisitionsPerSec)} acq/s, ` +
      `${med((t) => t.handoffsPerSec)} hand-offs/s, wait p99 ${row.wait ? row.wait.p99.toFixed(1) : med((t) => t.wait.p99)} ms, ` +
      `release to next holder p50 ${med((t) => t.gapP50Ms)} ms` +
      (processes > 1
        ? ` (in another process ${med((t) => t.crossGapP50Ms ?? Number.NaN)} ms), `
        : ', ') +
      `least share worker ${med((t) => t.leastWorkerShare ?? Number.NaN)}` +
      (processes > 1 ? ` / process ${med((t) => t.leastProcessShare ?? Number.NaN)}, ` : ', ') +
      `give-ups ${giveUps}, overlaps ${overlaps}` +
      (error ? ` (${error})` : ''),
  );
}
