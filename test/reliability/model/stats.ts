/** The figures of a run (and of many, added up) for the model suites' summaries. */
import { emptyPermitStats, type PermitStats } from './permits.js';

export interface RunStats extends PermitStats {
  runs: number;
  sections: number;
  reads: number;
  writes: number;
  lateAborts: number;
  fencingChecks: number;
  fencingSkipped: number;
  livenessChecked: number;
  longestGapMs: number;
  maxAcquireMs: number;
  /** Sections told of their lock's loss by the signal, and the latest past the validity (ms). */
  lossNotices: number;
  latestLossMs: number;
  /** RedlockUnavailableError with no fault active: nodes too slow for their timeout (load). */
  unavailableWithoutFault: number;
  /** Aborted waits granted before their abort, held and released with an acquisition's checks. */
  abortLocksChecked: number;
  /** Locks that came by an in-process hand-off (held under the same checks as any other). */
  handOffs: number;
  ops: Record<string, number>;
  outcomes: Record<string, number>;
  faults: Record<string, number>;
  runMs: number;
}

export function emptyStats(): RunStats {
  return {
    runs: 0,
    sections: 0,
    reads: 0,
    writes: 0,
    lateAborts: 0,
    fencingChecks: 0,
    fencingSkipped: 0,
    livenessChecked: 0,
    longestGapMs: 0,
    maxAcquireMs: 0,
    lossNotices: 0,
    latestLossMs: 0,
    unavailableWithoutFault: 0,
    abortLocksChecked: 0,
    handOffs: 0,
    ...emptyPermitStats(),
    ops: {},
    outcomes: {},
    faults: {},
    runMs: 0,
  };
}

export function addStats(into: RunStats, from: RunStats): void {
  for (const key of [
    'runs',
    'sections',
    'reads',
    'writes',
    'lateAborts',
    'fencingChecks',
    'fencingSkipped',
    'livenessChecked',
    'runMs',
    'unavailableWithoutFault',
    'abortLocksChecked',
    'handOffs',
    'lossNotices',
    'permitGrants',
    'permitSections',
    'permitFencingChecks',
    'permitTokensShared',
    'permitWaitsChecked',
  ] as const) {
    into[key] += from[key];
  }
  into.longestGapMs = Math.max(into.longestGapMs, from.longestGapMs);
  into.maxAcquireMs = Math.max(into.maxAcquireMs, from.maxAcquireMs);
  into.latestLossMs = Math.max(into.latestLossMs, from.latestLossMs);
  into.maxPermitHolders = Math.max(into.maxPermitHolders, from.maxPermitHolders);
  into.longestPermitGapMs = Math.max(into.longestPermitGapMs, from.longestPermitGapMs);
  for (const key of ['ops', 'outcomes', 'faults'] as const) {
    for (const [k, v] of Object.entries(from[key])) into[key][k] = (into[key][k] ?? 0) + v;
  }
}
