import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createCluster } from 'redis';
import { IoredisLockAdapter } from '../../lib/adapters/ioredis.adapter.js';
import { createLockAdapter } from '../../lib/adapters/lock-adapter.factory.js';
import { NodeRedisLockAdapter } from '../../lib/adapters/node-redis.adapter.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters, eventually } from '../support/adapters.js';
import {
  type RedisClusterFleet,
  type RedisFleet,
  startRedisCluster,
  startRedisFleet,
} from '../support/redis-fleet.js';

/** inspect() and forceRelease() on real servers: 3 masters, a client key prefix, a Cluster. */
describe('lock inspection on Redis', () => {
  let fleet: RedisFleet;
  let cluster: RedisClusterFleet;

  beforeAll(async () => {
    [fleet, cluster] = await Promise.all([startRedisFleet({ nodes: 3 }), startRedisCluster()]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([fleet?.stop(), cluster?.stop()]);
  });

  it('lists held locks over 3 nodes with SCAN, names holders, counts waiters', async () => {
    const adapters = await connectAdapters(fleet.urls);
    const worker = new Redlock(adapters, { instanceName: 'worker-a' });
    const viewer = new Redlock(await connectAdapters(fleet.urls));
    const probe = fleet.nodes[0]!.client();
    try {
      await probe.config('RESETSTAT');
      const lock = await worker.acquire('invoice:7', { ttl: 20_000, fencing: true });
      const readers = [await worker.acquireRead('catalog'), await viewer.acquireRead('catalog')];
      const waiting = viewer.acquire('invoice:7', { ttl: 5_000, wait: 20_000 });
      await eventually(
        async () => (await viewer.inspect('invoice:*')).locks[0]?.waiters === 1,
        5_000,
        'the waiter to subscribe',
      );
      const { locks, nodes } = await viewer.inspect();
      expect(nodes.map((node) => node.status)).toEqual(['ok', 'ok', 'ok']);
      expect(locks.map((l) => [l.resource, l.mode, l.nodes, l.quorum])).toEqual([
        ['catalog', 'read', 3, true],
        ['invoice:7', 'write', 3, true],
      ]);
      const invoice = locks[1]!;
      expect(invoice.fencingCounter).toBeGreaterThanOrEqual(1);
      expect(invoice.holders[0]!.instance?.name).toBe('worker-a');
      expect(invoice.holders[0]!.ttl).toBeGreaterThan(15_000);
      expect(locks[0]!.holders).toHaveLength(2);
      // Listing walks the keyspace with SCAN, never KEYS.
      const stats = await probe.info('commandstats');
      expect(stats).toMatch(/cmdstat_scan:calls=\d+/);
      expect(stats).not.toMatch(/cmdstat_keys:/);

      const released = await viewer.forceRelease('invoice:7', { by: 'ops:bob' });
      expect(released).toMatchObject({ deleted: 3 });
      expect(released.fencingCounter).toBeGreaterThan(invoice.fencingCounter as number);
      const next = await waiting;
      await expect(lock.extend()).rejects.toThrow(/lost|taken/);
      await next.release();
      for (const reader of readers) await reader.release();
      expect((await viewer.inspect()).locks).toEqual([]);
    } finally {
      probe.disconnect();
      await worker.close();
      await viewer.close();
      await closeAdapters([...worker.adapters, ...viewer.adapters]);
    }
  });

  it('works through a client keyPrefix and never lists helper keys', async () => {
    const adapter = new IoredisLockAdapter(
      new Redis(fleet.urls[1]!, { keyPrefix: 'app1:', enableOfflineQueue: false }),
      { owned: true },
    );
    await adapter.ready(5_000);
    const events: RedlockEvent[] = [];
    const redlock = new Redlock([adapter], { onEvent: (event) => events.push(event) });
    const raw = fleet.nodes[1]!.client();
    try {
      await redlock.acquire('pre:1', { fencing: true });
      expect(await raw.exists('app1:lock:pre:1')).toBe(1);
      const { locks } = await redlock.inspect('pre:*');
      expect(locks.map((l) => l.resource)).toEqual(['pre:1']);
      expect((await redlock.inspect()).locks.map((l) => l.resource)).toEqual(['pre:1']);
      await redlock.forceRelease('pre:1', { by: 'test' });
      expect(await raw.exists('app1:lock:pre:1')).toBe(0);
      expect(events.map((e) => e.type)).toContain('forceReleased');
    } finally {
      raw.disconnect();
      await redlock.close();
      await adapter.close();
    }
  });

  const clusterAdapters: [string, () => Promise<LockAdapter>][] = [
    [
      'ioredis',
      async () => {
        const adapter = createLockAdapter({ cluster: [...cluster.startupNodes] });
        await adapter.ready!(10_000);
        return adapter;
      },
    ],
    [
      'node-redis',
      async () => {
        const client = createCluster({
          rootNodes: cluster.startupNodes.map(({ host, port }) => ({ socket: { host, port } })),
        });
        await client.connect();
        return new NodeRedisLockAdapter(client, { owned: true });
      },
    ],
  ];

  it.each(clusterAdapters)('scans every master of a Cluster (%s)', async (_name, make) => {
    const adapter = await make();
    const redlock = new Redlock([adapter]);
    try {
      // Enough resources to land on all three masters.
      const names = Array.from({ length: 30 }, (_, i) => `spread:${i}`);
      const locks = await Promise.all(names.map((name) => redlock.acquire(name, { ttl: 20_000 })));
      const seen = await redlock.inspect('spread:*');
      expect(seen.locks.map((l) => l.resource).sort()).toEqual([...names].sort());
      expect(seen.locks.every((l) => l.holders[0]!.instance !== undefined)).toBe(true);
      expect(await redlock.forceRelease('spread:3', { by: 'test' })).toMatchObject({ deleted: 1 });
      expect((await redlock.inspect('spread:3')).locks).toEqual([]);
      await Promise.all(locks.map((lock) => lock.release()));
    } finally {
      await redlock.close();
      await adapter.close();
    }
  });
});
