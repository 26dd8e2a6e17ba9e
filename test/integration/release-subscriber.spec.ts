/**
 * The connection that listens for release notifications, against a real Redis server: after a
 * reconnect it subscribes again, and nothing it sends can become an unhandled rejection (which
 * ends a Node process by default) when it is closed at the wrong moment.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { IoredisConnection } from '../../lib/adapters/ioredis.connection.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { tapRejections } from '../support/host-process.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

let fleet: RedisFleet;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  fleet = await startRedisFleet({ nodes: 1 });
}, 30_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await fleet?.stop();
});

/**
 * A connection over a real client whose `duplicate()` is watched (not replaced), so the test
 * can follow the subscriber connection the adapter opens.
 */
function watchedConnection(via: { host: string; port: number } = fleet.nodes[0]!): {
  connection: IoredisConnection;
  subscriberClient: () => Redis;
} {
  const client = new Redis({ host: via.host, port: via.port });
  // As an application does: connection errors are logged, not thrown.
  client.on('error', () => undefined);
  cleanups.push(() => client.disconnect());
  let duplicated: Redis | undefined;
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (...args: Parameters<Redis['duplicate']>) => (duplicated = duplicate(...args));
  return {
    connection: new IoredisConnection(client),
    subscriberClient: () => {
      if (!duplicated) throw new Error('no subscriber connection was opened');
      return duplicated;
    },
  };
}

/**
 * The next `event` of `client`. Not `events.once`, which rejects on the 'error' events a cut
 * connection emits on its way to reconnecting.
 */
function next(client: Redis, event: string): Promise<void> {
  return new Promise((resolve) => client.once(event, () => resolve()));
}

/** Drops the subscriber's connection from the server side, as a network blip or failover does. */
async function killSubscribers(): Promise<void> {
  const node = fleet.nodes[0]!;
  const admin = new Redis({ host: node.host, port: node.port });
  try {
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  } finally {
    admin.disconnect();
  }
}

describe('release subscriber connection (real Redis)', () => {
  it('subscribes again after a reconnect: notifications published afterwards still arrive', async () => {
    const { connection, subscriberClient } = watchedConnection();
    const heard: string[] = [];
    const subscriber = connection.subscriber(false, (channel) => heard.push(channel));
    cleanups.push(() => subscriber.close());
    await subscriber.subscribe('redlock:test:a');
    const sub = subscriberClient();

    const resubscribed = next(sub, 'ready');
    await killSubscribers();
    await resubscribed;
    // The re-subscription was sent on 'ready'; a PING on the same connection is answered
    // after it, so once it returns the server has the subscription.
    await sub.ping();
    const node = fleet.nodes[0]!;
    const publisher = new Redis({ host: node.host, port: node.port });
    cleanups.push(() => publisher.disconnect());
    const message = next(sub, 'message');
    expect(await publisher.publish('redlock:test:a', 'released')).toBe(1);
    await message;
    expect(heard).toEqual(['redlock:test:a']);
  });

  it('cut off while re-subscribing after a reconnect and then closed, leaves no unhandled rejection', async () => {
    const tap = tapRejections();
    cleanups.push(() => tap.stop());
    const node = fleet.nodes[0]!;
    const proxy = await FaultProxy.start({ target: { host: node.host, port: node.port } });
    cleanups.push(() => proxy.close());
    const { connection, subscriberClient } = watchedConnection(proxy);
    const subscriber = connection.subscriber(false, () => undefined);
    await subscriber.subscribe('redlock:test:b');
    const sub = subscriberClient();

    const reconnected = next(sub, 'ready');
    proxy.cut();
    // 'ready' is emitted on the tick after the client has sent what it sends on reconnecting
    // (the re-subscription), before any answer can be read.
    await reconnected;
    expect(sub.status).toBe('ready');
    // From here the server's answers never reach the client: the re-subscription, sent before
    // 'ready' reached this test and answered only after it, stays unanswered...
    proxy.blackhole('toClient');
    const ended = next(sub, 'end');
    // ...when the subscriber is closed, which fails what the client still waited for.
    subscriber.close();
    await ended;
    // Unhandled rejections are reported once the turn that made them ends: two macrotasks
    // later, every one has been.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(tap.take().map((reason) => String(reason))).toEqual([]);
  });
});
