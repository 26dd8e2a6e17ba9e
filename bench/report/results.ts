import type { BenchConfig, WorkloadName } from '../core/config.js';
import type { ProfileOutcome } from '../profile.js';
import type { ContendedResult } from '../workloads/contended.js';
import type { HttpResult } from '../workloads/http.js';
import type { SoakResult } from '../workloads/soak.js';
import type { ThroughputResult } from '../workloads/throughput.js';

export interface Machine {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly cpuMHz: number;
  readonly totalMemGiB: number;
  readonly platform: string;
  readonly release: string;
  readonly arch: string;
  readonly loadAvgAtStart: readonly number[];
  loadAvgAtEnd?: readonly number[];
}

export interface Versions {
  readonly node: string;
  readonly redis: string;
  readonly ours: string;
  readonly packages: Record<string, string>;
}

export type TargetStatus = 'PASS' | 'MISS' | 'n/a';

export interface TargetResult {
  readonly area: string;
  readonly target: string;
  readonly measured: string;
  readonly status: TargetStatus;
}

export interface RunResult {
  readonly startedAt: string;
  durationMs: number;
  readonly quick: boolean;
  readonly only: readonly WorkloadName[];
  readonly machine: Machine;
  readonly versions: Versions;
  readonly config: BenchConfig;
  readonly uncontended: ThroughputResult[];
  readonly manyKeys: ThroughputResult[];
  readonly contended: ContendedResult[];
  readonly http: HttpResult[];
  soak: SoakResult | undefined;
  targets: TargetResult[];
  /** CPU profiles taken because an uncontended target was missed. */
  profiles: ProfileOutcome[];
  /** Unhandled rejections seen during the run (logged, not fatal). */
  unhandled: string[];
}
