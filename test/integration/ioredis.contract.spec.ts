import type { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { type IoredisLockAdapter } from '../../lib/adapters/ioredis.adapter.js';
import { IoredisConnection } from '../../lib/adapters/ioredis.connection.js';
import { createLockAdapter } from '../../lib/adapters/lock-adapter.factory.js';
import type { RedisConnection } from '../../lib/adapters/redis-connection.js';
import { fenceKey, releaseChannel } from '../../lib/adapters/redis-keys.js';
import { RELEASE } from '../../lib/adapters/redis-scripts.js';
import { RedisLockAdapter } from '../../lib/adapters/redis-lock.adapter.js';
import { HELPER_KEY_PREFIX } from '../../lib/interfaces/lock-adapter.interface.js';
import { describeLockAdapterContract, redisProbes } from '../contract/lock-adapter.contract.js';
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
      announcesHolder: true,
      teardown: async () => {
        await Promise.all([adapter.close(), other.close()]);
      },
    };
  };
  const onStandalone = () => createLockAdapter(standalone.urls[0]!) as IoredisLockAdapter;
  const onCluster = () =>
    createLockAdapter({ cluster: [...cluster.startupNodes] }) as IoredisLockAdapter;

  describeLockAdapterContract('ioredis standalone', async () => ({
    ...(await pair(onStandalone)),
    ...redisProbes(standalone.nodes[0]!.client(), false, standalone.nodes),
  }));

  describeLockAdapterContract('ioredis Cluster (3 masters)', async () => ({
    ...(await pair(onCluster)),
    ...redisProbes(cluster.client(), true, cluster.nodes),
  }));

  // No pause here: the sentinels would fail the master over within a second.
  describeLockAdapterContract('ioredis Sentinel (1 master, 1 replica, 3 sentinels)', async () => {
    const target = await pair(
      () =>
        createLockAdapter({
          sentinels: [...sentinel.sentinels],
          name: sentinel.name,
        }) as IoredisLockAdapter,
    );
    const { fenceCounter } = redisProbes(sentinel.master.client(), false, []);
    return { ...target, fenceCounter };
  });

  describe('Redis time', () => {
    it('takes an uncontended single key with one SET and releases it with one EVALSHA', async () => {
      const { adapter, teardown } = await pair(onStandalone);
      const probe = standalone.nodes[0]!.client();
      try {
        await adapter.release(['lock:warm'], 'v'); // loads the script once
        await probe.config('RESETSTAT');
        expect(await adapter.acquire(['lock:lean'], 'v', 10_000)).toEqual({ acquired: true });
        expect(await adapter.release(['lock:lean'], 'v')).toBe('ok');
        const stats = await probe.info('commandstats');
        const calls = (command: string) =>
          Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
        expect([calls('set'), calls('evalsha'), calls('eval'), calls('pttl')]).toEqual([
          1, 1, 0, 0,
        ]);
      } finally {
        await teardown();
      }
    });

    it('falls back to EVAL when the server lost its script cache, then uses EVALSHA again', async () => {
      const { adapter, teardown } = await pair(onStandalone);
      const probe = standalone.nodes[0]!.client();
      try {
        await adapter.release(['lock:noscript'], 'v'); // loads the script once
        await probe.script('FLUSH');
        expect(await adapter.acquire(['lock:noscript'], 'v', 10_000)).toEqual({ acquired: true });
        await probe.config('RESETSTAT');
        expect(await adapter.release(['lock:noscript'], 'v')).toBe('ok');
        expect(await adapter.inspect(['lock:noscript'])).toBe(-2);
        // The EVALSHA answered NOSCRIPT; the EVAL that followed loaded the script again.
        const stats = await probe.info('commandstats');
        expect(/cmdstat_evalsha:calls=1,.*failed_calls=1/.test(stats)).toBe(true);
        expect(/cmdstat_eval:calls=1,/.test(stats)).toBe(true);
        expect(((await probe.call('SCRIPT', 'EXISTS', RELEASE.sha)) as number[])[0]).toBe(1);
      } finally {
        await teardown();
      }
    });

    it('falls back to the acquire script once when the server refuses SET NX GET (Redis < 7)', async () => {
      const client = new Redis(standalone.urls[0]!);
      let refused = 0;
      const real = new IoredisConnection(client, { owned: true });
      const old: RedisConnection = {
        name: real.name,
        cluster: real.cluster,
        shardedSubscriptions: real.shardedSubscriptions,
        keyPrefix: real.keyPrefix,
        evalScript: (script, keys, args) => real.evalScript(script, keys, args),
        command: (name, args) => {
          if (name === 'SET' && args.includes('GET')) {
            refused++;
            return Promise.reject(new Error('ERR syntax error'));
          }
          return real.command(name, args);
        },
        subscriber: (sharded, onMessage) => real.subscriber(sharded, onMessage),
        ready: (timeout) => real.ready(timeout),
        masters: () => real.masters(),
        close: () => real.close(),
      };
      const adapter = new RedisLockAdapter(old);
      try {
        for (const value of ['a', 'b']) {
          expect(await adapter.acquire(['lock:old-redis'], value, 10_000)).toEqual(
            value === 'a' ? { acquired: true } : expect.objectContaining({ acquired: false }),
          );
        }
        expect(refused).toBe(1);
        expect(await adapter.release(['lock:old-redis'], 'a')).toBe('ok');
      } finally {
        await adapter.close();
      }
    });
  });

  describe('writes', () => {
    /** Counts the socket's writes (one `_write` or `_writev` per syscall) and corks. */
    const watch = (connection: IoredisConnection, client: Redis) => {
      const stream = (client as unknown as { stream: Writable & Record<string, unknown> }).stream;
      const counts = { writes: 0, corks: 0 };
      for (const name of ['_write', '_writev', 'cork'] as const) {
        const real = stream[name] as (...args: unknown[]) => unknown;
        stream[name] = function (this: unknown, ...args: unknown[]) {
          if (name === 'cork') counts.corks += 1;
          else counts.writes += 1;
          return real.apply(this, args);
        };
      }
      const send = (n: number, tag: string) =>
        Promise.all(
          Array.from({ length: n }, (_, i) => connection.command('SET', [`w:${tag}:${i}`, i])),
        );
      return { counts, send };
    };

    it('sends a lone command at once, uncorked, and a burst of one tick in one write', async () => {
      const client = new Redis(standalone.urls[0]!);
      const connection = new IoredisConnection(client, { owned: true });
      try {
        await connection.ready(10_000);
        const { counts, send } = watch(connection, client);
        await send(1, 'first'); // corked: nothing is known of this connection yet
        const lone = { ...counts };
        for (let i = 0; i < 5; i += 1) await send(1, `lone${i}`);
        // One lock at a time: each command is its own write, with no cork and no tick to wait for.
        expect(counts.corks - lone.corks).toBe(0);
        expect(counts.writes - lone.writes).toBe(5);
        const before = { ...counts };
        await send(20, 'burst');
        // The first of the burst left at once (nothing was in flight); the rest in one write.
        expect(counts.writes - before.writes).toBe(2);
        const busy = { ...counts };
        await send(20, 'burst2');
        // After a burst the connection corks from the first command: one write.
        expect(counts.writes - busy.writes).toBe(1);
        expect(counts.corks - busy.corks).toBe(1);
        const values = await Promise.all(
          Array.from({ length: 20 }, (_, i) => client.get(`w:burst2:${i}`)),
        );
        expect(values).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      } finally {
        await connection.close();
      }
    });
  });

  describe('Cluster specifics', () => {
    it('refuses multi-key locks across hash slots with a message that says how to fix it', async () => {
      const { adapter, teardown } = await pair(onCluster);
      try {
        expect(() => adapter.validateKeys(['lock:a', 'lock:b'])).toThrow(/hash tag/);
        expect(() => adapter.validateKeys(['lock:{acct}:a', 'lock:{acct}:b'])).not.toThrow();
        expect(() => adapter.validateKeys(['lock:a}b'])).toThrow(/hash tag/);
        expect(() => adapter.validateKeys([`${HELPER_KEY_PREFIX}fence`])).toThrow(/helper/);
      } finally {
        await teardown();
      }
    });

    it('keeps one fencing counter per hash slot, named into that slot', async () => {
      for (let i = 0; i < 2_000; i++) {
        const key = `lock:${i}:${Math.random()}`;
        expect(calculateSlot(fenceKey(key, true))).toBe(calculateSlot(key));
      }
      const { adapter, teardown } = await pair(onCluster);
      const probe = cluster.client();
      try {
        // Two keys on different masters: each counter moves on its own.
        const [a, b] = ['lock:{a}:x', 'lock:{b}:x'];
        const before = await Promise.all([a, b].map((k) => probe.get(fenceKey(k, true))));
        const reply = await adapter.acquire([a], 'v', 10_000, { fence: true });
        expect(reply).toEqual({ acquired: true, fence: Number(before[0] ?? 0) + 1 });
        expect(await probe.get(fenceKey(b, true))).toBe(before[1]);
        expect(await adapter.release([a], 'v')).toBe('ok');
      } finally {
        await teardown();
      }
    });

    it('announces releases with sharded pub/sub (SPUBLISH) on Redis 7', async () => {
      const { adapter, other, teardown } = await pair(onCluster);
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
        const channel = releaseChannel(key);
        expect(await shardSubscribers(channel)).toBe(0);
        let heard!: () => void;
        const released = new Promise<void>((resolve) => (heard = resolve));
        const stop = await adapter.onRelease([key], () => heard());
        expect(await shardSubscribers(channel)).toBe(1);
        expect((await other.acquire([key], 'v', 10_000)).acquired).toBe(true);
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

  it('names nodes by address only, never with credentials', async () => {
    const adapter = createLockAdapter('redis://user:hunter2@127.0.0.1:1/3');
    expect(adapter.name).toBe('redis://127.0.0.1:1/3');
    for (const rendering of [
      adapter.name,
      inspect(adapter, { depth: Infinity }),
      JSON.stringify(adapter),
    ]) {
      expect(rendering).not.toContain('hunter2');
    }
    await adapter.close();
  });
});
