import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, createCluster } from 'redis';
import {
  type NodeRedisClient,
  NodeRedisLockAdapter,
} from '../../lib/adapters/node-redis.adapter.js';
import { releaseChannel } from '../../lib/adapters/redis-keys.js';
import { RELEASE } from '../../lib/adapters/redis-scripts.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';
import { describeLockAdapterContract, redisProbes } from '../contract/lock-adapter.contract.js';
import { eventually } from '../support/adapters.js';
import { expectHandOffThroughPubSub } from '../support/hand-off.js';
import {
  type RedisClusterFleet,
  type RedisFleet,
  startRedisCluster,
  startRedisFleet,
} from '../support/redis-fleet.js';

/** The adapter contract on node-redis (npm `redis`), standalone and Cluster, on real servers. */
describe('node-redis adapter', () => {
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

  const standaloneClient = (url = fleet.urls[0]!) => createClient({ url });
  const clusterClient = () =>
    createCluster({
      rootNodes: cluster.startupNodes.map(({ host, port }) => ({ socket: { host, port } })),
    });

  /** Two owned adapters on one node, connected by the adapter itself. */
  const pair = async (make: () => NodeRedisClient) => {
    const adapter = new NodeRedisLockAdapter(make(), { owned: true });
    const other = new NodeRedisLockAdapter(make(), { owned: true });
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

  /** An application's client: connected by the application, closed by the application. */
  const connected = async <C extends NodeRedisClient>(client: C): Promise<C> => {
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  describeLockAdapterContract('node-redis standalone', async () => ({
    ...(await pair(() => standaloneClient())),
    ...redisProbes(fleet.nodes[0]!.client(), false, [fleet.nodes[0]!]),
  }));

  describeLockAdapterContract('node-redis Cluster (3 masters)', async () => ({
    ...(await pair(clusterClient)),
    ...redisProbes(cluster.client(), true, cluster.nodes),
  }));

  describe('scripts', () => {
    it('falls back to EVAL when the server lost its script cache, then uses EVALSHA again', async () => {
      const { adapter, teardown } = await pair(() => standaloneClient());
      const probe = fleet.nodes[0]!.client();
      try {
        await probe.script('FLUSH');
        const reply = await adapter.acquire(['lock:noscript'], 'v', 10_000);
        expect(reply.acquired).toBe(true);
        expect(await adapter.release(['lock:noscript'], 'v')).toBe('ok');
        // EVAL loaded the script, so every later call finds it by its digest.
        const [cached] = (await probe.call('SCRIPT', 'EXISTS', RELEASE.sha)) as number[];
        expect(cached).toBe(1);
        expect((await adapter.acquire(['lock:noscript'], 'v', 10_000)).acquired).toBe(true);
        expect(await adapter.release(['lock:noscript'], 'v')).toBe('ok');
      } finally {
        await teardown();
      }
    });

    it('works over RESP2 clients as well as the default RESP3', async () => {
      const { adapter, other, teardown } = await pair(() =>
        createClient({ url: fleet.urls[0]!, RESP: 2 }),
      );
      try {
        await expectNotifiedRelease(adapter, other, 'lock:resp2');
      } finally {
        await teardown();
      }
    });

    it("applies the client's keyPrefix to lock keys, as node-redis does to every key", async () => {
      const make = () => createClient({ url: fleet.urls[0]!, keyPrefix: 'app:' });
      const { adapter, other, teardown } = await pair(make);
      const probe = fleet.nodes[0]!.client();
      try {
        const reply = await adapter.acquire(['lock:prefixed'], 'v', 10_000);
        expect(reply.acquired).toBe(true);
        expect(await probe.get('app:lock:prefixed')).toBe('v');
        expect(await probe.exists('lock:prefixed')).toBe(0);
        expect(await adapter.release(['lock:prefixed'], 'v')).toBe('ok');
        await expectNotifiedRelease(adapter, other, 'lock:prefixed');
      } finally {
        await teardown();
      }
    });
  });

  describe('Cluster specifics', () => {
    it('refuses multi-key locks across hash slots with a message that says how to fix it', () => {
      const adapter = new NodeRedisLockAdapter(clusterClient());
      expect(() => adapter.validateKeys(['lock:a', 'lock:b'])).toThrow(/hash tag/);
      expect(() => adapter.validateKeys(['lock:{acct}:a', 'lock:{acct}:b'])).not.toThrow();
      expect(() => adapter.validateKeys(['lock:a}b'])).toThrow(/hash tag/);
    });

    it('announces releases with sharded pub/sub (SPUBLISH) on Redis 7', async () => {
      const { adapter, other, teardown } = await pair(clusterClient);
      const masters = cluster.nodes.map((node) => node.client());
      // PUBSUB SHARDNUMSUB answers for the asked node's shard only: ask every master.
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
      const client = await connected(standaloneClient());
      const probe = fleet.nodes[0]!.client();
      const channel = releaseChannel('lock:owned');
      const subscribers = async () =>
        Number(((await probe.call('PUBSUB', 'NUMSUB', channel)) as unknown[])[1]);
      try {
        const adapter = new NodeRedisLockAdapter(client);
        await adapter.ready(1_000);
        // Still subscribed at close: only closing the subscriber connection ends it.
        await adapter.onRelease(['lock:owned'], () => undefined);
        expect(await subscribers()).toBe(1);
        await adapter.close();
        await adapter.close();
        expect(client.isOpen).toBe(true);
        expect(await client.ping()).toBe('PONG');
        await eventually(async () => (await subscribers()) === 0, 5_000, 'the subscriber to close');
      } finally {
        client.destroy();
      }
    });

    it('accepts an existing Cluster without closing it', async () => {
      const client = await connected(clusterClient());
      try {
        const adapter = new NodeRedisLockAdapter(client);
        await adapter.ready(1_000);
        await adapter.ping();
        await adapter.close();
        expect(client.isOpen).toBe(true);
        expect(await client.sendCommand(undefined, true, ['PING'])).toBe('PONG');
      } finally {
        client.destroy();
      }
    });

    it('are not connected by the adapter: ready() says what is missing', async () => {
      const client = standaloneClient();
      const adapter = new NodeRedisLockAdapter(client);
      await expect(adapter.ready(50)).rejects.toThrow(/call connect\(\) on the client/);
      expect(client.isOpen).toBe(false);
      await adapter.close();
    });
  });

  describe('names', () => {
    it('name nodes by address only, and both connections authenticate', async () => {
      const node = secured.nodes[0]!;
      expect(node.url).toContain(':pw@');
      const make = () => createClient({ url: node.url });
      const { adapter, other, teardown } = await pair(make);
      try {
        expect(adapter.name).toBe(`redis://127.0.0.1:${node.port}/0`);
        expect(adapter.name).not.toContain('pw');
        // The subscriber is a duplicate of the client: it must authenticate to hear this.
        await expectNotifiedRelease(adapter, other, 'lock:secured');
        // Nor in the adapter as logs render it, now that it holds a subscriber connection too.
        for (const rendering of [inspect(adapter, { depth: Infinity }), JSON.stringify(adapter)]) {
          expect(rendering).not.toContain('pw');
        }
      } finally {
        await teardown();
      }
    });

    it('name option-built clients and Clusters without credentials either', () => {
      const options = new NodeRedisLockAdapter(
        createClient({
          socket: { host: '127.0.0.1', port: 1 },
          username: 'app',
          password: 'hunter2',
          database: 3,
        }),
      );
      expect(options.name).toBe('redis://127.0.0.1:1/3');
      const tls = new NodeRedisLockAdapter(createClient({ url: 'rediss://app:hunter2@127.0.0.5' }));
      expect(tls.name).toBe('rediss://127.0.0.5:6379/0');
      const clustered = new NodeRedisLockAdapter(
        createCluster({
          rootNodes: [
            { url: 'redis://app:hunter2@127.0.0.1:1' },
            { socket: { host: '127.0.0.1', port: 2 }, password: 'hunter2' },
          ],
        }),
      );
      expect(clustered.name).toBe('redis-cluster://127.0.0.1:1,127.0.0.1:2');
      for (const adapter of [options, tls, clustered])
        expect(adapter.name).not.toContain('hunter2');
    });
  });

  it('hands a lock from one Redlock engine to another over 3 nodes through release notifications', async () => {
    const adapters = () =>
      fleet.urls.map((url) => new NodeRedisLockAdapter(createClient({ url }), { owned: true }));
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

/** `other` releases `key`; `adapter`'s subscriber must hear it. */
async function expectNotifiedRelease(
  adapter: LockAdapter,
  other: LockAdapter,
  key: string,
): Promise<void> {
  let heard!: () => void;
  const released = new Promise<void>((resolve) => (heard = resolve));
  const stop = await adapter.onRelease([key], () => heard());
  let timer: NodeJS.Timeout | undefined;
  try {
    expect((await other.acquire([key], 'w', 10_000)).acquired).toBe(true);
    expect(await other.release([key], 'w')).toBe('ok');
    await Promise.race([
      released,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no release notification for ${key}`)), 3_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    stop();
  }
}
