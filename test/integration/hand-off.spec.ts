import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { releaseChannel } from '../../lib/adapters/redis-keys.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters, eventually } from '../support/adapters.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';
import { waitingInLine } from '../support/waiting-line.js';

/**
 * In-process hand-offs over 5 real redis-server processes: a released lock goes to the waiting
 * caller of the same engine by one compare-and-set per node, the keys are never free (no
 * release notification), and a node that misses the transfer ends with the new owner's value
 * or nothing, never the old one.
 */
describe('in-process hand-off on 5 Redis nodes', () => {
  let fleet: RedisFleet;
  let clients: Redis[];
  const open: LockAdapter[][] = [];
  const engines: Redlock[] = [];
  let seq = 0;
  const resource = (name: string): string => `${name}:${process.pid}:${(seq += 1)}`;

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 5 });
    clients = fleet.nodes.map((node) => node.client());
  }, 30_000);

  afterEach(async () => {
    await Promise.all(fleet.nodes.map((node) => node.resume()));
    await Promise.all(engines.splice(0).map((engine) => engine.close()));
    await Promise.all(open.splice(0).map(closeAdapters));
  });

  afterAll(async () => {
    await Promise.all(clients?.map((client) => client.quit().catch(() => undefined)) ?? []);
    await fleet?.stop();
  });

  /** An engine, and a way to know when its waiters sleep in line. */
  const engine = async () => {
    const adapters = await connectAdapters(fleet.urls);
    open.push(adapters);
    // A window far past these tests' holds: the default (50 ms) ends a chain that begins with
    // a lock held while the waiters line up.
    const redlock = new Redlock(adapters, {
      lock: { nodeTimeout: 200 },
      handOff: { window: '1m' },
    });
    engines.push(redlock);
    /** Resolves once `count` callers wait in line for `name`, asleep (not in a round). */
    const answered = (count: number, name: string) => waitingInLine(redlock, name, count);
    return { redlock, answered };
  };

  /** Counts release notifications for `key` on every node. */
  const listen = async (key: string) => {
    const subscribers = fleet.nodes.map((node) => node.client());
    let messages = 0;
    await Promise.all(
      subscribers.map(async (subscriber) => {
        subscriber.on('message', () => (messages += 1));
        await subscriber.subscribe(releaseChannel(key));
      }),
    );
    return {
      count: () => messages,
      close: () => Promise.all(subscribers.map((subscriber) => subscriber.quit())),
    };
  };

  const valuesOf = (key: string) => Promise.all(clients.map((client) => client.get(key)));
  const waiting = { ttl: 10_000, wait: 20_000, retryDelay: 60_000, retryJitter: 0 } as const;

  it('moves the keys to the waiter in one step: every node holds its value, no notification is published', async () => {
    const { redlock, answered } = await engine();
    const name = resource('moved');
    const key = `lock:${name}`;
    const notifications = await listen(key);
    try {
      const first = await redlock.acquire(name, { ttl: 10_000 });
      const second = redlock.acquire(name, waiting);
      await answered(1, name);

      expect(await first.release()).toBe('released');
      const lock = await second;
      expect(lock.value).not.toBe(first.value);
      await eventually(
        async () => (await valuesOf(key)).every((value) => value === lock.value),
        5_000,
        'every node to hold the new value',
      );
      const ttls = await Promise.all(clients.map((client) => client.pttl(key)));
      ttls.forEach((ttl) => expect(ttl).toBeGreaterThan(9_000));
      expect(notifications.count()).toBe(0);

      // The channel works: the real release that follows is announced on every node.
      expect(await lock.release()).toBe('released');
      await eventually(() => notifications.count() === 5, 5_000, 'five notifications');
      expect(await valuesOf(key)).toEqual([null, null, null, null, null]);
    } finally {
      await notifications.close();
    }
  });

  it('still hands off with a node stopped, which holds the new value or nothing once it answers again', async () => {
    const { redlock, answered } = await engine();
    const name = resource('stopped');
    const key = `lock:${name}`;
    const first = await redlock.acquire(name, { ttl: 10_000 });
    const second = redlock.acquire(name, waiting);
    await answered(1, name);

    await fleet.nodes[4]!.pause();
    expect(await first.release()).toBe('released');
    const lock = await second;
    await eventually(
      async () => {
        const values = await Promise.all(clients.slice(0, 4).map((client) => client.get(key)));
        return values.every((value) => value === lock.value);
      },
      5_000,
      'the four running nodes to hold the new value',
    );

    await fleet.nodes[4]!.resume();
    // The stopped node gets the transfer (moving it to the new value) and then the release of
    // the old value (a no-op there): never the old owner's key left behind.
    await eventually(
      async () => {
        const value = await clients[4]!.get(key);
        return value === lock.value || value === null;
      },
      5_000,
      'the stopped node to drop the old value',
    );
    expect(await lock.release()).toBe('released');
  });

  it('keeps the keys away from another process throughout: its attempts during a chain of hand-offs all fail', async () => {
    const { redlock, answered } = await engine();
    const outsiderNodes = await connectAdapters(fleet.urls);
    open.push(outsiderNodes);
    const outsider = new Redlock(outsiderNodes, { lock: { nodeTimeout: 200 } });
    engines.push(outsider);
    const name = resource('outsider');
    const first = await redlock.acquire(name, { ttl: 10_000 });
    const second = redlock.acquire(name, waiting);
    await answered(1, name);
    const third = redlock.acquire(name, waiting);
    await answered(2, name);

    let stolen = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const lock = await outsider.tryAcquire(name, { ttl: 10_000 });
        if (lock) {
          stolen += 1;
          await lock.release();
        }
      }
    })();
    await first.release();
    const lockB = await second;
    await lockB.release();
    const lockC = await third;
    probing = false;
    await probe;
    expect(stolen).toBe(0);
    expect(lockC.value).not.toBe(lockB.value);
    await lockC.release();
  });
});

