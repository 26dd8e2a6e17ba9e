/**
 * Uncontended acquire + release on a new key per call, `inFlight` calls at a time: workloads
 * "uncontended" (1 in flight), "many keys" (64) and every cell of "scaling". Contenders take
 * turns within each round (see `interleave`); each turn measures, for that contender alone:
 * ops/s, latency, client CPU (`process.cpuUsage`), Redis command time counted once
 * (`topLevelUsec`) and Redis main-thread CPU. Nothing is flushed between rounds: what a turn
 * leaves stays visible to the audit at the end of the block.
 */
import { messageOf } from '../core/clock.js';
import type { ThroughputKnobs } from '../core/config.js';
import {
  type Contender,
  type ContenderId,
  contenderInfo,
  createContender,
  resourceName,
} from '../core/contenders.js';
import { type Audit, auditKeys } from '../core/key-audit.js';
import { type CommandProfile, calibrate, topLevelUsec } from '../core/redis-time.js';
import { type RedisAdmin, statsDelta } from '../core/redis-tools.js';
import { interleave, type LoadSample } from '../core/rounds.js';
import { type LatencySummary, pooledSummary, Samples, summarize } from '../core/stats.js';

export interface Turn {
  readonly ops: number;
  readonly elapsedMs: number;
  readonly opsPerSec: number;
  readonly p50: number;
  readonly p99: number;
  /** Client CPU (user + system) per operation, µs. */
  readonly cpuUsPerOp: number;
  /**
   * Of it, user-space CPU: the library's code, the client's, V8 and GC. The rest is the
   * kernel's (syscalls and loopback TCP), the same for every contender sending as many commands.
   * Absent from runs before it was recorded.
   */
  readonly userUsPerOp?: number;
  /** Redis command time per operation, top-level commands only, summed over the nodes, µs. */
  readonly redisCmdUsPerOp: number;
  /** Redis main-thread CPU per operation (commands + network + parsing), summed, µs. */
  readonly redisCpuUsPerOp: number;
  readonly redisApprox: boolean;
  readonly unclassified: readonly string[];
  readonly errors: number;
  readonly firstError: string | undefined;
}

export interface ThroughputRow {
  readonly contender: ContenderId;
  readonly label: string;
  /** One per round, in round order: paired with the other rows' turns of the same round. */
  readonly turns: readonly Turn[];
  /**
   * Latency of every round's calls together (see `pooledSummary`): the p50 and p99 the tables
   * and targets use. Absent from runs before it was recorded (they used per-turn medians).
   */
  readonly latency?: LatencySummary;
  readonly profile: CommandProfile | undefined;
}

export interface ThroughputBlock {
  readonly workload: 'uncontended' | 'many-keys' | 'scaling';
  readonly nodes: number;
  readonly inFlight: number;
  readonly rows: readonly ThroughputRow[];
  readonly load: readonly LoadSample[];
  /** Keys on the nodes after the last round, before the cleanup. */
  readonly audit: Audit;
}

export interface ThroughputContext {
  readonly urls: readonly string[];
  readonly admin: RedisAdmin;
  readonly log: (line: string) => void;
}

interface LoopOutcome {
  ops: number;
  elapsedMs: number;
  errors: number;
  firstError: string | undefined;
}

const MAX_ERRORS = 1_000;

