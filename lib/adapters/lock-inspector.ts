import { HELPER_KEY_PREFIX } from '../interfaces/lock-adapter.interface.js';
import type {
  ForcedRelease,
  KeyListing,
  KeyState,
  LockInspector,
} from '../interfaces/lock-inspector.interface.js';
import { FORCE_RELEASE, forcedRelease, KEY_STATE, keyState } from './lock-inspector.scripts.js';
import type { RedisConnection, RedisServer } from './redis-connection.js';
import { escapeGlob } from './redis-glob.js';
import { fenceKey, releaseChannel } from './redis-keys.js';

/** Keys asked per `SCAN` step: large enough to be quick, small enough to never stall the server. */
const SCAN_COUNT = 250;

/** Prefix of instance records (see `instance-record.ts`): helper keys no resource can name. */
export const INSTANCE_KEY_PREFIX = `${HELPER_KEY_PREFIX}instance:`;

/**
 * The `inspector` capability of {@link RedisLockAdapter}: `SCAN` on every master (never `KEYS`),
 * then one read-only script per key found (pipelined: a page's scripts go out together) and one
 * `PUBSUB NUMSUB` per page for the waiters.
 */
export class RedisLockInspector implements LockInspector {
  readonly #connection: RedisConnection;
  readonly #publish: () => Promise<'PUBLISH' | 'SPUBLISH'>;

  constructor(connection: RedisConnection, publish: () => Promise<'PUBLISH' | 'SPUBLISH'>) {
    this.#connection = connection;
    this.#publish = publish;
  }

  async list(match: string, limit: number): Promise<KeyListing> {
    const connection = this.#connection;
    const prefix = connection.keyPrefix;
    const servers = await connection.masters();
    const publish = await this.#publish();
    // Non-sharded PUBLISH reaches every node of a Cluster, so waiters may listen on any of them.
    const everywhere = connection.cluster && publish === 'PUBLISH';
    const pattern = escapeGlob(prefix) + match;
    const found: KeyState[] = [];
    let truncated = false;
    for (const server of servers) {
      let cursor = '0';
      do {
        const [next, names] = (await server.send([
          'SCAN',
          cursor,
          'MATCH',
          pattern,
          'COUNT',
          SCAN_COUNT,
        ])) as [unknown, unknown[]];
        cursor = String(next);
        const keys = names
          .map((name) => String(name))
          .filter((name) => name.startsWith(prefix))
          .map((name) => name.slice(prefix.length))
          .filter((key) => !key.startsWith(HELPER_KEY_PREFIX));
        const room = limit - found.length;
        if (keys.length > room) truncated = true;
        const page = await this.#states(keys.slice(0, room), everywhere ? servers : [server]);
        found.push(...page);
        if (truncated) break;
      } while (cursor !== '0');
      if (truncated) break;
    }
    return { keys: found, truncated };
  }

  async instances(tags: readonly string[]): Promise<Map<string, string>> {
    const records = await Promise.all(
      tags.map((tag) => this.#connection.command('GET', [INSTANCE_KEY_PREFIX + tag])),
    );
    const found = new Map<string, string>();
    records.forEach((record, index) => {
      // A bulk string: text, or a Buffer with clients that return them.
      if (typeof record === 'string' || Buffer.isBuffer(record)) {
        found.set(tags[index]!, record.toString());
      }
    });
    return found;
  }

  async announce(tag: string, record: string, ttl: number): Promise<void> {
    await this.#connection.command('SET', [INSTANCE_KEY_PREFIX + tag, record, 'PX', ttl]);
  }

  async forceRelease(key: string): Promise<ForcedRelease> {
    const connection = this.#connection;
    const full = connection.keyPrefix + key;
    const publish = await this.#publish();
    return forcedRelease(
      await connection.evalScript(
        FORCE_RELEASE,
        [key, fenceKey(full, connection.cluster)],
        [publish, releaseChannel(full)],
      ),
    );
  }

  /** The state of each key (one script each, sent together), then its waiters. */
  async #states(keys: readonly string[], servers: readonly RedisServer[]): Promise<KeyState[]> {
    if (keys.length === 0) return [];
    const connection = this.#connection;
    const prefix = connection.keyPrefix;
    const [replies, waiters] = await Promise.all([
      Promise.all(
        keys.map((key) =>
          connection.evalScript(KEY_STATE, [key, fenceKey(prefix + key, connection.cluster)], []),
        ),
      ),
      this.#waiters(
        keys.map((key) => releaseChannel(prefix + key)),
        servers,
      ),
    ]);
    const states: KeyState[] = [];
    replies.forEach((reply, index) => {
      const state = keyState(keys[index]!, reply);
      if (state) states.push({ ...state, waiters: waiters[index] ?? 0 });
    });
    return states;
  }

  /** Subscribers of each channel, summed over `servers`. */
  async #waiters(channels: readonly string[], servers: readonly RedisServer[]): Promise<number[]> {
    const sharded = (await this.#publish()) === 'SPUBLISH';
    const counts = channels.map(() => 0);
    const replies = await Promise.all(
      servers.map((server) =>
        server.send(['PUBSUB', sharded ? 'SHARDNUMSUB' : 'NUMSUB', ...channels]),
      ),
    );
    for (const reply of replies) {
      const flat = Array.isArray(reply) ? reply : Object.entries(reply as object).flat();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const index = channels.indexOf(String(flat[i]));
        if (index >= 0) counts[index]! += Number(flat[i + 1]);
      }
    }
    return counts;
  }
}
