import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { LockAdapter, SharedLocks } from '../../lib/interfaces/lock-adapter.interface.js';
import {
  LockNotAcquiredError,
  RedlockConfigError,
  RedlockUnavailableError,
} from '../../lib/redlock.errors.js';
import { ManualClock } from '../../lib/services/clock.js';
import type { Lock } from '../../lib/services/lock.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters, eventually } from '../support/adapters.js';
import { deferred } from '../support/deferred.js';
import { permitSteps, runPermitSchedule } from '../support/permit-schedule.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/**
 * Semaphores (`permits`) on 3 real Redis nodes and on the memory store, with the same checks:
 * engines with their own connections stand for processes.
 */
describe.each(['3 Redis nodes', 'memory'] as const)('semaphores (%s)', (backend) => {
  let fleet: RedisFleet | undefined;
  const open: LockAdapter[][] = [];
  const engines: Redlock[] = [];
  let seq = 0;
  const resource = (name: string) => `sem:${name}:${(seq += 1)}`;
  let memory: MemoryLockAdapter | undefined;

  beforeAll(async () => {
    if (backend !== 'memory') fleet = await startRedisFleet({ nodes: 3 });
  }, 30_000);

  afterEach(async () => {
    await Promise.all(engines.splice(0).map((engine) => engine.close()));
    await Promise.all(open.splice(0).map(closeAdapters));
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  const adapters = async (): Promise<LockAdapter[]> => {
    if (backend === 'memory') return [(memory ??= new MemoryLockAdapter())];
    const connected = await connectAdapters(fleet!.urls);
    open.push(connected);
    return connected;
  };
  const engine = async (options: ConstructorParameters<typeof Redlock>[1] = {}) => {
    const created = new Redlock(await adapters(), {
      ...options,
      lock: { nodeTimeout: 200, retryDelay: 20, retryJitter: 10, ...options.lock },
    });
    engines.push(created);
    return created;
  };

  it('never lets more than `permits` holders in, nor a lock beside them (randomized schedules)', async () => {
    const [a, b, c] = await Promise.all([engine(), engine(), engine()]);
    const fleetOf = [a, b, c];
    const task = fc.record({
      engine: fc.integer({ min: 0, max: 2 }),
      delay: fc.integer({ min: 0, max: 30 }),
      hold: fc.integer({ min: 1, max: 25 }),
      kind: fc.constantFrom('using', 'acquire', 'crash', 'exclusive', 'try'),
      fencing: fc.boolean(),
    });
    let sections = 0;
    let peak = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 4 }),
        fc.array(task, { minLength: 6, maxLength: 14 }),
        async (permits, tasks) => {
          const name = resource('random');
          // Who is inside, with their lock: a crashed holder stays inside until its lock lapses.
          const inside = new Set<{ lock: Lock; exclusive: boolean }>();
          // Fenced grants: when asked for, the token, and when released (crashes never are).
          const grants: { asked: number; token: number; released?: number }[] = [];
          const problems: string[] = [];
          const enter = (lock: Lock, exclusive: boolean) => {
            sections += 1;
            if (!lock.isHeld()) return undefined;
            const live = [...inside].filter((entry) => entry.lock.isHeld());
            if (exclusive && live.length > 0) problems.push(`a lock beside ${live.length} holders`);
            if (!exclusive && live.some((entry) => entry.exclusive)) {
              problems.push('a permit beside a lock');
            }
            if (!exclusive && live.length >= permits) {
              problems.push(`${live.length + 1} holders of ${permits} permits`);
            }
            peak = Math.max(peak, live.length + 1);
            const entry = { lock, exclusive };
            inside.add(entry);
            return entry;
          };
          const grant = (lock: Lock, fencing: boolean, asked: number) => {
            if (!fencing) return undefined;
            const record: (typeof grants)[number] = { asked, token: lock.fencingToken };
            grants.push(record);
            return record;
          };
          await Promise.all(
            tasks.map(async (t) => {
              try {
                await runTask(t);
              } catch (error) {
                // A node slower than the node timeout fails a permit closed (it needs every
                // node of 3): no permit, which is not a breach of the cap.
                if (!(error instanceof RedlockUnavailableError)) throw error;
              }
            }),
          );
          async function runTask(t: (typeof tasks)[number]): Promise<void> {
            const redlock = fleetOf[t.engine]!;
            await new Promise((resolve) => setTimeout(resolve, t.delay));
            const options = {
              permits: t.kind === 'exclusive' ? 1 : permits,
              fencing: t.fencing,
              wait: 5_000,
            };
            const asked = performance.now();
            const work = async (lock: Lock) => {
              const record = grant(lock, t.fencing, asked);
              const entry = enter(lock, t.kind === 'exclusive');
              await new Promise((resolve) => setTimeout(resolve, t.hold));
              if (entry) inside.delete(entry);
              // Set before the release is sent: a later grant may only be compared with
              // this one if it was asked for after this point.
              if (record) record.released = performance.now();
            };
            if (t.kind === 'using') return redlock.using(name, work, options);
            if (t.kind === 'try') {
              const lock = await redlock.tryAcquire(name, options);
              if (lock) {
                await work(lock);
                await lock.release();
              }
              return;
            }
            if (t.kind === 'crash') {
              // Never released: its permit must free itself when the ttl runs out.
              const lock = await redlock.acquire(name, { ...options, ttl: 300 });
              grant(lock, t.fencing, asked);
              enter(lock, false);
              return;
            }
            const lock = await redlock.acquire(name, options);
            await work(lock);
            await lock.release();
          }
          // A grant asked for after another was released has a greater token. (Holders at
          // the same time may share a token on several nodes: the counters of one quorum
          // can agree for two overlapping grants.)
          for (const earlier of grants) {
            for (const later of grants) {
              if (earlier.released !== undefined && later.asked > earlier.released) {
                if (later.token <= earlier.token) {
                  problems.push(`token ${later.token} after a released ${earlier.token}`);
                }
              }
            }
          }
          expect(problems).toEqual([]);
        },
      ),
      {
        numRuns: backend === 'memory' ? 25 : 10,
        interruptAfterTimeLimit: 25_000,
        // Replays a failure: SEMAPHORE_SEED=<seed> SEMAPHORE_PATH=<path> from its report.
        ...(process.env.SEMAPHORE_SEED
          ? { seed: Number(process.env.SEMAPHORE_SEED), path: process.env.SEMAPHORE_PATH }
          : {}),
      },
    );
    // The property saw real contention, not a run in which every task went alone.
    expect(sections).toBeGreaterThan(30);
    expect(peak).toBeGreaterThan(1);
  }, 60_000);

  it('frees the permit of a holder that crashed (never released) when its ttl runs out', async () => {
    const [a, b] = await Promise.all([engine(), engine()]);
    const name = resource('crash');
    const crashed = await Promise.all([
      a.acquire(name, { permits: 2, ttl: 300 }),
      a.acquire(name, { permits: 2, ttl: 300 }),
    ]);
    expect(crashed.map((lock) => lock.permits)).toEqual([2, 2]);
    expect(await b.tryAcquire(name, { permits: 2 })).toBeNull();
    const next = await b.acquire(name, { permits: 2, wait: 5_000 });
    // A permit opens when the first crashed holder's ttl runs out; the other may still be
    // valid (its round can have started a few ms later): never both beside the new holder.
    expect(crashed.filter((lock) => lock.isHeld()).length).toBeLessThanOrEqual(1);
    await next.release();
  });

  it('wakes a waiter by the release notification, not by its retry timer', async () => {
    // A manual clock never moves by itself: the waiter's retry timer cannot fire, so only the
    // notification of the release can let it in.
    const clock = new ManualClock();
    const counted = countSharedAcquires(await adapters());
    const waiterEngine = new Redlock(counted.adapters, {
      clock,
      lock: {
        ttl: 600_000,
        nodeTimeout: 60_000,
        retryDelay: 60_000,
        retryJitter: 0,
        wait: 120_000,
      },
    });
    engines.push(waiterEngine);
    const holders = await engine();
    const name = resource('notify');
    // Held far longer than the test may run: no expiry can let the waiter in either.
    const held = await Promise.all([
      holders.acquire(name, { permits: 2, ttl: 600_000 }),
      holders.acquire(name, { permits: 2, ttl: 600_000 }),
    ]);
    const waiting = waiterEngine.acquire(name, { permits: 2 });
    // First attempt, then the one right after subscribing: both find every permit taken.
    await eventually(() => counted.busyAttempts() >= 2);
    await held[0].release();
    const lock = await waiting;
    expect(lock.isHeld()).toBe(true);
    await lock.release();
    await held[1].release();
  });

  it('lets a nested scope reuse its permit instead of taking a second one', async () => {
    const [a, b] = await Promise.all([engine(), engine()]);
    const name = resource('nested');
    const inner = deferred<void>();
    const release = deferred<void>();
    const outer = a.using(
      name,
      (lock) =>
        a.using(
          name,
          async (nested) => {
            expect(nested.permits).toBe(2);
            expect(nested.value).toBe(lock.value);
            inner.resolve();
            await release.promise;
          },
          { permits: 2 },
        ),
      { permits: 2 },
    );
    await inner.promise;
    // One permit is in use: another holder still gets the second.
    const other = await b.tryAcquire(name, { permits: 2 });
    expect(other).not.toBeNull();
    expect(await b.tryAcquire(name, { permits: 2 })).toBeNull();
    release.resolve();
    await outer;
    await other!.release();
  });

  it('says all permits are taken when the wait ends, with LockNotAcquiredError', async () => {
    const [a, b] = await Promise.all([engine(), engine()]);
    const name = resource('busy');
    const held = await Promise.all([1, 2, 3].map(() => a.acquire(name, { permits: 3 })));
    const error = await b.acquire(name, { permits: 3, wait: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockNotAcquiredError);
    expect((error as Error).message).toMatch(/All 3 permits of .* are taken/);
    await Promise.all(held.map((lock) => lock.release()));
  });

  it('gives each permit grant a new fencing token', async () => {
    const [a, b] = await Promise.all([engine(), engine()]);
    const name = resource('fenced');
    const first = await a.acquire(name, { permits: 2, fencing: true });
    const second = await b.acquire(name, { permits: 2, fencing: true });
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await first.release();
    const third = await a.acquire(name, { permits: 2, fencing: true });
    expect(third.fencingToken).toBeGreaterThan(second.fencingToken);
    await Promise.all([second.release(), third.release()]);
  });

  it('refuses a bad permits value before anything is sent', async () => {
    const a = await engine();
    const name = resource('bad');
    for (const permits of [0, -1, 1.5, Number.NaN, '3', 2_000_000]) {
      await expect(a.acquire(name, { permits: permits as number })).rejects.toThrow(
        RedlockConfigError,
      );
    }
    await expect(a.acquire(name, { permits: 2, mode: 'read' })).rejects.toThrow(
      /cannot be a read lock/,
    );
    expect(await a.isLocked(name)).toBe(false);
  });
});

