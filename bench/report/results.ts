/** The shape of a run, as saved to bench/results/*.json and read back by `--report`. */
import type { BenchConfig, WorkloadName } from '../core/config.js';
import type { Audit } from '../core/key-audit.js';
import type { ProfileOutcome } from '../profile.js';
import type { HotKeyBlock } from '../workloads/hot-key.js';
import type { HttpBlock } from '../workloads/http.js';
import type { LingeringBlock } from '../workloads/lingering.js';
import type { MemoryBlock } from '../workloads/memory.js';
import type { SoakResult } from '../workloads/soak.js';
import type { ThroughputBlock } from '../workloads/throughput.js';

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
  /** Percent of the CPU the hypervisor gave to other guests over the whole run (Linux). */
  stealPercent?: number;
}

export interface Versions {
  readonly node: string;
  readonly redis: string;
  readonly ours: string;
  readonly packages: Record<string, string>;
}

/** `info`: reported, no threshold (the scaling rows). */
export type TargetStatus = 'met' | 'MISSED' | 'n/a' | 'info';

export interface TargetResult {
  /** Stable slug: the key of its "why" note in bench/analysis.md. */
  readonly id: string;
  readonly area: string;
  readonly target: string;
  readonly measured: string;
  /** The headline ratio (median of per-round ratios), where the target is a ratio. */
  readonly ratio: number | undefined;
  readonly status: TargetStatus;
}

/** 1-minute load average at the start and end of each phase. */
export interface PhaseLoad {
  readonly phase: string;
  readonly start: number;
  readonly end: number;
  /** Percent of the CPU the hypervisor gave to other guests during the phase (Linux). */
  readonly steal?: number;
}

export interface RunResult {
  readonly startedAt: string;
  durationMs: number;
  readonly quick: boolean;
  readonly only: readonly WorkloadName[];
  readonly machine: Machine;
  readonly versions: Versions;
  readonly config: BenchConfig;
  readonly uncontended: ThroughputBlock[];
  readonly manyKeys: ThroughputBlock[];
  readonly scaling: ThroughputBlock[];
  readonly hotKey: HotKeyBlock[];
  http: HttpBlock | undefined;
  memory: MemoryBlock | undefined;
  lingering: LingeringBlock | undefined;
  soak: SoakResult | undefined;
  /** Audits taken outside the blocks (start of the run). */
  readonly audits: Audit[];
  readonly phases: PhaseLoad[];
  targets: TargetResult[];
  /** CPU profiles taken because an uncontended target was missed (full runs). */
  profiles: ProfileOutcome[];
  /** Unhandled rejections seen during the run (logged, not fatal). */
  unhandled: string[];
}
