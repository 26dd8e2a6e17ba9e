/**
 * Interleaved rounds: every round gives each contender one turn, in an order drawn afresh for
 * each round. The machine is shared, so its speed drifts over seconds; a contender that always
 * ran first (or always right after a GC-heavy one) would carry that drift into its numbers.
 * Interleaving spreads the drift over everyone, and ratios are then taken per round (see
 * `pairedRatios`), where both sides saw nearly the same machine.
 *
 * Not a rotation: rotating the same list keeps every contender's predecessor the same in every
 * round, so one contender always inherited the garbage, the cold caches and the polluted inline
 * caches of the same other one (ours' service row always ran right after the auto-pipelined
 * loop, the heaviest allocator of the uncontended workload).
 */
import os from 'node:os';
import { cpuTimes, stealPercent, stealRange } from './cpu-steal.js';

export interface LoadSample {
  /** 1-minute load average when the round started. */
  readonly start: number;
  /** … and when it ended. */
  readonly end: number;
  /** The order the contenders took their turns in (absent in results recorded before it). */
  readonly order?: readonly string[];
  /** Percent of the CPU the hypervisor gave to other guests during the round (Linux). */
  readonly steal?: number;
}

export interface Interleaved<T> {
  /** Per contender id, the turn results in round order. */
  readonly turns: Map<string, T[]>;
  /**
   * Per round: os.loadavg()[0] (cheap, shows which rounds ran on a busy machine), the CPU
   * stolen, the turn order.
   */
  readonly load: LoadSample[];
}

export async function interleave<T>(
  ids: readonly string[],
  rounds: number,
  turn: (id: string, round: number) => Promise<T>,
): Promise<Interleaved<T>> {
  const turns = new Map<string, T[]>(ids.map((id) => [id, []]));
  const load: LoadSample[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const start = os.loadavg()[0]!;
    const times = cpuTimes();
    const order = roundOrder(ids);
    for (const id of order) turns.get(id)!.push(await turn(id, round));
    load.push({ start, end: os.loadavg()[0]!, order, steal: stealPercent(times) });
  }
  return { turns, load };
}

/** A uniformly random order of `ids` (Fisher–Yates). */
export function roundOrder<T>(ids: readonly T[]): T[] {
  const order = [...ids];
  for (let i = order.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Compact text for a load series: `1.9–3.4`, then the CPU stolen per round when read. */
export function loadRange(load: readonly LoadSample[]): string {
  if (load.length === 0) return '–';
  const all = load.flatMap((l) => [l.start, l.end]);
  const steal = stealRange(load.map((l) => l.steal));
  return (
    `${Math.min(...all).toFixed(1)}–${Math.max(...all).toFixed(1)}` +
    (steal === '–' ? '' : ` (CPU stolen ${steal})`)
  );
}
