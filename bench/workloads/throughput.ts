/**
 * Workloads 1 and 2: uncontended acquire + release, one new key per iteration.
 * 1: one call at a time (ops/s and latency); 2: 64 calls in flight on distinct keys (ops/s).
 * Contenders run in interleaved rounds (the order rotates each round) on freshly flushed nodes,
 * so drift in machine load spreads evenly over them.
 */
import { type BenchConfig } from '../core/config.js';
import {
  type Contender,
  type ContenderId,
  contenderInfo,
  createContender,
} from '../core/contenders.js';
import { messageOf } from '../core/clock.js';
import type { RedisAdmin } from '../core/redis-tools.js';
import { type LatencySummary, Samples } from '../core/stats.js';

export interface ThroughputResult {
  readonly workload: 'uncontended' | 'many-keys';
  readonly contender: ContenderId;
  readonly label: string;
  readonly nodes: number;
  readonly inFlight: number;
  readonly ops: number;
  readonly elapsedMs: number;
  readonly opsPerSec: number;
  /** ops/s of each round, in round order. */
  readonly rounds: readonly number[];
  /** acquire + release, one call at a time (workload 1 only). */
  readonly latency: LatencySummary | undefined;
  /** Client CPU (user + system) per operation, µs. */
  readonly cpuUsPerOp: number;
  /** Server CPU in commands per operation, summed over the nodes, µs. */
  readonly redisUsPerOp: number;
  readonly errors: number;
  readonly firstError: string | undefined;
}

interface LoopOutcome {
  ops: number;
  elapsedMs: number;
  errors: number;
  firstError: string | undefined;
}

const MAX_ERRORS = 1_000;

export async function runLanes(
  contender: Contender,
  prefix: string,
  lanes: number,
  durationMs: number,
  maxOps: number,
  samples: Samples | undefined,
): Promise<LoopOutcome> {
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const end = start + durationMs;
  const lane = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end || next >= maxOps || errors >= MAX_ERRORS) return;
      const key = prefix + next++;
      try {
        const handle = await contender.acquire(key);
        await contender.release(handle);
      } catch (error) {
        errors += 1;
        firstError ??= messageOf(error);
        continue;
      }
      samples?.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return { ops: next - errors, elapsedMs: performance.now() - start, errors, firstError };
}

export interface ThroughputContext {
  readonly urls: readonly string[];
  readonly admin: RedisAdmin;
  readonly config: BenchConfig;
  readonly log: (line: string) => void;
  readonly contenders: readonly ContenderId[];
}

export async function runThroughput(
  workload: 'uncontended' | 'many-keys',
  nodes: number,
  { urls, admin, config, log, contenders: ids }: ThroughputContext,
): Promise<ThroughputResult[]> {
  const spec =
    workload === 'uncontended' ? { ...config.uncontended, inFlight: 1 } : config.manyKeys;
  const nodeUrls = urls.slice(0, nodes);
  const contenders: Contender[] = [];
  try {
    for (const id of ids) {
      contenders.push(
        await createContender(id, nodeUrls, { mode: 'uncontended', ttl: spec.ttl, waitMs: 0 }),
      );
    }
    const totals = new Map<
      ContenderId,
      LoopOutcome & { rounds: number[]; cpuUs: number; redisUs: number; samples: Samples }
    >();
    for (const contender of contenders) {
      await admin.flushAll(nodes);
      const warm = await runLanes(
        contender,
        'bench:warm:',
        spec.inFlight,
        spec.warmupMs,
        spec.maxOpsPerRound,
        undefined,
      );
      if (warm.ops === 0)
        throw new Error(`${contender.id} failed every warm-up call: ${warm.firstError}`);
      totals.set(contender.id, {
        ops: 0,
        elapsedMs: 0,
        errors: 0,
        firstError: undefined,
        rounds: [],
        cpuUs: 0,
        redisUs: 0,
        samples: new Samples(spec.rounds * spec.maxOpsPerRound),
      });
    }
    for (let round = 0; round < spec.rounds; round += 1) {
      for (let k = 0; k < contenders.length; k += 1) {
        const contender = contenders[(k + round) % contenders.length]!;
        const total = totals.get(contender.id)!;
        await admin.flushAll(nodes);
        await admin.resetStats(nodes);
        const cpu = process.cpuUsage();
        const outcome = await runLanes(
          contender,
          `bench:${round}:`,
          spec.inFlight,
          spec.roundMs,
          spec.maxOpsPerRound,
          workload === 'uncontended' ? total.samples : undefined,
        );
        const used = process.cpuUsage(cpu);
        const server = await admin.commandStats(nodes);
        total.ops += outcome.ops;
        total.elapsedMs += outcome.elapsedMs;
        total.errors += outcome.errors;
        total.firstError ??= outcome.firstError;
        total.cpuUs += used.user + used.system;
        total.redisUs += server.usec;
        total.rounds.push((outcome.ops / outcome.elapsedMs) * 1_000);
      }
    }
    const results = contenders.map((contender): ThroughputResult => {
      const total = totals.get(contender.id)!;
      const result: ThroughputResult = {
        workload,
        contender: contender.id,
        label: contenderInfo(contender.id).label(nodes),
        nodes,
        inFlight: spec.inFlight,
        ops: total.ops,
        elapsedMs: total.elapsedMs,
        opsPerSec: (total.ops / total.elapsedMs) * 1_000,
        rounds: total.rounds,
        latency: workload === 'uncontended' ? total.samples.summary() : undefined,
        cpuUsPerOp: total.cpuUs / Math.max(1, total.ops),
        redisUsPerOp: total.redisUs / Math.max(1, total.ops),
        errors: total.errors,
        firstError: total.firstError,
      };
      log(
        `  ${workload} ${nodes} node(s) ${result.label}: ${result.opsPerSec.toFixed(0)} ops/s` +
          (result.latency
            ? `, p50 ${result.latency.p50.toFixed(3)} ms, p99 ${result.latency.p99.toFixed(3)} ms`
            : '') +
          (result.errors ? `, ${result.errors} errors (${result.firstError})` : ''),
      );
      return result;
    });
    return results;
  } finally {
    await Promise.allSettled(contenders.map((contender) => contender.close()));
  }
}
