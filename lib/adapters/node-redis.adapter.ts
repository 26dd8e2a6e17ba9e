import { type NodeRedisClient } from './node-redis.client.js';
import { NodeRedisConnection, type NodeRedisLockAdapterOptions } from './node-redis.connection.js';
import { RedisLockAdapter } from './redis-lock.adapter.js';

export type { NodeRedisLockAdapterOptions };
export type {
  NodeRedisClient,
  NodeRedisClusterClient,
  NodeRedisStandaloneClient,
} from './node-redis.client.js';

/**
 * A lock node on node-redis (npm `redis`): a standalone server or a Redis Cluster. The lock
 * logic is {@link RedisLockAdapter}'s; this class only connects it to the client.
 *
 * A `keyPrefix` set on the client is applied to the lock keys, as node-redis applies it to
 * every key it sends. `redis` is only loaded by the application that creates the client: this
 * module imports nothing from it, at runtime or in its types.
 *
 * @example
 * ```ts
 * const client = await createClient({ url: 'redis://10.0.0.5:6379' }).connect();
 * const adapter = new NodeRedisLockAdapter(client);
 * ```
 */
export class NodeRedisLockAdapter extends RedisLockAdapter {
  // ES private (#) field: the client carries credentials in its options, and unlike
  // TypeScript's `private` this stays out of util.inspect and JSON.stringify.
  readonly #client: NodeRedisClient;

  constructor(client: NodeRedisClient, options: NodeRedisLockAdapterOptions = {}) {
    super(new NodeRedisConnection(client, options));
    this.#client = client;
  }

  /** The node-redis client this adapter sends lock commands through. */
  get redis(): NodeRedisClient {
    return this.#client;
  }
}
