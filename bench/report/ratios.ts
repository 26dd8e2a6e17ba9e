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
  return bestPeerBy(rows, (row) => medianOf(row, pick), families, lower);
}

/** Of the peers in `families` (every peer when absent), the row with the best `value`. */
export function bestPeerBy<R extends RoundRow<unknown>>(
  rows: readonly R[],
  value: (row: R) => number,
  families?: readonly Family[],
  lower = false,
): R | undefined {
  const peers = rows.filter((r) => {
    const info = CONTENDERS.find((c) => c.id === r.contender);
    return info?.peer === true && (!families || families.includes(info.family));
  });
  let best: R | undefined;
  let bestValue = Number.NaN;
  for (const row of peers) {
    const v = value(row);
    if (!Number.isFinite(v)) continue;
    if (!best || (lower ? v < bestValue : v > bestValue)) {
      best = row;
      bestValue = v;
    }
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

/**
 * A latency percentile of `a` over `b`'s, each taken over every round's calls pooled
 * (`pooled`), in place of the median of the per-round ratios; the min–max (and IQR) stay
 * those of the per-round ratios, to show the spread. A turn's p99 rests on a few dozen calls,
 * so per-round ratios of tails swing with any hiccup of the shared machine (ours ÷ the loop's
 * p99 spread over 0.59–2.41× across the five rounds of one run on 2026-12-01). Results
 * recorded before rows had pooled latencies get the median of per-round ratios.
 */
export function pooledRatio<R extends RoundRow<unknown>>(
  a: R,
  b: R,
  pooled: (row: R) => number | undefined,
  perTurn: (turn: R['turns'][number]) => number,
): Spread {
  const rounds = ratioOf(a, b, perTurn);
  const x = pooled(a);
  const y = pooled(b);
  if (x === undefined || y === undefined || !(y > 0)) return rounds;
  return { ...rounds, median: x / y };
}

/** `pooled(row)` where the row has it, else the median over its turns of `perTurn`. */
export function pooledOr<R extends RoundRow<unknown>>(
  row: R,
  pooled: (row: R) => number | undefined,
  perTurn: (turn: R['turns'][number]) => number,
): number {
  return pooled(row) ?? medianOf(row, perTurn);
}
