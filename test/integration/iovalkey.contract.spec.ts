import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, Valkey } from 'iovalkey';
import { releaseChannel } from '../../lib/adapters/redis-keys.js';
import { type IovalkeyClient, IovalkeyLockAdapter } from '../../lib/adapters/iovalkey.adapter.js';
import { describeLockAdapterContract, redisProbes } from '../contract/lock-adapter.contract.js';
import { eventually } from '../support/adapters.js';
import { expectHandOffThroughPubSub } from '../support/hand-off.js';
import {
  type RedisClusterFleet,
  type RedisFleet,
  startRedisCluster,
  startRedisFleet,
} from '../support/redis-fleet.js';

/**
 * The adapter contract on iovalkey, Valkey's Node client, standalone and Cluster.
 *
 * These run against redis-server, not valkey-server: the OS packages of the machines we test on
 * have no Valkey server. Valkey speaks the same protocol and runs the same Lua, so the scripts
 * and pub/sub behave alike; what this covers is the client library.
 */
describe('iovalkey adapter', () => {
  let fleet: RedisFleet;
  let secured: RedisFleet;
  let cluster: RedisClusterFleet;

  beforeAll(async () => {
    [fleet, secured, cluster] = await Promise.all([
      startRedisFleet({ nodes: 3 }),
      startRedisFleet({ nodes: 1, password: 'pw' }),
      startRedisCluster(),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([fleet?.stop(), secured?.stop(), cluster?.stop()]);
  });

  const clusterClient = () => new Cluster([...cluster.startupNodes]);

  /** Two owned adapters on one node. */
  const pair = async (make: () => IovalkeyClient) => {
    const adapter = new IovalkeyLockAdapter(make(), { owned: true });
    const other = new IovalkeyLockAdapter(make(), { owned: true });
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

  describeLockAdapterContract('iovalkey standalone (on redis-server)', async () => ({
    ...(await pair(() => new Valkey(fleet.urls[0]!))),
    ...redisProbes(fleet.nodes[0]!.client(), false, [fleet.nodes[0]!]),
  }));

  describeLockAdapterContract('iovalkey Cluster (3 redis-server masters)', async () => ({
    ...(await pair(clusterClient)),
    ...redisProbes(cluster.client(), true, cluster.nodes),
  }));

  describe('Cluster specifics', () => {
    it('refuses multi-key locks across hash slots with a message that says how to fix it', () => {
      const client = new Cluster([...cluster.startupNodes], { lazyConnect: true });
      const adapter = new IovalkeyLockAdapter(client);
      expect(() => adapter.validateKeys(['lock:a', 'lock:b'])).toThrow(/hash tag/);
      expect(() => adapter.validateKeys(['lock:{acct}:a', 'lock:{acct}:b'])).not.toThrow();
      client.disconnect();
    });

    it('announces releases with PUBLISH, as iovalkey cannot route sharded subscriptions', async () => {
      const { adapter, other, teardown } = await pair(clusterClient);
      const masters = cluster.nodes.map((node) => node.client());
      const count = async (command: 'NUMSUB' | 'SHARDNUMSUB', channel: string) => {
        const replies = await Promise.all(
          masters.map((client) => client.call('PUBSUB', command, channel) as Promise<unknown[]>),
        );
        return replies.reduce<number>((sum, reply) => sum + Number(reply[1]), 0);
      };
      try {
        const key = `lock:{classic}:${Date.now()}`;
        const channel = releaseChannel(key);
        let heard!: () => void;
        const released = new Promise<void>((resolve) => (heard = resolve));
        const stop = await adapter.onRelease([key], () => heard());
        expect(await count('NUMSUB', channel)).toBe(1);
        expect(await count('SHARDNUMSUB', channel)).toBe(0);
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
      const client = new Valkey(fleet.urls[0]!);
      const probe = fleet.nodes[0]!.client();
      const channel = releaseChannel('lock:owned');
      const subscribers = async () =>
        Number(((await probe.call('PUBSUB', 'NUMSUB', channel)) as unknown[])[1]);
      try {
        const adapter = new IovalkeyLockAdapter(client);
        expect(adapter.valkey).toBe(client);
        await adapter.ready(10_000);
        // Still subscribed at close: only closing the subscriber connection ends it.
        await adapter.onRelease(['lock:owned'], () => undefined);
        expect(await subscribers()).toBe(1);
        await adapter.close();
        await adapter.close();
        expect(await client.ping()).toBe('PONG');
        await eventually(async () => (await subscribers()) === 0, 5_000, 'the subscriber to close');
      } finally {
        await client.quit();
      }
    });

    it('accepts an existing Cluster without closing it', async () => {
      const client = clusterClient();
      try {
        const adapter = new IovalkeyLockAdapter(client);
        await adapter.ready(10_000);
        await adapter.ping();
        await adapter.close();
        expect(await client.ping()).toBe('PONG');
      } finally {
        await client.quit();
      }
    });
  });

  it('names nodes by address only, and both connections authenticate', async () => {
    const node = secured.nodes[0]!;
    expect(node.url).toContain(':pw@');
    const { adapter, other, teardown } = await pair(() => new Valkey(node.url));
    try {
      expect(adapter.name).toBe(`redis://127.0.0.1:${node.port}/0`);
      expect(adapter.name).not.toContain('pw');
      // The subscriber is a duplicate of the client: it must authenticate to hear this.
      let heard!: () => void;
      const released = new Promise<void>((resolve) => (heard = resolve));
      const stop = await adapter.onRelease(['lock:secured'], () => heard());
      expect((await other.acquire(['lock:secured'], 'v', 10_000)).acquired).toBe(true);
      expect(await other.release(['lock:secured'], 'v')).toBe('ok');
      await released;
      stop();
      // Nor in the adapter as logs render it, now that it holds a subscriber connection too.
      for (const rendering of [inspect(adapter, { depth: Infinity }), JSON.stringify(adapter)]) {
        expect(rendering).not.toContain('pw');
      }
    } finally {
      await teardown();
    }
    const offline = new Valkey('redis://app:hunter2@127.0.0.1:1/3', { lazyConnect: true });
    expect(new IovalkeyLockAdapter(offline).name).toBe('redis://127.0.0.1:1/3');
    offline.disconnect();
  });

  it('hands a lock from one Redlock engine to another over 3 nodes through release notifications', async () => {
    const adapters = () =>
      fleet.urls.map((url) => new IovalkeyLockAdapter(new Valkey(url), { owned: true }));
    const [holder, waiter] = [adapters(), adapters()];
    const all = [...holder, ...waiter];
    try {
      await Promise.all(all.map((adapter) => adapter.ready(10_000)));
      const probes = fleet.nodes.map((node) => node.client());
      await expectHandOffThroughPubSub(holder, waiter, probes);
    } finally {
      await Promise.all(all.map((adapter) => adapter.close()));
    }
  });
});
