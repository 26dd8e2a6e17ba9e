import { randomUUID } from 'node:crypto';
import { expect } from '@jest/globals';
import type { Redis } from 'ioredis';
import { helperName } from '../../lib/adapters/redis-keys.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import { DEFAULT_KEY_PREFIX } from '../../lib/redlock.constants.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { eventually } from './adapters.js';

/** The waiter's fallback poll: a hand-off much faster than this came from a notification. */
const POLL_MS = 20_000;

/**
 * Engine smoke test for one adapter type over several nodes: one engine holds a lock, a second
 * engine waits for it and must get it through the adapter's release notifications, long before
 * its fallback poll. Two engines, because within one the in-process shortcut would wake the
 * waiter without any pub/sub. `probes` are assertion clients on the same nodes, in order.
 */
export async function expectHandOffThroughPubSub(
  holderNodes: readonly LockAdapter[],
  waiterNodes: readonly LockAdapter[],
  probes: readonly Redis[],
): Promise<void> {
  const holder = new Redlock(holderNodes);
  const waiter = new Redlock(waiterNodes);
  const resource = `hand-off:${randomUUID()}`;
  const key = DEFAULT_KEY_PREFIX + resource;
  const channel = helperName(key, 'released');
  const values = () => Promise.all(probes.map((probe) => probe.get(key)));
  // The engine answers once a quorum has decided, so a slow node may still be taking the key.
  const quorum = Math.floor(probes.length / 2) + 1;
  const heldOnQuorum = async (value: string) => {
    const held = await values();
    expect(held.filter((v) => v === value).length).toBeGreaterThanOrEqual(quorum);
    // Likewise the previous holder's release, answered at a quorum, may still be on its way to
    // a slow node; once there, no node holds any other value.
    await eventually(
      async () => (await values()).every((v) => v === value || v === null),
      5_000,
      'no node to hold another value',
    );
  };
  try {
    const first = await holder.acquire(resource, { ttl: 30_000 });
    await heldOnQuorum(first.value);

    const second = waiter.acquire(resource, {
      ttl: 10_000,
      wait: 25_000,
      retryDelay: POLL_MS,
      retryJitter: 0,
    });
    await eventually(
      async () => {
        const replies = await Promise.all(
          probes.map((probe) => probe.call('PUBSUB', 'NUMSUB', channel) as Promise<unknown[]>),
        );
        return replies.every((reply) => Number(reply[1]) >= 1);
      },
      5_000,
      'the waiter to subscribe on every node',
    );

    const released = performance.now();
    expect(await first.release()).toBe('released');
    const lock = await second;
    expect(performance.now() - released).toBeLessThan(POLL_MS / 4);
    expect(lock.value).not.toBe(first.value);
    await heldOnQuorum(lock.value);

    expect(await lock.release()).toBe('released');
    await eventually(
      async () => (await values()).every((v) => v === null),
      5_000,
      'the key to be gone from every node',
    );
  } finally {
    await Promise.all([holder.close(), waiter.close()]);
  }
}
