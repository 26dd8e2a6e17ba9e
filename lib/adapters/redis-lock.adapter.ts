import type {
  AcquireOptions,
  AcquireReply,
  HandOff,
  LockAdapter,
  OwnerReply,
  ReleaseOptions,
  SharedLocks,
} from '../interfaces/lock-adapter.interface.js';
import { HELPER_KEY_PREFIX } from '../interfaces/lock-adapter.interface.js';
import { ACQUIRED, argumentError, assertKeys, assertToken, assertTtl } from './adapter-args.js';
import { assertSameClusterSlot } from './cluster-keys.js';
import {
  errorMessage,
  type RedisConnection,
  type RedisScript,
  type RedisSubscriber,
} from './redis-connection.js';
import { fenceKey, releaseChannel } from './redis-keys.js';
import {
  ACQUIRE,
  acquireReply,
  EXTEND,
  INSPECT,
  ownerReply,
  RELEASE,
  SYNC_FENCE,
} from './redis-scripts.js';
import { ReleaseChannels } from './release-channels.js';
import type { LockInspector } from '../interfaces/lock-inspector.interface.js';
import { RedisLockInspector } from './lock-inspector.js';
import { RedisSharedLocks } from './redis-shared-locks.js';
import { RedisHandOff } from './redis-hand-off.js';

type Publish = 'PUBLISH' | 'SPUBLISH';

/** Releases remembered for acquisitions in flight (see `#recentReleases`). */
const RECENT = 256;

/**
 * A lock node on any Redis client library, through a {@link RedisConnection}: a standalone
 * server, a Sentinel-managed master or a Redis Cluster. The client-specific classes
 * (`IoredisLockAdapter`, `NodeRedisLockAdapter`, `IovalkeyLockAdapter`) are this adapter over
 * their connection.
 *
 * Redis time is what every lock pays, so the common case is lean: an uncontended single-key
 * acquisition without a fencing token is one plain `SET key value NX PX ttl GET` (a second
 * round trip, `PTTL`, only when the key is busy), and a release is one short script. Fencing
 * costs one `INCR` on one counter per node (per hash slot on a Cluster), only when asked for.
 * Release notifications go over pub/sub (sharded on Clusters whose servers and client allow it,
 * so a notification stays on the lock's shard), on a connection opened on the first wait.
 */
export class RedisLockAdapter implements LockAdapter {
  readonly name: string;
  /** Read locks: sorted sets of readers, with a mark that keeps new readers from starving writers. */
  readonly shared: SharedLocks;
  /** Hand-offs: one compare-and-set script from the old owner value to the next. */
  readonly handOff: HandOff;
  /** Listing (SCAN), instance records and force release, for operators' tools. */
  readonly inspector: LockInspector;
  // ES private (#) fields: connections carry credentials in their options, and unlike
  // TypeScript's `private` these stay out of util.inspect and JSON.stringify.
  /**
   * The owner values of the last releases, a ring of {@link RECENT} slots, and how many
   * releases were sent in all: a plain SET that failed tells from them whether its attempt was
   * taken back while it was in flight. Two stores per release instead of a map entry per
   * acquisition (its hashing and table were a tenth of the adapter's cost per lock).
   */
  readonly #recentReleases: string[] = new Array<string>(RECENT).fill('');
  #releases = 0;
  readonly #connection: RedisConnection;
  readonly #channels = new ReleaseChannels();
  #subscriber: RedisSubscriber | undefined;
  /** Resolved once known, so a release does not await a settled promise each time. */
  #publish: Publish | undefined;
  #probe: Promise<Publish> | undefined;
  /** False once the server refused `SET ... NX GET` (Redis < 7): ACQUIRE does it instead. */
  #plainSet = true;
  #closed = false;

