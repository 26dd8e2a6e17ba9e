import type { RedisAdmin } from './redis-tools.js';

/** Every knob of a run. Each loop is bounded by a count and by time. */

/** One throughput measurement: `inFlight` lanes of acquire + release on new keys. */
export interface ThroughputKnobs {
  readonly rounds: number;
  /** Length of one contender's turn in one round. */
  readonly turnMs: number;
  /** Per contender, before the first round (JIT, script cache, connections). */
  readonly warmupMs: number;
  readonly ttl: number;
  /** Cap on operations per turn, so a very fast contender cannot run away with memory. */
  readonly maxOpsPerTurn: number;
}

export interface HotKeyConfig {
  readonly nodes: number;
  readonly processes: number;
}

export interface BenchConfig {
  readonly quick: boolean;
  /** How many redis-server processes the run starts (the largest node count used). */
  readonly fleetSize: number;
  readonly uncontended: ThroughputKnobs & { readonly nodes: readonly number[] };
  readonly manyKeys: ThroughputKnobs & {
    readonly nodes: readonly number[];
    readonly inFlight: number;
  };
  readonly scaling: ThroughputKnobs & {
    readonly nodes: readonly number[];
    readonly inFlight: readonly number[];
    /** Full grid (every node count × every in-flight count), or the two axes through (1, 1). */
    readonly grid: boolean;
    readonly contenders: readonly string[];
  };
  readonly hotKey: {
    readonly configs: readonly HotKeyConfig[];
    readonly rounds: number;
    readonly windowMs: number;
    readonly workers: number;
    readonly holdMs: number;
    readonly ttl: number;
    readonly waitMs: number;
    /** After the window: how long calls in flight may finish before they are aborted. */
    readonly drainMs: number;
    /** Then how long calls that ignore the abort may keep running before the next turn. */
    readonly settleMs: number;
    readonly maxAcquisitionsPerWorker: number;
  };
  readonly http: {
    /** Rounds: each gives every route one slice, in a random order per round. */
    readonly slices: number;
    readonly sliceS: number;
    readonly warmupS: number;
    /** Each measurement of the lock's own acquire + release, in the app, between slices. */
    readonly roundTripMs: number;
    readonly connections: readonly number[];
    readonly nodes: readonly number[];
  };
  readonly memory: {
    /** Locks held at once to measure heap and Redis bytes per held lock. */
    readonly heldLocks: number;
    readonly ttl: number;
  };
  readonly lingering: {
    /** Uncontended acquire + release per contender before waiting out the ttl. */
    readonly locks: number;
    /** Short, so the probe can wait past it. */
    readonly ttl: number;
    /** Waited after the ttl before counting (expiry is lazy + 10 Hz active sampling). */
    readonly graceMs: number;
  };
  readonly soak: {
    readonly cycles: number;
    readonly warmupCycles: number;
    readonly concurrency: number;
    readonly keySpace: number;
    /** Hard time bound of the measured part; the run reports how many cycles it did. */
    readonly maxMs: number;
    /** Heap is read (after GC) this many times during the run, to show the trend. */
    readonly checkpoints: number;
  };
}

export const FULL: BenchConfig = {
  quick: false,
  fleetSize: 7,
  uncontended: {
    nodes: [1, 5],
    rounds: 5,
    turnMs: 600,
    // The first workload of the process: its code is cold. One call at a time on one node,
    // the loop reached its steady rate after about 0.7 s and ours after about 0.9 s (the
    // engine alone 1.2 s); after 300 ms ours' first round ran at half its steady rate.
    warmupMs: 1_500,
    ttl: 10_000,
    maxOpsPerTurn: 200_000,
  },
  manyKeys: {
    nodes: [1, 5],
    inFlight: 64,
    rounds: 5,
    turnMs: 600,
    warmupMs: 300,
    ttl: 10_000,
    maxOpsPerTurn: 500_000,
  },
  scaling: {
    nodes: [1, 3, 5, 7],
    inFlight: [1, 16, 64, 256],
    grid: true,
    contenders: ['ours', 'redlock-fast', 'semaphore', 'limit'],
    rounds: 3,
    turnMs: 300,
    warmupMs: 150,
    ttl: 10_000,
    maxOpsPerTurn: 500_000,
  },
  hotKey: {
    configs: [
      { nodes: 1, processes: 1 },
      { nodes: 1, processes: 4 },
      { nodes: 5, processes: 4 },
    ],
    rounds: 3,
    windowMs: 1_500,
    workers: 8,
    holdMs: 1,
    ttl: 1_000,
    waitMs: 10_000,
    drainMs: 1_500,
    settleMs: 10_000,
    maxAcquisitionsPerWorker: 50_000,
  },
  http: {
    slices: 5,
    sliceS: 1,
    warmupS: 1,
    roundTripMs: 250,
    connections: [1, 16],
    nodes: [1, 5],
  },
  memory: { heldLocks: 10_000, ttl: 120_000 },
  lingering: { locks: 1_000, ttl: 500, graceMs: 1_000 },
  soak: {
    cycles: 1_000_000,
    warmupCycles: 20_000,
    concurrency: 64,
    keySpace: 4_096,
    maxMs: 180_000,
    checkpoints: 5,
  },
};

