import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { AcquireReply, FenceArgs } from '../../lib/interfaces/lock-adapter.interface.js';
import { describeLockAdapterContract } from '../contract/lock-adapter.contract.js';

// One store: both "clients" are the same instance, as two processes would share one Redis.
describeLockAdapterContract('memory', () => {
  const store = new MemoryLockAdapter();
  return Promise.resolve({ adapter: store, other: store, teardown: () => store.close() });
});

const FENCE: FenceArgs = { seed: 1, retention: 50 };

function fenceOf(reply: AcquireReply): number {
  if (!reply.acquired)
    throw new Error(`expected the keys to be taken, got busy (ttl ${reply.ttl})`);
  return reply.fence;
}

describe('MemoryLockAdapter', () => {
  let time: number;
  let store: MemoryLockAdapter;

  beforeEach(() => {
    time = 0;
    store = new MemoryLockAdapter({ now: () => time });
  });

  afterEach(async () => {
    await store.close();
  });

  it("is named 'memory://' unless told otherwise", async () => {
    expect(store.name).toBe('memory://');
    const named = new MemoryLockAdapter({ name: 'memory://tests' });
    expect(named.name).toBe('memory://tests');
    await named.close();
  });

  describe('expiry by its own clock', () => {
    it('holds a key until the instant its ttl runs out', async () => {
      fenceOf(await store.acquire(['k'], 'a', 100, FENCE));
      time = 99;
      expect(await store.inspect(['k'])).toBe(1);
      expect(await store.acquire(['k'], 'b', 100, FENCE)).toEqual({ acquired: false, ttl: 1 });
      time = 100;
      expect(await store.inspect(['k'])).toBe(-2);
      expect(await store.extend(['k'], 'a', 100, FENCE)).toBe('expired');
      fenceOf(await store.acquire(['k'], 'b', 100, FENCE));
      expect(await store.release(['k'], 'a')).toBe('taken');
    });

    it('rounds a fractional remaining ttl up, so a waiter never wakes early', async () => {
      fenceOf(await store.acquire(['k'], 'a', 100, FENCE));
      time = 0.5;
      expect(await store.inspect(['k'])).toBe(100);
      expect(await store.acquire(['k'], 'b', 100, FENCE)).toEqual({ acquired: false, ttl: 100 });
    });

    it('counts an extension from the moment it happens', async () => {
      fenceOf(await store.acquire(['k'], 'a', 100, FENCE));
      time = 60;
      expect(await store.extend(['k'], 'a', 100, FENCE)).toBe('ok');
      time = 159;
      expect(await store.inspect(['k'])).toBe(1);
      time = 160;
      expect(await store.inspect(['k'])).toBe(-2);
    });

    it('reports the longest remaining ttl of several keys', async () => {
      fenceOf(await store.acquire(['a'], 'x', 100, FENCE));
      fenceOf(await store.acquire(['b'], 'y', 300, FENCE));
      time = 50;
      expect(await store.inspect(['a', 'b', 'c'])).toBe(250);
      expect(await store.acquire(['c', 'a', 'b'], 'z', 100, FENCE)).toEqual({
        acquired: false,
        ttl: 250,
      });
    });
  });

  describe('fencing counters', () => {
    it('expire ttl + retention after they were last set', async () => {
      expect(fenceOf(await store.acquire(['k'], 'a', 100, FENCE))).toBe(1);
      expect(await store.release(['k'], 'a')).toBe('ok');
      time = 149;
      expect(fenceOf(await store.acquire(['k'], 'b', 100, FENCE))).toBe(2);
      expect(await store.release(['k'], 'b')).toBe('ok');
      time = 149 + 150;
      expect(fenceOf(await store.acquire(['k'], 'c', 100, FENCE))).toBe(1);
    });

    it('live on through extensions', async () => {
      expect(fenceOf(await store.acquire(['k'], 'a', 100, FENCE))).toBe(1);
      time = 90;
      expect(await store.extend(['k'], 'a', 100, FENCE)).toBe('ok');
      time = 239;
      expect(fenceOf(await store.acquire(['k'], 'b', 100, FENCE))).toBe(2);
    });

    it('take the seed when it is above every counter', async () => {
      expect(fenceOf(await store.acquire(['k'], 'a', 100, { ...FENCE, seed: 500 }))).toBe(500);
      expect(await store.release(['k'], 'a')).toBe('ok');
      expect(fenceOf(await store.acquire(['k'], 'b', 100, FENCE))).toBe(501);
    });

    it('store the token of a multi-key acquisition on every key', async () => {
      for (const value of ['a', 'b', 'c']) {
        fenceOf(await store.acquire(['x'], value, 100, FENCE));
        await store.release(['x'], value);
      }
      expect(fenceOf(await store.acquire(['x', 'y'], 'd', 100, FENCE))).toBe(4);
      await store.release(['x', 'y'], 'd');
      expect(fenceOf(await store.acquire(['y'], 'e', 100, FENCE))).toBe(5);
    });

    it('never move down on syncFence, and outlive the lock by the retention', async () => {
      expect(fenceOf(await store.acquire(['k'], 'a', 100, FENCE))).toBe(1);
      expect(await store.syncFence(['k'], 'a', { ...FENCE, token: 40 })).toBe('ok');
      expect(await store.syncFence(['k'], 'a', { ...FENCE, token: 10 })).toBe('ok');
      time = 149;
      expect(fenceOf(await store.acquire(['k'], 'b', 100, FENCE))).toBe(41);
    });
  });

  describe('memory', () => {
    it('stays bounded under a stream of distinct short-lived keys', async () => {
      let peak = { locks: 0, fences: 0 };
      for (let i = 0; i < 200_000; i++) {
        time = i;
        const key = `k${i}`;
        fenceOf(await store.acquire([key], 'v', 10, { seed: 1, retention: 20 }));
        // Half are released, half left to expire: both paths must free their entries.
        if (i % 2 === 0) await store.release([key], 'v');
        const { locks, fences } = store.stats();
        peak = { locks: Math.max(peak.locks, locks), fences: Math.max(peak.fences, fences) };
      }
      // About one ttl (10) or one ttl + retention (30) worth of keys, plus the sweep's lag.
      expect(peak.locks).toBeLessThan(50);
      expect(peak.fences).toBeLessThan(100);
    });

    it('sweeps an idle store in the background', async () => {
      jest.useFakeTimers({ doNotFake: ['performance', 'queueMicrotask', 'nextTick'] });
      const idle = new MemoryLockAdapter({ now: () => time });
      try {
        for (let i = 0; i < 3_000; i++) {
          fenceOf(await idle.acquire([`k${i}`], 'v', 10, FENCE));
        }
        time = 1_000;
        expect(idle.stats()).toMatchObject({ locks: 3_000, fences: 3_000 });
        jest.advanceTimersByTime(10_000);
        expect(idle.stats()).toMatchObject({ locks: 0, fences: 0 });
      } finally {
        await idle.close();
        jest.useRealTimers();
      }
    });

    it('forgets a key once its last subscription ends', async () => {
      const unsubscribeA = await store.onRelease(['shared', 'a'], () => {});
      const unsubscribeB = await store.onRelease(['shared'], () => {});
      expect(store.stats().subscribedKeys).toBe(2);
      unsubscribeA();
      expect(store.stats().subscribedKeys).toBe(1);
      unsubscribeA();
      expect(store.stats().subscribedKeys).toBe(1);
      unsubscribeB();
      expect(store.stats().subscribedKeys).toBe(0);
    });
  });

  describe('release notifications', () => {
    it('are delivered after the release call, never inside it', async () => {
      let calls = 0;
      await store.onRelease(['k'], () => calls++);
      fenceOf(await store.acquire(['k'], 'a', 100, FENCE));
      const released = store.release(['k'], 'a');
      expect(calls).toBe(0);
      expect(await released).toBe('ok');
      expect(calls).toBe(1);
    });

    it('are dropped for a subscription that ends before delivery', async () => {
      let calls = 0;
      const unsubscribe = await store.onRelease(['k'], () => calls++);
      fenceOf(await store.acquire(['k'], 'a', 100, FENCE));
      const released = store.release(['k'], 'a');
      unsubscribe();
      await released;
      await Promise.resolve();
      expect(calls).toBe(0);
    });

    it('wake a listener once per release, however many of its keys it freed', async () => {
      let calls = 0;
      await store.onRelease(['a', 'b'], () => calls++);
      fenceOf(await store.acquire(['a', 'b'], 'v', 100, FENCE));
      expect(await store.release(['a', 'b'], 'v')).toBe('ok');
      await Promise.resolve();
      expect(calls).toBe(1);
    });

    it('are not sent for keys that expired or belong to someone else', async () => {
      let calls = 0;
      await store.onRelease(['k'], () => calls++);
      fenceOf(await store.acquire(['k'], 'a', 100, FENCE));
      expect(await store.release(['k'], 'b')).toBe('taken');
      time = 100;
      expect(await store.release(['k'], 'a')).toBe('expired');
      await Promise.resolve();
      expect(calls).toBe(0);
    });
  });

  describe('close', () => {
    it('drops every lock, counter and subscription, and is idempotent', async () => {
      let calls = 0;
      await store.onRelease(['k'], () => calls++);
      fenceOf(await store.acquire(['k'], 'a', 100, FENCE));
      const released = store.release(['k'], 'a');
      await store.close();
      await store.close();
      await released;
      await Promise.resolve();
      expect(calls).toBe(0);
      expect(store.stats()).toEqual({ locks: 0, fences: 0, subscribedKeys: 0, lines: 0 });
    });

    it('makes every operation reject with a clear error', async () => {
      const unsubscribe = await store.onRelease(['k'], () => {});
      await store.close();
      const closed = /memory:\/\/: the memory lock store is closed/;
      await expect(store.acquire(['k'], 'a', 100, FENCE)).rejects.toThrow(closed);
      await expect(store.extend(['k'], 'a', 100, FENCE)).rejects.toThrow(closed);
      await expect(store.release(['k'], 'a')).rejects.toThrow(closed);
      await expect(store.syncFence(['k'], 'a', { ...FENCE, token: 2 })).rejects.toThrow(closed);
      await expect(store.inspect(['k'])).rejects.toThrow(closed);
      await expect(store.onRelease(['k'], () => {})).rejects.toThrow(closed);
      await expect(store.ping()).rejects.toThrow(closed);
      // Ending a subscription after close is harmless, as a finally block would do it.
      expect(() => unsubscribe()).not.toThrow();
    });
  });

  describe('arguments', () => {
    it('rejects what Redis would refuse', async () => {
      await expect(store.acquire([], 'a', 100, FENCE)).rejects.toThrow(RangeError);
      await expect(store.acquire(['k'], 'a', 0, FENCE)).rejects.toThrow(/ttl/);
      await expect(store.acquire(['k'], 'a', Number.NaN, FENCE)).rejects.toThrow(/ttl/);
      await expect(store.extend(['k'], 'a', -1, FENCE)).rejects.toThrow(/ttl/);
      await expect(store.acquire(['k'], 'a', 100, { ...FENCE, retention: -1 })).rejects.toThrow(
        /retention/,
      );
      expect(await store.inspect(['k'])).toBe(-2);
    });
  });
});
