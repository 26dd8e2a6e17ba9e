import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import {
  LockLostError,
  LockNotAcquiredError,
  RedlockUnavailableError,
} from '../../lib/redlock.errors.js';
import type { Clock } from '../../lib/services/clock.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters } from '../support/adapters.js';
import { deferred } from '../support/deferred.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/** The Redlock engine over 5 real redis-server processes. */
describe('Redlock engine on 5 Redis nodes', () => {
  let fleet: RedisFleet;
  let clients: Redis[];
  const open: LockAdapter[][] = [];
  let seq = 0;
  const resource = (name: string): string => `${name}:${process.pid}:${(seq += 1)}`;

  const engine = async (options: ConstructorParameters<typeof Redlock>[1] = {}) => {
    const adapters = await connectAdapters(fleet.urls);
    open.push(adapters);
    return new Redlock(adapters, { lock: { nodeTimeout: 200 }, ...options });
  };

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 5 });
    clients = fleet.nodes.map((node) => node.client());
  }, 30_000);

  afterEach(async () => {
    await Promise.all(fleet.nodes.map((node) => node.resume()));
    await Promise.all(open.splice(0).map(closeAdapters));
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  const valuesOf = (key: string) => Promise.all(clients.map((client) => client.get(key)));

  it('succeeds exactly when at least 3 of 5 nodes are free, for all 32 masks, leaving nothing behind on failure', async () => {
    const redlock = await engine();
    for (let mask = 0; mask < 32; mask += 1) {
      const name = resource(`mask-${mask}`);
      const key = `lock:${name}`;
      const clogged = [0, 1, 2, 3, 4].filter((i) => (mask >> i) & 1);
      await Promise.all(clogged.map((i) => clients[i]!.set(key, 'foreign', 'PX', 60_000)));
      const lock = await redlock.tryAcquire(name);
      const free = 5 - clogged.length;
      expect({ mask, acquired: lock !== null }).toEqual({ mask, acquired: free >= 3 });
      const values = await valuesOf(key);
      if (lock) {
        // Every free node answered in time on loopback, so every free node holds our value.
        values.forEach((value, i) =>
          expect(value).toBe(clogged.includes(i) ? 'foreign' : lock.value),
        );
        expect(await lock.release()).toBe('released');
        const after = await valuesOf(key);
        after.forEach((value, i) => expect(value).toBe(clogged.includes(i) ? 'foreign' : null));
      } else {
        values.forEach((value, i) => expect(value).toBe(clogged.includes(i) ? 'foreign' : null));
      }
    }
  });

  it('rejects with LockNotAcquiredError when busy and RedlockUnavailableError when no quorum answers', async () => {
    const redlock = await engine();
    const name = resource('errors');
    const held = await redlock.acquire(name);
    await expect(redlock.acquire(name, { wait: 50 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    await held.release();

    await Promise.all([0, 1, 2].map((i) => fleet.nodes[i]!.pause()));
    const error = await redlock.acquire(resource('down'), { wait: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockUnavailableError);
    const outcomes = (error as RedlockUnavailableError).nodes.map((n) => n.outcome);
    expect(outcomes.slice(0, 3)).toEqual(['timeout', 'timeout', 'timeout']);
    await Promise.all([0, 1, 2].map((i) => fleet.nodes[i]!.resume()));
    const lock = await redlock.acquire(resource('back'));
    expect(lock.isHeld()).toBe(true);
    await lock.release();
  });

  it('keeps a stale owner from releasing or extending the next owner’s lock, and tells expiry apart', async () => {
    const redlock = await engine();
    const name = resource('stale');
    const stale = await redlock.acquire(name, { ttl: 150, nodeTimeout: 50 });
    await new Promise<void>((resolve) => stale.signal.addEventListener('abort', () => resolve()));
    expect(stale.signal.reason).toBeInstanceOf(LockLostError);
    // Wait for the keys themselves, not just the local validity, to be gone everywhere.
    const next = await redlock.acquire(name, { wait: 2_000, retryDelay: 20 });
    await expect(stale.extend()).rejects.toBeInstanceOf(LockLostError);
    // A node whose copy of the stale key had not expired yet answered busy to `next`.
    const before = await valuesOf(`lock:${name}`);
    expect(before.filter((v) => v === next.value).length).toBeGreaterThanOrEqual(3);
    expect(await stale.release()).toBe('taken');
    expect(await valuesOf(`lock:${name}`)).toEqual(before);
    expect(await next.release()).toBe('released');

    const lonely = await redlock.acquire(resource('expired'), { ttl: 100, nodeTimeout: 30 });
    await new Promise<void>((resolve) => lonely.signal.addEventListener('abort', () => resolve()));
    const key = `lock:${lonely.resources[0]!}`;
    for (;;) {
      const values = await valuesOf(key);
      if (values.every((value) => value === null)) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await lonely.release()).toBe('expired');
  });

  it('never returns a lock whose validity is already gone', async () => {
    // A monotonic clock that moves 100 ms on every read: any round outlasts a 50 ms ttl.
    let skew = 0;
    const redlock = await engine({
      clock: { now: () => performance.now() + (skew += 100), wallNow: () => Date.now() },
    });
    const name = resource('too-short');
    const error = await redlock
      .tryAcquire(name, { ttl: 50, nodeTimeout: 20 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockUnavailableError);
    expect((error as Error).message).toMatch(/validity ran out/);
    expect(await valuesOf(`lock:${name}`)).toEqual(Array(5).fill(null));
  });

  it('keeps a 300 ms lease through 2 s of work, and aborts lock.signal when a majority loses the keys', async () => {
    const redlock = await engine();
    const name = resource('lease');
    const key = `lock:${name}`;
    const checks: boolean[] = [];
    await redlock.using(
      name,
      async (lock) => {
        for (let i = 0; i < 10; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 200)); // the "work"
          const values = await valuesOf(key);
          checks.push(
            lock.isHeld() && !lock.signal.aborted && values.every((v) => v === lock.value),
          );
        }
      },
      { ttl: 300, nodeTimeout: 100 },
    );
    expect(checks).toEqual(Array(10).fill(true));

    const lost = deferred<unknown>();
    const run = redlock.using(
      resource('lease-lost'),
      async (lock) => {
        lock.signal.addEventListener('abort', () => lost.resolve(lock.signal.reason));
        const stolen = `lock:${lock.resources[0]!}`;
        await Promise.all([0, 1, 2].map((i) => clients[i]!.del(stolen)));
        return lost.promise;
      },
      { ttl: 300, nodeTimeout: 100 },
    );
    await expect(run).rejects.toBeInstanceOf(LockLostError);
    expect(await lost.promise).toBeInstanceOf(LockLostError);
  });

  it('hands over on the release notification, not the retry delay', async () => {
    // Two engines with their own connections behave like two processes: no in-process shortcut.
    const holder = await engine();
    const waiter = await engine();
    const name = resource('handoff');
    const held = await holder.acquire(name, { ttl: 60_000, fencing: true });
    const events: string[] = [];
    const waiting = waiter
      .acquire(name, { wait: 60_000, retryDelay: 30_000, retryJitter: 0, fencing: true })
      .then((lock) => {
        events.push('acquired');
        return lock;
      });
    // Let the waiter fail once and subscribe; the notification is what must wake it.
    await eventuallySubscribed(clients, `{lock:${name}}:released`);
    events.push('released');
    await held.release();
    const lock = await waiting;
    expect(events).toEqual(['released', 'acquired']);
    expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
    await lock.release();
    // No subscription outlives its waiters.
    await eventuallySubscribed(clients, `{lock:${name}}:released`, 0);
  }, 20_000);

  it('reuses the held lock in the same async chain', async () => {
    const redlock = await engine();
    const name = resource('reentrant');
    const tokens = await redlock.using(name, (outer) =>
      redlock.using(name, (inner) => [outer.value, inner.value]),
    );
    expect(tokens[0]).toBe(tokens[1]);
    expect(await redlock.isLocked(name)).toBe(false);
  });

  it('gives up a wait when the signal aborts before or during it', async () => {
    const redlock = await engine();
    const name = resource('abort');
    const held = await redlock.acquire(name);
    const early = new AbortController();
    early.abort(new Error('early'));
    await expect(redlock.acquire(name, { signal: early.signal })).rejects.toThrow('early');
    const late = new AbortController();
    const waiting = redlock.acquire(name, {
      signal: late.signal,
      wait: 30_000,
      retryDelay: 30_000,
    });
    await eventuallySubscribed(clients, `{lock:${name}}:released`);
    late.abort(new Error('late'));
    await expect(waiting).rejects.toThrow('late');
    await held.release();
  });

  it('keeps fencing tokens strictly increasing while per-node counters diverge', async () => {
    // A wall clock stuck in the past: tokens must not depend on it at all.
    const frozen: Clock = { now: () => performance.now(), wallNow: () => 1_000 } as Clock;
    const redlock = await engine({ clock: frozen, lock: { nodeTimeout: 200, fencing: true } });
    const name = resource('fence');
    const key = `lock:${name}`;
    const fenceKey = '\u0000redlock:fence';
    const tokens: number[] = [];
    const take = async () => {
      const lock = await redlock.acquire(name, { wait: 0 });
      tokens.push(lock.fencingToken);
      await lock.release();
    };

    await take(); // all five nodes agree
    // Attempts that reach only nodes 0 and 1 raise their counters, then are taken back.
    await Promise.all([2, 3, 4].map((i) => clients[i]!.set(key, 'foreign', 'PX', 60_000)));
    for (let i = 0; i < 5; i += 1) expect(await redlock.tryAcquire(name)).toBeNull();
    await Promise.all([2, 3, 4].map((i) => clients[i]!.del(key)));
    const counters = (await Promise.all(clients.map((c) => c.get(fenceKey)))).map(Number);
    expect(counters[0]).toBe(counters[1]);
    expect(counters[0]).toBeGreaterThan(counters[2]!); // diverged

    // The quorum {0,1,2} sees different counters and must bring node 2 up before answering.
    await Promise.all([3, 4].map((i) => fleet.nodes[i]!.pause()));
    await take();
    await Promise.all([3, 4].map((i) => fleet.nodes[i]!.resume()));
    // Now a quorum without nodes 0 and 1: only node 2 carries the high value forward.
    await Promise.all([0, 1].map((i) => fleet.nodes[i]!.pause()));
    await take();
    await Promise.all([0, 1].map((i) => fleet.nodes[i]!.resume()));
    // And across expiry rather than release.
    const expiring = await redlock.acquire(name, { ttl: 100, nodeTimeout: 30 });
    tokens.push(expiring.fencingToken);
    await new Promise<void>((resolve) =>
      expiring.signal.addEventListener('abort', () => resolve()),
    );
    const after = await redlock.acquire(name, { wait: 2_000, retryDelay: 20 });
    tokens.push(after.fencingToken);
    await after.release();

    for (let i = 1; i < tokens.length; i += 1) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
    // The counters never expire: a token can never go back because a counter lapsed.
    expect(await Promise.all(clients.map((c) => c.pttl(fenceKey)))).toEqual([-1, -1, -1, -1, -1]);
  });

  it('reports isLocked by quorum', async () => {
    const redlock = await engine();
    const name = resource('inspect');
    expect(await redlock.isLocked(name)).toBe(false);
    const lock = await redlock.acquire(name);
    expect(await redlock.isLocked(name)).toBe(true);
    await lock.release();
    expect(await redlock.isLocked(name)).toBe(false);
  });
});

/** Waits until `count` subscribers listen on `channel` across the nodes (PUBSUB NUMSUB). */
async function eventuallySubscribed(clients: Redis[], channel: string, count = 5): Promise<void> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const replies = await Promise.all(
      clients.map(
        (client) => client.call('PUBSUB', 'NUMSUB', channel) as Promise<[string, number]>,
      ),
    );
    const total = replies.reduce((sum, reply) => sum + Number(reply[1]), 0);
    if (count === 0 ? total === 0 : total >= count) return;
    if (performance.now() > deadline)
      throw new Error(`${channel}: ${total} subscribers, wanted ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
