import type { Clock, TimerHandle } from './clock.js';

/** Something the wheel wakes at `wakeAt`; the two fields belong to the wheel. */
export interface WheelItem {
  /** Monotonic time to wake at; meaningful only while `slot >= 0`. */
  wakeAt: number;
  /** Index in the wheel's heap, -1 when not scheduled. */
  slot: number;
  wake(): void;
}

/**
 * One timer for every lease of a clock: a min-heap of wake-up times with a single armed timer
 * at its earliest entry.
 *
 * Why not a timer per lease: a Node timer with its closure costs about 216 bytes and a
 * setTimeout/clearTimeout pair per lock, most often for a lock released long before the timer
 * would fire. Here scheduling is a heap insert (constant time when ttls are alike, as new
 * deadlines land at the end), and cancelling a heap removal; the one timer is re-armed only
 * when an earlier wake-up arrives. The timer never keeps the process alive.
 */
export class DeadlineWheel {
  private readonly heap: WheelItem[] = [];
  private timer: TimerHandle | undefined;
  private armedAt = Infinity;

  constructor(readonly clock: Clock) {}

  /** Items scheduled now (for tests and diagnostics). */
  get size(): number {
    return this.heap.length;
  }

  /**
   * Wakes `item` at monotonic time `at`, replacing its earlier schedule if any. `now` is the
   * caller's own reading of the clock, when it has one: the timer is armed for `at - now`, the
   * delay the caller meant, even on a clock that moves between two reads.
   */
  schedule(item: WheelItem, when: number, now = this.clock.now()): void {
    // Whole milliseconds, rounded up (never early): a small integer is stored in the item
    // itself, a fraction in a heap number of its own, per item, for as long as it waits.
    const at = Math.ceil(when);
    if (item.slot >= 0) {
      const earlier = at < item.wakeAt;
      item.wakeAt = at;
      if (earlier) this.up(item.slot);
      else this.down(item.slot);
    } else {
      item.wakeAt = at;
      item.slot = this.heap.length;
      this.heap.push(item);
      this.up(item.slot);
    }
    if (at < this.armedAt) this.arm(now);
  }

  /** Forgets `item`; a no-op when it is not scheduled. */
  cancel(item: WheelItem): void {
    const slot = item.slot;
    if (slot < 0) return;
    item.slot = -1;
    const last = this.heap.pop()!;
    if (slot < this.heap.length) {
      this.heap[slot] = last;
      last.slot = slot;
      this.up(slot);
      this.down(last.slot);
    }
    // The armed timer stays: firing early finds nothing due and re-arms, which is cheaper than
    // clearing and arming on every release of the earliest lease.
  }

  private arm(now: number): void {
    this.clock.clearTimeout(this.timer);
    const first = this.heap[0];
    if (!first) {
      this.timer = undefined;
      this.armedAt = Infinity;
      return;
    }
    this.armedAt = first.wakeAt;
    // Rounded up: a timer that fires a fraction early finds nothing due and re-arms for 1 ms
    // (never 0), instead of spinning until `now()` reaches the entry.
    const delay = Math.max(0, Math.ceil(first.wakeAt - now));
    this.timer = this.clock.setTimeout(() => this.fire(), delay, false);
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.clock.now();
    // Take every due item out first: waking one may schedule it (or others) again, and those
    // wait for the next firing instead of looping here.
    const due: WheelItem[] = [];
    while (this.heap.length > 0 && this.heap[0]!.wakeAt <= now) {
      const item = this.heap[0]!;
      this.cancel(item);
      due.push(item);
    }
    if (this.heap.length > 0 && this.armedAt === Infinity) this.arm(now);
    for (const item of due) {
      // An item cancelled or rescheduled by an earlier one's wake-up is not woken now.
      if (item.slot >= 0) continue;
      try {
        item.wake();
      } catch (error) {
        // As if each had its own timer: one wake-up that throws must not keep the others due
        // in the same firing asleep. The error still surfaces, as a timer callback's would.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private up(slot: number): void {
    const heap = this.heap;
    const item = heap[slot]!;
    while (slot > 0) {
      const parentSlot = (slot - 1) >> 1;
      const parent = heap[parentSlot]!;
      if (parent.wakeAt <= item.wakeAt) break;
      heap[slot] = parent;
      parent.slot = slot;
      slot = parentSlot;
    }
    heap[slot] = item;
    item.slot = slot;
  }

  private down(slot: number): void {
    const heap = this.heap;
    const length = heap.length;
    const item = heap[slot]!;
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= length) break;
      if (child + 1 < length && heap[child + 1]!.wakeAt < heap[child]!.wakeAt) child += 1;
      const next = heap[child]!;
      if (next.wakeAt >= item.wakeAt) break;
      heap[slot] = next;
      next.slot = slot;
      slot = child;
    }
    heap[slot] = item;
    item.slot = slot;
  }
}

const wheels = new WeakMap<Clock, DeadlineWheel>();
// Nearly every process has one clock: its wheel is found without a WeakMap lookup (about
// three per lock). Held weakly like the others, so a test's clock can still be collected.
let last: WeakRef<DeadlineWheel> | undefined;

/** The wheel of `clock`: one per clock, so all engines of a process share one timer. */
export function deadlineWheel(clock: Clock): DeadlineWheel {
  const recent = last?.deref();
  if (recent?.clock === clock) return recent;
  let wheel = wheels.get(clock);
  if (!wheel) wheels.set(clock, (wheel = new DeadlineWheel(clock)));
  last = new WeakRef(wheel);
  return wheel;
}
