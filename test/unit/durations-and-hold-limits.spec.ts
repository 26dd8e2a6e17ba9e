import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import { WithLock } from '../../lib/decorators/with-lock.decorator.js';
import { OnOneInstance } from '../../lib/decorators/on-one-instance.decorator.js';
import { LockLostError, RedlockConfigError } from '../../lib/redlock.errors.js';
import { ManualClock } from '../../lib/services/clock.js';
import { parseDuration } from '../../lib/services/duration.js';
import { resolveModuleOptions } from '../../lib/services/module-options.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { tickOf } from '../../lib/services/tick-claims.js';

const setup = () => {
  const clock = new ManualClock();
  const store = new MemoryLockAdapter({ now: () => clock.now() });
  const redlock = new Redlock([store], { clock });
  const other = new Redlock([store], { clock });
  return { clock, store, redlock, other };
};

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['1.1s', 1_100],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    [' 2s ', 2_000],
    [250, 250],
  ])('%p is %p ms', (value, ms) => {
    expect(parseDuration(value, 'ttl')).toBe(ms);
  });

  it.each(['5000', '1.5ms', 'abc', '-1s', '1 s', '2sec', '', '1h30m'])(
    'refuses %p with a RedlockConfigError naming the option',
    (value) => {
      const error = captured(() => parseDuration(value, 'lock.ttl'));
      expect(error).toBeInstanceOf(RedlockConfigError);
      expect((error as RedlockConfigError).option).toBe('lock.ttl');
      expect((error as RedlockConfigError).code).toBe('ERR_REDLOCK_INVALID_TTL');
      expect((error as Error).message).toContain(JSON.stringify(value));
    },
  );

  it('says to add a unit to a bare number in a string (environment variables)', () => {
    expect(() => parseDuration('5000', 'wait')).toThrow(
      /a duration with its unit \("5000ms", "5000s"\), got "5000"$/,
    );
  });

  it('is accepted by every lock option that takes milliseconds', async () => {
    const { clock, redlock } = setup();
    const opts = redlock.resolveOptions({
      ttl: '2s',
      wait: '1.5s',
      retryDelay: '100ms',
      retryJitter: '10ms',
      nodeTimeout: '50ms',
      holdAtLeast: '1s',
      maxHold: '1m',
    });
    expect(opts).toMatchObject({
      ttl: 2_000,
      wait: 1_500,
      retryDelay: 100,
      retryJitter: 10,
      nodeTimeout: 50,
      holdAtLeast: 1_000,
      maxHold: 60_000,
    });
    const lock = await redlock.acquire('d', { ttl: '2s' });
    // Validity: 2000 - (20 + 2) ms.
    expect(lock.expiresAt).toBe(clock.wallNow() + 1_978);
    await lock.extend('5s');
    expect(lock.expiresAt).toBe(clock.wallNow() + 4_948);
    await lock.release();
  });

  it('is accepted by the module options and the decorators, and checked at startup', () => {
    const resolved = resolveModuleOptions({
      nodes: ['memory://'],
      shutdownTimeout: '3s',
      connectTimeout: '250ms',
      lock: { ttl: '30s' },
    });
    expect([resolved.shutdownTimeout, resolved.connectTimeout, resolved.lock.ttl]).toEqual([
      3_000, 250, 30_000,
    ]);
    expect(() =>
      resolveModuleOptions({ nodes: ['memory://'], shutdownTimeout: '10' as never }),
    ).toThrow(/Invalid option shutdownTimeout/);
    expect(() => WithLock('k', { ttl: '10 seconds' as never })).toThrow(/@WithLock\.ttl/);
    expect(() => WithLock('k', { onBusy: 'skip', tickTolerance: 'soon' as never })).toThrow(
      /@WithLock\.tickTolerance/,
    );
    expect(() => OnOneInstance({ ttl: '2x' as never })).toThrow(RedlockConfigError);
    expect(() => OnOneInstance({ tickTolerance: '2h' })).toThrow(/from 0 to 1 hour/);
  });
});