/** `lanes` loops of acquire + release on new keys until `durationMs` or `maxOps`. */
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
  const cycle = contender.cycle?.bind(contender);
  const lane = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end || next >= maxOps || errors >= MAX_ERRORS) return;
      const key = prefix + next++;
      try {
        if (cycle) await cycle(key);
        else await contender.release(await contender.acquire(key));
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

/** Command profiles by contender: the command mix of a new-key acquire + release. */
const profiles = new Map<string, CommandProfile>();

export async function runThroughput(
  workload: ThroughputBlock['workload'],
  nodes: number,
  inFlight: number,
  knobs: ThroughputKnobs,
  ids: readonly ContenderId[],
  { urls, admin, log }: ThroughputContext,
): Promise<ThroughputBlock> {
  const nodeUrls = urls.slice(0, nodes);
  const contenders = new Map<string, Contender>();
  const tag = `${workload}-${nodes}-${inFlight}`;
  try {
    for (const id of ids) {
      const contender = await createContender(id, nodeUrls, {
        mode: 'uncontended',
        ttl: knobs.ttl,
        waitMs: 0,
      });
      contenders.set(id, contender);
      if (!profiles.has(id)) {
        const lanes = Math.min(inFlight, 8);
        profiles.set(
          id,
          await calibrate(nodeUrls[0]!, async () => {
            await runLanes(
              contender,
              resourceName(id, 'calibrate', ''),
              lanes,
              1_000,
              100,
              undefined,
            );
          }),
        );
      }
      const warm = await runLanes(
        contender,
        resourceName(id, tag, 'warm', ''),
        inFlight,
        knobs.warmupMs,
        knobs.maxOpsPerTurn,
        undefined,
      );
      if (warm.ops === 0) throw new Error(`${id} failed every warm-up call: ${warm.firstError}`);
    }
    const pooled = new Map<string, Float64Array[]>(ids.map((id) => [id, []]));
    const { turns, load } = await interleave(ids, knobs.rounds, async (id, round) => {
      const contender = contenders.get(id)!;
      const samples = new Samples(50_000);
      const before = await admin.stats(nodes);
      const cpu = process.cpuUsage();
      const outcome = await runLanes(
        contender,
        resourceName(id, tag, round, ''),
        inFlight,
        knobs.turnMs,
        knobs.maxOpsPerTurn,
        samples,
      );
      const used = process.cpuUsage(cpu);
      const delta = statsDelta(before, await admin.stats(nodes));
      const redis = topLevelUsec(delta.commands, profiles.get(id));
      const ops = Math.max(1, outcome.ops);
      const sorted = samples.sorted();
      pooled.get(id)!.push(sorted);
      const latency = summarize(sorted);
      const turn: Turn = {
        ops: outcome.ops,
        elapsedMs: outcome.elapsedMs,
        opsPerSec: (outcome.ops / outcome.elapsedMs) * 1_000,
        p50: latency.p50,
        p99: latency.p99,
        cpuUsPerOp: (used.user + used.system) / ops,
        userUsPerOp: used.user / ops,
        redisCmdUsPerOp: redis.usec / ops,
        redisCpuUsPerOp: delta.mainThreadCpuUs / ops,
        redisApprox: redis.approximate,
        unclassified: redis.unclassified,
        errors: outcome.errors,
        firstError: outcome.firstError,
      };
      return turn;
    });
    const rows = ids.map((id): ThroughputRow => ({
      contender: id,
      label: contenderInfo(id).label(nodes),
      turns: turns.get(id)!,
      latency: pooledSummary(pooled.get(id)!),
      profile: profiles.get(id),
    }));
    for (const row of rows) logRow(log, workload, nodes, inFlight, row);
    const audit: Audit = {
      when: `after ${workload}, ${nodes} node(s), ${inFlight} in flight`,
      nodes,
      owners: await auditKeys(admin.first(nodes)),
    };
    await admin.flushAll(nodes);
    return { workload, nodes, inFlight, rows, load, audit };
  } finally {
    await Promise.allSettled([...contenders.values()].map((contender) => contender.close()));
  }
}

function logRow(
  log: (line: string) => void,
  workload: string,
  nodes: number,
  inFlight: number,
  row: ThroughputRow,
): void {
  const med = (pick: (t: Turn) => number): number => {
    const values = row.turns.map(pick).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)] ?? Number.NaN;
  };
  const errors = row.turns.reduce((sum, t) => sum + t.errors, 0);
  log(
    `  ${workload} ${nodes} node(s) ×${inFlight} ${row.label}: ${med((t) => t.opsPerSec).toFixed(0)} ops/s, ` +
      `p99 ${(row.latency?.p99 ?? med((t) => t.p99)).toFixed(3)} ms, CPU ${med((t) => t.cpuUsPerOp).toFixed(1)} µs/op ` +
      `(user ${med((t) => t.userUsPerOp ?? Number.NaN).toFixed(1)}), ` +
      `Redis ${med((t) => t.redisCmdUsPerOp).toFixed(1)} µs/op (main thread ${med((t) => t.redisCpuUsPerOp).toFixed(1)})` +
      (errors ? `, ${errors} errors (${row.turns.find((t) => t.firstError)?.firstError})` : ''),
  );
}
