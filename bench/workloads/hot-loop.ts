/**
 * Workload 3, the part that runs where the workers run (the bench process, or each child):
 * `workers` loops on one resource that acquire, hold ~1 ms, and release, from `startAt` until
 * `windowEnd` (monotonic ms, comparable across processes), then get `drainMs` to finish the
 * call in flight before it is aborted.
 */
import { messageOf, mono, settledWithin, sleep } from '../core/clock.js';
import type { Contender } from '../core/contenders.js';

export interface HotLoopSpec {
  readonly resource: string;
  readonly workers: number;
  /** Id of this process's first worker; ids are global across processes. */
  readonly firstWorker: number;
  readonly holdMs: number;
  readonly drainMs: number;
  /**
   * How long to wait for abandoned calls (a library that ignores the abort keeps retrying until
   * its own budget ends) before returning, so they do not run into the next contender's turn.
   */
  readonly settleMs: number;
  readonly maxAcquisitionsPerWorker: number;
}

/** What the workers of one process saw; times are `mono()` ms. */
export interface HotLoopRecords {
  readonly worker: number[];
  readonly acquiredAt: number[];
  /** When the holder called release (the end of its hold). */
  readonly releasedAt: number[];
  /** call-to-acquired time of every successful acquisition, in ms. */
  readonly waits: number[];
  /** Calls that rejected on their own (retry budget spent, errors): not our abort. */
  giveUps: number;
  /** Calls still waiting at the end of the drain, aborted by us (not give-ups). */
  cut: number;
  /** Workers whose call neither finished nor honoured the abort (abandoned). */
  abandoned: number;
  /** Of those, how many were still running after `settleMs` (they overlap the next turn). */
  stillRunning: number;
  releaseErrors: number;
  firstError: string | undefined;
  /** Attempts per acquisition where the contender reports them. */
  attempts: { acquisitions: number; attempts: number } | undefined;
}

export async function runHotLoop(
  contender: Contender,
  spec: HotLoopSpec,
  startAt: number,
  windowEnd: number,
): Promise<HotLoopRecords> {
  const records: HotLoopRecords = {
    worker: [],
    acquiredAt: [],
    releasedAt: [],
    waits: [],
    giveUps: 0,
    cut: 0,
    abandoned: 0,
    stillRunning: 0,
    releaseErrors: 0,
    firstError: undefined,
    attempts: undefined,
  };
  const attemptsBefore = contender.attempts?.();
  const controller = new AbortController();
  const { signal } = controller;
  let finished = 0;

  const worker = async (id: number): Promise<void> => {
    try {
      for (let calls = 0; calls < spec.maxAcquisitionsPerWorker && mono() < windowEnd; calls += 1) {
        const t0 = mono();
        let handle: unknown;
        try {
          handle = await contender.acquire(spec.resource, signal);
        } catch (error) {
          if (signal.aborted) {
            records.cut += 1;
            return;
          }
          records.giveUps += 1;
          records.firstError ??= messageOf(error);
          continue;
        }
        const t1 = mono();
        records.waits.push(t1 - t0);
        await sleep(spec.holdMs);
        records.worker.push(id);
        records.acquiredAt.push(t1);
        records.releasedAt.push(mono());
        try {
          await contender.release(handle);
        } catch (error) {
          records.releaseErrors += 1;
          records.firstError ??= messageOf(error);
        }
        if (signal.aborted) return;
      }
    } finally {
      finished += 1;
    }
  };

  const delay = startAt - mono();
  if (delay > 0) await sleep(delay);
  const all = Promise.all(
    Array.from({ length: spec.workers }, (_, index) => worker(spec.firstWorker + index)),
  );
  const drained = await settledWithin(all, Math.max(0, windowEnd - mono()) + spec.drainMs);
  if (!drained) {
    controller.abort();
    if (!(await settledWithin(all, 1_000))) {
      records.abandoned = spec.workers - finished;
      await settledWithin(all, spec.settleMs);
      records.stillRunning = spec.workers - finished;
    }
  }
  const attemptsAfter = contender.attempts?.();
  if (attemptsBefore && attemptsAfter) {
    records.attempts = {
      acquisitions: attemptsAfter.acquisitions - attemptsBefore.acquisitions,
      attempts: attemptsAfter.attempts - attemptsBefore.attempts,
    };
  }
  return records;
}
