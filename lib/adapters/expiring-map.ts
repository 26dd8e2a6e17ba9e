export interface Expiring {
  expiresAt: number;
}

/** Dead from the instant the clock reaches `expiresAt`, so nothing outlives its ttl. */
export function isExpired(entry: Expiring, now: number): boolean {
  return entry.expiresAt <= now;
}

/**
 * A map whose entries vanish at `expiresAt`: dropped when read, and by a sweep whose cursor
 * survives between calls, so each call does a constant amount of work and every entry is still
 * visited once per pass.
 */
export class ExpiringMap<V extends Expiring> {
  private readonly entries = new Map<string, V>();
  private cursor: Iterator<[string, V]> | undefined;

  get size(): number {
    return this.entries.size;
  }

  /** The live entry of `key`, dropping a dead one on the way. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && isExpired(entry, now)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Every live entry, in insertion order (for listings; dead ones are skipped, not dropped). */
  *live(now: number): Generator<[string, V]> {
    for (const pair of this.entries) if (!isExpired(pair[1], now)) yield pair;
  }

  set(key: string, entry: V): void {
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  sweep(now: number, budget: number): void {
    for (let i = 0; i < budget; i++) {
      // Map iterators stay valid across deletions and see later insertions, so one pass
      // eventually reaches every entry however the map changes in between.
      this.cursor ??= this.entries.entries();
      const next = this.cursor.next();
      if (next.done === true) {
        // Stop at the end of a pass rather than wrapping, so a small map is not scanned twice.
        this.cursor = undefined;
        return;
      }
      const [key, entry] = next.value;
      if (isExpired(entry, now)) this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
    this.cursor = undefined;
  }
}
