import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { AcquireReply } from '../../lib/interfaces/lock-adapter.interface.js';
import { describeLockAdapterContract } from '../contract/lock-adapter.contract.js';

// One store: both "clients" are the same instance, as two processes would share one Redis.
describeLockAdapterContract('memory', () => {
  const store = new MemoryLockAdapter();
  return Promise.resolve({
    adapter: store,
    other: store,
    announcesHolder: true,
    teardown: () => store.close(),
  });
});

const FENCE = { fence: true } as const;

function fenceOf(reply: AcquireReply): number | string {
  if (!reply.acquired) throw new Error(`expected a grant, got busy (ttl ${reply.ttl})`);
  if (reply.fence === undefined) throw new Error('expected a fence');
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
      expect(await store.acquire(['k'], 'a', 100)).toEqual({ acquired: true });
      time = 99;
      expect(await store.inspect(['k'])).toBe(1);
      expect(await store.acquire(['k'], 'b', 100)).toEqual({ acquired: false, ttl: 1 });
      time = 100;
      expect(await store.inspect(['k'])).toBe(-2);
      expect(await store.acquire(['k'], 'b', 100)).toEqual({ acquired: true });
      expect(await store.release(['k'], 'a')).toBe('taken');
    });

    it('rounds a fractional remaining ttl up, so a waiter never wakes early', async () => {
      await store.acquire(['k'], 'a', 100);
      time = 0.5;
      expect(await store.inspect(['k'])).toBe(100);
      expect(await store.acquire(['k'], 'b', 100)).toEqual({ acquired: false, ttl: 100 });
    });

    it('counts an extension from the moment it happens', async () => {
      await store.acquire(['k'], 'a', 100);
      time = 60;
      expect(await store.extend(['k'], 'a', 100)).toBe('ok');
      time = 159;
      expect(await store.inspect(['k'])).toBe(1);
      time = 160;
      expect(await store.inspect(['k'])).toBe(-2);
    });

    it('re-creates an expired key on extend, answering expired', async () => {
      await store.acquire(['k'], 'a', 100);
      time = 150;
      expect(await store.extend(['k'], 'a', 100)).toBe('expired');
      expect(await store.inspect(['k'])).toBe(100);
      expect(await store.extend(['k'], 'a', 100)).toBe('ok');
    });

    it('reports the longest remaining ttl of several keys', async () => {
      await store.acquire(['a'], 'x', 100);
      await store.acquire(['b'], 'y', 300);
      time = 50;
      expect(await store.inspect(['a', 'b', 'c'])).toBe(250);
      expect(await store.acquire(['c', 'a', 'b'], 'z', 100)).toEqual({ acquired: false, ttl: 250 });
    });

    it('leaves the expiry of a replayed acquisition alone', async () => {
      await store.acquire(['k'], 'a', 100);
      time = 60;
      expect(await store.acquire(['k'], 'a', 100)).toEqual({ acquired: true });
      expect(await store.inspect(['k'])).toBe(40);
    });
  });

  describe('the fencing counter', () => {
    it('is one per store, never expires, and counts fenced grants only', async () => {
      expect(fenceOf(await store.acquire(['a'], 'v', 100, FENCE))).toBe(1);
      await store.acquire(['b'], 'w', 100);
      time = 1e9;
      expect(fenceOf(await store.acquire(['b', 'c'], 'x', 100, FENCE))).toBe(2);
      // A replay, every key already held by the value: the first run counted.
      expect(fenceOf(await store.acquire(['b', 'c'], 'x', 100, FENCE))).toBe(2);
      expect(fenceOf(await store.shared.acquire(['r'], 'reader', 100, FENCE))).toBe(2);
    });

    it('is raised by syncFence and never lowered, exact past 2^53', async () => {
      await store.acquire(['k'], 'a', 100, FENCE);
      expect(await store.syncFence(['k'], 'a', '40')).toBe('ok');
      expect(await store.syncFence(['k'], 'a', '10')).toBe('ok');
      expect(await store.syncFence(['k'], 'b', '90')).toBe('taken');
      expect(fenceOf(await store.acquire(['j'], 'b', 100, FENCE))).toBe(41);
      expect(await store.syncFence(['j'], 'b', '9007199254740991')).toBe('ok');
      expect(fenceOf(await store.acquire(['i'], 'c', 100, FENCE))).toBe('9007199254740992');
      expect(await store.syncFence(['i'], 'c', '9223372036854775806')).toBe('ok');
      expect(fenceOf(await store.acquire(['h'], 'd', 100, FENCE))).toBe('9223372036854775807');
    });
  });

  describe('read locks', () => {
    it('make a writer wait at most until the last reader leaves or half its mark', async () => {
      await store.shared.acquire(['k'], 'r1', 300);
      time = 100;
      expect(await store.acquire(['k'], 'w', 10_000)).toEqual({ acquired: false, ttl: 200 });
      expect(await store.acquire(['k'], 'w', 600)).toEqual({ acquired: false, ttl: 200 });
      await store.shared.extend(['k'], 'r1', 10_000);
      expect(await store.acquire(['k'], 'w', 10_000)).toEqual({ acquired: false, ttl: 500 });
      // The mark keeps a new reader out until it lapses.
      expect(await store.shared.acquire(['k'], 'r2', 100)).toEqual({ acquired: false, ttl: 1000 });
      time = 1_100;
      expect(await store.shared.acquire(['k'], 'r2', 100)).toEqual({ acquired: true });
    });

    it('are removed one by one, announcing the key when the last one leaves', async () => {
      let calls = 0;
      await store.onRelease(['k'], () => calls++);
      await store.shared.acquire(['k'], 'r1', 100);
      await store.shared.acquire(['k'], 'r2', 200);
      expect(await store.shared.release(['k'], 'r1')).toBe('ok');
      await Promise.resolve();
      expect(calls).toBe(0);
      expect(await store.inspect(['k'])).toBe(200);
      expect(await store.shared.release(['k'], 'r2')).toBe('ok');
      await Promise.resolve();
      expect(calls).toBe(1);
      expect(await store.inspect(['k'])).toBe(-2);
    });
  });

  describe('memory', () => {
    it('stays bounded under a stream of distinct short-lived keys', async () => {
      let peak = 0;
      for (let i = 0; i < 200_000; i++) {
        time = i;
        const key = `k${i}`;
        await store.acquire([key], 'v', 10, i % 3 === 0 ? FENCE : undefined);
        // Half are released, half left to expire: both paths must free their entries.
        if (i % 2 === 0) await store.release([key], 'v');
        peak = Math.max(peak, store.stats().locks);
      }
      // About one ttl worth of keys, plus the sweep's lag.
      expect(peak).toBeLessThan(50);
    });

    it('sweeps an idle store in the background', async () => {
      jest.useFakeTimers({ doNotFake: ['performance', 'queueMicrotask', 'nextTick'] });
      const idle = new MemoryLockAdapter({ now: () => time });
      try {
        for (let i = 0; i < 3_000; i++) await idle.acquire([`k${i}`], 'v', 10);
        time = 1_000;
        expect(idle.stats().locks).toBe(3_000);
        jest.advanceTimersByTime(10_000);
        expect(idle.stats().locks).toBe(0);
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
      await store.acquire(['k'], 'a', 100);
      const released = store.release(['k'], 'a');
      expect(calls).toBe(0);
      expect(await released).toBe('ok');
      expect(calls).toBe(1);
    });

    it('are dropped for a subscription that ends before delivery', async () => {
      let calls = 0;
      const unsubscribe = await store.onRelease(['k'], () => calls++);
      await store.acquire(['k'], 'a', 100);
      const released = store.release(['k'], 'a');
      unsubscribe();
      await released;
      await Promise.resolve();
      expect(calls).toBe(0);
    });

    it('wake a listener once per release, however many of its keys it freed', async () => {
      let calls = 0;
      await store.onRelease(['a', 'b'], () => calls++);
      await store.acquire(['a', 'b'], 'v', 100);
      expect(await store.release(['a', 'b'], 'v')).toBe('ok');
      await Promise.resolve();
      expect(calls).toBe(1);
    });

    it('are not sent for keys that expired or belong to someone else', async () => {
      let calls = 0;
      await store.onRelease(['k'], () => calls++);
      await store.acquire(['k'], 'a', 100);
      expect(await store.release(['k'], 'b')).toBe('taken');
      time = 100;
      expect(await store.release(['k'], 'a')).toBe('expired');
      await Promise.resolve();
      expect(calls).toBe(0);
    });
  });

  describe('close', () => {
    it('drops every lock and subscription, and is idempotent', async () => {
      let calls = 0;
      await store.onRelease(['k'], () => calls++);
      await store.acquire(['k'], 'a', 100);
      const released = store.release(['k'], 'a');
      await store.close();
      await store.close();
      await released;
      await Promise.resolve();
      expect(calls).toBe(0);
      expect(store.stats()).toEqual({ locks: 0, subscribedKeys: 0 });
    });

    it('makes every operation reject with a clear error', async () => {
      const unsubscribe = await store.onRelease(['k'], () => {});
      await store.close();
      const closed = /memory:\/\/: the memory lock store is closed/;
      await expect(store.acquire(['k'], 'a', 100)).rejects.toThrow(closed);
      await expect(store.extend(['k'], 'a', 100)).rejects.toThrow(closed);
      await expect(store.release(['k'], 'a')).rejects.toThrow(closed);
      await expect(store.syncFence(['k'], 'a', '2')).rejects.toThrow(closed);
      await expect(store.shared.acquire(['k'], 'a', 100)).rejects.toThrow(closed);
      await expect(store.inspect(['k'])).rejects.toThrow(closed);
      await expect(store.onRelease(['k'], () => {})).rejects.toThrow(closed);
      await expect(store.ping()).rejects.toThrow(closed);
      // Ending a subscription after close is harmless, as a finally block would do it.
      expect(() => unsubscribe()).not.toThrow();
    });
  });

  describe('arguments', () => {
    it('rejects what Redis would refuse, changing nothing', async () => {
      await expect(store.acquire([], 'a', 100)).rejects.toThrow(RangeError);
      for (const ttl of [0, -1, 1.5, Number.NaN, Infinity]) {
        await expect(store.acquire(['k'], 'a', ttl)).rejects.toThrow(/ttl/);
        await expect(store.extend(['k'], 'a', ttl)).rejects.toThrow(/ttl/);
        await expect(store.shared.acquire(['k'], 'a', ttl)).rejects.toThrow(/ttl/);
      }
      await store.acquire(['k'], 'a', 100);
      for (const token of ['-1', '1.5', '01', '', 'x', '9223372036854775808']) {
        await expect(store.syncFence(['k'], 'a', token)).rejects.toThrow(/fencing token/);
      }
      expect(fenceOf(await store.acquire(['j'], 'a', 100, FENCE))).toBe(1);
    });
  });
});