/** `--quick`: the same workloads with short turns and one or two rounds; numbers are rough. */
export const QUICK: BenchConfig = {
  ...FULL,
  quick: true,
  // Warm enough for ours and the loop (about 0.9 s to their steady rate, see FULL), and the
  // run still under 2 minutes; many-keys runs on code uncontended has warmed.
  uncontended: { ...FULL.uncontended, rounds: 3, turnMs: 200, warmupMs: 1_000 },
  manyKeys: { ...FULL.manyKeys, rounds: 3, turnMs: 200, warmupMs: 50 },
  scaling: {
    ...FULL.scaling,
    grid: false,
    contenders: ['ours', 'limit'],
    rounds: 2,
    turnMs: 200,
    warmupMs: 80,
  },
  hotKey: { ...FULL.hotKey, rounds: 1, windowMs: 500, drainMs: 800, settleMs: 2_000 },
  http: {
    ...FULL.http,
    slices: 3,
    sliceS: 0.3,
    warmupS: 0.2,
    roundTripMs: 120,
    connections: [1],
  },
  // As many held locks as a full run: with 2,000 the per-lock heap came out far higher (ours
  // 387 B against 253 in the full run of the same code, 2.48× the loop against 1.78×), so a
  // quick run reported a miss the full one did not. Fixed costs and tables grown in steps
  // weigh more per lock with fewer locks; not broken down further. The quick run stayed under two minutes with them (97.2 s, 99.6 s before).
  memory: { ...FULL.memory },
  lingering: { ...FULL.lingering, locks: 300 },
  soak: { ...FULL.soak, cycles: 30_000, warmupCycles: 3_000, maxMs: 15_000, checkpoints: 3 },
};

export type WorkloadName =
  'uncontended' | 'many-keys' | 'scaling' | 'hot-key' | 'http' | 'memory' | 'soak';
export const WORKLOADS: readonly WorkloadName[] = [
  'uncontended',
  'many-keys',
  'scaling',
  'hot-key',
  'http',
  'memory',
  'soak',
];

export interface CliOptions {
  readonly config: BenchConfig;
  readonly only: readonly WorkloadName[];
  /** `--report=<json>`: only re-render BENCHMARKS.md and the chart from a saved run. */
  readonly report: string | undefined;
  /** Contender ids to run (`--contenders=ours,limit`); all when absent. */
  readonly contenders: readonly string[] | undefined;
  /** Whether BENCHMARKS.md and the SVG are regenerated (full runs of every workload). */
  readonly writeDocs: boolean;
  /** `--no-profile`: skip the CPU profiles a full run takes when an uncontended target misses. */
  readonly profile: boolean;
  /**
   * `AsyncLocalStorage`'s promise hooks on from the start (the default), as in an application
   * that uses `@WithLock`, nestjs-cls or OpenTelemetry; `--no-hooks` leaves them off until
   * something turns them on (ours' `using` row does: pair it with `--contenders=` without it).
   */
  readonly hooks: boolean;
}

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const quick = argv.includes('--quick') || env.BENCH_QUICK === '1';
  const onlyArg = argv.find((arg) => arg.startsWith('--only='));
  const only = onlyArg
    ? onlyArg
        .slice('--only='.length)
        .split(',')
        .map((name) => name.trim())
        .filter((name): name is WorkloadName => {
          if ((WORKLOADS as readonly string[]).includes(name)) return true;
          throw new Error(`--only: unknown workload "${name}"; expected ${WORKLOADS.join(', ')}`);
        })
    : WORKLOADS;
  const contendersArg = argv.find((arg) => arg.startsWith('--contenders='));
  const contenders = contendersArg?.slice('--contenders='.length).split(',');
  return {
    config: quick ? QUICK : FULL,
    only,
    report: argv.find((arg) => arg.startsWith('--report='))?.slice('--report='.length),
    contenders,
    writeDocs:
      argv.includes('--write-docs') || (!quick && only.length === WORKLOADS.length && !contenders),
    profile: !quick && !argv.includes('--no-profile'),
    hooks: !argv.includes('--no-hooks'),
  };
}

/** What a workload gets from the run: the nodes, their admin connection, the knobs, the log. */
export interface WorkloadEnv {
  readonly urls: readonly string[];
  readonly admin: RedisAdmin;
  readonly config: BenchConfig;
  readonly log: (line: string) => void;
}
