/**
 * Time as the engine sees it, timers included, so tests can drive it by hand.
 *
 * Validity is measured on `now()`, a monotonic clock, so a wall clock that jumps (NTP step,
 * manual change) never turns an expired lock into a held one; `wallNow()` only labels times for
 * humans (`expiresAt`). Every timer the engine arms goes through `setTimeout` here: with a
 * {@link ManualClock} a test steps through ttls and retry delays without sleeping.
 */
export interface Clock {
  /** Monotonic milliseconds, arbitrary origin. */
  now(): number;
  /** Epoch milliseconds. */
  wallNow(): number;
  /**
   * Calls `fn` after `ms` ms. `keepAlive: false` lets the process exit while only this timer
   * is pending (renewals and per-node timeouts must never keep an application alive).
   */
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** An armed timer; opaque to the engine. */
export type TimerHandle = { readonly __timer: true } | object;

/** Node's timers accept at most 2^31 - 1 ms; longer delays are armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;

interface SystemTimer {
  current: NodeJS.Timeout | undefined;
}

function armSystem(fn: () => void, ms: number, keepAlive: boolean, handle: SystemTimer): void {
  const step = Math.min(Math.max(0, ms), MAX_TIMER_MS);
  const rest = ms - step;
  handle.current = setTimeout(rest > 0 ? () => armSystem(fn, rest, keepAlive, handle) : fn, step);
  if (!keepAlive) handle.current.unref();
}

/** The process's clocks: `performance.now()` and `Date.now()`, with Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(fn, ms, keepAlive = true) {
    const handle: SystemTimer = { current: undefined };
    armSystem(fn, ms, keepAlive, handle);
    return handle;
  },
  clearTimeout(handle) {
    if (handle) clearTimeout((handle as SystemTimer).current);
  },
};

/**
 * Epoch ms minus monotonic ms, to label monotonic deadlines as epoch times (`expiresAt`).
 * `Date.now()` counts whole milliseconds and `performance.now()` does not, so their raw
 * difference wanders within a millisecond from one read to the next, and with it every
 * label made from it: a lock's `expiresAt` read twice could differ by 1 ms with nothing
 * changed. This keeps the first difference until the clocks really move apart (more than
 * 1 ms: an NTP step or a manual change of the wall clock), then follows them.
 */
export class WallOffset {
  #offset = Number.NaN;

  constructor(private readonly clock: Pick<Clock, 'now' | 'wallNow'>) {}

  get(): number {
    const fresh = this.clock.wallNow() - this.clock.now();
    // NaN on the first read: the comparison fails and the first difference is kept.
    if (Math.abs(fresh - this.#offset) <= 1) return this.#offset;
    this.#offset = fresh;
    return fresh;
  }
}

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to, for tests: `advance(ms)` moves both clocks and fires
 * every timer that falls due, in order, letting promises settle between timers.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const store = new MemoryLockAdapter({ now: () => clock.now() });
 * const redlock = new Redlock([store], { clock });
 * const lock = await redlock.acquire('job', { ttl: 1_000 });
 * await clock.advance(1_000);
 * lock.isHeld(); // false
 * ```
 */
export class ManualClock implements Clock {
  private monotonic = 0;
  private seq = 0;
  private readonly timers: ManualTimer[] = [];

  /** @param wallStart epoch ms that `wallNow()` starts from. */
  constructor(private readonly wallStart = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.monotonic;
  }

  wallNow(): number {
    return this.wallStart + this.monotonic;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = {
      at: this.monotonic + Math.max(0, ms),
      seq: (this.seq += 1),
      fn,
      cancelled: false,
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) (handle as ManualTimer).cancelled = true;
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.timers.filter((timer) => !timer.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing due timers in time order; after each, lets pending
   * promise callbacks run so that work a timer starts can arm the next timer in time.
   */
  async advance(ms: number): Promise<void> {
    const target = this.monotonic + ms;
    for (;;) {
      await settle();
      const next = this.nextDue(target);
      if (!next) break;
      this.monotonic = Math.max(this.monotonic, next.at);
      next.cancelled = true;
      next.fn();
    }
    this.monotonic = target;
    await settle();
  }

  private nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (let i = this.timers.length - 1; i >= 0; i -= 1) {
      const timer = this.timers[i]!;
      if (timer.cancelled) {
        this.timers.splice(i, 1);
        continue;
      }
      if (timer.at > limit) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) {
        best = timer;
      }
    }
    return best;
  }
}

/** Lets queued promise callbacks (and the ones they queue) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A clock with timers: a `{ now, wallNow }` pair keeps the process's timers. */
export function withTimers(
  clock: (Pick<Clock, 'now' | 'wallNow'> & Partial<Clock>) | undefined,
): Clock {
  if (!clock) return systemClock;
  if (typeof clock.setTimeout === 'function' && typeof clock.clearTimeout === 'function')
    return clock as Clock;
  return {
    now: () => clock.now(),
    wallNow: () => clock.wallNow(),
    setTimeout: (fn, ms, keepAlive) => systemClock.setTimeout(fn, ms, keepAlive),
    clearTimeout: (handle) => systemClock.clearTimeout(handle),
  };
}
