import { describeClient, type IoredisClient } from './ioredis.client.js';
import { IoredisConnection, type IoredisLockAdapterOptions } from './ioredis.connection.js';
import { RedisLockAdapter } from './redis-lock.adapter.js';

export { describeClient, type IoredisClient, type IoredisLockAdapterOptions };

/**
 * A lock node on ioredis: a standalone server, a Sentinel-managed master, or a Redis Cluster.
 * The lock logic is {@link RedisLockAdapter}'s; this class only connects it to the client.
 *
 * @example
 * ```ts
 * const adapter = new IoredisLockAdapter(new Redis('redis://10.0.0.5:6379'), { owned: true });
 * ```
 */
export class IoredisLockAdapter extends RedisLockAdapter {
  // ES private (#) fields: the client carries credentials in its options, and unlike
  // TypeScript's `private` these stay out of util.inspect and JSON.stringify.
  readonly #client: IoredisClient;
  readonly #connection: IoredisConnection;

  constructor(client: IoredisClient, options: IoredisLockAdapterOptions = {}) {
    const connection = new IoredisConnection(client, options);
    super(connection);
    this.#client = client;
    this.#connection = connection;
  }

  /** The ioredis client this adapter sends lock commands through. */
  get redis(): IoredisClient {
    return this.#client;
  }

  /**
   * Takes new credentials without replacing the connections: reconnects use them, and the live
   * command connection re-authenticates with AUTH.
   */
  updateCredentials(credentials: { username?: string; password: string }): Promise<void> {
    return this.#connection.updateCredentials(credentials);
  }
}
