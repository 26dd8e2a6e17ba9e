import type { Cluster, Redis } from 'ioredis';
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

/** A standalone (or Sentinel-backed) ioredis client, or an ioredis Cluster. */
export type IoredisClient = Redis | Cluster;

/** Options of {@link IoredisLockAdapter}. */
export interface IoredisLockAdapterOptions {
  /**
   * Whether the adapter owns the client and closes it in `close()`. Clients the application
   * passed in are never closed by us.
   * @default false
   */
  owned?: boolean;
  /** Display name for logs and errors; derived from the client's address when absent. */
  name?: string;
  /** Called with connection errors of the connections the adapter opened itself. */
  onError?: (error: Error) => void;
}

// Names under which the scripts are defined on the client; prefixed so they never collide with
// commands an application defines on a client it shares with us.
const COMMANDS = {
  acquire: ['nestjsRedlockAcquire', ACQUIRE_SCRIPT],
  extend: ['nestjsRedlockExtend', EXTEND_SCRIPT],
  release: ['nestjsRedlockRelease', RELEASE_SCRIPT],
  syncFence: ['nestjsRedlockSyncFence', SYNC_FENCE_SCRIPT],
  inspect: ['nestjsRedlockInspect', INSPECT_SCRIPT],
  acquireShared: ['nestjsRedlockAcquireShared', ACQUIRE_SHARED_SCRIPT],
  extendShared: ['nestjsRedlockExtendShared', EXTEND_SHARED_SCRIPT],
  releaseShared: ['nestjsRedlockReleaseShared', RELEASE_SHARED_SCRIPT],
  leaveLine: ['nestjsRedlockLeaveLine', LEAVE_LINE_SCRIPT],
} as const;

type ScriptName = (typeof COMMANDS)[keyof typeof COMMANDS][0];
type ScriptClient = Record<
  ScriptName,
  (numKeys: number, ...args: (string | number)[]) => Promise<unknown>
>;

/**
 * A lock node on ioredis: a standalone server, a Sentinel-managed master, or a Redis Cluster.
 *
 * Scripts run through ioredis `defineCommand` (EVALSHA, falling back to EVAL on NOSCRIPT).
 * Release notifications use a second connection created on the first wait; on a Cluster whose
 * servers know `SPUBLISH` they use sharded pub/sub, so a notification stays on the lock's shard.
 *
 * @example
 * ```ts
 * const adapter = new IoredisLockAdapter(new Redis('redis://10.0.0.5:6379'), { owned: true });
 * ```
 */
export class IoredisLockAdapter implements LockAdapter {
  readonly name: string;
  // ES private (#) fields: the client and its duplicate carry credentials in their options,
  // and unlike TypeScript's `private` these stay out of util.inspect and JSON.stringify.
  readonly #client: IoredisClient;
  readonly #scripts: ScriptClient;
  #subscriber: IoredisClient | undefined;
  #lastError: Error | undefined;
  private readonly owned: boolean;
  private readonly onError: ((error: Error) => void) | undefined;
  private readonly channels = new ReleaseChannels();
  private sharded: Promise<boolean> | undefined;
  private closed = false;