  constructor(connection: RedisConnection) {
    this.#connection = connection;
    this.name = connection.name;
    this.shared = new RedisSharedLocks(this.name, connection, {
      withCounter: (keys, fenced) => this.#withCounter(keys, fenced),
      announcing: (script, keys, value, extra) => this.#announcing(script, keys, value, extra),
    });
    this.handOff = new RedisHandOff(this.name, connection);
    if (!connection.cluster || !connection.shardedSubscriptions) this.#publish = 'PUBLISH';
    this.inspector = new RedisLockInspector(connection, () => this.publishCommand());
  }

  toJSON(): { name: string } {
    return { name: this.name };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `${this.constructor.name} { name: '${this.name}' }`;
  }

  validateKeys(keys: readonly string[]): void {
    for (const key of keys) {
      if (key.startsWith(HELPER_KEY_PREFIX)) {
        throw new Error(
          `Key ${JSON.stringify(key)} is in the namespace of the lock's own helper keys; choose another name.`,
        );
      }
    }
    if (this.#connection.cluster) {
      assertSameClusterSlot(keys.map((key) => this.#connection.keyPrefix + key));
    }
  }

  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    options?: AcquireOptions,
  ): Promise<AcquireReply> {
    const invalid = argumentError(keys, ttl);
    if (invalid) return Promise.reject(invalid);
    const fenced = options?.fence === true;
    if (keys.length !== 1 || fenced || !this.#plainSet)
      return this.#script(keys, value, ttl, fenced);
    // Not async, and one promise chain: this runs once per node for every lock.
    const key = keys[0]!;
    const releasesBefore = this.#releases;
    return this.#connection.command('SET', [key, value, 'NX', 'PX', ttl, 'GET']).then(
      // NX + GET: null means we took it, our own value means a replay of our SET took it.
      (held) => (held === null || held === value ? ACQUIRED : this.#busy(key)),
      (error: unknown) => {
        const message = errorMessage(error);
        // Redis < 7 refuses NX with GET (the script from now on); WRONGTYPE: readers hold the
        // key, and ACQUIRE below marks the writer's wait.
        if (message.startsWith('ERR syntax error')) this.#plainSet = false;
        else if (!message.startsWith('WRONGTYPE')) throw error;
        // Unless the engine has already taken this attempt back: the script would arrive after
        // the undo and could take a key that nobody would ever release.
        if (this.#releasedSince(value, releasesBefore)) return { acquired: false, ttl: 0 };
        return this.#script(keys, value, ttl, false);
      },
    );
  }

  /** The refusal of a busy key, with the holder's remaining ttl for the waiter's sleep. */
  async #busy(key: string): Promise<AcquireReply> {
    const pttl = Number(await this.#connection.command('PTTL', [key]));
    // -2: it expired between the two commands; come back at once.
    return { acquired: false, ttl: pttl === -2 ? 0 : pttl };
  }

  async #script(
    keys: readonly string[],
    value: string,
    ttl: number,
    fenced: boolean,
  ): Promise<AcquireReply> {
    const all = this.#withCounter(keys, fenced);
    return acquireReply(
      await this.#connection.evalScript(ACQUIRE, all, [value, ttl, fenced ? 1 : 0]),
    );
  }

  async extend(keys: readonly string[], value: string, ttl: number): Promise<OwnerReply> {
    assertKeys(keys);
    assertTtl(ttl);
    return ownerReply(await this.#connection.evalScript(EXTEND, keys, [value, ttl]));
  }

  release(keys: readonly string[], value: string, options?: ReleaseOptions): Promise<OwnerReply> {
    const invalid = argumentError(keys);
    if (invalid) return Promise.reject(invalid);
    this.#recentReleases[this.#releases % RECENT] = value;
    this.#releases += 1;
    // Not async, like acquire: once per node for every lock.
    return this.#announcing(RELEASE, keys, value, options?.undo ? 1 : undefined).then(ownerReply);
  }

  /**
   * Whether `value` was released since the count was `since`; true also when more releases
   * than the ring holds came since (then it cannot tell, and a retry is the safe answer).
   */
  #releasedSince(value: string, since: number): boolean {
    if (this.#releases - since > RECENT) return true;
    for (let i = since; i < this.#releases; i += 1) {
      if (this.#recentReleases[i % RECENT] === value) return true;
    }
    return false;
  }

  async syncFence(keys: readonly string[], value: string, token: string): Promise<OwnerReply> {
    assertKeys(keys);
    assertToken(token);
    const all = this.#withCounter(keys, true);
    return ownerReply(await this.#connection.evalScript(SYNC_FENCE, all, [value, token]));
  }

  async inspect(keys: readonly string[]): Promise<number> {
    assertKeys(keys);
    const reply =
      keys.length === 1
        ? await this.#connection.command('PTTL', [keys[0]!])
        : await this.#connection.evalScript(INSPECT, keys, []);
    return Number(reply);
  }

  async onRelease(
    keys: readonly string[],
    listener: (message?: string) => void,
  ): Promise<() => void> {
    this.assertOpen();
    const sharded = (await this.publishCommand()) === 'SPUBLISH';
    this.assertOpen();
    const channels = keys.map((key) => releaseChannel(this.#connection.keyPrefix + key));
    return this.#channels.listen(channels, listener, () => {
      this.#subscriber ??= this.#connection.subscriber(sharded, (channel, message) =>
        this.#channels.dispatch(channel, message),
      );
      return this.#subscriber;
    });
  }

  async ping(): Promise<void> {
    await this.#connection.command('PING', []);
  }

  ready(timeout: number): Promise<void> {
    return this.#connection.ready(timeout);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channels.clear();
    // The subscriber is always ours, even on a client the application owns.
    this.#subscriber?.close();
    this.#subscriber = undefined;
    await this.#connection.close();
  }

  /** The lock keys, then the counter of their node (or slot) when the script needs it. */
  #withCounter(keys: readonly string[], fenced: boolean): readonly string[] {
    if (!fenced) return keys;
    const counter = fenceKey(this.#connection.keyPrefix + keys[0]!, this.#connection.cluster);
    return [...keys, counter];
  }

  /**
   * Runs a releasing script: the lock keys, then the value, how to publish, each channel, and
   * `extra` (a semaphore's cap) when given.
   */
  #announcing(
    script: RedisScript,
    keys: readonly string[],
    value: string,
    extra?: number,
  ): Promise<unknown> {
    assertKeys(keys);
    const publish = this.#publish;
    // Not async: once the command is known (always, off Cluster) a release is one promise less.
    if (!publish) {
      return this.publishCommand().then(() => this.#announcing(script, keys, value, extra));
    }
    const prefix = this.#connection.keyPrefix;
    const args: (string | number)[] =
      keys.length === 1
        ? [value, publish, releaseChannel(prefix + keys[0]!)]
        : [value, publish, ...keys.map((key) => releaseChannel(prefix + key))];
    if (extra !== undefined) args.push(extra);
    return this.#connection.evalScript(script, keys, args);
  }

  private assertOpen(): void {
    if (this.#closed) throw new Error(`${this.name}: adapter is closed`);
  }

  /** PUBLISH, or SPUBLISH on a Cluster of Redis 7 servers whose client routes SSUBSCRIBE. */
  private publishCommand(): Promise<Publish> {
    if (this.#publish) return Promise.resolve(this.#publish);
    if (!this.#probe) {
      // Redis 7 added sharded pub/sub; older clusters broadcast every PUBLISH to all nodes.
      const probe = this.#connection.command('COMMAND', ['INFO', 'SPUBLISH']).then((reply) => {
        const publish: Publish = Array.isArray(reply) && reply[0] != null ? 'SPUBLISH' : 'PUBLISH';
        this.#publish = publish;
        return publish;
      });
      this.#probe = probe;
      probe.catch(() => {
        // A failed probe (node down) is asked again next time, not cached.
        if (this.#probe === probe) this.#probe = undefined;
      });
    }
    return this.#probe;
  }
}
