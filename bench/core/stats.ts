/** Latency summary in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * A bounded buffer of samples (ms). Pushing past the capacity keeps a uniform reservoir, so
 * percentiles stay unbiased while memory stays fixed.
 */
export class Samples {
  private readonly values: Float64Array;
  private seen = 0;

  constructor(readonly capacity = 200_000) {
    this.values = new Float64Array(capacity);
  }

  push(value: number): void {
    const index = this.seen++;
    if (index < this.capacity) {
      this.values[index] = value;
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.capacity) this.values[slot] = value;
  }

  get count(): number {
    return this.seen;
  }

  /** The kept samples, sorted ascending (a copy). */
  sorted(): Float64Array {
    return this.values.slice(0, Math.min(this.seen, this.capacity)).sort();
  }

  summary(): LatencySummary {
    return summarize(this.sorted());
  }
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(sorted: ArrayLike<number>): LatencySummary {
  let sum = 0;
  for (let i = 0; i < sorted.length; i += 1) sum += sorted[i]!;
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
  };
}

/**
 * One summary of several turns' samples (in any order), as if from one buffer: a
 * percentile of every round's calls together. A turn of ~2,500 calls puts ~25 calls above its
 * p99, so one scheduling hiccup of the shared machine moves that turn's p99 a lot; pooled
 * over the rounds the tail rests on five times as many calls, which every contender collected
 * in the same interleaved rounds.
 */
export function pooledSummary(parts: readonly ArrayLike<number>[]): LatencySummary {
  let length = 0;
  for (const part of parts) length += part.length;
  const all = new Float64Array(length);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return summarize(all.sort());
}

export function median(values: readonly number[]): number {
  return spread(values).median;
}

/**
 * Centre and spread of a handful of per-round values. With few rounds the min–max range is the
 * honest spread; the interquartile range (linear interpolation) is given for longer runs.
 */
export interface Spread {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly q1: number;
  readonly q3: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) {
    return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN, q1: NaN, q3: NaN };
  }
  const at = (q: number): number => {
    const pos = (n - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  };
  return { n, median: at(0.5), min: sorted[0]!, max: sorted[n - 1]!, q1: at(0.25), q3: at(0.75) };
}

/**
 * Ratios paired by round (`a[i] / b[i]`): both sides ran in the same round, back to back, so a
 * load swing on the shared machine moves both and largely cancels in their ratio.
 */
export function pairedRatios(a: readonly number[], b: readonly number[]): Spread {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    if (b[i]! > 0 && Number.isFinite(a[i]!)) ratios.push(a[i]! / b[i]!);
  }
  return spread(ratios);
}
