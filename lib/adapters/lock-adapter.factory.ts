import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { isLockAdapter, type LockAdapter } from '../interfaces/lock-adapter.interface.js';
import { IoredisLockAdapter } from './ioredis.adapter.js';
import { type IovalkeyClient, IovalkeyLockAdapter } from './iovalkey.adapter.js';
import { NodeRedisLockAdapter } from './node-redis.adapter.js';
import type { NodeRedisClient } from './node-redis.client.js';
import { MemoryLockAdapter } from './memory.adapter.js';
import {
  isIoredisLike,
  isNodeRedisClient,
  validateFactoryOptions,
  validateRedlockNode,
} from './node-validation.js';

/** A Redis Cluster node: its startup nodes and the options of the ioredis `Cluster`. */
export interface ClusterNodeConfig {
  cluster: readonly (string | number | { host?: string; port?: number })[];
  options?: ClusterOptions;
}

/** A Sentinel-managed master: ioredis `RedisOptions` with `sentinels` and the master `name`. */
export interface SentinelNodeConfig extends RedisOptions {
  sentinels: NonNullable<RedisOptions['sentinels']>;
  name: string;
}

/**
 * One lock node, in any of the shapes the module accepts:
 * - a URL: `redis://[user:pass@]host:port[/db]`, `rediss://` (TLS), `memory://[name]`;
 * - ioredis `RedisOptions`, or `{ sentinels, name, ... }` for a Sentinel-managed master;
 * - `{ cluster: [...startupNodes], options? }` for a Redis Cluster;
 * - an ioredis `Redis` or `Cluster` you created (never closed by this library), or a client of
 *   iovalkey (Valkey's fork of ioredis) or node-redis (`createClient`, `createCluster`);
 * - any `LockAdapter` (never closed by this library either).
 */
export type RedlockNode =
  | string
  | RedisOptions
  | SentinelNodeConfig
  | ClusterNodeConfig
  | Redis
  | Cluster
  | IovalkeyClient
  | NodeRedisClient
  | LockAdapter;

/** Options forced onto clients this library creates, so lock commands fail fast. */
export const LOCK_CLIENT_OPTIONS = {
  // A lock command queued while disconnected would run at an unknown later time.
  enableOfflineQueue: false,
  // Never replay an in-flight lock command after a reconnect: its answer was already given up.
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  // No per-command timer (ioredis commandTimeout costs one per command): the engine's per-node
  // timeout decides every call, and the circuit breaker stops sending to a node that hangs.
  connectTimeout: 5_000,
  // A client that never connected otherwise keeps a 2 s timer alive after close.
  disconnectTimeout: 200,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
} satisfies RedisOptions;

/**
 * Builds the adapter of one configured node. Clients built from URLs or options are owned by
 * the adapter (closed with it); clients and adapters passed in are not.
 * @throws RedlockConfigError naming `node` when it is none of the shapes of {@link RedlockNode}
 * (the module's own checks, see `validateRedlockNode`), before any client is made.
 *
 * @example
 * ```ts
 * const adapter = createLockAdapter('redis://:secret@10.0.0.5:6379/0', { onError: log });
 * ```
 */
export function createLockAdapter(
  node: RedlockNode,
  options: {
    /** Errors of the clients this library creates (connection refused, auth failures...). */
    onError?: (error: Error) => void;
    /** A client this library created is connected and ready (again). */
    onReady?: () => void;
    /** Credentials for clients this library creates (overriding those in the URL or options). */
    credentials?: { username?: string; password: string };
  } = {},
): LockAdapter {
  validateRedlockNode(node, 'node');
  validateFactoryOptions(options);
  const credentials = options.credentials ?? {};
  if (typeof node === 'string') node = node.trim();
  if (node instanceof Redis || node instanceof Cluster) {
    return new IoredisLockAdapter(node, { owned: false, onError: options.onError });
  }
  if (isLockAdapter(node)) return node;
  if (isIoredisLike(node)) return new IovalkeyLockAdapter(node, { onError: options.onError });
  if (isNodeRedisClient(node)) return new NodeRedisLockAdapter(node, { onError: options.onError });
  if (typeof node === 'string') {
    if (node.startsWith('memory:')) {
      const name = node.slice('memory:'.length).replace(/^\/\//, '');
      return new MemoryLockAdapter({ name: `memory://${name}` });
    }
    return owned(new Redis(node, { ...LOCK_CLIENT_OPTIONS, ...credentials }), options);
  }
  if ('cluster' in node) {
    const { cluster, options: clusterOptions = {} } = node;
    const client = new Cluster(cluster as ClusterNode[], {
      ...clusterOptions,
      enableOfflineQueue: false,
      redisOptions: {
        ...LOCK_CLIENT_OPTIONS,
        ...clusterOptions.redisOptions,
        ...credentials,
        autoResendUnfulfilledCommands: false,
      },
    });
    return owned(client, options);
  }
  return owned(
    new Redis({
      ...LOCK_CLIENT_OPTIONS,
      ...node,
      ...credentials,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
    }),
    options,
  );
}

function owned(
  client: Redis | Cluster,
  { onError, onReady }: { onError?: (error: Error) => void; onReady?: () => void },
): IoredisLockAdapter {
  // An owned client must never crash the process with an unhandled 'error' event.
  client.on('error', (error: Error) => onError?.(error));
  if (onReady) client.on('ready', onReady);
  return new IoredisLockAdapter(client, { owned: true, onError });
}
