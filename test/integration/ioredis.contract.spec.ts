import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import type { IoredisLockAdapter } from '../../lib/adapters/ioredis.adapter.js';
import { createLockAdapter } from '../../lib/adapters/lock-adapter.factory.js';
import { describeLockAdapterContract } from '../contract/lock-adapter.contract.js';
import {
  type RedisClusterFleet,
  type RedisFleet,
  type RedisSentinelFleet,
  startRedisCluster,
  startRedisFleet,
  startRedisSentinel,
} from '../support/redis-fleet.js';

/** The adapter contract on every ioredis topology, each on real redis-server processes. */
describe('ioredis adapter', () => {
  let standalone: RedisFleet;
  let cluster: RedisClusterFleet;
  let sentinel: RedisSentinelFleet;

  beforeAll(async () => {
    [standalone, cluster, sentinel] = await Promise.all([
      startRedisFleet({ nodes: 1 }),
      startRedisCluster(),
      startRedisSentinel(),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([standalone?.stop(), cluster?.stop(), sentinel?.stop()]);
  });

  const pair = async (make: () => IoredisLockAdapter) => {
    const adapter = make();
    const other = make();
    await Promise.all([adapter.ready(10_000), other.ready(10_000)]);
    return {
      adapter,
      other,
      teardown: async () => {
        await Promise.all([adapter.close(), other.close()]);
      },
    };
  };

  describeLockAdapterContract('ioredis standalone', () =>
    pair(() => createLockAdapter(standalone.urls[0]!) as IoredisLockAdapter),
  );

  describeLockAdapterContract('ioredis Cluster (3 masters)', () =>
    pair(() => createLockAdapter({ cluster: [...cluster.startupNodes] }) as IoredisLockAdapter),
  );

  describeLockAdapterContract('ioredis Sentinel (1 master, 1 replica, 3 sentinels)', () =>
    pair(
      () =>
        createLockAdapter({
          sentinels: [...sentinel.sentinels],
          name: sentinel.name,
        }) as IoredisLockAdapter,
    ),
  );

  describe('Cluster specifics', () => {
    it('refuses multi-key locks across hash slots with a message that says how to fix it', async () => {
      const { adapter, teardown } = await pair(
        () => createLockAdapter({ cluster: [...cluster.startupNodes] }) as IoredisLockAdapter,
      );
      try {
        expect(() => adapter.validateKeys?.(['lock:a', 'lock:b'])).toThrow(/hash tag/);
        expect(() => adapter.validateKeys?.(['lock:{acct}:a', 'lock:{acct}:b'])).not.toThrow();
        expect(() => adapter.validateKeys?.(['lock:a}b'])).toThrow(/hash tag/);
      } finally {
        await teardown();
      }
    });

    it('announces releases with sharded pub/sub (SPUBLISH) on Redis 7', async () => {
      const { adapter, other, teardown } = await pair(
        () => createLockAdapter({ cluster: [...cluster.startupNodes] }) as IoredisLockAdapter,
      );
      // PUBSUB SHARDNUMSUB answers for the asked node's shard only: ask every master.
      const masters = cluster.nodes.map((node) => node.client());
      const shardSubscribers = async (channel: string) => {
        const replies = await Promise.all(
          masters.map(
            (client) => client.call('PUBSUB', 'SHARDNUMSUB', channel) as Promise<[string, number]>,
          ),
        );
        return replies.reduce((sum, reply) => sum + Number(reply[1]), 0);
      };
      try {
        const key = `lock:{sharded}:${Date.now()}`;
        const channel = `${key}:released`;
        expect(await shardSubscribers(channel)).toBe(0);
        let heard!: () => void;
        const released = new Promise<void>((resolve) => (heard = resolve));
        const stop = await adapter.onRelease([key], () => heard());
        expect(await shardSubscribers(channel)).toBe(1);
        const reply = await other.acquire([key], 'v', 10_000, { seed: 1, retention: 1_000 });
        expect(reply.acquired).toBe(true);
        expect(await other.release([key], 'v')).toBe('ok');
        await released;
        stop();
      } finally {
        await teardown();
      }
    });
  });

  describe('clients the application owns', () => {
    it('are never closed by the adapter, while its own subscriber connection is', async () => {
      const client = new Redis(standalone.urls[0]!);
      const adapter = createLockAdapter(client);
      const stop = await adapter.onRelease(['lock:owned'], () => undefined);
      stop();
      await adapter.close();
      expect(await client.ping()).toBe('PONG');
      await client.quit();
    });

    it('accepts an existing Cluster instance without closing it', async () => {
      const client = new Cluster([...cluster.startupNodes]);
      const adapter = createLockAdapter(client);
      await adapter.ping();
      await adapter.close();
      expect(await client.ping()).toBe('PONG');
      await client.quit();
    });
  });

  it('names nodes by address only, never with credentials', () => {
    const adapter = createLockAdapter('redis://user:hunter2@127.0.0.1:1/3');
    expect(adapter.name).toBe('redis://127.0.0.1:1/3');
    expect(adapter.name).not.toContain('hunter2');
    void adapter.close();
  });
});
