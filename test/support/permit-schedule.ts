import fc from 'fast-check';
import type { Lock } from '../../lib/services/lock.js';
import type { Redlock } from '../../lib/services/redlock.engine.js';

/** One step of a semaphore schedule: take a permit for `hold` ms, or take node `outage` down. */
export interface PermitStep {
  readonly engine: number;
  readonly delay: number;
  readonly hold: number;
  readonly outage: number | null;
}

/** Random schedules over 3 engines and 3 nodes; about one step in `outageFreq + 1` is an outage. */
export function permitSteps(shape: {
  maxDelay: number;
  minHold: number;
  maxHold: number;
  outageFreq: number;
  minLength: number;
  maxLength: number;
}): fc.Arbitrary<PermitStep[]> {
  const step = fc.record({
    engine: fc.integer({ min: 0, max: 2 }),
    delay: fc.integer({ min: 0, max: shape.maxDelay }),
    hold: fc.integer({ min: shape.minHold, max: shape.maxHold }),
    outage: fc.option(fc.integer({ min: 0, max: 2 }), { freq: shape.outageFreq }),
  });
  return fc.array(step, { minLength: shape.minLength, maxLength: shape.maxLength });
}

/**
 * Runs `steps` at once: each permit step waits its delay, takes a permit of `resource` through its
 * engine and holds it, each outage step calls `outage(node, ms)`. Every entry is checked against
 * the holders still inside; returns the breaches of the cap and how many entries there were.
 * A call that fails with an error `refused` accepts is no entry; any other error is thrown.
 */
export async function runPermitSchedule(run: {
  steps: readonly PermitStep[];
  permits: number;
  engines: readonly Redlock[];
  resource: string;
  wait: number;
  outage: (node: number, ms: number) => Promise<void>;
  refused: (error: unknown) => boolean;
}): Promise<{ problems: string[]; entries: number }> {
  const { permits } = run;
  const inside = new Set<Lock>();
  const problems: string[] = [];
  let entries = 0;
  await Promise.all(
    run.steps.map(async (s) => {
      await new Promise((resolve) => setTimeout(resolve, s.delay));
      if (s.outage !== null) return run.outage(s.outage, s.hold);
      let lock: Lock;
      try {
        lock = await run.engines[s.engine]!.acquire(run.resource, {
          permits,
          ttl: 5_000,
          wait: run.wait,
        });
      } catch (error) {
        if (run.refused(error)) return;
        throw error;
      }
      entries += 1;
      const live = [...inside].filter((held) => held.isHeld()).length;
      if (live >= permits) problems.push(`${live + 1} holders of ${permits} permits`);
      inside.add(lock);
      await new Promise((resolve) => setTimeout(resolve, s.hold));
      inside.delete(lock);
      await lock.release().catch(() => undefined);
    }),
  );
  return { problems, entries };
}
