import type { Redlock } from '../../lib/services/redlock.engine.js';
import type { ReleaseWaiter } from '../../lib/services/release-waiter.js';
import { eventually } from './adapters.js';

/**
 * Resolves once `count` callers of `engine` wait in line for `resource` (default key prefix),
 * each asleep between attempts rather than in a round on the nodes: the state in which a
 * release can hand one of them the lock. Reads the engine's private line, as no event marks it.
 */
export async function waitingInLine(
  engine: Redlock,
  resource: string,
  count: number,
): Promise<void> {
  const lines = (
    engine as unknown as { context: { lines: { lines: Map<string, ReleaseWaiter[]> } } }
  ).context.lines.lines;
  await eventually(
    () => {
      const line = lines.get(`lock:${resource}`);
      return line !== undefined && line.length === count && line.every((waiter) => waiter.parked);
    },
    5_000,
    `${count} caller(s) asleep in line for ${resource}`,
  );
}
