/**
 * Interleaved rounds: every round gives each contender one turn, in an order that rotates from
 * round to round. The machine is shared, so its speed drifts over seconds; a contender that
 * always ran first (or always right after a GC-heavy one) would carry that drift into its
 * numbers. Interleaving spreads the drift over everyone, and ratios are then taken per round
 * (see `pairedRatios`), where both sides saw nearly the same machine.
 */
import os from 'node:os';

export interface LoadSample {
  /** 1-minute load average when the round started. */
  readonly start: number;
  /** … and when it ended. */
  readonly end: number;
}

export interface Interleaved<T> {
  /** Per contender id, the turn results in round order. */
  readonly turns: Map<string, T[]>;
  /** os.loadavg()[0] per round: cheap, and shows which rounds ran on a busy machine. */
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
    for (let k = 0; k < ids.length; k += 1) {
      const id = ids[(k + round) % ids.length]!;
      turns.get(id)!.push(await turn(id, round));
    }
    load.push({ start, end: os.loadavg()[0]! });
  }
  return { turns, load };
}

/** Compact text for a load series: `1.9–3.4`. */
export function loadRange(load: readonly LoadSample[]): string {
  if (load.length === 0) return '–';
  const all = load.flatMap((l) => [l.start, l.end]);
  return `${Math.min(...all).toFixed(1)}–${Math.max(...all).toFixed(1)}`;
}
