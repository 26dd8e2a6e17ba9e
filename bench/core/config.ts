/** Every knob of a run. Each loop is bounded by a count and by time. */
export interface BenchConfig {
  readonly quick: boolean;
  readonly uncontended: {
    readonly rounds: number;
    readonly roundMs: number;
    readonly warmupMs: number;
    readonly maxOpsPerRound: number;
    readonly ttl: number;
  };
  readonly manyKeys: {
    readonly rounds: number;
    readonly roundMs: number;
    readonly warmupMs: number;
    readonly inFlight: number;
    readonly maxOpsPerRound: number;
    readonly ttl: number;
  };
  readonly contended: {
    readonly windowMs: number;
    readonly workers: number;
    readonly processes: number;
    readonly holdMs: number;
    readonly ttl: number;
    readonly waitMs: number;
    /** After the window: how long in-flight calls may finish before they are aborted. */
    readonly drainMs: number;
    readonly sampleEveryMs: number;
    readonly maxAcquisitionsPerWorker: number;
  };
  readonly http: {
    readonly durationS: number;
    readonly warmupS: number;
    readonly connections: readonly number[];
    readonly nodes: readonly number[];
  };
  readonly soak: {
    readonly cycles: number;
    readonly warmupCycles: number;
    readonly concurrency: number;
    readonly keySpace: number;
    /** Hard time bound of the measured part; the run reports how many cycles it did. */
    readonly maxMs: number;
    /** Redis is used when the expected duration (from workload 2) fits in this; else memory. */
    readonly redisBudgetMs: number;
  };
}

export const FULL: BenchConfig = {
  quick: false,
  uncontended: { rounds: 5, roundMs: 1_000, warmupMs: 300, maxOpsPerRound: 200_000, ttl: 10_000 },
  manyKeys: {
    rounds: 3,
    roundMs: 1_000,
    warmupMs: 300,
    inFlight: 64,
    maxOpsPerRound: 500_000,
    ttl: 10_000,
  },
  contended: {
    windowMs: 5_000,
    workers: 8,
    processes: 4,
    holdMs: 1,
    ttl: 1_000,
    waitMs: 10_000,
    drainMs: 3_000,
    sampleEveryMs: 5,
    maxAcquisitionsPerWorker: 50_000,
  },
  http: { durationS: 5, warmupS: 1, connections: [1, 16], nodes: [1, 5] },
  soak: {
    cycles: 1_000_000,
    warmupCycles: 20_000,
    concurrency: 64,
    keySpace: 4_096,
    maxMs: 180_000,
    redisBudgetMs: 120_000,
  },
};

export const QUICK: BenchConfig = {
  quick: true,
  uncontended: { ...FULL.uncontended, rounds: 1, roundMs: 400, warmupMs: 100 },
  manyKeys: { ...FULL.manyKeys, rounds: 1, roundMs: 400, warmupMs: 100 },
  contended: { ...FULL.contended, windowMs: 1_500, drainMs: 1_500 },
  http: { ...FULL.http, durationS: 1, warmupS: 0.3 },
  soak: { ...FULL.soak, cycles: 50_000, warmupCycles: 5_000, maxMs: 30_000, redisBudgetMs: 20_000 },
};

export type WorkloadName = 'uncontended' | 'many-keys' | 'contended' | 'http' | 'soak';
export const WORKLOADS: readonly WorkloadName[] = [
  'uncontended',
  'many-keys',
  'contended',
  'http',
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
  const forceDocs = argv.includes('--write-docs');
  const contendersArg = argv.find((arg) => arg.startsWith('--contenders='));
  const contenders = contendersArg?.slice('--contenders='.length).split(',');
  return {
    config: quick ? QUICK : FULL,
    only,
    report: argv.find((arg) => arg.startsWith('--report='))?.slice('--report='.length),
    contenders,
    writeDocs: forceDocs || (!quick && only.length === WORKLOADS.length && !contenders),
  };
}