describe('in-process hand-offs under random schedules and a stopped node (3 Redis nodes)', () => {
  let fleet: RedisFleet;
  let clients: Redis[];

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3 });
    clients = fleet.nodes.map((node) => node.client());
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients?.map((client) => client.quit().catch(() => undefined)) ?? []);
    await fleet?.stop();
  });

  it('never lets two callers hold a key, gives fenced callers rising tokens, and leaves no key behind', async () => {
    let handedOver = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            process: fc.integer({ min: 0, max: 1 }),
            hold: fc.integer({ min: 0, max: 3 }),
            fencing: fc.boolean(),
          }),
          { minLength: 3, maxLength: 14 },
        ),
        fc.integer({ min: 1, max: 4 }),
        fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
        async (callers, max, stopped) => {
          runs += 1;
          const name = `random:${process.pid}:${runs}`;
          const engines = await Promise.all(
            [0, 1].map(async () => {
              const adapters = await connectAdapters(fleet.urls);
              return {
                adapters,
                engine: new Redlock(adapters, {
                  lock: { nodeTimeout: 100 },
                  handOff: { max, window: '1m' },
                  onEvent: (event) => {
                    if (event.type === 'acquired' && event.handedOver) handedOver += 1;
                  },
                }),
              };
            }),
          );
          let inside = 0;
          let overlaps = 0;
          const tokens: number[] = [];
          let pause: NodeJS.Timeout | undefined;
          let paused: Promise<void> | undefined;
          try {
            // A node stops mid-run: transfers and releases there time out, a quorum remains.
            if (stopped !== undefined) {
              pause = setTimeout(() => {
                paused = fleet.nodes[stopped]!.pause();
              }, 2);
            }
            await Promise.all(
              callers.map(async (caller) => {
                const lock = await engines[caller.process]!.engine.acquire(name, {
                  ttl: 5_000,
                  wait: 20_000,
                  retryDelay: 5,
                  fencing: caller.fencing,
                });
                inside += 1;
                if (inside > 1) overlaps += 1;
                if (caller.fencing) {
                  const token = lock.fencingToken;
                  if (tokens.length > 0) expect(token).toBeGreaterThan(tokens[tokens.length - 1]!);
                  tokens.push(token);
                }
                await new Promise((resolve) => setTimeout(resolve, caller.hold));
                expect(lock.isHeld()).toBe(true);
                inside -= 1;
                expect(await lock.release()).toBe('released');
              }),
            );
            expect(overlaps).toBe(0);
          } finally {
            clearTimeout(pause);
            await paused;
            await Promise.all(fleet.nodes.map((node) => node.resume()));
            await Promise.all(engines.map(({ engine }) => engine.close()));
            await Promise.all(engines.map(({ adapters }) => closeAdapters(adapters)));
          }
          // The stopped node applies what was queued for it once it runs again: then no node
          // keeps the key (a transfer that landed late is followed by its release).
          await eventually(
            async () =>
              (await Promise.all(clients.map((c) => c.exists(`lock:${name}`)))).every(
                (n) => n === 0,
              ),
            5_000,
            'the key to be gone from every node',
          );
        },
      ),
      { numRuns: 12 },
    );
    // The schedules did exercise hand-offs, not only plain releases.
    expect(handedOver).toBeGreaterThan(0);
  }, 120_000);
});
