import { afterEach, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import {
  LockKeyError,
  LockLostError,
  LockNotAcquiredError,
  RedlockConfigError,
  RedlockUnavailableError,
} from '../../lib/redlock.errors.js';
import { type Clock, systemClock, type TimerHandle, WallOffset } from '../../lib/services/clock.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { Lock } from '../../lib/services/lock.js';
import { ownerValue } from '../../lib/services/owner-value.js';
import { deferred } from '../support/deferred.js';
import { FailingAdapter } from '../support/failing-adapter.js';

/** Engine logic over in-memory nodes; the same behaviours run on real Redis in integration/. */
describe('Redlock engine (memory nodes)', () => {
  const opened: LockAdapter[] = [];
  const nodes = (n: number): MemoryLockAdapter[] => {
    const list = Array.from(
      { length: n },
      (_, i) => new MemoryLockAdapter({ name: `memory://n${i}` }),
    );
    opened.push(...list);
    return list;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((adapter) => adapter.close()));
  });

  it('needs a quorum of floor(N/2)+1', () => {
    expect(new Redlock(nodes(1)).quorum).toBe(1);
    expect(new Redlock(nodes(3)).quorum).toBe(2);
    expect(new Redlock(nodes(4)).quorum).toBe(3);
    expect(new Redlock(nodes(5)).quorum).toBe(3);
  });

  it('stores keys as keyPrefix + resource and removes them on release', async () => {
    const [node] = nodes(1);
    const redlock = new Redlock([node!], { keyPrefix: 'app:' });
    const lock = await redlock.acquire('order:42');
    expect(await node!.inspect(['app:order:42'])).toBeGreaterThan(0);
    expect(lock.resources).toEqual(['order:42']);
    expect(await lock.release()).toBe('released');
    expect(await node!.inspect(['app:order:42'])).toBe(-2);
  });

  it('tells a prefixed key from a resource that spells it: reentrancy joins only the same resource', async () => {
    // A one-resource lock keeps the name and makes its key when used: the key must still be
    // exactly keyPrefix + resource, never a resource whose name ends the same way.
    const [node] = nodes(1);
    const redlock = new Redlock([node!], { keyPrefix: 'app:' });
    const other = new Redlock([node!], { keyPrefix: 'app:' });
    const seen = await redlock.using('x', async (outer) => {
      const joined = await redlock.using('x', (inner) => inner === outer);
      const spelled = await redlock.using('app:x', (inner) => ({
        own: inner !== outer,
        key: node!.inspect(['app:app:x']),
      }));
      const rival = await other.tryAcquire('x');
      await outer.extend(8_000);
      return {
        joined,
        own: spelled.own,
        key: await spelled.key,
        rival,
        ttl: await node!.inspect(['app:x']),
      };
    });
    expect(seen.joined).toBe(true);
    expect(seen.own).toBe(true);
    expect(seen.key).toBeGreaterThan(0);
    expect(seen.rival).toBeNull();
    expect(seen.ttl).toBeGreaterThan(5_000);
    expect(await node!.inspect(['app:x'])).toBe(-2);
    expect(await node!.inspect(['app:app:x'])).toBe(-2);
  });

  it('makes a second owner wait and hands over on release', async () => {
    const redlock = new Redlock(nodes(3));
    const first = await redlock.acquire('r', { ttl: 5_000, fencing: true });
    expect(await redlock.tryAcquire('r')).toBeNull();
    // retryDelay is far beyond the test timeout: only the release notification can wake it.
    const second = redlock.acquire('r', {
      retryDelay: 60_000,
      retryJitter: 0,
      wait: 20_000,
      fencing: true,
    });
    await first.release();
    const lock = await second;
    expect(lock.isHeld()).toBe(true);
    expect(lock.fencingToken).toBeGreaterThan(first.fencingToken);
    await lock.release();
  });

  it('rejects with LockNotAcquiredError after the wait, carrying per-node outcomes and retryAfter', async () => {
    const redlock = new Redlock(nodes(3));
    const held = await redlock.acquire('busy', { ttl: 10_000 });
    const error = await redlock
      .acquire('busy', { wait: 30, retryDelay: 10 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockNotAcquiredError);
    const busy = error as LockNotAcquiredError;
    expect(busy.resources).toEqual(['busy']);
    // Decided at the second 'taken': the third node may not have answered yet.
    const outcomes = busy.nodes.map((n) => n.outcome);
    expect(outcomes.filter((o) => o === 'taken').length).toBeGreaterThanOrEqual(2);
    expect(outcomes).not.toContain('acquired');
    expect(busy.nodes.map((n) => n.node)).toEqual(['memory://n0', 'memory://n1', 'memory://n2']);
    expect(busy.retryAfter).toBeGreaterThan(0);
    expect(busy.retryAfter).toBeLessThanOrEqual(10_000);
    await held.release();
  });

  it('counts attempts against retryCount', async () => {
    const events: RedlockEvent[] = [];
    const redlock = new Redlock(nodes(1), { onEvent: (e) => events.push(e) });
    const held = await redlock.acquire('count');
    await expect(
      redlock.acquire('count', { wait: 10_000, retryCount: 3, retryDelay: 1 }),
    ).rejects.toBeInstanceOf(LockNotAcquiredError);
    const failed = events.find((e) => e.type === 'failed');
    expect(failed && failed.type === 'failed' && failed.attempts).toBe(3);
    await held.release();
  });

  it('is unavailable, not busy, when fewer than a quorum answer', async () => {
    const [a, b, c] = nodes(3);
    const redlock = new Redlock(
      [a!, new FailingAdapter(b!, 'error'), new FailingAdapter(c!, 'hang')],
      {
        lock: { nodeTimeout: 50 },
      },
    );
    const error = await redlock.tryAcquire('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockUnavailableError);
    const outcomes = (error as RedlockUnavailableError).nodes.map((n) => n.outcome);
    expect(outcomes).toEqual(['acquired', 'error', 'timeout']);
    // What the failed attempt took on the healthy node was taken back.
    expect(await a!.inspect(['lock:x'])).toBe(-2);
  });

  it('answers at quorum without waiting for a slow node', async () => {
    const [a, b, c] = nodes(3);
    const slow = new FailingAdapter(c!, 'hang');
    // The slow node's timeout outlasts the test: only an early decision lets acquire resolve.
    const redlock = new Redlock([a!, b!, slow], { lock: { ttl: 120_000, nodeTimeout: 110_000 } });
    const lock = await redlock.acquire('fast');
    expect(slow.calls).toBe(1);
    expect(lock.isHeld()).toBe(true);
    slow.open();
    await lock.release();
  });

  it('reuses a held lock in the same async chain (reentrancy) and not across chains', async () => {
    const redlock = new Redlock(nodes(1));
    const seen: string[] = [];
    await redlock.using('re', async (outer) => {
      await redlock.using('re', (inner) => {
        expect(inner).toBe(outer);
        seen.push(inner.value);
      });
      // Still held after the inner call returned.
      expect(outer.isHeld()).toBe(true);
      // A different chain (a fresh async context) does not inherit the lock.
      const elsewhere = await new Promise<unknown>((resolve) =>
        setImmediate(() => {
          void redlock.tryAcquire('re').then(resolve);
        }),
      );
      expect(elsewhere).toBeNull();
    });
    expect(seen).toHaveLength(1);
    expect(await redlock.isLocked('re')).toBe(false);
  });

  it('acquires only the missing resources when a chain holds some of them, and covers all', async () => {
    const [node] = nodes(1);
    const redlock = new Redlock([node!]);
    await redlock.using('a', async () => {
      await redlock.using(['a', 'b'], async (inner) => {
        expect(inner.resources).toEqual(['a', 'b']);
        expect(await node!.inspect(['lock:b'])).toBeGreaterThan(0);
      });
      expect(await node!.inspect(['lock:b'])).toBe(-2);
      expect(await node!.inspect(['lock:a'])).toBeGreaterThan(0);
    });
  });

  it('abandons a wait when the signal aborts before or during it', async () => {
    const redlock = new Redlock(nodes(1));
    const before = new AbortController();
    before.abort(new Error('gave up early'));
    await expect(redlock.acquire('sig', { signal: before.signal })).rejects.toThrow(
      'gave up early',
    );

    const held = await redlock.acquire('sig');
    const during = new AbortController();
    const waiting = redlock.acquire('sig', {
      signal: during.signal,
      wait: 60_000,
      retryDelay: 60_000,
    });
    during.abort(new Error('gave up while waiting'));
    await expect(waiting).rejects.toThrow('gave up while waiting');
    expect(held.isHeld()).toBe(true);
    await held.release();
  });

  it('aborts lock.signal with LockLostError when the keys vanish behind its back', async () => {
    const [a, b, c] = nodes(3);
    const redlock = new Redlock([a!, b!, c!]);
    const lost = deferred<unknown>();
    const result = redlock.using(
      'lease',
      async (lock) => {
        lock.signal.addEventListener('abort', () => lost.resolve(lock.signal.reason));
        // Another owner's value replaces ours on a majority: extensions must see it as taken.
        for (const node of [a!, b!]) {
          await node.release(['lock:lease'], lock.value);
          await node.acquire(['lock:lease'], 'intruder', 60_000);
        }
        await lock.extend().catch(() => undefined);
        return lost.promise;
      },
      { ttl: 1_000 },
    );
    await expect(result).rejects.toBeInstanceOf(LockLostError);
    expect(await lost.promise).toBeInstanceOf(LockLostError);
  });

  it('refuses extend after release and after expiry with LockLostError', async () => {
    const redlock = new Redlock(nodes(1));
    const released = await redlock.acquire('ext');
    await released.release();
    await expect(released.extend()).rejects.toBeInstanceOf(LockLostError);
    expect(await released.release()).toBe('released'); // idempotent: same answer again

    const short = await redlock.acquire('ext2', { ttl: 30 });
    await new Promise<void>((resolve) => short.signal.addEventListener('abort', () => resolve()));
    expect(short.isHeld()).toBe(false);
    expect(short.signal.reason).toBeInstanceOf(LockLostError);
    await expect(short.extend()).rejects.toBeInstanceOf(LockLostError);
  });

  it('validates options and keys before touching a node', async () => {
    const [node] = nodes(1);
    const redlock = new Redlock([node!]);
    await expect(redlock.acquire('k', { ttl: 0 })).rejects.toBeInstanceOf(RedlockConfigError);
    await expect(redlock.acquire('k', { ttl: Number.NaN })).rejects.toThrow(/ttl/);
    await expect(redlock.acquire('k', { driftFactor: 1 })).rejects.toThrow(/driftFactor/);
    await expect(redlock.acquire('k', { wait: -1 })).rejects.toThrow(/wait/);
    await expect(redlock.acquire('')).rejects.toBeInstanceOf(LockKeyError);
    await expect(redlock.acquire([])).rejects.toBeInstanceOf(LockKeyError);
    await expect(redlock.acquire('x'.repeat(2_000))).rejects.toBeInstanceOf(LockKeyError);
    expect(node!.stats().locks).toBe(0);
    expect(() => new Redlock([])).toThrow(RedlockConfigError);
  });

  it('makes owner values 128-bit and unique', () => {
    const values = new Set(Array.from({ length: 10_000 }, () => ownerValue()));
    expect(values.size).toBe(10_000);
    for (const value of [...values].slice(0, 5)) expect(value).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('releases every held lock on close and then refuses new ones', async () => {
    const [node] = nodes(1);
    const redlock = new Redlock([node!]);
    await redlock.acquire('c1');
    await redlock.acquire(['c2', 'c3']);
    expect(redlock.heldCount).toBe(2);
    await redlock.close();
    expect(await node!.inspect(['lock:c1', 'lock:c2', 'lock:c3'])).toBe(-2);
    await expect(redlock.acquire('c4')).rejects.toThrow(/shutting down/);
  });

  // A Nest app (whose shutdownTimeout is 10 s) stayed alive that long after app.close().
  it('leaves no timer that keeps the process alive once close({ timeout }) has drained', async () => {
    const [node] = nodes(1);
    const keepingAlive = new Set<TimerHandle>();
    const clock: Clock = {
      ...systemClock,
      setTimeout(fn, ms, keepAlive = true) {
        const handle = systemClock.setTimeout(
          () => {
            keepingAlive.delete(handle);
            fn();
          },
          ms,
          keepAlive,
        );
        if (keepAlive) keepingAlive.add(handle);
        return handle;
      },
      clearTimeout(handle) {
        if (handle) keepingAlive.delete(handle);
        systemClock.clearTimeout(handle);
      },
    };
    const redlock = new Redlock([node!], { clock });
    const lock = await redlock.acquire('drains');
    const closed = redlock.close({ timeout: 60_000 });
    await lock.release();
    await closed;
    expect(keepingAlive.size).toBe(0);
  });
});

describe('Lock disposal', () => {
  it('releases at the end of an `await using` block, also when the block throws', async () => {
    const node = new MemoryLockAdapter();
    const redlock = new Redlock([node]);
    const run = async () => {
      await using lock = await redlock.acquire('disposable');
      expect(await node.inspect(['lock:disposable'])).toBeGreaterThan(0);
      expect(lock.isHeld()).toBe(true);
      throw new Error('work failed');
    };
    await expect(run()).rejects.toThrow('work failed');
    expect(await node.inspect(['lock:disposable'])).toBe(-2);
    await node.close();
  });
});

describe('Lock.prototype', () => {
  it('carries isHeld, extend and release, so a test can spy on them', async () => {
    const node = new MemoryLockAdapter();
    const redlock = new Redlock([node]);
    const spies = (['isHeld', 'extend', 'release'] as const).map((name) =>
      jest.spyOn(Lock.prototype, name),
    );
    try {
      const lock = await redlock.acquire('spied', { ttl: 1_000 });
      expect(lock.isHeld()).toBe(true);
      await lock.extend(2_000);
      expect(await lock.release()).toBe('released');
      expect(spies.map((spy) => spy.mock.calls.length > 0)).toEqual([true, true, true]);
      expect(await node.inspect(['lock:spied'])).toBe(-2);
    } finally {
      for (const spy of spies) spy.mockRestore();
      await node.close();
    }
  });
});

describe('waiting in line within one process', () => {
  it('hands the lock on in arrival order, and a newcomer joins the back instead of barging', async () => {
    const node = new MemoryLockAdapter();
    const redlock = new Redlock([node]);
    const order: string[] = [];
    const holder = await redlock.acquire('line');
    const take = (name: string) =>
      redlock.acquire('line', { wait: 10_000, retryDelay: 60_000 }).then(async (lock) => {
        order.push(name);
        // Give the next in line a chance to be passed over, then release.
        await new Promise((resolve) => setImmediate(resolve));
        await lock.release();
      });
    const b = take('b');
    // Let b fail its first attempt and queue before c arrives.
    while (redlock['context'].lines.length('lock:line') !== 1)
      await new Promise((r) => setImmediate(r));
    const c = take('c');
    while (redlock['context'].lines.length('lock:line') !== 2)
      await new Promise((r) => setImmediate(r));
    // d arrives the moment the lock is free, before b has heard of the release: without the
    // line it would take the lock first, being one step ahead of the notification.
    const released = holder.release();
    const d = take('d');
    await released;
    await Promise.all([b, c, d]);
    expect(order).toEqual(['b', 'c', 'd']);
    await node.close();
  });

  it('costs a caller that queued here one attempt', async () => {
    const node = new MemoryLockAdapter();
    const attempts: number[] = [];
    const redlock = new Redlock([node], {
      onEvent: (event) => {
        if (event.type === 'acquired') attempts.push(event.attempts);
      },
    });
    const holder = await redlock.acquire('solo');
    attempts.length = 0;
    const take = () =>
      redlock.acquire('solo', { wait: 10_000, retryDelay: 60_000 }).then(async (lock) => {
        await lock.release();
      });
    const first = take();
    while (redlock['context'].lines.length('lock:solo') !== 1)
      await new Promise((r) => setImmediate(r));
    const later = [take(), take()];
    while (redlock['context'].lines.length('lock:solo') !== 3)
      await new Promise((r) => setImmediate(r));
    // In line once subscribed: the memory node's subscriptions settle within this turn.
    await new Promise((r) => setImmediate(r));
    await holder.release();
    await Promise.all([first, ...later]);
    // None of them made a round of its own: the holder is of this process, so each queued
    // asleep, and each release before theirs handed them the lock (the transfer counts as
    // their one attempt).
    expect(attempts).toEqual([1, 1, 1]);
    await node.close();
  });
});

describe('expiresAt', () => {
  it('for any run of reads and wall-clock steps: steady between steps, within 2 ms of a fresh reading of both clocks', () => {
    fc.assert(
      fc.property(
        // Each read: how far the monotonic clock moved (fractional ms) and a wall-clock step
        // (0 most of the time; otherwise an NTP step or a manual change, either way).
        fc.array(
          fc.tuple(
            fc.double({ min: 0, max: 50, noNaN: true }),
            fc.oneof(
              fc.constant(0),
              fc.integer({ min: 2, max: 60_000 }),
              fc.integer({ min: -60_000, max: -2 }),
            ),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        (reads) => {
          let t = 0;
          let wallStep = 0;
          const clock = {
            now: () => t,
            wallNow: () => Math.floor(1_800_000_000_000 + wallStep + t),
          };
          const offset = new WallOffset(clock);
          const deadline = 10_000;
          let previous = Math.floor(deadline + offset.get());
          for (const [advance, step] of reads) {
            t += advance;
            wallStep += step;
            const label = Math.floor(deadline + offset.get());
            // What a fresh reading of both clocks would say the expiry is.
            const truth = clock.wallNow() + (deadline - t);
            if (step === 0) expect(label).toBe(previous);
            expect(Math.abs(label - truth)).toBeLessThanOrEqual(2);
            previous = label;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads the same while nothing changes, and follows a step of the wall clock', async () => {
    // Date.now() counts whole milliseconds and performance.now() does not: a label made from
    // their difference on every read moved by 1 ms between two reads with nothing changed.
    let t = 0;
    let step = 0;
    const clock = { now: () => t, wallNow: () => Math.floor(1_800_000_000_000 + step + t) };
    const redlock = new Redlock([new MemoryLockAdapter()], { clock });
    const lock = await redlock.acquire('steady-expiry', { ttl: 10_000 });
    const reads: number[] = [];
    for (const at of [0, 0.2, 0.5, 0.9, 1.1, 1.6, 2.4]) {
      t = at;
      reads.push(lock.expiresAt);
    }
    expect(reads).toEqual(reads.map(() => reads[0]));
    expect((JSON.parse(JSON.stringify(lock)) as { expiresAt: number }).expiresAt).toBe(reads[0]);
    // An NTP step or a manual change of the wall clock: the label follows it.
    step = 5_000;
    // (within the millisecond the two clocks' resolutions allow).
    expect(Math.abs(lock.expiresAt - (reads[0]! + 5_000))).toBeLessThanOrEqual(1);
    await lock.release();
    await redlock.close();
  });
});