describe('holdAtLeast (ManualClock)', () => {
  it('keeps the keys until acquiredAt + holdAtLeast after an early release, then frees them', async () => {
    const { clock, redlock, other, store } = setup();
    const lock = await redlock.acquire('report', { ttl: 10_000, holdAtLeast: '3s' });
    await clock.advance(100);
    await expect(lock.release()).resolves.toBe('released');
    expect(lock.isHeld()).toBe(false);
    // Cut from 10 s to what is left of the window (plus the drift allowance), not deleted.
    const ttl = await store.inspect(['lock:report']);
    expect(ttl).toBeGreaterThanOrEqual(2_900);
    expect(ttl).toBeLessThanOrEqual(2_900 + 31);
    await expect(other.tryAcquire('report')).resolves.toBeNull();
    await clock.advance(2_899);
    await expect(other.tryAcquire('report')).resolves.toBeNull();
    await clock.advance(32);
    const next = await other.tryAcquire('report');
    expect(next).not.toBeNull();
    await next!.release();
  });

  it('lengthens keys whose ttl ends before the window does', async () => {
    const { clock, redlock, other, store } = setup();
    const lock = await redlock.acquire('short', { ttl: 500, holdAtLeast: 2_000 });
    await lock.release();
    expect(await store.inspect(['lock:short'])).toBeGreaterThanOrEqual(2_000);
    await clock.advance(1_000);
    await expect(other.tryAcquire('short')).resolves.toBeNull();
  });

  it('deletes at once when the window is over, and at shutdown', async () => {
    const { clock, redlock, other, store } = setup();
    const late = await redlock.acquire('late', {
      ttl: 10_000,
      holdAtLeast: 1_000,
      autoExtend: true,
    });
    await clock.advance(1_000);
    await late.release();
    expect(await store.inspect(['lock:late'])).toBe(-2);

    const kept = await redlock.acquire('kept', { ttl: 10_000, holdAtLeast: '1h' });
    await kept.release();
    await expect(other.tryAcquire('kept')).resolves.toBeNull();
    await redlock.close();
    expect(await store.inspect(['lock:kept'])).toBe(-2);
  });

  it('refuses a holdAtLeast longer than maxHold', () => {
    const { redlock } = setup();
    expect(() => redlock.resolveOptions({ holdAtLeast: '2m', maxHold: '1m' })).toThrow(
      /holdAtLeast: 120000 ms is longer than maxHold/,
    );
  });
});

describe('maxHold (ManualClock)', () => {
  it('renews up to maxHold, then aborts the signal with a LockLostError that says so', async () => {
    const { clock, redlock, other, store } = setup();
    const reasons: unknown[] = [];
    let abortedAt = -1;
    const work = redlock.using(
      'stuck',
      (lock) => {
        lock.signal.addEventListener('abort', () => {
          abortedAt = clock.now();
          reasons.push(lock.signal.reason);
        });
        return new Promise<void>(() => undefined); // never settles: a stuck job
      },
      { ttl: 1_000, maxHold: '2.5s' },
    );
    void work.catch(() => undefined);
    await clock.advance(2_000);
    expect(reasons).toEqual([]); // renewed past its ttl
    expect(await store.inspect(['lock:stuck'])).toBeGreaterThan(0);
    await clock.advance(500);
    expect(abortedAt).toBeGreaterThan(2_400);
    expect(abortedAt).toBeLessThanOrEqual(2_500);
    expect(reasons[0]).toBeInstanceOf(LockLostError);
    expect((reasons[0] as Error).message).toMatch(/reached its maxHold of 2500 ms/);
    // The keys went with it: someone else can lock the resource right away.
    const next = await other.tryAcquire('stuck');
    expect(next).not.toBeNull();
    await next!.release();
  });

  it('caps an explicit extend at maxHold', async () => {
    const { clock, redlock } = setup();
    const lock = await redlock.acquire('capped', { ttl: 1_000, maxHold: 1_500 });
    const started = clock.wallNow();
    await clock.advance(500);
    await lock.extend('10s');
    expect(lock.expiresAt).toBeLessThanOrEqual(started + 1_500);
    await clock.advance(1_000);
    expect(lock.isHeld()).toBe(false);
    expect(() => lock.signal.throwIfAborted()).toThrow(/maxHold/);
  });
});

