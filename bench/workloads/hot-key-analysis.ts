/**
 * Turns the raw records of one hot-key turn (from every process) into the numbers the report
 * shows. Times come from the system-wide monotonic clock, so holds from different processes
 * can be put in one order: a hand-off is an acquisition by another worker than the previous
 * holder, an overlap a hold that began before the previous one ended (a broken lock).
 */
import { type LatencySummary, summarize } from '../core/stats.js';
import type { HotLoopRecords } from './hot-loop.js';

export interface HotKeyTurn {
  readonly acquisitions: number;
  readonly acquisitionsPerSec: number;
  readonly handoffsPerSec: number;
  /** Hand-offs to a worker in another process (multi-process runs only). */
  readonly crossProcessPerSec: number | undefined;
  /** Call-to-acquired time of every successful call, ms. */
  readonly wait: LatencySummary;
  /** Mean time from acquired to the release call, ms. */
  readonly holdMeanMs: number;
  /** From a release call to the next acquisition (any worker): hand-off latency p50, ms. */
  readonly gapP50Ms: number;
  /**
   * The same, only where the next holder is in another process (multi-process runs): what a
   * hand-off across processes costs, apart from a worker taking the key back. Absent from runs
   * before it was recorded, and when there was no such hand-off.
   */
  readonly crossGapP50Ms?: number;
  /**
   * Fairness: the acquisitions of the least-served worker, and of the least-served process
   * (multi-process runs), each over the mean per worker or per process (1 = even, 0 = one was
   * never served in the window). Absent from runs before it was recorded.
   */
  readonly leastWorkerShare?: number;
  readonly leastProcessShare?: number;
  /** Calls that rejected on their own (retry budget spent, errors). */
  readonly giveUps: number;
  /** Calls still waiting at the end of the drain, aborted by the bench (not give-ups). */
  readonly cut: number;
  readonly abandoned: number;
  /** Abandoned calls still running when the next turn began. */
  readonly stillRunning: number;
  /** Must be 0 for a correct lock. */
  readonly overlaps: number;
  readonly releaseErrors: number;
  readonly attemptsPerAcquisition: number | undefined;
  readonly firstError: string | undefined;
}

export function analyseTurn(
  records: readonly HotLoopRecords[],
  perProcess: number,
  processes: number,
  startAt: number,
  windowEnd: number,
  workers = perProcess * processes,
): HotKeyTurn {
  const holds: { worker: number; acquiredAt: number; releasedAt: number }[] = [];
  const waits: number[] = [];
  let giveUps = 0;
  let cut = 0;
  let abandoned = 0;
  let stillRunning = 0;
  let releaseErrors = 0;
  let firstError: string | undefined;
  let attempts = 0;
  let attemptAcquisitions = 0;
  for (const part of records) {
    if (part.attempts) {
      attempts += part.attempts.attempts;
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
    stillRunning += part.stillRunning;
    releaseErrors += part.releaseErrors;
    firstError ??= part.firstError;
  }
  holds.sort((a, b) => a.acquiredAt - b.acquiredAt);
  let overlaps = 0;
  let lastRelease = -Infinity;
  let acquisitions = 0;
  let handoffs = 0;
  let crossProcess = 0;
  let previous: number | undefined;
  let holdSum = 0;
  const perWorker = new Array<number>(workers).fill(0);
  const gaps: number[] = [];
  const crossGaps: number[] = [];
  for (const hold of holds) {
    if (hold.acquiredAt < lastRelease) overlaps += 1;
    const before = lastRelease;
    lastRelease = Math.max(lastRelease, hold.releasedAt);
    if (hold.acquiredAt < startAt || hold.acquiredAt > windowEnd) continue;
    acquisitions += 1;
    if (hold.worker < workers) perWorker[hold.worker]! += 1;
    holdSum += hold.releasedAt - hold.acquiredAt;
    if (previous !== undefined) {
      gaps.push(hold.acquiredAt - before);
      if (hold.worker !== previous) handoffs += 1;
      if (Math.floor(hold.worker / perProcess) !== Math.floor(previous / perProcess)) {
        crossProcess += 1;
        crossGaps.push(hold.acquiredAt - before);
      }
    }
    previous = hold.worker;
  }
  const seconds = (windowEnd - startAt) / 1_000;
  const perProcessCounts = Array.from({ length: processes }, (_, p) =>
    perWorker.slice(p * perProcess, (p + 1) * perProcess).reduce((sum, n) => sum + n, 0),
  );
  return {
    acquisitions,
    acquisitionsPerSec: acquisitions / seconds,
    handoffsPerSec: handoffs / seconds,
    crossProcessPerSec: processes > 1 ? crossProcess / seconds : undefined,
    wait: summarize(Float64Array.from(waits).sort()),
    holdMeanMs: acquisitions === 0 ? Number.NaN : holdSum / acquisitions,
    gapP50Ms: summarize(Float64Array.from(gaps).sort()).p50,
    crossGapP50Ms:
      crossGaps.length > 0 ? summarize(Float64Array.from(crossGaps).sort()).p50 : undefined,
    leastWorkerShare: leastShare(perWorker),
    leastProcessShare: processes > 1 ? leastShare(perProcessCounts) : undefined,
    giveUps,
    cut,
    abandoned,
    stillRunning,
    overlaps,
    releaseErrors,
    attemptsPerAcquisition: attemptAcquisitions > 0 ? attempts / attemptAcquisitions : undefined,
    firstError,
  };
}

/**
 * The share of the window the key was held (acquisitions/s × mean hold): 1 is the ceiling of
 * any lock, holds back to back.
 */
export function heldShare(turn: HotKeyTurn): number {
  return (turn.acquisitionsPerSec * turn.holdMeanMs) / 1_000;
}

/** The smallest count over the mean count (1 = even); undefined when nothing was counted. */
function leastShare(counts: readonly number[]): number | undefined {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0 || counts.length === 0) return undefined;
  return Math.min(...counts) / (total / counts.length);
}