/** Wraps each adapter's `shared` capability to count acquisitions answered busy. */
function countSharedAcquires(inner: readonly LockAdapter[]): {
  adapters: LockAdapter[];
  busyAttempts(): number;
} {
  let busy = 0;
  const adapters = inner.map((adapter) => {
    const shared = adapter.shared!;
    const counting: SharedLocks = {
      acquire: async (...args) => {
        const reply = await shared.acquire(...args);
        if (!reply.acquired) busy += 1;
        return reply;
      },
      extend: (...args) => shared.extend(...args),
      release: (...args) => shared.release(...args),
    };
    return new Proxy(adapter, {
      get(target, property) {
        if (property === 'shared') return counting;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
  });
  // Every node answers busy per attempt: count attempts, not node replies.
  return { adapters, busyAttempts: () => Math.floor(busy / inner.length) };
}

describe('semaphores with a node down (3 Redis nodes)', () => {
  let fleet: RedisFleet;
  let nodes: LockAdapter[] = [];

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3 });
    nodes = await connectAdapters(fleet.urls);
  }, 30_000);

  afterAll(async () => {
    await closeAdapters(nodes);
    await fleet.stop();
  });

  it('fails a permit closed while one node of 3 does not answer, where a lock goes on; grants again once it answers', async () => {
    const engine = new Redlock(nodes, { lock: { nodeTimeout: 200, retryDelay: 20 } });
    // A permit needs every node of 3 (see permitQuorum): with one of them silent no permit can
    // be proven, while a lock's majority still can.
    await fleet.nodes[2]!.pause();
    try {
      await expect(engine.acquire('sem:node-down', { permits: 2, wait: 1_000 })).rejects.toThrow(
        RedlockUnavailableError,
      );
      const lock = await engine.acquire('plain:node-down');
      expect(lock.isHeld()).toBe(true);
      await lock.release();
    } finally {
      await fleet.nodes[2]!.resume();
    }
    const permit = await engine.acquire('sem:node-down', { permits: 2, wait: 2_000 });
    expect(permit.isHeld()).toBe(true);
    await permit.release();
    await engine.close();
  }, 20_000);

  it('never lets more than `permits` holders in while nodes stop and resume (randomized schedules)', async () => {
    // Three engines with their own connections stand for three processes.
    const connections = await Promise.all([0, 1, 2].map(() => connectAdapters(fleet.urls)));
    const engines = connections.map(
      (adapters) =>
        new Redlock(adapters, { lock: { nodeTimeout: 100, retryDelay: 10, retryJitter: 10 } }),
    );
    let seq = 0;
    let entries = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 2, max: 4 }),
          permitSteps({
            maxDelay: 40,
            minHold: 5,
            maxHold: 60,
            outageFreq: 2,
            minLength: 8,
            maxLength: 18,
          }),
          async (permits, steps) => {
            const paused = new Set<number>();
            const run = await runPermitSchedule({
              steps,
              permits,
              engines,
              resource: `sem:outages:${(seq += 1)}`,
              wait: 150,
              outage: async (node, ms) => {
                // One outage per node at a time: a second SIGSTOP would end with the first.
                if (paused.has(node)) return;
                paused.add(node);
                await fleet.nodes[node]!.pause();
                await new Promise((resolve) => setTimeout(resolve, ms));
                await fleet.nodes[node]!.resume();
                paused.delete(node);
              },
              // Busy for the whole wait, or failed closed while a node was stopped.
              refused: (error) =>
                error instanceof LockNotAcquiredError || error instanceof RedlockUnavailableError,
            });
            entries += run.entries;
            const { problems } = run;
            expect(problems).toEqual([]);
          },
        ),
        { numRuns: 12, interruptAfterTimeLimit: 20_000 },
      );
    } finally {
      await Promise.all(fleet.nodes.map((node) => node.resume()));
      await Promise.all(engines.map((engine) => engine.close()));
      await Promise.all(connections.map(closeAdapters));
    }
    // The property held over real entries, not over schedules where nobody got in.
    expect(entries).toBeGreaterThan(10);
  }, 60_000);
});
