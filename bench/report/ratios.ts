/**
 * Ratios between contenders, always paired by round: round i of ours against round i of the
 * other, then the median of those ratios with their spread. Never a ratio of two medians
 * taken from different moments of the run.
 */
import { CONTENDERS, type ContenderId, type Family } from '../core/contenders.js';
import { pairedRatios, type Spread, spread } from '../core/stats.js';

/** A row with one value per round (throughput or hot-key). */
export interface RoundRow<T> {
  readonly contender: ContenderId;
  readonly label: string;
  readonly turns: readonly T[];
}

export function rowOf<T, R extends RoundRow<T>>(rows: readonly R[], id: string): R | undefined {
  return rows.find((r) => r.contender === id);
}

export function valuesOf<T>(row: RoundRow<T>, pick: (turn: T) => number): number[] {
  return row.turns.map(pick);
}

export function medianOf<T>(row: RoundRow<T>, pick: (turn: T) => number): number {
  return spread(valuesOf(row, pick)).median;
}

export function ratioOf<T>(a: RoundRow<T>, b: RoundRow<T>, pick: (turn: T) => number): Spread {
  return pairedRatios(valuesOf(a, pick), valuesOf(b, pick));
}

/**
 * Of the peers in `families` (every peer when absent), the row with the best median of `pick`:
 * highest by default, lowest with `lower` (a latency).
 */
export function bestPeer<T, R extends RoundRow<T>>(
  rows: readonly R[],
  pick: (turn: T) => number,
  families?: readonly Family[],
  lower = false,
): R | undefined {
  const peers = rows.filter((r) => {
    const info = CONTENDERS.find((c) => c.id === r.contender);
    return info?.peer === true && (!families || families.includes(info.family));
  });
  let best: R | undefined;
  for (const row of peers) {
    const value = medianOf(row, pick);
    if (!Number.isFinite(value)) continue;
    if (!best || (lower ? value < medianOf(best, pick) : value > medianOf(best, pick))) best = row;
  }
  return best;
}

/** `0.85× (0.80–0.91, 3 rounds)`; with 1 round just `0.85× (1 round)`. */
export function formatRatio(s: Spread): string {
  if (s.n === 0) return 'n/a';
  const x = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '∞');
  if (s.n === 1) return `${x(s.median)} (1 round)`;
  const range = `${s.min.toFixed(2)}–${s.max.toFixed(2)}`;
  const iqr = s.n >= 5 ? `, IQR ${s.q1.toFixed(2)}–${s.q3.toFixed(2)}` : '';
  return `${x(s.median)} (${range}${iqr}, ${s.n} rounds)`;
}

/** The short form for table cells: `0.85× (0.80–0.91)`. */
export function shortRatio(s: Spread): string {
  if (s.n === 0) return '–';
  if (s.n === 1) return `${s.median.toFixed(2)}×`;
  return `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}
