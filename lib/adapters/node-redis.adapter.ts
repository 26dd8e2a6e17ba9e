import { createHash } from 'node:crypto';
import type {
  AcquireReply,
  FenceArgs,
  LineArgs,
  LockAdapter,
  OwnerReply,
  ReleaseListener,
} from '../interfaces/lock-adapter.interface.js';
import { assertSameClusterSlot } from './cluster-keys.js';
import { ReleaseChannels } from './release-channels.js';
import {
  describeNodeRedisClient,
  isNodeRedisCluster,
  type MessageListener,
  type NodeRedisClient,
} from './node-redis.client.js';
import { acquireArgs, helperName, leaveLineArgs, releaseArgs } from './redis-keys.js';
import {
  ACQUIRE_SCRIPT,
  ACQUIRE_SHARED_SCRIPT,
  EXTEND_SHARED_SCRIPT,
  RELEASE_SHARED_SCRIPT,
  EXTEND_SCRIPT,
  INSPECT_SCRIPT,
  LEAVE_LINE_SCRIPT,
  RELEASE_SCRIPT,
  SYNC_FENCE_SCRIPT,
  acquireReply,
} from './redis-scripts.js';

export type {
  NodeRedisClient,
  NodeRedisClusterClient,
  NodeRedisStandaloneClient,
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

interface Script {
  readonly lua: string;
  readonly sha: string;
}

// node-redis defines scripts only when a client is created, which a client handed to us was
// not; so the adapter runs EVALSHA itself, with each digest computed once here.
const script = (lua: string): Script => ({
  lua,
  sha: createHash('sha1').update(lua).digest('hex'),
});
const SCRIPTS = {
  acquire: script(ACQUIRE_SCRIPT),
  extend: script(EXTEND_SCRIPT),
  release: script(RELEASE_SCRIPT),
  syncFence: script(SYNC_FENCE_SCRIPT),
  inspect: script(INSPECT_SCRIPT),
  acquireShared: script(ACQUIRE_SHARED_SCRIPT),
  extendShared: script(EXTEND_SHARED_SCRIPT),
  releaseShared: script(RELEASE_SHARED_SCRIPT),
  leaveLine: script(LEAVE_LINE_SCRIPT),
} as const;

interface Subscriber {
  readonly connection: NodeRedisClient;
  readonly connected: Promise<void>;
}

/**
 * A lock node on node-redis (npm `redis` 6): a standalone server or a Redis Cluster.
 *
 * Scripts run as EVALSHA, falling back to EVAL when the server answers NOSCRIPT. Release
 * notifications use a duplicate of the client, connected on the first wait; on a Cluster whose
 * servers know `SPUBLISH` they use sharded pub/sub, so a notification stays on the lock's shard.
 * A `keyPrefix` set on the client is applied to the lock keys, as node-redis and ioredis apply
 * it to every key they send. `redis` is only loaded by the application that creates the client:
 * this module imports nothing from it at runtime.
 *
 * @example
 * ```ts
 * const client = await createClient({ url: 'redis://10.0.0.5:6379' }).connect();
 * const adapter = new NodeRedisLockAdapter(client);
 * ```
 */
export class NodeRedisLockAdapter implements LockAdapter {
  readonly name: string;
  private readonly owned: boolean;
  private readonly onError: ((error: Error) => void) | undefined;
  private readonly prefix: string;
  // ES private (#) fields hold the connections: they carry credentials in their options, and
  // unlike TypeScript's `private` these stay out of util.inspect and JSON.stringify.
  readonly #client: NodeRedisClient;
  #subscriber: Subscriber | undefined;
  private readonly channels = new ReleaseChannels();
  private sharded: Promise<boolean> | undefined;
  private closed = false;
  // One function for every channel, so node-redis can drop it per channel on unsubscribe.
  private readonly dispatch: MessageListener = (message, channel) =>
    this.channels.dispatch(String(channel), String(message));

  constructor(client: NodeRedisClient, options: NodeRedisLockAdapterOptions = {}) {
    this.#client = client;
    this.owned = options.owned ?? false;
    this.onError = options.onError;
    this.name = options.name ?? describeNodeRedisClient(client);
    const prefix = isNodeRedisCluster(client)
      ? client._options.keyPrefix
      : client.options?.keyPrefix;
    this.prefix = prefix === undefined ? '' : String(prefix);
    if (this.owned) {
      // Without a listener an 'error' event would crash the process; the client is ours.
      client.on('error', (error) => this.onError?.(error));
      if (!client.isOpen) client.connect().catch((error: Error) => this.onError?.(error));
    }
  }

  /** The node-redis client this adapter sends lock commands through. */
  get redis(): NodeRedisClient {
    return this.#client;
  }

  validateKeys(keys: readonly string[]): void {
    if (isNodeRedisCluster(this.#client))
      assertSameClusterSlot(keys.map((key) => this.prefix + key));
  }

  async acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
    line?: LineArgs,
  ): Promise<AcquireReply> {
    const [all, args] = acquireArgs(this.prefixed(keys), value, ttl, fence, line);
    return acquireReply(await this.run(SCRIPTS.acquire, all, args));
  }

  async leaveLine(key: string, id: string): Promise<void> {
    const publish = (await this.useShardedPubSub()) ? 'SPUBLISH' : 'PUBLISH';
    await this.run(SCRIPTS.leaveLine, ...leaveLineArgs(this.prefix + key, id, publish));
  }

  async extend(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply> {
    const args = [value, ttl, fence.retention];
    return ownerReply(await this.run(SCRIPTS.extend, this.withFences(keys), args));
  }

  async release(keys: readonly string[], value: string, rejoin?: LineArgs): Promise<OwnerReply> {
    const publish = (await this.useShardedPubSub()) ? 'SPUBLISH' : 'PUBLISH';
    const [all, args] = releaseArgs(this.prefixed(keys), value, publish, rejoin);
    return ownerReply(await this.run(SCRIPTS.release, all, args));
  }

  async syncFence(
    keys: readonly string[],
    value: string,
    fence: FenceArgs & { token: number },
  ): Promise<OwnerReply> {
    const args = [value, fence.token, fence.retention];
    return ownerReply(await this.run(SCRIPTS.syncFence, this.withFences(keys), args));
  }

  async acquireShared(
    keys: readonly string[],
    value: string,
    ttl: number,
    _fence: FenceArgs,
  ): Promise<AcquireReply> {
    return acquireReply(await this.run(SCRIPTS.acquireShared, this.withFences(keys), [value, ttl]));
  }

  async extendShared(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply> {
    const args = [value, ttl, fence.retention];
    return ownerReply(await this.run(SCRIPTS.extendShared, this.withFences(keys), args));
  }

  async releaseShared(keys: readonly string[], value: string): Promise<OwnerReply> {
    return ownerReply(await this.announced(SCRIPTS.releaseShared, keys, value));
  }

  /** Runs a shared release script: the lock keys, the value, the publish command, channels. */
  private async announced(
    script: Script,
    keys: readonly string[],
    value: string,
  ): Promise<unknown> {
    const publish = (await this.useShardedPubSub()) ? 'SPUBLISH' : 'PUBLISH';
    const full = this.prefixed(keys);
    const channels = full.map((key) => helperName(key, 'released'));
    return this.run(script, full, [value, publish, ...channels]);
  }

  async inspect(keys: readonly string[]): Promise<number> {
    return Number(await this.run(SCRIPTS.inspect, this.prefixed(keys), []));
  }

  async onRelease(keys: readonly string[], listener: ReleaseListener): Promise<() => void> {
    this.assertOpen();
    const sharded = await this.useShardedPubSub();
    const names = this.prefixed(keys).map((key) => helperName(key, 'released'));
    return this.channels.listen(names, listener, () => {
      const { connection, connected } = this.getSubscriber();
      const shard = sharded && isNodeRedisCluster(connection) ? connection : undefined;
      return {
        subscribe: (name) =>
          connected.then(() =>
            shard
              ? shard.sSubscribe(name, this.dispatch)
              : connection.subscribe(name, this.dispatch),
          ),
        // Always with the listener: node-redis then marks the channel as unsubscribing, so a
        // subscribe that follows before the reply sends a fresh SUBSCRIBE instead of being dropped.
        unsubscribe: (name) =>
          shard
            ? shard.sUnsubscribe(name, this.dispatch)
            : connection.unsubscribe(name, this.dispatch),
      };
    });
  }

  async ping(): Promise<void> {
    await this.send(undefined, ['PING']);
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    // The subscriber is always ours, even on a client the application owns.
    if (subscriber) subscriber.connection.destroy();
    if (this.owned && this.#client.isOpen) {
      try {
        await this.#client.close();
      } catch {
        this.#client.destroy();
      }
    }
  }

  private prefixed(keys: readonly string[]): string[] {
    return keys.map((key) => this.prefix + key);
  }

  /** The lock keys followed by their fencing counters, the layout of the fenced scripts. */
  private withFences(keys: readonly string[]): string[] {
    const full = this.prefixed(keys);
    return [...full, ...full.map((key) => helperName(key, 'fence'))];
  }

  private async run(
    { lua, sha }: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.send(keys[0], ['EVALSHA', sha, ...tail]);
    } catch (error) {
      // The server's script cache is empty (restart, failover, SCRIPT FLUSH): EVAL refills it.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.send(keys[0], ['EVAL', lua, ...tail]);
    }
  }

  private send(firstKey: string | undefined, args: readonly string[]): Promise<unknown> {
    const client = this.#client;
    return isNodeRedisCluster(client)
      ? client.sendCommand(firstKey, false, args)
      : client.sendCommand(args);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.name}: adapter is closed`);
  }

  private getSubscriber(): Subscriber {
    if (this.#subscriber) return this.#subscriber;
    const client = this.#client;
    // Waiters subscribe once it is connected; the engine bounds each wait with its own timeout
    // and falls back to polling, so a slow connect costs no correctness. Unlike lock commands,
    // subscriptions may wait out a reconnect (node-redis re-subscribes after one by itself).
    const connection = isNodeRedisCluster(client)
      ? client.duplicate()
      : client.duplicate({ disableOfflineQueue: false });
    connection.on('error', (error) => this.onError?.(error));
    const subscriber: Subscriber = {
      connection,
      connected: connection.connect().then(() => undefined),
    };
    subscriber.connected.catch(() => {
      // A subscriber that never connected is dropped, so the next waiter opens a new one.
      if (this.#subscriber !== subscriber) return;
      this.#subscriber = undefined;
      connection.destroy();
    });
    this.#subscriber = subscriber;
    return subscriber;
  }

  private useShardedPubSub(): Promise<boolean> {
    if (!isNodeRedisCluster(this.#client)) return Promise.resolve(false);
    if (!this.sharded) {
      // Redis 7 added sharded pub/sub; older clusters broadcast every PUBLISH to all nodes.
      const probe = this.#client
        .sendCommand(undefined, true, ['COMMAND', 'INFO', 'SPUBLISH'])
        .then((reply) => Array.isArray(reply) && reply[0] != null);
      this.sharded = probe;
      probe.catch(() => {
        if (this.sharded === probe) this.sharded = undefined;
      });
    }
    return this.sharded;
  }
}

function ownerReply(reply: unknown): OwnerReply {
  const text = String(reply);
  if (text === 'ok' || text === 'expired' || text === 'taken') return text;
  throw new Error(`Unexpected script reply: ${text}`);
}
