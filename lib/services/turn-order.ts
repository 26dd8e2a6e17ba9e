import type { Clock } from './clock.js';

/**
 * How long (ms) an instance counts as a contender for a line's keys after its last release
 * was announced: at the default hand-off bounds a contender ends a turn every 20–100 ms.
 */
const ACTIVE_FOR = 1_000;

/** The instance tag a release notification's message names (`.<tag>.<time>`), if well formed. */
export function releasedBy(message: string | undefined): string | undefined {
  if (!message) return undefined;
  return /^\.([A-Za-z0-9_-]{1,16})\.[0-9a-z]{1,11}$/.exec(message)?.[1];
}

/**
 * Turns among processes on a contended line, without shared state on the nodes.
 *
 * Every release announces the releasing instance (see `LockAdapter.onRelease`). When a chain
 * of hand-offs of this process ends at its bound ({@link ended}), its callers hold back from the
 * keys until every other instance that released them in the last second has released them
 * again since, that is until each has had its turn, or until `bound` ms have passed. Turns
 * then go round the processes instead of to whichever wins the race at each chain's end.
 *
 * Only a hint for who tries first: exclusion never depends on it. A contender that stopped
 * wanting the keys, or a message nobody can trust (anyone may publish on the channel), costs
 * at most `bound` per chain end; no clocks are compared, only this process's monotonic time.
 */
export class TurnOrder {
  /** Per line: instance tag → monotonic time its last release was announced. */
  private readonly releases = new Map<string, Map<string, number>>();
  /** Per line: when this process's last chain ended, and until when it waits at most. */
  private readonly turnEnds = new Map<string, { readonly at: number; readonly until: number }>();

  constructor(
    private readonly clock: Clock,
    /** This engine's instance tag: its own releases are no other contender's turn. */
    private readonly ownTag: () => string | undefined,
  ) {}

  /** A release of line `id`'s keys was announced with `message`. */
  released(id: string, message: string | undefined): void {
    const tag = releasedBy(message);
    if (tag === undefined || tag === this.ownTag()) return;
    let seen = this.releases.get(id);
    if (seen === undefined) {
      if (this.releases.size >= MAX_LINES) this.sweep();
      this.releases.set(id, (seen = new Map<string, number>()));
    }
    seen.set(tag, this.clock.now());
  }

  /** This process's chain of hand-offs on line `id` ended: hold back at most `bound` ms. */
  ended(id: string, bound: number): void {
    if (this.turnEnds.size >= MAX_LINES) this.sweep();
    const at = this.clock.now();
    this.turnEnds.set(id, { at, until: at + bound });
  }

  /** Milliseconds callers of this process still leave line `id` to other contenders (0: none). */
  left(id: string): number {
    if (this.turnEnds.size === 0) return 0;
    const end = this.turnEnds.get(id);
    if (end === undefined) return 0;
    const now = this.clock.now();
    const left = end.until - now;
    const seen = this.releases.get(id);
    if (left > 0 && seen !== undefined) {
      for (const [tag, at] of seen) {
        if (at < now - ACTIVE_FOR) seen.delete(tag);
        else if (at < end.at) return left; // this contender has not had its turn since
      }
      if (seen.size === 0) this.releases.delete(id);
    }
    this.turnEnds.delete(id);
    return 0;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [id, end] of this.turnEnds) if (end.until <= now) this.turnEnds.delete(id);
    for (const [id, seen] of this.releases) {
      for (const [tag, at] of seen) if (at < now - ACTIVE_FOR) seen.delete(tag);
      if (seen.size === 0) this.releases.delete(id);
    }
  }
}

/** Lines remembered before old entries are swept (one process rarely contends on more). */
const MAX_LINES = 64;