describe('renewal against nodes that stop answering (ManualClock)', () => {
  /** A memory node whose extensions answer as scripted: granted, refused by an error, or never. */
  class Scripted extends MemoryLockAdapter {
    answers: ('ok' | 'error' | 'hang')[] = [];
    override extend(...args: Parameters<MemoryLockAdapter['extend']>) {
      const answer = this.answers.shift() ?? 'hang';
      if (answer === 'hang') return new Promise<never>(() => undefined);
      if (answer === 'error') return Promise.reject(new Error('ECONNRESET'));
      return super.extend(...args);
    }
  }

  it('aborts the signal at the deadline even while a renewal still waits for the nodes', async () => {
    // ttl 1000 ms, node timeout 200 ms: the renewal at half-life times out, the retry starts
    // 200 ms later and would wait past the deadline (988 ms) for nodes that never answer.
    const clock = new ManualClock();
    // No scripted answer: every extension waits for nodes that never answer.
    const node = new Scripted({ now: () => clock.now() });
    const redlock = new Redlock([node], { clock });
    let abortedAt = -1;
    const work = redlock.using(
      'cut-off',
      (lock) => {
        lock.signal.addEventListener('abort', () => (abortedAt = clock.now()));
        return new Promise<void>(() => undefined);
      },
      { ttl: 1_000, nodeTimeout: 200 },
    );
    void work.catch(() => undefined);
    for (let step = 0; step < 150 && abortedAt < 0; step += 1) await clock.advance(10);
    // Before the keys expire on the node (1000 ms), where another client could take them.
    expect(abortedAt).toBeGreaterThanOrEqual(988);
    expect(abortedAt).toBeLessThan(1_000);
    await redlock.close({ timeout: 0 }).catch(() => undefined);
  });

  it('for any ttl, node timeout and run of renewal answers, the signal aborts by the end of the validity', async () => {
    const STEP = 10;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 200, max: 1_000 }),
        fc.integer({ min: 10, max: 300 }),
        fc.array(fc.constantFrom<'ok' | 'error' | 'hang'>('ok', 'error', 'hang'), {
          maxLength: 8,
        }),
        async (ttl, timeoutMs, answers) => {
          const nodeTimeout = Math.min(timeoutMs, Math.floor(ttl / 3));
          const clock = new ManualClock();
          const node = new Scripted({ now: () => clock.now() });
          node.answers = [...answers];
          const redlock = new Redlock([node], { clock });
          let abortedAt = -1;
          let validUntil = -1;
          let lateBy = 0;
          const work = redlock.using(
            'scripted',
            (lock) => {
              lock.signal.addEventListener('abort', () => (abortedAt = clock.wallNow()));
              // Validity as the lock states it, read at every step (renewals move it).
              const watch = (): void => {
                if (abortedAt >= 0) return;
                validUntil = lock.expiresAt;
                lateBy = Math.max(lateBy, clock.wallNow() - validUntil);
              };
              watch();
              return new Promise<void>((resolve) => {
                const check = (): void => {
                  watch();
                  if (abortedAt >= 0) resolve();
                  else clock.setTimeout(check, STEP);
                };
                clock.setTimeout(check, STEP);
              });
            },
            { ttl, nodeTimeout },
          );
          void work.catch(() => undefined);
          const horizon = ttl * (answers.length + 3);
          for (let t = 0; t < horizon && abortedAt < 0; t += STEP) await clock.advance(STEP);
          // close() waits on this clock too (a release in flight, its node timeout).
          let closed = false;
          void redlock.close({ timeout: 0 }).then(
            () => (closed = true),
            () => (closed = true),
          );
          for (let t = 0; t < 4 * ttl && !closed; t += STEP) await clock.advance(STEP);
          expect(closed).toBe(true);
          // Every run ends in a loss: the script runs out into answers that never come.
          expect(abortedAt).toBeGreaterThanOrEqual(0);
          // Never heard later than one step past the validity the lock last stated.
          expect(lateBy).toBeLessThanOrEqual(STEP);
          expect(abortedAt - validUntil).toBeLessThanOrEqual(STEP);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});

describe('tick labels', () => {
  it('name a cron tick by its second on the instance clock, late fires included', () => {
    const second = Date.UTC(2026, 0, 1, 12, 0, 5);
    expect(tickOf(second)).toBe(second);
    expect(tickOf(second + 899)).toBe(second);
    expect(tickOf(second + 900)).toBe(second + 1_000);
    expect(tickOf(second - 1)).toBe(second); // a clock read a hair before the second
  });
});

function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
