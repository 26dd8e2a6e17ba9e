import { describe, expect, it } from '@jest/globals';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import { LockLostError, RedlockUnavailableError } from '../../lib/redlock.errors.js';
import { ManualClock } from '../../lib/services/clock.js';
import { Redlock } from '../../lib/services/redlock.engine.js';

/** The engine on a clock the test moves: ttls, renewals, retries and shutdown without sleeping. */
describe('engine on a ManualClock', () => {
  const setup = () => {
    const clock = new ManualClock();
    const store = new MemoryLockAdapter({ now: () => clock.now() });
    const redlock = new Redlock([store], { clock });
    return { clock, store, redlock };
  };

  it('fires timers in time order and only when due', async () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    const cancelled = clock.setTimeout(() => fired.push('never'), 15);
    clock.clearTimeout(cancelled);
    await clock.advance(9);
    expect(fired).toEqual([]);
    await clock.advance(11);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(20);
    expect(clock.pending).toBe(0);
  });

  it('expires a lock that is not extended, exactly at its validity', async () => {
    const { clock, redlock } = setup();
    const lock = await redlock.acquire('job', { ttl: 1_000 });
    const reasons: unknown[] = [];
    lock.signal.addEventListener('abort', () => reasons.push(lock.signal.reason));
    // Validity: 1000 - (10 + 2) = 988 ms on the monotonic clock.
    await clock.advance(987);
    expect(lock.isHeld()).toBe(true);
    await clock.advance(1);
    expect(lock.isHeld()).toBe(false);
    expect(reasons[0]).toBeInstanceOf(LockLostError);
  });

  it('keeps a using() lock renewed for as long as the work runs', async () => {
    const { clock, redlock, store } = setup();
    let finish!: () => void;
    const work = redlock.using(
      'long',
      (lock) =>
        new Promise<boolean>((resolve) => {
          finish = () => resolve(lock.isHeld());
        }),
      { ttl: 1_000 },
    );
    await clock.advance(0);
    // Ten ttls later the lock is still ours: renewed at each half-life.
    for (let i = 0; i < 20; i += 1) await clock.advance(500);
    expect(await store.inspect(['lock:long'])).toBeGreaterThan(0);
    finish();
    await expect(work).resolves.toBe(true);
    expect(await store.inspect(['lock:long'])).toBe(-2);
  });

  it('wakes a waiter at the holder’s expiry, not after its retry delay', async () => {
    const { clock, redlock } = setup();
    await redlock.acquire('gone', { ttl: 1_000 }); // never released
    let acquiredAt: number | undefined;
    const waiting = redlock
      .acquire('gone', { wait: 60_000, retryDelay: 30_000, retryJitter: 0 })
      .then((lock) => {
        acquiredAt = clock.now();
        return lock;
      });
    for (let t = 0; t < 2_000 && acquiredAt === undefined; t += 100) await clock.advance(100);
    await waiting;
    // The holder's validity ends at 988 ms (drift allowance), when it gives the keys back.
    expect(acquiredAt).toBeGreaterThanOrEqual(988);
    expect(acquiredAt).toBeLessThanOrEqual(1_100);
  });

  it('at close, keeps running work locked until it ends, within the timeout, and refuses new locks', async () => {
    const { clock, redlock, store } = setup();
    let finish!: () => void;
    const work = redlock.using('busy', () => new Promise<void>((resolve) => (finish = resolve)), {
      ttl: 1_000,
    });
    await clock.advance(0);
    let closed = false;
    const closing = redlock.close({ timeout: 10_000 }).then(() => (closed = true));
    await expect(redlock.acquire('other')).rejects.toBeInstanceOf(RedlockUnavailableError);
    await clock.advance(5_000);
    // Still held and renewed five ttls into the shutdown, because the work still runs.
    expect(closed).toBe(false);
    expect(await store.inspect(['lock:busy'])).toBeGreaterThan(0);
    finish();
    await work;
    await closing;
    expect(await store.inspect(['lock:busy'])).toBe(-2);
  });

  it('at close, releases what is still held once the timeout passes', async () => {
    const { clock, redlock, store } = setup();
    await redlock.acquire('stuck', { ttl: 60_000, autoExtend: true });
    let closed = false;
    const closing = redlock.close({ timeout: 3_000 }).then(() => (closed = true));
    await clock.advance(2_999);
    expect(closed).toBe(false);
    await clock.advance(1);
    await closing;
    expect(await store.inspect(['lock:stuck'])).toBe(-2);
  });
});
