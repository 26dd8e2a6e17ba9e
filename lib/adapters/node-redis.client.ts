/**
 * The shape of the node-redis (npm `redis`) clients the node-redis adapter accepts.
 *
 * Described structurally, by the members the adapter uses, for two reasons: node-redis client
 * types are generic over modules, scripts, RESP version and type mapping, and no single
 * instantiation accepts them all; and this file (and its .d.ts) then refers to nothing in
 * `redis`, so applications that do not use node-redis need not install it.
 */

/** node-redis' `RedisArgument`: a key, channel or command argument. */
type RedisArgument = string | Buffer;

/** A pub/sub listener; node-redis passes Buffers to listeners subscribed in buffer mode. */
export type MessageListener = (message: string | Buffer, channel: string | Buffer) => void;

/** Connection options node-redis keeps on a client, as far as the adapter reads them. */
interface NodeRedisConnectionOptions {
  url?: string;
  socket?: { host?: string; port?: number; path?: string; tls?: boolean };
  database?: number;
  keyPrefix?: RedisArgument;
}

/** What the adapter uses of any node-redis connection, standalone or Cluster. */
interface NodeRedisConnection {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, listener: (error: Error) => void): unknown;
  off(event: string, listener: (error: Error) => void): unknown;
  subscribe(channel: string, listener: MessageListener): Promise<void>;
  unsubscribe(channel: string, listener: MessageListener): Promise<void>;
}

/**
 * A node-redis client from `createClient()`, whatever its modules, scripts, RESP version or type
 * mapping (typed by the members the adapter uses, so every generic instantiation fits).
 */
export interface NodeRedisStandaloneClient extends NodeRedisConnection {
  readonly options: NodeRedisConnectionOptions | undefined;
  sendCommand(args: readonly RedisArgument[]): Promise<unknown>;
  duplicate(overrides?: { disableOfflineQueue?: boolean }): NodeRedisStandaloneClient;
}

/** A shard master of a node-redis Cluster, as far as the adapter reads it. */
interface NodeRedisShard {
  readonly host: string;
  readonly port: number;
}

/** A node-redis Cluster from `createCluster()`. */
export interface NodeRedisClusterClient extends NodeRedisConnection {
  readonly _options: {
    rootNodes: readonly NodeRedisConnectionOptions[];
    keyPrefix?: RedisArgument;
  };
  getMasters(): unknown;
  /** The shard masters, for commands about one server (inspection's `SCAN`). */
  readonly masters: readonly NodeRedisShard[];
  nodeClient(node: NodeRedisShard): Promise<{
    sendCommand(args: readonly RedisArgument[]): Promise<unknown>;
  }>;
  sendCommand(
    firstKey: RedisArgument | undefined,
    isReadonly: boolean | undefined,
    args: readonly RedisArgument[],
  ): Promise<unknown>;
  duplicate(): NodeRedisClusterClient;
  sSubscribe(channel: string, listener: MessageListener): Promise<void>;
  sUnsubscribe(channel: string, listener: MessageListener): Promise<void>;
}

/** A node-redis (npm `redis`) client: standalone or Cluster. */
export type NodeRedisClient = NodeRedisStandaloneClient | NodeRedisClusterClient;

/** Duck-typed, so nothing needs a runtime import of `redis`. */
export function isNodeRedisCluster(client: NodeRedisClient): client is NodeRedisClusterClient {
  return typeof (client as Partial<NodeRedisClusterClient>).getMasters === 'function';
}

/** A name for logs and errors built from the address only, so no credential can leak. */
export function describeNodeRedisClient(client: NodeRedisClient): string {
  if (isNodeRedisCluster(client)) {
    return `redis-cluster://${client._options.rootNodes.map((node) => address(node)).join(',')}`;
  }
  const options = client.options ?? {};
  if (options.socket?.path) return `redis+unix://${options.socket.path}`;
  const scheme = options.socket?.tls ? 'rediss' : 'redis';
  return `${scheme}://${address(options)}/${options.database ?? 0}`;
}

function address(options: NodeRedisConnectionOptions): string {
  const { host, port } = options.socket ?? {};
  if (host === undefined && options.url) {
    try {
      // The URL carries the credentials too: keep only host and port.
      const url = new URL(options.url);
      return `${url.hostname}:${url.port || 6379}`;
    } catch {
      return 'invalid-url';
    }
  }
  return `${host ?? 'localhost'}:${port ?? 6379}`;
}
