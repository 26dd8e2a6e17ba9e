import { createHash } from 'node:crypto';

/**
 * The little a Redis lock node needs from a client library (the way redsync's `Conn` does it):
 * run a script, send a plain command, subscribe to release notifications, wait for the
 * connection, close. {@link RedisLockAdapter} implements every lock operation over this, so
 * supporting another client library is one small class, not another copy of the lock logic.
 *
 * A connection sends every key through the client's key prefix (`keyPrefix`), exactly as the
 * client would for its own commands, and never queues a lock command while disconnected.
 */
export interface RedisConnection {
  /** For logs and errors: the node's address, never credentials. */
  readonly name: string;
  /** Whether the node is a Redis Cluster: one call's keys must then share a hash slot. */
  readonly cluster: boolean;
  /**
   * Whether the client can route sharded subscriptions (`SSUBSCRIBE`) to each key's shard. Only
   * then are releases announced with `SPUBLISH`, and only on servers that know it.
   */
  readonly shardedSubscriptions: boolean;
  /** What the client puts before every key it sends ('' for none); slots hash the whole key. */
  readonly keyPrefix: string;

  /** `EVALSHA`, falling back to `EVAL` when the server does not have the script cached. */
  evalScript(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown>;

  /**
   * One plain command (`SET`, `PTTL`, `PING`, `COMMAND`). For commands on keys the key is the
   * first argument (it routes the command on a Cluster and takes the key prefix).
   */
  command(name: string, args: readonly (string | number)[]): Promise<unknown>;

  /**
   * Opens the connection release notifications arrive on (subscriptions need a connection of
   * their own); `onMessage` gets the channel and the text of each message. Always the adapter's to close.
   */
  subscriber(
    sharded: boolean,
    onMessage: (channel: string, message: string) => void,
  ): RedisSubscriber;

  /** Resolves once the client is connected; rejects after `timeout` ms. */
  ready(timeout: number): Promise<void>;

  /**
   * Every server that holds lock keys: the node itself, or each shard's master on a Cluster. For
   * commands about one server (`SCAN`, `PUBSUB NUMSUB`), sent as given: no key prefix, no
   * routing. Operators' tools use it (inspection), never the lock path.
   */
  masters(): Promise<readonly RedisServer[]>;

  /**
   * Closes the client if the connection owns it, within a bounded time even when the node
   * does not answer; a client the application passed in is left open.
   */
  close(): Promise<void>;
}

/** One server of a node, see {@link RedisConnection.masters}. */
export interface RedisServer {
  /** `host:port`, never credentials. */
  readonly name: string;
  /** One command, e.g. `['SCAN', '0', 'MATCH', 'lock:*', 'COUNT', 100]`. */
  send(args: readonly (string | number)[]): Promise<unknown>;
}

/** A connection in subscriber mode, see {@link RedisConnection.subscriber}. */
export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  /** Drops the connection at once: nothing on it is worth waiting for. */
  close(): void;
}

/** A Lua script with its SHA1 digest, computed once so every call can try `EVALSHA` first. */
export interface RedisScript {
  /** For errors and debugging only. */
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

export function redisScript(name: string, lua: string): RedisScript {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** How long a polite QUIT may take before the socket is simply dropped. */
export const CLOSE_TIMEOUT_MS = 500;

/**
 * Runs `polite` (QUIT and wait for the reply) but gives up after {@link CLOSE_TIMEOUT_MS} and
 * runs `force`: a stopped or paused node never answers QUIT, and shutdown must not hang on it.
 */
export async function closeWithin(
  polite: () => Promise<unknown>,
  force: () => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS);
  });
  // The polite attempt may still settle after we gave up: it must not become unhandled.
  const attempt = polite().then(
    () => 'closed' as const,
    () => 'failed' as const,
  );
  try {
    if ((await Promise.race([attempt, gaveUp])) !== 'closed') force();
  } finally {
    clearTimeout(timer);
  }
}

/** The message of whatever was thrown, for classifying server errors. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
