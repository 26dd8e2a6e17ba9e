import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { MemoryLockAdapter } from '../../lib/adapters/memory.adapter.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { LockNotAcquiredError, RedlockUnavailableError } from '../../lib/redlock.errors.js';
import type { Clock } from '../../lib/services/clock.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { createLockAdapter } from '../../lib/adapters/lock-adapter.factory.js';
import { closeAdapters, connectAdapters } from '../support/adapters.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

/** A clock whose monotonic time can be moved forward, to step over a breaker's cool-down. */
function steppingClock(): Pick<Clock, 'now' | 'wallNow'> & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => performance.now() + offset,
    wallNow: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

describe('circuit breaker and degraded mode (3 Redis nodes)', () => {
  let fleet: RedisFleet;
  const open: LockAdapter[][] = [];

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3 });
  }, 30_000);

  afterEach(async () => {
    await Promise.all(fleet.nodes.map((node) => node.resume()));
    await Promise.all(open.splice(0).map(closeAdapters));
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  const adapters = async () => {
    const list = await connectAdapters(fleet.urls);
    open.push(list);
    return list;
  };

  it('opens after repeated failures, skips the node, probes after the cool-down, closes on success', async () => {
    const clock = steppingClock();
    const events: RedlockEvent[] = [];
    const waiters: { match: (e: RedlockEvent) => boolean; resolve: () => void }[] = [];
    const record = (event: RedlockEvent) => {
      events.push(event);
      for (const waiter of waiters.filter((w) => w.match(event))) waiter.resolve();
    };
    /** Resolves once a circuit event for node 2 reaches `to` (already seen, or later). */
    const circuitReaches = (to: string) =>
      new Promise<void>((resolve) => {
        const match = (e: RedlockEvent) => e.type === 'circuit' && e.to === to;
        if (events.some(match)) resolve();
        else waiters.push({ match, resolve });
      });
    const nodes = await adapters();
    const redlock = new Redlock(nodes, {
      clock,
      circuitBreaker: { failureThreshold: 2, coolDown: 1_000 },
      lock: { nodeTimeout: 50 },
      onEvent: record,
    });
    const circuits = () =>
      events.flatMap((e) =>
        e.type === 'circuit' ? [`${e.node.split(':').pop()} ${e.from}->${e.to}`] : [],
      );
    const port = String(fleet.nodes[2]!.port);
    const opened = circuitReaches('open');
    // SIGKILL: calls fail at once (no late answers that could close the circuit early).
    await fleet.nodes[2]!.kill();
    for (let i = 0; i < 2; i += 1) await (await redlock.acquire(`cb-${i}`)).release();
    await opened;
    expect(redlock.nodeStates()[2]!.circuit).toBe('open');
    expect(circuits()).toEqual([`${port}/0 closed->open`]);

    // While open, the node is not asked at all: its outcome is 'skipped'.
    const key = 'lock:cb-busy';
    await Promise.all([0, 1].map((i) => fleet.nodes[i]!.client().set(key, 'other', 'PX', 60_000)));
    const busy = await redlock.acquire('cb-busy', { wait: 0 }).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(LockNotAcquiredError);
    expect((busy as LockNotAcquiredError).nodes.map((n) => n.outcome)).toEqual([
      'taken',
      'taken',
      'skipped',
    ]);

    // After the cool-down one probe goes through; the node is back, so the circuit closes.
    await fleet.nodes[2]!.restart();
    await nodes[2]!.ready?.(10_000); // the client reconnects on its own backoff
    clock.advance(1_000);
    // A node timeout far past the 50 ms of the rest: on a loaded machine a probe that answers
    // late would reopen the circuit, a different (correct) sequence than this test follows.
    await (await redlock.acquire('cb-probe', { nodeTimeout: 2_000 })).release();
    // The lock may be decided by nodes 0 and 1 before the probe to node 2 answers.
    await circuitReaches('closed');
    expect(redlock.nodeStates()[2]!.circuit).toBe('closed');
    expect(circuits()).toEqual([
      `${port}/0 closed->open`,
      `${port}/0 open->half-open`,
      `${port}/0 half-open->closed`,
    ]);
  });

  it('does not trip a breaker on the first connection: calls made right after construction wait for it', async () => {
    const events: RedlockEvent[] = [];
    // Fresh owned clients, still connecting: lock commands fail fast until they are ready.
    const nodes = fleet.urls.map((url) => createLockAdapter(url));
    open.push(nodes);
    const redlock = new Redlock(nodes, {
      circuitBreaker: { failureThreshold: 1, coolDown: 60_000 },
      onEvent: (event) => events.push(event),
    });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => redlock.tryAcquire(`fresh:${i}`, { ttl: 5_000 })),
    );
    expect(results.every((lock) => lock !== null)).toBe(true);
    expect(events.filter((event) => event.type === 'circuit')).toEqual([]);
    await Promise.all(results.map((lock) => lock!.release()));
  });

  it('fails closed without a quorum by default', async () => {
    const redlock = new Redlock(await adapters(), { lock: { nodeTimeout: 50, wait: 0 } });
    await Promise.all([fleet.nodes[0]!.pause(), fleet.nodes[1]!.pause()]);
    await expect(redlock.acquire('closed')).rejects.toBeInstanceOf(RedlockUnavailableError);
  });

  it('hands out process-local locks in degraded mode, loudly, and returns to the quorum', async () => {
    const events: RedlockEvent[] = [];
    const warnings: string[] = [];
    const redlock = new Redlock(await adapters(), {
      lock: { nodeTimeout: 50, wait: 0 },
      degraded: { store: new MemoryLockAdapter({ name: 'memory://degraded' }) },
      onEvent: (event) => events.push(event),
      logger: { log: () => undefined, error: () => undefined, warn: (m) => warnings.push(m) },
    });
    await Promise.all([fleet.nodes[0]!.pause(), fleet.nodes[1]!.pause()]);
    const local = await redlock.acquire('degraded');
    expect(redlock.isDegraded).toBe(true);
    // Still exclusive within the process.
    expect(await redlock.tryAcquire('degraded')).toBeNull();
    await local.release();
    await Promise.all([fleet.nodes[0]!.resume(), fleet.nodes[1]!.resume()]);

    // Nodes that answer again: a node timeout no loaded machine misses (50 ms is for the outage).
    const distributed = await redlock.acquire('degraded', { nodeTimeout: 2_000 });
    expect(redlock.isDegraded).toBe(false);
    expect(await fleet.nodes[0]!.client().get('lock:degraded')).toBe(distributed.value);
    await distributed.release();
    const transitions = events.flatMap((e) => (e.type === 'degraded' ? [e.active] : []));
    expect(transitions).toEqual([true, false]);
    expect(warnings.filter((w) => /degraded mode/i.test(w))).toHaveLength(2);
  });
});
