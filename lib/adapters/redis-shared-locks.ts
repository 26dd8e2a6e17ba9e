import type {
  AcquireOptions,
  AcquireReply,
  OwnerReply,
  SharedLocks,
  SharedReleaseOptions,
} from '../interfaces/lock-adapter.interface.js';
import { assertKeys, assertTtl, permitsArg } from './adapter-args.js';
import type { RedisConnection, RedisScript } from './redis-connection.js';
import {
  acquireReply,
  ownerReply,
  SHARED_ACQUIRE,
  SHARED_EXTEND,
  SHARED_RELEASE,
} from './redis-scripts.js';

/** What the read locks borrow from their adapter. */
export interface SharedLockSupport {
  withCounter(keys: readonly string[], fenced: boolean): readonly string[];
  announcing(
    script: RedisScript,
    keys: readonly string[],
    value: string,
    extra?: number,
  ): Promise<unknown>;
}

/** The `shared` capability of `RedisLockAdapter`: read locks over the same connection. */
export class RedisSharedLocks implements SharedLocks {
  readonly #node: string;
  readonly #connection: RedisConnection;
  readonly #support: SharedLockSupport;

  constructor(node: string, connection: RedisConnection, support: SharedLockSupport) {
    this.#node = node;
    this.#connection = connection;
    this.#support = support;
  }

  async acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    options?: AcquireOptions,
  ): Promise<AcquireReply> {
    assertKeys(keys);
    assertTtl(ttl);
    const fenced = options?.fence === true;
    const all = this.#support.withCounter(keys, fenced);
    const args = [value, ttl, fenced ? 1 : 0, permitsArg(options?.permits)];
    return acquireReply(await this.#connection.evalScript(SHARED_ACQUIRE, all, args));
  }

  async extend(keys: readonly string[], value: string, ttl: number): Promise<OwnerReply> {
    assertKeys(keys);
    assertTtl(ttl);
    return ownerReply(await this.#connection.evalScript(SHARED_EXTEND, keys, [value, ttl]));
  }

  async release(
    keys: readonly string[],
    value: string,
    options?: SharedReleaseOptions,
  ): Promise<OwnerReply> {
    const cap = permitsArg(options?.permits);
    return ownerReply(await this.#support.announcing(SHARED_RELEASE, keys, value, cap));
  }

  toJSON(): { node: string } {
    return { node: this.#node };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SharedLocks { node: '${this.#node}' }`;
  }
}
