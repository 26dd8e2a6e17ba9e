import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { LockLostError } from '../../lib/redlock.errors.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters } from '../support/adapters.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/**
 * `holdAtLeast` and `maxHold` on 3 real Redis nodes. Time here is Redis's own: a key's expiry is
 * observed by a second engine waiting for it (it wakes on the holder's reported ttl, so its
 * acquisition time is when the key went away), never by the test sleeping.
 */
describe('holdAtLeast and maxHold on 3 Redis nodes', () => {
  let fleet: RedisFleet;
  let clients: Redis[];
  const open: LockAdapter[][] = [];
  let seq = 0;
  const resource = (name: string): string => `${name}:${process.pid}:${(seq += 1)}`;

  const engine = async (options: ConstructorParameters<typeof Redlock>[1] = {}) => {
    const adapters = await connectAdapters(fleet.urls);
    open.push(adapters);
    return new Redlock(adapters, {
      lock: { nodeTimeout: 100, retryDelay: 50, retryJitter: 5 },
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
      ...options,
    });
  };
  const pttls = (key: string) => Promise.all(clients.map((client) => client.pttl(key)));
  const values = (key: string) => Promise.all(clients.map((client) => client.get(key)));

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3 });
    clients = fleet.nodes.map((node) => node.client());
  }, 30_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map(closeAdapters));
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it('holdAtLeast: an early release cuts the keys to the rest of the window instead of deleting them', async () => {
    const [holder, waiter] = [await engine(), await engine()];
    const name = resource('hold');
    const started = performance.now();
    const lock = await holder.acquire(name, { ttl: 10_000, holdAtLeast: '600ms' });
    await expect(lock.release()).resolves.toBe('released');
    expect(lock.isHeld()).toBe(false);
    expect(await values(`lock:${name}`)).toEqual([lock.value, lock.value, lock.value]);
    for (const ttl of await pttls(`lock:${name}`)) {
      expect(ttl).toBeGreaterThan(400);
      expect(ttl).toBeLessThanOrEqual(620); // 10 s cut to the window (+ drift allowance)
    }
    await expect(waiter.tryAcquire(name)).resolves.toBeNull();
    const next = await waiter.acquire(name, { wait: 3_000 });
    const freedAfter = performance.now() - started;
    expect(freedAfter).toBeGreaterThanOrEqual(600);
    expect(freedAfter).toBeLessThan(1_500); // the waiter woke at the expiry, far before 10 s
    await next.release();
  });

  it('holdAtLeast longer than the ttl: the keys are kept past their ttl until the window ends', async () => {
    const [holder, waiter] = [await engine(), await engine()];
    const name = resource('stretch');
    const started = performance.now();
    await holder.using(name, () => 'quick', { ttl: 300, holdAtLeast: 1_500 });
    for (const ttl of await pttls(`lock:${name}`)) expect(ttl).toBeGreaterThan(1_000);
    const next = await waiter.acquire(name, { wait: 5_000 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_500);
    await next.release();
  });

  it('holdAtLeast is compare-and-set: a late hold never touches the next owner’s keys', async () => {
    const [holder, other] = [await engine(), await engine()];
    const name = resource('late');
    const key = `lock:${name}`;
    const stale = await holder.acquire(name, { ttl: 5_000, holdAtLeast: 3_000 });
    // The keys vanish behind the holder's back (flushed, failed over) and someone else locks.
    await Promise.all(clients.map((client) => client.del(key)));
    const next = await other.acquire(name, { ttl: 2_000 });
    await expect(stale.release()).resolves.toBe('taken');
    expect(await values(key)).toEqual([next.value, next.value, next.value]);
    for (const ttl of await pttls(key)) expect(ttl).toBeLessThanOrEqual(2_000);
    await next.release();
  });

  it('holdAtLeast gives way at shutdown: close() deletes the kept keys at once', async () => {
    // Node timeouts that a loaded machine's stalls do not reach: the release that keeps the
    // keys must be confirmed for this test to be about shutdown.
    const patient = { lock: { nodeTimeout: 2_000, retryDelay: 50, retryJitter: 5 } };
    const [holder, other] = [await engine(patient), await engine(patient)];
    const name = resource('shutdown');
    const lock = await holder.acquire(name, { ttl: 10_000, holdAtLeast: '1h' });
    await lock.release();
    await expect(other.tryAcquire(name)).resolves.toBeNull();
    await holder.close();
    expect(await values(`lock:${name}`)).toEqual([null, null, null]);
    const next = await other.tryAcquire(name);
    expect(next).not.toBeNull();
    await next!.release();
  });

  it('maxHold: renewals stop there and the signal aborts with a LockLostError saying so', async () => {
    const events: RedlockEvent[] = [];
    const [holder, other] = [await engine({ onEvent: (e) => events.push(e) }), await engine()];
    const name = resource('max-hold');
    const started = performance.now();
    let acquiredWall = 0;
    let lastExpiresAt = 0;
    let abortedAfter = 0;
    const run = holder.using(
      name,
      (lock) => {
        acquiredWall = Date.now();
        return new Promise<void>((resolve) => {
          lock.signal.addEventListener('abort', () => {
            abortedAfter = performance.now() - started;
            lastExpiresAt = lock.expiresAt;
            resolve();
          });
        });
      },
      { ttl: 400, maxHold: '1.2s' },
    );
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toMatch(/reached its maxHold of 1200 ms/);
    expect(abortedAfter).toBeGreaterThan(1_000); // kept well past its 400 ms ttl...
    expect(abortedAfter).toBeLessThan(1_500); // ...and not past maxHold
    expect(events.filter((e) => e.type === 'extended').length).toBeGreaterThanOrEqual(2);
    expect(lastExpiresAt).toBeLessThanOrEqual(acquiredWall + 1_200 + 5);
    // The keys went with the lock: another owner gets it at once.
    const next = await other.tryAcquire(name);
    expect(next).not.toBeNull();
    await next!.release();
  });
});