  constructor(client: IoredisClient, options: IoredisLockAdapterOptions = {}) {
    this.#client = client;
    this.owned = options.owned ?? false;
    if (this.owned) {
      // Kept to explain failed calls: "not connected" alone does not say what to fix.
      client.on('error', (error: Error) => (this.#lastError = error));
      client.on('ready', () => (this.#lastError = undefined));
    }
    this.onError = options.onError;
    this.name = options.name ?? describeClient(client);
    for (const [command, lua] of Object.values(COMMANDS)) {
      if (typeof (client as unknown as Partial<ScriptClient>)[command] !== 'function') {
        client.defineCommand(command, { lua });
      }
    }
    this.#scripts = client as unknown as ScriptClient;
  }

  /** Runs a script call; a failure while disconnected says why the node is unreachable. */
  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const status = this.#client.status;
      if (status === 'ready') throw error;
      const cause = this.#lastError ? `: ${stripCredentials(this.#lastError.message)}` : '';
      throw new Error(`${this.name} is not connected (${status})${cause}`, { cause: error });
    }
  }

  /**
   * Takes new credentials without replacing the connections: reconnects use them, and live
   * connections (commands and release notifications) re-authenticate with AUTH.
   */
  async updateCredentials(credentials: { username?: string; password: string }): Promise<void> {
    const auth = credentials.username
      ? [credentials.username, credentials.password]
      : [credentials.password];
    const connections: IoredisClient[] = [this.#client];
    if (this.#subscriber) connections.push(this.#subscriber);
    const live: Promise<unknown>[] = [];
    for (const connection of connections) {
      if (isCluster(connection)) {
        const redisOptions = (connection.options.redisOptions ??= {});
        Object.assign(redisOptions, credentials);
        for (const node of connection.nodes()) {
          Object.assign(node.options, credentials);
          if (node.status === 'ready') live.push(node.call('AUTH', ...auth));
        }
      } else {
        Object.assign(connection.options, credentials);
        if (connection.status === 'ready') live.push(connection.call('AUTH', ...auth));
      }
    }
    await Promise.all(live);
  }

  toJSON(): { name: string } {
    return { name: this.name };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `IoredisLockAdapter { name: '${this.name}' }`;
  }

  /** The ioredis client this adapter sends lock commands through. */
  get redis(): IoredisClient {
    return this.#client;
  }

  validateKeys(keys: readonly string[]): void {
    if (isCluster(this.#client)) assertSameClusterSlot(keys);
  }

  async acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
    line?: LineArgs,
  ): Promise<AcquireReply> {
    const [all, args] = acquireArgs(keys, value, ttl, fence, line);
    return acquireReply(
      await this.#call(() => this.#scripts.nestjsRedlockAcquire(all.length, ...all, ...args)),
    );
  }

  async leaveLine(key: string, id: string): Promise<void> {
    const publish = (await this.useShardedPubSub()) ? 'SPUBLISH' : 'PUBLISH';
    const [all, args] = leaveLineArgs(key, id, publish);
    await this.#call(() => this.#scripts.nestjsRedlockLeaveLine(all.length, ...all, ...args));
  }

  async extend(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply> {
    const args = [value, ttl, fence.retention];
    return ownerReply(await this.#fenced('nestjsRedlockExtend', keys, args));
  }

  async release(keys: readonly string[], value: string, rejoin?: LineArgs): Promise<OwnerReply> {
    const publish = (await this.useShardedPubSub()) ? 'SPUBLISH' : 'PUBLISH';
    const [all, args] = releaseArgs(keys, value, publish, rejoin);
    return ownerReply(
      await this.#call(() => this.#scripts.nestjsRedlockRelease(all.length, ...all, ...args)),
    );
  }

  async syncFence(
    keys: readonly string[],
    value: string,
    fence: FenceArgs & { token: number },
  ): Promise<OwnerReply> {
    const args = [value, fence.token, fence.retention];
    return ownerReply(await this.#fenced('nestjsRedlockSyncFence', keys, args));
  }

  async acquireShared(
    keys: readonly string[],
    value: string,
    ttl: number,
    _fence: FenceArgs,
  ): Promise<AcquireReply> {
    return acquireReply(await this.#fenced('nestjsRedlockAcquireShared', keys, [value, ttl]));
  }

  async extendShared(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply> {
    const args = [value, ttl, fence.retention];
    return ownerReply(await this.#fenced('nestjsRedlockExtendShared', keys, args));
  }

  async releaseShared(keys: readonly string[], value: string): Promise<OwnerReply> {
    return ownerReply(await this.#announced('nestjsRedlockReleaseShared', keys, value));
  }

  /** Runs a script over the lock keys followed by their fencing counters, then `args`. */
  #fenced(
    command: ScriptName,
    keys: readonly string[],
    args: (string | number)[],
  ): Promise<unknown> {
    return this.#call(() =>
      this.#scripts[command](keys.length * 2, ...keys, ...fenceKeys(keys), ...args),
    );
  }

  /** Runs a shared release script: the lock keys, the value, the publish command, channels. */
  async #announced(command: ScriptName, keys: readonly string[], value: string): Promise<unknown> {
    const publish = (await this.useShardedPubSub()) ? 'SPUBLISH' : 'PUBLISH';
    const channels = keys.map((key) => helperName(key, 'released'));
    return this.#call(() =>
      this.#scripts[command](keys.length, ...keys, value, publish, ...channels),
    );
  }

  async inspect(keys: readonly string[]): Promise<number> {
    return Number(await this.#call(() => this.#scripts.nestjsRedlockInspect(keys.length, ...keys)));
  }

  async onRelease(keys: readonly string[], listener: ReleaseListener): Promise<() => void> {
    this.assertOpen();
    const sharded = await this.useShardedPubSub();
    const names = keys.map((key) => helperName(key, 'released'));
    return this.channels.listen(names, listener, () => {
      const subscriber = this.getSubscriber(sharded);
      return sharded
        ? {
            subscribe: (c) => subscriber.ssubscribe(c),
            unsubscribe: (c) => subscriber.sunsubscribe(c),
          }
        : {
            subscribe: (c) => subscriber.subscribe(c),
            unsubscribe: (c) => subscriber.unsubscribe(c),
          };
    });
  }

  async ping(): Promise<void> {
    await this.#client.ping();
  }

  async ready(timeout: number): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') return;
    if (client.status === 'wait') void client.connect().catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      const onReady = (): void => done();
      const onEnd = (): void => done(new Error(`${this.name}: connection closed`));
      const timer = setTimeout(
        () => done(new Error(`${this.name}: not connected after ${timeout} ms`)),
        timeout,
      );
      client.once('ready', onReady);
      client.once('end', onEnd);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    // The subscriber is always ours, even on a client the application owns.
    if (subscriber) subscriber.disconnect();
    if (this.owned) await quit(this.#client);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.name}: adapter is closed`);
  }

  private getSubscriber(sharded: boolean): IoredisClient {
    if (this.#subscriber) return this.#subscriber;
    const client = this.#client;
    // Subscriptions may queue while the connection comes up: the engine bounds each wait with
    // its own timeout and falls back to polling, so a queued SUBSCRIBE costs no correctness.
    const subscriber = isCluster(client)
      ? client.duplicate(undefined, { shardedSubscribers: sharded, enableOfflineQueue: true })
      : client.duplicate({ enableOfflineQueue: true, lazyConnect: false, autoResubscribe: true });
    const dispatch = (channel: string, message: string): void =>
      this.channels.dispatch(channel, message);
    subscriber.on('message', dispatch);
    subscriber.on('smessage', dispatch);
    subscriber.on('error', (error: Error) => this.onError?.(error));
    this.#subscriber = subscriber;
    return subscriber;
  }

  private useShardedPubSub(): Promise<boolean> {
    // A client without the `shardedSubscribers` option (iovalkey 0.4, older ioredis) sends
    // every SSUBSCRIBE to one node, which answers MOVED for other shards: use PUBLISH there.
    if (!isCluster(this.#client) || !('shardedSubscribers' in this.#client.options)) {
      return Promise.resolve(false);
    }
    if (!this.sharded) {
      // Redis 7 added sharded pub/sub; older clusters broadcast every PUBLISH to all nodes.
      const probe = this.#client
        .call('COMMAND', 'INFO', 'SPUBLISH')
        .then((reply) => Array.isArray(reply) && reply[0] != null);
      this.sharded = probe;
      probe.catch(() => {
        if (this.sharded === probe) this.sharded = undefined;
      });
    }
    return this.sharded;
  }
}

/**
 * Duck-typed rather than `instanceof Cluster`, so ioredis-compatible forks (iovalkey) work too
 * and this module needs no runtime import of ioredis.
 */
function isCluster(client: IoredisClient): client is Cluster {
  return client.isCluster;
}

function fenceKeys(keys: readonly string[]): string[] {
  return keys.map((key) => helperName(key, 'fence'));
}

function ownerReply(reply: unknown): OwnerReply {
  const text = String(reply);
  if (text === 'ok' || text === 'expired' || text === 'taken') return text;
  throw new Error(`Unexpected script reply: ${text}`);
}

async function quit(client: IoredisClient): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** A name for logs and errors built from the address only, so no credential can leak. */
export function describeClient(client: IoredisClient): string {
  if (isCluster(client)) {
    const nodes = (client as unknown as { startupNodes?: unknown[] }).startupNodes ?? [];
    const addresses = nodes.map((node) =>
      typeof node === 'object' && node !== null
        ? `${(node as { host?: string }).host ?? '127.0.0.1'}:${(node as { port?: number }).port ?? 6379}`
        : typeof node === 'number'
          ? `127.0.0.1:${node}`
          : stripCredentials(String(node)),
    );
    return `redis-cluster://${addresses.join(',')}`;
  }
  const options = client.options;
  if (options.sentinels?.length) {
    const sentinels = options.sentinels.map((s) => `${s.host ?? '127.0.0.1'}:${s.port ?? 26379}`);
    return `redis-sentinel://${sentinels.join(',')}/${options.name ?? 'mymaster'}`;
  }
  if (options.path) return `redis+unix://${options.path}`;
  const scheme = options.tls ? 'rediss' : 'redis';
  return `${scheme}://${options.host ?? '127.0.0.1'}:${options.port ?? 6379}/${options.db ?? 0}`;
}

function stripCredentials(text: string): string {
  // Up to the last '@' of the address: a password may itself contain '@'.
  return text.replace(/\/\/\S*@/g, '//');
}
