import type { Cluster, Redis } from 'iovalkey';
import type {
  AcquireReply,
  FenceArgs,
  LineArgs,
  LockAdapter,
  OwnerReply,
  ReleaseListener,
} from '../interfaces/lock-adapter.interface.js';
import {
  type IoredisClient,
  IoredisLockAdapter,
  type IoredisLockAdapterOptions,
} from './ioredis.adapter.js';

/** A standalone (or Sentinel-backed) iovalkey client, or an iovalkey Cluster. */
export type IovalkeyClient = Redis | Cluster;

/** Options of {@link IovalkeyLockAdapter}: the same as the ioredis adapter's. */
export type IovalkeyLockAdapterOptions = IoredisLockAdapterOptions;

/**
 * A lock node on iovalkey, Valkey's Node client: a standalone server, a Sentinel-managed master,
 * or a Cluster, on Valkey or Redis.
 *
 * iovalkey is a fork of ioredis with the same API, so this adapter runs the ioredis adapter's
 * logic on it (same scripts, helper keys and pub/sub handling) rather than a copy of it; only
 * the client types differ. iovalkey 0.4 cannot route sharded subscriptions on a Cluster, so
 * there release notifications use PUBLISH / SUBSCRIBE. The library is only loaded by the
 * application that creates the client: this module imports nothing from it at runtime.
 *
 * @example
 * ```ts
 * import Valkey from 'iovalkey';
 * const adapter = new IovalkeyLockAdapter(new Valkey('redis://10.0.0.5:6379'), { owned: true });
 * ```
 */
export class IovalkeyLockAdapter implements LockAdapter {
  readonly name: string;
  // ES private (#) fields: the client carries credentials in its options, and unlike
  // TypeScript's `private` these stay out of util.inspect and JSON.stringify.
  readonly #client: IovalkeyClient;
  readonly #inner: IoredisLockAdapter;

  constructor(client: IovalkeyClient, options: IovalkeyLockAdapterOptions = {}) {
    this.#client = client;
    // ioredis' classes have private members, so TypeScript treats the fork's classes as
    // unrelated types even though every member the adapter uses is the same.
    this.#inner = new IoredisLockAdapter(client as unknown as IoredisClient, options);
    this.name = this.#inner.name;
  }

  /** The iovalkey client this adapter sends lock commands through. */
  get valkey(): IovalkeyClient {
    return this.#client;
  }

  validateKeys(keys: readonly string[]): void {
    this.#inner.validateKeys(keys);
  }

  acquire(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
    line?: LineArgs,
  ): Promise<AcquireReply> {
    return this.#inner.acquire(keys, value, ttl, fence, line);
  }

  leaveLine(key: string, id: string): Promise<void> {
    return this.#inner.leaveLine(key, id);
  }

  extend(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply> {
    return this.#inner.extend(keys, value, ttl, fence);
  }

  release(keys: readonly string[], value: string, rejoin?: LineArgs): Promise<OwnerReply> {
    return this.#inner.release(keys, value, rejoin);
  }

  syncFence(
    keys: readonly string[],
    value: string,
    fence: FenceArgs & { token: number },
  ): Promise<OwnerReply> {
    return this.#inner.syncFence(keys, value, fence);
  }

  acquireShared(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<AcquireReply> {
    return this.#inner.acquireShared(keys, value, ttl, fence);
  }

  extendShared(
    keys: readonly string[],
    value: string,
    ttl: number,
    fence: FenceArgs,
  ): Promise<OwnerReply> {
    return this.#inner.extendShared(keys, value, ttl, fence);
  }

  releaseShared(keys: readonly string[], value: string): Promise<OwnerReply> {
    return this.#inner.releaseShared(keys, value);
  }

  inspect(keys: readonly string[]): Promise<number> {
    return this.#inner.inspect(keys);
  }

  onRelease(keys: readonly string[], listener: ReleaseListener): Promise<() => void> {
    return this.#inner.onRelease(keys, listener);
  }

  ping(): Promise<void> {
    return this.#inner.ping();
  }

  ready(timeout: number): Promise<void> {
    return this.#inner.ready(timeout);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
