/**
 * An independent witness of mutual exclusion, for randomized reliability tests.
 *
 * It knows nothing of the lock library: critical sections tell it when they enter and leave
 * (directly, or from other processes over IPC), and it keeps, per resource, who is inside.
 *
 * - **Exclusion.** A writer never shares a resource with anyone, a reader never with a writer,
 *   while both believe they hold their locks (`held()`: the holder's own view, e.g.
 *   `lock.isHeld()`). Sections of one scope tree in one holder (`lineage`: ids from the root
 *   scope down) may overlap their ancestors and descendants (work that a scope started runs
 *   under its lock) but not their siblings or cousins: siblings serialize.
 *   A section still inside while its own lock is no longer valid is not a second holder (the
 *   lock was lost; its signal aborts it): counted as a late abort, not a violation.
 * - **Fencing.** Per resource, in the order sections enter: a writer's token is greater than
 *   the token of every earlier writer of another scope tree; a reader's is at least that.
 *   (Within one tree a nested scope that took more resources has a newer token than its
 *   parent, and the parent may work again after it: not compared.)
 * - **Liveness** (`hold`/`waited`/`checkLiveness`): a waiter is never kept waiting while nobody
 *   holds what it waits for for longer than its bound.
 * - Any other check reports through `fail`.
 */

export type Mode = 'read' | 'write';

export interface SectionInfo {
  readonly resources: readonly string[];
  readonly mode: Mode;
  /** Engine or process: lineage is only meaningful within one holder. */
  readonly holder: string;
  /** Scope ids from the root scope down to this section's scope (globally unique ids). */
  readonly lineage: readonly number[];
  /** The fencing token of the lock, when it has one. */
  readonly token?: number;
  /** Whether the section's lock is valid right now, by the holder's own view. */
  readonly held: () => boolean;
  /** For messages. */
  readonly label: string;
}

export interface Violation {
  readonly kind: string;
  readonly detail: string;
  /** ms since the witness was created */
  readonly at: number;
}

export interface WitnessStats {
  sections: number;
  reads: number;
  writes: number;
  maxReaders: number;
  /** Another section entered while one whose lock had already lapsed was still inside. */
  lateAborts: number;
  fencingChecks: number;
  /** Fencing checks skipped because a node lost its data (restart without persistence). */
  fencingSkipped: number;
}

interface Section extends SectionInfo {
  readonly id: number;
  readonly enteredAt: number;
  exited: boolean;
}

interface Interval {
  readonly mode: Mode;
  readonly from: number;
  to: number | undefined;
}

export interface WaitRecord {
  readonly resources: readonly string[];
  readonly mode: Mode;
  /** Elapsed ms (see `elapsed()`). */
  readonly from: number;
  readonly to: number;
  /** The longest a waiter may go on waiting while nobody holds what it waits for (ms). */
  readonly bound: number;
  readonly label: string;
}

/** What a section hands back to `exit`. */
export interface Ticket {
  readonly id: number;
}

