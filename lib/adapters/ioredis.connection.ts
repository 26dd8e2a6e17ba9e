import type { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { redact } from '../redaction.js';
import { describeClient, type IoredisClient, isIoredisCluster } from './ioredis.client.js';
import { ioredisSubscriber } from './ioredis.subscriber.js';
import {
  closeWithin,
  errorMessage,
  type RedisConnection,
  type RedisScript,
  type RedisServer,
  type RedisSubscriber,
} from './redis-connection.js';

/** Options of the ioredis-family adapters (`IoredisLockAdapter`, `IovalkeyLockAdapter`). */
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

/**
 * A {@link RedisConnection} over ioredis, or a client with the same API (iovalkey, Valkey's
 * fork): standalone, Sentinel-managed or Cluster. The client routes each call by its first key.
 */
export class IoredisConnection implements RedisConnection {
  readonly name: string;
  readonly cluster: boolean;
  readonly shardedSubscriptions: boolean;
  readonly keyPrefix: string;
  readonly #client: IoredisClient;
  readonly #owned: boolean;
  readonly #onError: ((error: Error) => void) | undefined;
  /** Subscriber connections still open, so new credentials reach them too. */
  readonly #subscribers = new Set<IoredisClient>();
  /** Scripts this connection has sent in full once (see evalScript). */
  readonly #loaded = new Set<string>();
  #lastError: Error | undefined;
  /** The socket corked in this tick (see #cork), or undefined. */
  #corked: Writable | undefined;
  /** Commands sent to the corked socket in this tick, after the first. */
  #batched = 0;
  /** The last corked tick carried a single command (see #cork). */
  #lone = false;

  constructor(client: IoredisClient, options: IoredisLockAdapterOptions = {}) {
    this.#client = client;
    this.#owned = options.owned ?? false;
    this.#onError = options.onError;
    this.name = options.name ?? describeClient(client);
    this.cluster = client.isCluster;
    // A client without the `shardedSubscribers` option (iovalkey 0.4, older ioredis) sends
    // every SSUBSCRIBE to one node, which answers MOVED for other shards.
    this.shardedSubscriptions = client.isCluster && 'shardedSubscribers' in client.options;
    this.keyPrefix = String(client.options.keyPrefix ?? '');
    if (this.#owned) {
      // Kept to explain failed calls: "not connected" alone does not say what to fix.
      client.on('error', (error: Error) => (this.#lastError = error));
      client.on('ready', () => (this.#lastError = undefined));
    }
  }

  evalScript(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const client = this.#client;
    this.#cork();
    try {
      // The first call of a script sends it whole: an EVALSHA answered NOSCRIPT would be re-sent
      // behind commands queued meanwhile, and callers rely on the order they sent in (a release
      // followed by a check must see the release).
      if (!this.#loaded.has(script.sha)) {
        return client
          .eval(script.lua, keys.length, ...keys, ...args)
          .then((reply: unknown) => {
            this.#loaded.add(script.sha);
            return reply;
          })
          .catch(this.#explain);
      }
      // One handler, not a NOSCRIPT catch then an explaining one: a promise fewer per call.
      return client.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
        if (!errorMessage(error).startsWith('NOSCRIPT')) return this.#explain(error);
        // The server's script cache is empty (restart, failover, SCRIPT FLUSH): EVAL refills it.
        return client.eval(script.lua, keys.length, ...keys, ...args).catch(this.#explain);
      });
    } catch (error) {
      return this.#thrown(error);
    }
  }

  command(name: string, args: readonly (string | number)[]): Promise<unknown> {
    this.#cork();
    return this.#call(this.#client, LOWER[name] ?? name.toLowerCase(), args);
  }

  /**
   * Holds the socket's writes until the end of this tick, so the commands of every lock call
   * made in one tick (a quorum round's node, 64 requests resumed by one reply packet) leave in
   * one `writev` instead of one syscall each: the syscall was the largest client cost per
   * lock. ioredis' own auto-pipelining batches per `setImmediate` through a pipeline object,
   * which costs a lone command more than it saves. Cluster clients route per node and are left
   * alone.
   *
   * A connection that carries one lock at a time (its last corked tick had one command) is not
   * corked while nothing is in flight on it: the cork, its buffered write and the tick's
   * `process.nextTick` would buy nothing, once per node and command (ten per lock on five
   * nodes). A second command in the same tick finds the first in flight and corks the rest,
   * and a tick of several commands makes the connection cork from the first command again:
   * sending the first of every burst alone made the server answer it alone, and 64 locks in
   * flight ran 0.66–0.73× as fast.
   */
  #cork(): void {
    const corked = this.#corked;
    if (corked) {
      // One early write in a tick that makes many commands for a server with nothing left to
      // do (every command of earlier ticks answered): it starts on them while this process
      // makes the rest, instead of idling until the end of the tick.
      if (++this.#batched !== EARLY_WRITE) return;
      const queue = (this.#client as { commandQueue?: { length: number } }).commandQueue;
      if (queue && queue.length > this.#batched) return;
      corked.uncork();
      corked.cork();
      return;
    }
    this.#batched = 0;
    const client = this.#client;
    if (isIoredisCluster(client) || client.status !== 'ready') return;
    // One lock at a time and nothing in flight: sent at once (see above). A client without a
    // visible queue is always corked.
    const queue = (client as { commandQueue?: { length: number } }).commandQueue;
    if (this.#lone && queue?.length === 0) return;
    const stream = (client as { stream?: Writable }).stream;
    if (!stream || typeof stream.cork !== 'function') return;
    stream.cork();
    this.#corked = stream;
    process.nextTick(this.#uncork);
  }

  readonly #uncork = (): void => {
    const stream = this.#corked;
    this.#corked = undefined;
    this.#lone = this.#batched === 0;
    stream?.uncork();
  };

  subscriber(
    sharded: boolean,
    onMessage: (channel: string, message: string) => void,
  ): RedisSubscriber {
    return ioredisSubscriber(this.#client, sharded, {
      onMessage,
      subscribers: this.#subscribers,
      onError: this.#onError,
    });
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

  masters(): Promise<readonly RedisServer[]> {
    const client = this.#client;
    const servers = isIoredisCluster(client) ? client.nodes('master') : [client];
    return Promise.resolve(
      servers.map((server) => ({
        name: server === client ? this.name : `${server.options.host}:${server.options.port}`,
        send: ([command, ...args]: readonly (string | number)[]) =>
          this.#call(server, String(command), args),
      })),
    );
  }

  async close(): Promise<void> {
    const client = this.#client;
    if (!this.#owned || client.status === 'end') return;
    await closeWithin(
      () => client.quit(),
      () => client.disconnect(),
    );
  }

  /**
   * Takes new credentials without replacing the connections: reconnects use them, and live
   * connections re-authenticate with AUTH.
   */
  async updateCredentials(credentials: { username?: string; password: string }): Promise<void> {
    const auth = credentials.username
      ? [credentials.username, credentials.password]
      : [credentials.password];
    const live: Promise<unknown>[] = [];
    // Subscribers only take the credentials for their reconnects: a connection in subscribe
    // mode refuses AUTH, and an authenticated connection stays authenticated.
    for (const client of [this.#client, ...this.#subscribers]) {
      const main = client === this.#client;
      if (isIoredisCluster(client)) {
        Object.assign((client.options.redisOptions ??= {}), credentials);
        for (const node of client.nodes()) {
          Object.assign(node.options, credentials);
          if (main && node.status === 'ready') live.push(node.call('AUTH', ...auth));
        }
      } else {
        Object.assign(client.options, credentials);
        if (main && client.status === 'ready') live.push(client.call('AUTH', ...auth));
      }
    }
    await Promise.all(live);
  }

  /**
   * A call's failure while disconnected says why the node is unreachable. Each call site
   * catches with this one shared handler rather than an async wrapper or a closure: one
   * promise and one function less per command on the lock's hot path.
   */
  readonly #explain = (error: unknown): never => {
    const status = this.#client.status;
    if (status === 'ready') throw error;
    const cause = this.#lastError ? `: ${redact(this.#lastError.message)}` : '';
    throw new Error(`${this.name} is not connected (${status})${cause}`, { cause: error });
  };

  /** One command on `target` (the client, or one server of a Cluster), explained on failure. */
  #call(
    target: Pick<Redis, 'call'>,
    name: string,
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      const reply = target.call(name, ...args);
      // Sent on a ready connection, a failure is the server's answer or the socket closing
      // under it, and callers see it as is: a promise fewer per lock command. Otherwise the
      // failure is ours to explain (why the node cannot be reached).
      return (target as { status?: string }).status === 'ready'
        ? reply
        : reply.catch(this.#explain);
    } catch (error) {
      return this.#thrown(error);
    }
  }

  /** A call that threw instead of rejecting: rejects as its failure would have. */
  #thrown(error: unknown): Promise<never> {
    // The executor's throw rejects the promise.
    return new Promise<never>(() => this.#explain(error));
  }

  toJSON(): { name: string } {
    return { name: this.name };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `IoredisConnection { name: '${this.name}' }`;
  }
}

/**
 * Commands of one tick after which an idle server gets them at once (see #cork). A write costs
 * about as much client CPU as making 5-10 lock commands, so a batch this size pays for it.
 */
const EARLY_WRITE = 32;

/**
 * The lock path's commands as ioredis' own methods spell them. ioredis lower-cases the name to
 * look up its flags, several times per command: for 'SET' a new string each time, hashed and
 * looked up in the string table (about 5 µs per lock in a profile); a literal 'set' comes back
 * as itself, already interned.
 */
const LOWER: Readonly<Record<string, string>> = { SET: 'set', PTTL: 'pttl', PING: 'ping' };
