import type { Clock } from './clock.js';

/**
 * Times (monotonic) until which a mark on a waiting line holds, by line id: kept small without
 * timers. An entry is dropped when read past its time; once 64 are kept, setting one first
 * sweeps the expired (lines never asked about again).
 */
export class LineMarks {
  private readonly until = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  /** Marks line `id` until `time` (monotonic ms). */
  set(id: string, time: number): void {
    if (this.until.size >= 64) {
      const now = this.clock.now();
      for (const [key, end] of this.until) if (end <= now) this.until.delete(key);
    }
    this.until.set(id, time);
  }

  /** Milliseconds line `id` stays marked (0: not marked). */
  left(id: string): number {
    if (this.until.size === 0) return 0;
    const end = this.until.get(id);
    if (end === undefined) return 0;
    const left = end - this.clock.now();
    if (left > 0) return left;
    this.until.delete(id);
    return 0;
  }
}
