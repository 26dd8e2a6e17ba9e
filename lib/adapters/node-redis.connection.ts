import {
  closeWithin,
  errorMessage,
  type RedisConnection,
  type RedisScript,
  type RedisServer,
  type RedisSubscriber,
} from './redis-connection.js';
import {
  describeNodeRedisClient,
  isNodeRedisCluster,
  type MessageListener,
  type NodeRedisClient,
} from './node-redis.client.js';

/** Options of {@link NodeRedisLockAdapter}. */
export interface NodeRedisLockAdapterOptions {
  /**
   * Whether the adapter owns the client: connects it if needed and closes it in `close()`.
   * Clients the application passed in are never connected or closed by us.
   * @default false
   */
  owned?: boolean;
  /** Display name for logs and errors; derived from the client's address when absent. */
  name?: string;
  /** Called with errors of the connections the adapter opened itself (and of owned clients). */
  onError?: (error: Error) => void;
}

/** Commands that name no key, so a Cluster may send them to any node. */
const KEYLESS = new Set(['PING', 'COMMAND']);

/**
 * A {@link RedisConnection} over node-redis (npm `redis`), standalone or Cluster.
 *
 * node-redis defines scripts only when a client is created, which a client handed to us was
 * not; so this runs EVALSHA itself. It sends raw commands, which node-redis does not prefix, so
 * it applies the client's `keyPrefix` to every key as node-redis does for its own commands.
 */
export class NodeRedisConnection implements RedisConnection {
  readonly name: string;
  readonly cluster: boolean;
  readonly shardedSubscriptions: boolean;
  readonly keyPrefix: string;
  /** Scripts this connection has sent in full once (see evalScript). */
  readonly #loaded = new Set<string>();
  readonly #client: NodeRedisClient;
  readonly #owned: boolean;
  readonly #onError: ((error: Error) => void) | undefined;

  constructor(client: NodeRedisClient, options: NodeRedisLockAdapterOptions = {}) {
    this.#client = client;
    this.#owned = options.owned ?? false;
    this.#onError = options.onError;
    this.name = options.name ?? describeNodeRedisClient(client);
    this.cluster = isNodeRedisCluster(client);
    this.shardedSubscriptions = this.cluster;
    const prefix = isNodeRedisCluster(client)
      ? client._options.keyPrefix
      : client.options?.keyPrefix;
    this.keyPrefix = prefix === undefined ? '' : String(prefix);
    if (this.#owned) {
      // Without a listener an 'error' event would crash the process; the client is ours.
      client.on('error', (error) => this.#onError?.(error));
      if (!client.isOpen) client.connect().catch((error: Error) => this.#onError?.(error));
    }
  }

  async evalScript(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const full = this.keyPrefix ? keys.map((key) => this.keyPrefix + key) : keys;
    const tail = [String(full.length), ...full, ...args.map(String)];
    // The first call of a script sends it whole: an EVALSHA answered NOSCRIPT would be re-sent
    // behind commands queued meanwhile, and callers rely on the order they sent in.
    if (!this.#loaded.has(script.sha)) {
      const reply = await this.#send(full[0], ['EVAL', script.lua, ...tail]);
      this.#loaded.add(script.sha);
      return reply;
    }
    try {
      return await this.#send(full[0], ['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      // The server's script cache is empty (restart, failover, SCRIPT FLUSH): EVAL refills it.
      if (!errorMessage(error).startsWith('NOSCRIPT')) throw error;
      return this.#send(full[0], ['EVAL', script.lua, ...tail]);
    }
  }

  command(name: string, args: readonly (string | number)[]): Promise<unknown> {
    const strings = args.map(String);
    const key = KEYLESS.has(name) ? undefined : this.keyPrefix + strings[0];
    if (key !== undefined) strings[0] = key;
    return this.#send(key, [name, ...strings]);
  }

  subscriber(
    sharded: boolean,
    onMessage: (channel: string, message: string) => void,
  ): RedisSubscriber {
    const client = this.#client;
    // Waiters subscribe once it is connected; the engine bounds each wait with its own timeout
    // and falls back to polling, so a slow connect costs no correctness. Unlike lock commands,
    // subscriptions may wait out a reconnect (node-redis re-subscribes after one by itself).
    const connection = isNodeRedisCluster(client)
      ? client.duplicate()
      : client.duplicate({ disableOfflineQueue: false });
    connection.on('error', (error) => this.#onError?.(error));
    const connected = connection.connect().then(() => undefined);
    // A failed connect rejects each subscribe (the engine then polls); it is no crash.
    connected.catch(() => undefined);
    // One function for every channel, so node-redis can drop it per channel on unsubscribe.
    const listener: MessageListener = (message, channel) =>
      onMessage(String(channel), String(message));
    const shard = sharded && isNodeRedisCluster(connection) ? connection : undefined;
    return {
      subscribe: (channel) =>
        connected.then(() =>
          shard ? shard.sSubscribe(channel, listener) : connection.subscribe(channel, listener),
        ),
      // Always with the listener: node-redis then marks the channel as unsubscribing, so a
      // subscribe that follows before the reply sends a fresh SUBSCRIBE instead of being dropped.
      unsubscribe: (channel) =>
        shard ? shard.sUnsubscribe(channel, listener) : connection.unsubscribe(channel, listener),
      close: () => connection.destroy(),
    };
  }

  async ready(timeout: number): Promise<void> {
    const client = this.#client;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        client.off('ready', check);
        client.off('connect', check);
        client.off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      // A client emits 'ready' after its handshake; a Cluster emits 'connect' once it is ready.
      const check = (): void => {
        if (client.isReady) done();
      };
      const onEnd = (): void => {
        if (!client.isOpen) done(new Error(`${this.name}: connection closed`));
      };
      const timer = setTimeout(() => {
        const hint = client.isOpen ? '' : '; call connect() on the client before locking';
        done(new Error(`${this.name}: not connected after ${timeout} ms${hint}`));
      }, timeout);
      client.on('ready', check);
      client.on('connect', check);
      client.on('end', onEnd);
      check();
    });
  }

  async masters(): Promise<readonly RedisServer[]> {
    const client = this.#client;
    if (!isNodeRedisCluster(client)) {
      return [{ name: this.name, send: (args) => client.sendCommand(args.map(String)) }];
    }
    return Promise.all(
      client.masters.map(async (master) => {
        const server = await client.nodeClient(master);
        return {
          name: `${master.host}:${master.port}`,
          send: (args: readonly (string | number)[]) => server.sendCommand(args.map(String)),
        };
      }),
    );
  }

  async close(): Promise<void> {
    const client = this.#client;
    if (!this.#owned || !client.isOpen) return;
    await closeWithin(
      () => client.close(),
      () => client.destroy(),
    );
  }

  #send(firstKey: string | undefined, args: readonly string[]): Promise<unknown> {
    const client = this.#client;
    return isNodeRedisCluster(client)
      ? client.sendCommand(firstKey, false, args)
      : client.sendCommand(args);
  }

  toJSON(): { name: string } {
    return { name: this.name };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `NodeRedisConnection { name: '${this.name}' }`;
  }
}
