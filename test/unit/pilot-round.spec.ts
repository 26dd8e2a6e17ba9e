import { describe, expect, it } from '@jest/globals';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { ManualClock } from '../../lib/services/clock.js';
import type { ResolvedLockOptions } from '../../lib/interfaces/lock-options.interface.js';
import { DEFAULT_LOCK_OPTIONS, resolveLockOptions } from '../../lib/services/lock-options.js';
import { NodeGuard } from '../../lib/services/node-guard.js';
import { acquireRound, pilotOf } from '../../lib/services/quorum-round.js';
import { Rollbacks } from '../../lib/services/rollback.js';
import { Redlock } from '../../lib/services/redlock.engine.js';

/**
 * After a release notification, a waiter asks one node first (the "pilot", the same for every
 * contender of the keys) and the others only once it granted: racing waiters of several
 * processes then no longer split the votes. These tests pin down what that may and may not do.
 */
describe('pilot rounds', () => {
  /** A memory node that counts the acquisition attempts it receives. */
  class CountingNode extends MemoryLockAdapter {
    attempts = 0;
    failing = false;
    override acquire(...args: Parameters<MemoryLockAdapter['acquire']>) {
      this.attempts += 1;
      if (this.failing) return Promise.reject(new Error('node down'));
      return super.acquire(...args);
    }
  }

  const setup = () => {
    const clock = new ManualClock();
    const nodes = Array.from({ length: 5 }, () => new CountingNode({ now: () => clock.now() }));
    const events: RedlockEvent[] = [];
    const options = { clock, onEvent: (event: RedlockEvent) => events.push(event) };
    return {
      clock,
      nodes,
      events,
      holder: new Redlock(nodes, options),
      waiter: new Redlock(nodes, options),
    };
  };

  const round = (nodes: readonly MemoryLockAdapter[], clock: ManualClock) => {
    const guard = new NodeGuard(nodes, false, clock, () => undefined);
    return {
      adapters: nodes,
      quorum: 3,
      clock,
      nodes: guard,
      rollbacks: new Rollbacks(clock, guard),
    };
  };
  const target = { resources: ['pilot:r'], keys: ['lock:pilot:r'] };
  const opts = (): ResolvedLockOptions => resolveLockOptions(DEFAULT_LOCK_OPTIONS, { ttl: 10_000 });

  it('asks no other node when the pilot node refuses, and takes nothing', async () => {
    const { clock, nodes } = setup();
    const pilot = pilotOf(target.keys, nodes.length);
    await nodes[pilot]!.acquire(target.keys, 'someone-else', 10_000);
    const outcome = await acquireRound(round(nodes, clock), target, opts(), 50, true);
    expect(outcome).toMatchObject({ busy: true, split: false, unanswered: false });
    expect(nodes.map((node) => node.attempts)).toEqual(
      nodes.map((_, index) => (index === pilot ? 2 : 0)),
    );
    for (const [index, node] of nodes.entries()) {
      expect((await node.inspect(target.keys)) >= 0).toBe(index === pilot);
    }
  });

  it('asks the others once the pilot granted, and holds a quorum', async () => {
    const { clock, nodes } = setup();
    const outcome = await acquireRound(round(nodes, clock), target, opts(), 50, true);
    expect('value' in outcome).toBe(true);
    expect(nodes.map((node) => node.attempts)).toEqual([1, 1, 1, 1, 1]);
  });

  it('goes on with the other nodes when the pilot node fails', async () => {
    const { clock, nodes } = setup();
    const pilot = pilotOf(target.keys, nodes.length);
    nodes[pilot]!.failing = true;
    const outcome = await acquireRound(round(nodes, clock), target, opts(), 50, true);
    expect('value' in outcome).toBe(true);
    expect(nodes.filter((node) => node.attempts > 0)).toHaveLength(5);
  });

  it('without pilot, asks every node at once (a first attempt)', async () => {
    const { clock, nodes } = setup();
    const pilot = pilotOf(target.keys, nodes.length);
    await nodes[pilot]!.acquire(target.keys, 'someone-else', 10_000);
    const outcome = await acquireRound(round(nodes, clock), target, opts(), 50, false);
    expect('value' in outcome).toBe(true);
  });

  it('does not let a stale key on the pilot node alone hold a waiter past one retry delay', async () => {
    const { clock, nodes, events, holder, waiter } = setup();
    const key = 'lock:pilot:stale';
    const pilotIndex = pilotOf([key], nodes.length);
    const lock = await holder.acquire('pilot:stale', { ttl: 10_000 });
    // On the pilot node alone, the key holds a crashed client's value (a minority attempt it
    // never took back), for a minute; the holder keeps the four others, a quorum.
    await nodes[pilotIndex]!.release([key], lock.value);
    await nodes[pilotIndex]!.acquire([key], 'crashed-client', 60_000);
    const waiting = waiter.acquire('pilot:stale', { ttl: 10_000, wait: 120_000, retryDelay: 200 });
    await clock.advance(0);
    // The release wakes the waiter; its pilot round is refused by the stale key, and the next
    // retry, on the timer, asks every node and takes the four free ones.
    await lock.release();
    let settled = false;
    void waiting.then(() => (settled = true));
    for (let step = 0; step < 50 && !settled; step += 1) await clock.advance(100);
    expect(settled).toBe(true);
    const acquired = await waiting;
    expect(acquired.isHeld()).toBe(true);
    expect(clock.now()).toBeLessThan(1_000);
    const granted = events.filter((event) => event.type === 'acquired');
    expect(granted.at(-1)).toMatchObject({ resources: ['pilot:stale'] });
    await acquired.release();
    await holder.close();
    await waiter.close();
  });

  it('falls back to a plain round within a retry delay even while notifications keep coming', async () => {
    const { clock, nodes, holder, waiter } = setup();
    const key = 'lock:pilot:noisy';
    const pilotIndex = pilotOf([key], nodes.length);
    const ghostNode = nodes[(pilotIndex + 1) % nodes.length]!;
    const lock = await holder.acquire('pilot:noisy', { ttl: 10_000 });
    await nodes[pilotIndex]!.release([key], lock.value);
    await nodes[pilotIndex]!.acquire([key], 'crashed-client', 60_000);
    const waiting = waiter.acquire('pilot:noisy', { ttl: 10_000, wait: 120_000, retryDelay: 200 });
    await clock.advance(0);
    await lock.release();
    // Another client keeps taking back a minority attempt on one node (a take-back announces a
    // release), every 50 ms: each wakes the waiter, and a pilot round would meet the stale key
    // every time. Nobody holds the lock on a quorum all along.
    let settled = false;
    void waiting.then(() => (settled = true));
    for (let step = 0; step < 40 && !settled; step += 1) {
      await ghostNode.acquire([key], 'ghost', 10_000);
      await ghostNode.release([key], 'ghost');
      await clock.advance(50);
    }
    expect(settled).toBe(true);
    expect(clock.now()).toBeLessThan(600);
    const acquired = await waiting;
    await acquired.release();
    await holder.close();
    await waiter.close();
  });

  it('lets a waiter that lost two races after wake-ups ask every node at once, ahead of the pilot rounds', async () => {
    const { clock, nodes, holder, waiter } = setup();
    const key = 'lock:pilot:senior';
    const pilotIndex = pilotOf([key], nodes.length);
    const lock = await holder.acquire('pilot:senior', { ttl: 60_000 });
    const waiting = waiter.acquire('pilot:senior', {
      ttl: 10_000,
      wait: 120_000,
      retryDelay: 10_000,
    });
    const turns = async (): Promise<void> => {
      for (let i = 0; i < 30; i += 1) await new Promise((resolve) => setImmediate(resolve));
    };
    await turns();
    // Each notification is another contender winning the race (a take-back of its minority
    // attempt announces a release while the holder keeps a quorum): the waiter's round loses.
    const asked: number[][] = [];
    for (let wake = 0; wake < 3; wake += 1) {
      const before = nodes.map((node) => node.attempts);
      (
        nodes[(pilotIndex + 1) % nodes.length] as unknown as { announce(keys: string[]): void }
      ).announce([key]);
      await turns();
      asked.push(nodes.flatMap((node, index) => (node.attempts > before[index]! ? [index] : [])));
    }
    expect(asked[0]).toEqual([0, 1, 2, 3, 4]); // no race seen yet: a plain round
    expect(asked[1]).toEqual([pilotIndex]); // a race seen: the pilot node first
    expect(asked[2]).toEqual([0, 1, 2, 3, 4]); // two races lost: every node at once
    expect(clock.now()).toBe(0); // all on notifications, none on the retry timer
    await lock.release();
    await turns();
    const acquired = await waiting;
    await acquired.release();
    await holder.close();
    await waiter.close();
  });

  it('picks the same pilot for the same keys, and spreads keys over the nodes', () => {
    expect(pilotOf(['lock:a'], 5)).toBe(pilotOf(['lock:a'], 5));
    const used = new Set(Array.from({ length: 200 }, (_, i) => pilotOf([`lock:${i}`], 5)));
    expect(used.size).toBe(5);
  });
});
