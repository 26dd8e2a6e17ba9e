import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import { ManualClock } from '../../lib/services/clock.js';
import { DeadlineWheel, deadlineWheel, type WheelItem } from '../../lib/services/deadline-wheel.js';
import { Redlock } from '../../lib/services/redlock.engine.js';

/** One shared timer for every lease of a clock (instead of a Node timer per lock). */
describe('DeadlineWheel', () => {
  const item = (woken: number[], id: number, clock: ManualClock): WheelItem => ({
    wakeAt: 0,
    slot: -1,
    wake: () => {
      woken.push(id);
      woken.push(clock.now());
    },
  });

  it('wakes every scheduled item once, at its time, and never a cancelled one (random schedules)', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), id: fc.nat(15), at: fc.nat(200) }),
      fc.record({ kind: fc.constant('cancel' as const), id: fc.nat(15) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const clock = new ManualClock();
        const wheel = new DeadlineWheel(clock);
        const woken: number[] = [];
        const items = Array.from({ length: 16 }, (_, id) => item(woken, id, clock));
        // The model: when each item is due, or undefined when it is not scheduled.
        const due = new Map<number, number>();
        const check = (): void => {
          for (let i = 0; i < woken.length; i += 2) {
            const [id, at] = [woken[i]!, woken[i + 1]!];
            // Woken exactly at its time (the ManualClock fires timers at their due time).
            expect(due.get(id)).toBe(at);
            due.delete(id);
          }
          woken.length = 0;
          for (const at of due.values()) expect(at).toBeGreaterThan(clock.now());
          expect(wheel.size).toBe(due.size);
        };
        for (const step of ops) {
          if (step.kind === 'schedule') {
            const at = clock.now() + step.at;
            wheel.schedule(items[step.id]!, at);
            due.set(step.id, at);
          } else if (step.kind === 'cancel') {
            wheel.cancel(items[step.id]!);
            due.delete(step.id);
          } else {
            await clock.advance(step.ms);
            check();
          }
        }
        await clock.advance(1_000);
        check();
        expect(due.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('wakes the other items due in the same firing when one wake-up throws', async () => {
    const clock = new ManualClock();
    const wheel = new DeadlineWheel(clock);
    const woken: string[] = [];
    const thrown: unknown[] = [];
    // The wheel rethrows a wake-up's error from a microtask, as a timer callback's would
    // surface: caught here so the test can see it.
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (task) => {
      try {
        task();
      } catch (error) {
        thrown.push(error);
      }
    };
    try {
      wheel.schedule(
        {
          wakeAt: 0,
          slot: -1,
          wake: () => {
            throw new Error('boom');
          },
        },
        10,
      );
      wheel.schedule({ wakeAt: 0, slot: -1, wake: () => void woken.push('second') }, 10);
      await clock.advance(10);
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(woken).toEqual(['second']);
    expect(thrown).toEqual([new Error('boom')]);
  });

  it('keeps one timer armed for many held locks, and none once they are released', async () => {
    const clock = new ManualClock();
    const redlock = new Redlock([new MemoryLockAdapter({ now: () => clock.now() })], { clock });
    const first = await redlock.acquire('wheel:first', { ttl: 5_000 });
    const timersWithOneLock = clock.pending;
    const locks = await Promise.all(
      Array.from({ length: 49 }, (_, i) => redlock.acquire(`wheel:${i}`, { ttl: 1_000 + i })),
    );
    locks.push(first);
    expect(deadlineWheel(clock).size).toBe(50);
    expect(clock.pending).toBe(timersWithOneLock);
    await Promise.all(locks.map((lock) => lock.release()));
    expect(deadlineWheel(clock).size).toBe(0);
    await redlock.close();
  });

  it('still declares each lock lost at its own deadline', async () => {
    const clock = new ManualClock();
    const redlock = new Redlock([new MemoryLockAdapter({ now: () => clock.now() })], { clock });
    const short = await redlock.acquire('wheel:short', { ttl: 100 });
    const long = await redlock.acquire('wheel:long', { ttl: 300 });
    const lost: string[] = [];
    short.signal.addEventListener('abort', () => lost.push('short'));
    long.signal.addEventListener('abort', () => lost.push('long'));
    await clock.advance(150);
    expect(lost).toEqual(['short']);
    await clock.advance(200);
    expect(lost).toEqual(['short', 'long']);
    await redlock.close();
  });
});
