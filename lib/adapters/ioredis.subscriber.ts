import { type IoredisClient, isIoredisCluster } from './ioredis.client.js';
import type { RedisSubscriber } from './redis-connection.js';

/** Where a subscriber connection reports, and the set of them its owner keeps. */
export interface SubscriberHooks {
  readonly onMessage: (channel: string, message: string) => void;
  /** Open subscriber connections, so new credentials reach them too. */
  readonly subscribers: Set<IoredisClient>;
  /** Connection errors. */
  readonly onError: ((error: Error) => void) | undefined;
}

/**
 * `IoredisConnection.subscriber`: a connection in subscriber mode, duplicated from `client`,
 * in `hooks.subscribers` while open.
 */
export function ioredisSubscriber(
  client: IoredisClient,
  sharded: boolean,
  hooks: SubscriberHooks,
): RedisSubscriber {
  // Subscriptions may queue while the connection comes up: the engine bounds each wait with
  // its own timeout and falls back to polling, so a queued SUBSCRIBE costs no correctness.
  if (isIoredisCluster(client)) {
    const cluster = client.duplicate(undefined, {
      shardedSubscribers: sharded,
      enableOfflineQueue: true,
    });
    return listen(cluster, sharded, hooks);
  }
  // Not ioredis' `autoResubscribe`: it sends the SUBSCRIBE of a reconnect without a handler,
  // so a connection cut or closed before the answer made an unhandled rejection, which ends
  // a Node process by default. The channels are subscribed again here instead.
  const connection = client.duplicate({
    enableOfflineQueue: true,
    lazyConnect: false,
    autoResubscribe: false,
  });
  const channels = new Set<string>();
  let lost = false;
  connection.on('close', () => (lost = true));
  connection.on('ready', () => {
    if (!lost) return;
    lost = false;
    // A failure leaves the waiters on their timers until the next reconnect subscribes.
    if (channels.size > 0) connection.subscribe(...channels).catch(() => undefined);
  });
  const subscriber = listen(connection, false, hooks);
  return {
    subscribe: (channel) => {
      channels.add(channel);
      return subscriber.subscribe(channel);
    },
    unsubscribe: (channel) => {
      channels.delete(channel);
      return subscriber.unsubscribe(channel);
    },
    close: () => subscriber.close(),
  };
}

/** The subscriber on `connection`, which the `IoredisConnection` now owns. */
function listen(
  connection: IoredisClient,
  sharded: boolean,
  { onMessage, subscribers, onError }: SubscriberHooks,
): RedisSubscriber {
  const dispatch = (channel: string, message: string): void => onMessage(channel, message);
  connection.on('message', dispatch);
  connection.on('smessage', dispatch);
  connection.on('error', (error: Error) => onError?.(error));
  subscribers.add(connection);
  return {
    subscribe: (channel) =>
      sharded ? connection.ssubscribe(channel) : connection.subscribe(channel),
    unsubscribe: (channel) =>
      sharded ? connection.sunsubscribe(channel) : connection.unsubscribe(channel),
    close: () => {
      subscribers.delete(connection);
      connection.disconnect();
    },
  };
}
