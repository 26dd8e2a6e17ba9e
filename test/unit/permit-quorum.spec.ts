import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { SharedLocks } from '../../lib/interfaces/lock-adapter.interface.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { LockNotAcquiredError, RedlockUnavailableError } from '../../lib/redlock.errors.js';
import { permitQuorum } from '../../lib/services/permit-quorum.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { permitSteps, runPermitSchedule } from '../support/permit-schedule.js';

/**
 * A semaphore's permit on several nodes needs more than a majority: holders that got different
 * majorities would otherwise add up past the cap while every node keeps its own count.
 */
describe('semaphore quorum', () => {
  /** A memory node whose shared-lock calls can be made to fail (the node is down). */
  class Node extends MemoryLockAdapter {
    down = false;
    /** Whether the next acquisition call fails as well (a dropped request), when set. */
    drops: (() => boolean) | undefined;
    constructor() {
      super();
      const inner = this.shared;
      const fail = (): Promise<never> => Promise.reject(new Error('connect ECONNREFUSED'));
      const wrapped: SharedLocks = {
        acquire: (...args) => (this.down || this.drops?.() ? fail() : inner.acquire(...args)),
        extend: (...args) => (this.down ? fail() : inner.extend(...args)),
        release: (...args) => (this.down ? fail() : inner.release(...args)),
      };
      Object.assign(this, { shared: wrapped });
    }
  }

  const setup = () => {
    const nodes = [new Node(), new Node(), new Node()];
    const engine = new Redlock(nodes, { lock: { nodeTimeout: 100, retryDelay: 10 } });
    return { nodes, engine };
  };

  it('needs more nodes than a majority as soon as there are 2 permits', () => {
    expect(permitQuorum(3, 1, 2)).toBe(2);
    expect(permitQuorum(3, 2, 2)).toBe(3);
    expect(permitQuorum(3, 4, 2)).toBe(3);
    expect(permitQuorum(5, 2, 3)).toBe(4);
    expect(permitQuorum(5, 3, 3)).toBe(4);
    expect(permitQuorum(5, 4, 3)).toBe(5);
    expect(permitQuorum(7, 2, 4)).toBe(5);
    expect(permitQuorum(1, 10, 1)).toBe(1);
    // The bound itself: permits + 1 holders of q nodes each never fit in N nodes of `permits`.
    for (let nodes = 1; nodes <= 9; nodes += 1) {
      const majority = Math.floor(nodes / 2) + 1;
      for (let permits = 2; permits <= 12; permits += 1) {
        const q = permitQuorum(nodes, permits, majority);
        expect((permits + 1) * q).toBeGreaterThan(nodes * permits);
        expect(q).toBeLessThanOrEqual(nodes);
      }
    }
  });

  it('refuses a third holder of 2 permits when two holders hold different majorities', async () => {
    const { nodes, engine } = setup();
    const key = `${engine.keyPrefix}sem:split`;
    // Two other processes each got a permit on a majority of their own: X on nodes 0 and 1,
    // Y on nodes 0 and 2 (each found the third node down at that moment). Node 0 is full; nodes
    // 1 and 2 count one holder each, so a majority of them would still say yes.
    for (const [owner, on] of [
      ['X', [0, 1]],
      ['Y', [0, 2]],
    ] as const) {
      for (const index of on) {
        await expect(
          nodes[index]!.shared.acquire([key], owner, 10_000, { permits: 2 }),
        ).resolves.toMatchObject({ acquired: true });
      }
    }
    await expect(engine.tryAcquire('sem:split', { permits: 2 })).resolves.toBeNull();
    // Once X lets go everywhere, the permit is free on every node and the grant goes through.
    for (const index of [0, 1]) await nodes[index]!.shared.release([key], 'X', { permits: 2 });
    const lock = await engine.tryAcquire('sem:split', { permits: 2 });
    expect(lock?.isHeld()).toBe(true);
    await lock!.release();
    await engine.close();
  });

  it('fails closed when fewer nodes answer than a permit needs, where a lock still goes through', async () => {
    const { nodes, engine } = setup();
    nodes[2]!.down = true;
    await expect(engine.acquire('sem:down', { permits: 2, wait: 0 })).rejects.toBeInstanceOf(
      RedlockUnavailableError,
    );
    // Nothing of the failed attempt stays behind on the nodes that granted it.
    for (const index of [0, 1]) {
      expect(await nodes[index]!.inspect([`${engine.keyPrefix}sem:down`])).toBe(-2);
    }
    const lock = await engine.acquire('plain:down');
    expect(lock.isHeld()).toBe(true);
    await lock.release();
    await engine.close();
  });

  it('says a full semaphore is busy, not unavailable, when a node is down but the others refuse', async () => {
    const { nodes, engine } = setup();
    const key = `${engine.keyPrefix}sem:full`;
    // Both permits held on nodes 0 and 1; node 2 is down. No answer from node 2 could make a
    // grant (it needs all three), so the caller learns that the permits are taken.
    for (const owner of ['X', 'Y']) {
      for (const index of [0, 1]) {
        await nodes[index]!.shared.acquire([key], owner, 10_000, { permits: 2 });
      }
    }
    nodes[2]!.down = true;
    await expect(engine.acquire('sem:full', { permits: 2, wait: 0 })).rejects.toBeInstanceOf(
      LockNotAcquiredError,
    );
    await expect(engine.tryAcquire('sem:full', { permits: 2 })).resolves.toBeNull();
    // With only one node answering (not a majority), it is an outage as before.
    nodes[1]!.down = true;
    await expect(engine.acquire('sem:full', { permits: 2, wait: 0 })).rejects.toBeInstanceOf(
      RedlockUnavailableError,
    );
    await engine.close();
  });

  it('never lets more than `permits` holders in while nodes go down and up (randomized schedules)', async () => {
    let sections = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 4 }),
        permitSteps({
          maxDelay: 15,
          minHold: 5,
          maxHold: 30,
          outageFreq: 2,
          minLength: 8,
          maxLength: 20,
        }),
        fc.integer({ min: 1, max: 0x7fffffff }),
        async (permits, steps, seed) => {
          runs += 1;
          const nodes = [new Node(), new Node(), new Node()];
          // Besides the outages, one acquisition call in ten to a node fails on its own, so
          // holders end up with different sets of nodes whatever the machine's timing.
          const random = xorshift(seed);
          for (const node of nodes) node.drops = () => random() < 0.1;
          // Three engines over the same nodes stand for three processes.
          const engines = [0, 1, 2].map(
            () => new Redlock(nodes, { lock: { nodeTimeout: 50, retryDelay: 5, retryJitter: 5 } }),
          );
          const { problems, entries } = await runPermitSchedule({
            steps,
            permits,
            engines,
            resource: 'sem:random',
            wait: 50,
            outage: async (node, ms) => {
              nodes[node]!.down = true;
              await new Promise((resolve) => setTimeout(resolve, ms));
              nodes[node]!.down = false;
            },
            // Unavailable or busy for the whole wait: no permit, nothing to check.
            refused: () => true,
          });
          sections += entries;
          await Promise.all(engines.map((engine) => engine.close()));
          expect(problems).toEqual([]);
        },
      ),
      { numRuns: 60, interruptAfterTimeLimit: 6_000 },
    );
    // The property held over real work, not over schedules where nobody got in. Counted per
    // schedule run: on a loaded machine the time limit cuts the runs short (about one holder
    // per schedule when it is not).
    expect(runs).toBeGreaterThanOrEqual(10);
    expect(sections).toBeGreaterThan(runs / 2);
  });

  it('keeps degraded mode for outages of a majority: a permit short of its extra nodes fails as usual', async () => {
    const nodes = [new Node(), new Node(), new Node()];
    const events: RedlockEvent[] = [];
    const engine = new Redlock(nodes, {
      lock: { nodeTimeout: 100, retryDelay: 10 },
      degraded: { store: new MemoryLockAdapter() },
      onEvent: (event) => events.push(event),
    });
    const degraded = () => events.filter((event) => event.type === 'degraded');
    // One node of 3 down: a majority answers, so this is no outage for degraded mode. The
    // permit cannot be proven (it needs all 3) and fails closed; a lock goes on distributed.
    nodes[2]!.down = true;
    await expect(engine.acquire('sem:degraded', { permits: 2, wait: 0 })).rejects.toBeInstanceOf(
      RedlockUnavailableError,
    );
    const lock = await engine.acquire('plain:degraded');
    await lock.release();
    expect(degraded()).toEqual([]);
    // Every node down: an outage, and the permit comes from the process-local store.
    nodes[0]!.down = true;
    nodes[1]!.down = true;
    const local = await engine.acquire('sem:degraded', { permits: 2, wait: 0 });
    expect(local.isHeld()).toBe(true);
    expect(degraded()).toMatchObject([{ active: true }]);
    await local.release().catch(() => undefined);
    await engine.close();
  });

  it('extends a permit only where every node its grant needed confirms', async () => {
    const { nodes, engine } = setup();
    const lock = await engine.acquire('sem:extend', { permits: 3, ttl: 10_000 });
    nodes[1]!.down = true;
    await expect(lock.extend(10_000)).rejects.toBeInstanceOf(RedlockUnavailableError);
    nodes[1]!.down = false;
    await lock.extend(10_000);
    expect(lock.isHeld()).toBe(true);
    await lock.release();
    await engine.close();
  });
});

/** A small seeded generator (xorshift32): the same faults for the same fast-check seed. */
function xorshift(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}
