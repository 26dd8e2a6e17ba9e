/** A client clock: wall time off by `skew`, monotonic time running at `rate`. */
export class SkewedClock {
  private readonly base = performance.now();

  constructor(
    private readonly skew: number,
    readonly rate: number,
  ) {}

  now(): number {
    return this.base + (performance.now() - this.base) * this.rate;
  }

  wallNow(): number {
    return Date.now() + this.skew;
  }
}