export class Witness {
  readonly violations: Violation[] = [];
  readonly stats: WitnessStats = {
    sections: 0,
    reads: 0,
    writes: 0,
    maxReaders: 0,
    lateAborts: 0,
    fencingChecks: 0,
    fencingSkipped: 0,
  };
  private readonly t0: number;
  private readonly insideOf = new Map<string, Set<Section>>();
  private readonly sections = new Map<number, Section>();
  /** Per resource: per root scope, the highest writer token seen. */
  private readonly tokens = new Map<string, Map<string, { write: number }>>();
  private readonly holds = new Map<string, Interval[]>();
  private readonly waits: WaitRecord[] = [];
  private nextId = 1;
  private fencingFrom: number | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.t0 = now();
  }

  /** Elapsed ms on the witness clock. */
  elapsed(): number {
    return this.now() - this.t0;
  }

  fail(kind: string, detail: string): void {
    this.violations.push({ kind, detail, at: Math.round(this.elapsed()) });
  }

  /** Tokens of sections entering from now on are not compared (a node lost its counters). */
  relaxFencing(): void {
    this.fencingFrom ??= this.now();
  }

  enter(info: SectionInfo): Ticket {
    const section: Section = {
      ...info,
      id: this.nextId++,
      enteredAt: this.now(),
      exited: false,
    };
    this.stats.sections += 1;
    if (info.mode === 'read') this.stats.reads += 1;
    else this.stats.writes += 1;
    const selfHeld = info.held();
    if (!selfHeld) {
      this.fail(
        'entered-without-lock',
        `${info.label} entered [${info.resources.join(', ')}] although its lock is not held (its signal did not say so)`,
      );
    }
    for (const resource of new Set(info.resources)) {
      let set = this.insideOf.get(resource);
      if (!set) this.insideOf.set(resource, (set = new Set()));
      for (const other of set) {
        if (other.mode === 'read' && info.mode === 'read') continue;
        if (other.holder === info.holder && related(other.lineage, info.lineage)) continue;
        if (other.held() && selfHeld) {
          this.fail(
            'overlap',
            `${info.label} (${info.mode}) entered ${resource} while ${other.label} (${other.mode}, since ${Math.round(section.enteredAt - other.enteredAt)} ms) was inside and both held their locks`,
          );
        } else {
          this.stats.lateAborts += 1;
        }
      }
      set.add(section);
      if (info.mode === 'read') {
        let readers = 0;
        for (const s of set) if (s.mode === 'read') readers += 1;
        this.stats.maxReaders = Math.max(this.stats.maxReaders, readers);
      }
      if (info.token !== undefined) this.checkToken(resource, section);
    }
    this.sections.set(section.id, section);
    return { id: section.id };
  }

  exit(ticket: Ticket): void {
    const section = this.sections.get(ticket.id);
    if (!section || section.exited) return;
    section.exited = true;
    this.sections.delete(ticket.id);
    for (const resource of new Set(section.resources)) {
      const set = this.insideOf.get(resource);
      set?.delete(section);
      if (set?.size === 0) this.insideOf.delete(resource);
    }
  }

  /** Whether the section of `ticket` is still inside (not exited). */
  isInside(ticket: Ticket): boolean {
    return this.sections.has(ticket.id);
  }

  /** Tickets of the sections inside `resource` right now, with their info. */
  inside(resource: string): { ticket: Ticket; info: SectionInfo }[] {
    return [...(this.insideOf.get(resource) ?? [])].map((s) => ({ ticket: { id: s.id }, info: s }));
  }

  /** Sections never exited: a run ends with none. */
  get open(): number {
    return this.sections.size;
  }

  // ---- liveness ------------------------------------------------------------------------------

  /**
   * Records that `resources` are held from `from` (elapsed ms, default now) until `end()` is
   * called (with the end time in elapsed ms, default now).
   */
  hold(
    resources: readonly string[],
    mode: Mode,
    from = this.elapsed(),
  ): { end(at?: number): void } {
    const intervals: Interval[] = [];
    for (const resource of new Set(resources)) {
      const interval: Interval = { mode, from, to: undefined };
      let list = this.holds.get(resource);
      if (!list) this.holds.set(resource, (list = []));
      list.push(interval);
      intervals.push(interval);
    }
    let ended = false;
    return {
      end: (at = this.elapsed()) => {
        if (ended) return;
        ended = true;
        for (const interval of intervals) interval.to = Math.max(interval.from, at);
      },
    };
  }

  /** Records a wait of a writer: from its call to its lock (or to its giving up). */
  waited(record: WaitRecord): void {
    this.waits.push(record);
  }

  /**
   * For every recorded wait outside the `excluded` windows: the longest stretch during which
   * nobody held any of its resources must not exceed its bound.
   */
  checkLiveness(excluded: readonly (readonly [number, number])[] = []): {
    checked: number;
    longestGap: number;
  } {
    let checked = 0;
    let longestGap = 0;
    for (const wait of this.waits) {
      if (wait.mode !== 'write') continue;
      if (excluded.some(([from, to]) => wait.from < to && wait.to > from)) continue;
      checked += 1;
      const busy: [number, number][] = [];
      for (const resource of new Set(wait.resources)) {
        for (const interval of this.holds.get(resource) ?? []) {
          const to = interval.to ?? Infinity;
          if (to <= wait.from || interval.from >= wait.to) continue;
          busy.push([Math.max(interval.from, wait.from), Math.min(to, wait.to)]);
        }
      }
      busy.sort((a, b) => a[0] - b[0]);
      let cursor = wait.from;
      let gap = 0;
      let gapAt = wait.from;
      for (const [from, to] of busy) {
        if (from - cursor > gap) {
          gap = from - cursor;
          gapAt = cursor;
        }
        cursor = Math.max(cursor, to);
      }
      if (wait.to - cursor > gap) {
        gap = wait.to - cursor;
        gapAt = cursor;
      }
      longestGap = Math.max(longestGap, gap);
      if (gap > wait.bound) {
        this.fail(
          'waited-for-nobody',
          `${wait.label} waited ${Math.round(gap)} ms (from +${Math.round(gapAt)} ms) while nobody held ${wait.resources.join(', ')}; bound ${Math.round(wait.bound)} ms (wait +${Math.round(wait.from)}..+${Math.round(wait.to)} ms)`,
        );
      }
    }
    return { checked, longestGap };
  }

  private checkToken(resource: string, section: Section): void {
    const token = section.token!;
    if (this.fencingFrom !== undefined && section.enteredAt >= this.fencingFrom) {
      this.stats.fencingSkipped += 1;
      return;
    }
    this.stats.fencingChecks += 1;
    const root = `${section.holder}/${section.lineage[0] ?? section.id}`;
    let perRoot = this.tokens.get(resource);
    if (!perRoot) this.tokens.set(resource, (perRoot = new Map<string, { write: number }>()));
    let maxWrite = -Infinity;
    for (const [other, seen] of perRoot) {
      if (other !== root) maxWrite = Math.max(maxWrite, seen.write);
    }
    if (!Number.isSafeInteger(token) || token < 0) {
      this.fail('fencing', `${section.label} got an invalid fencing token ${String(token)}`);
    } else if (section.mode === 'write' && token <= maxWrite) {
      this.fail(
        'fencing',
        `${section.label} entered ${resource} with token ${token}, not above ${maxWrite} of an earlier writer`,
      );
    } else if (section.mode === 'read' && token < maxWrite) {
      this.fail(
        'fencing',
        `${section.label} (reader) entered ${resource} with token ${token}, below writer token ${maxWrite}`,
      );
    }
    if (section.mode === 'write') {
      const mine = perRoot.get(root) ?? { write: -Infinity };
      mine.write = Math.max(mine.write, token);
      perRoot.set(root, mine);
    }
  }
}

/** One lineage is a prefix of the other: ancestor and descendant (or the same scope). */
export function related(a: readonly number[], b: readonly number[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
