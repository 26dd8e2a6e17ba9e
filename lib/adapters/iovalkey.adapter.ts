import type { IoredisClient } from './ioredis.client.js';
import { IoredisConnection, type IoredisLockAdapterOptions } from './ioredis.connection.js';
import { RedisLockAdapter } from './redis-lock.adapter.js';

/**
 * An iovalkey client (`new Valkey(...)`, `new Cluster(...)`), standalone, Sentinel-backed or
 * Cluster. Typed by the members this library relies on rather than by iovalkey's own classes,
 * so these declarations name nothing from `iovalkey` and applications that do not use it need
 * not install it.
 */
export interface IovalkeyClient {
  readonly isCluster: boolean;
  readonly status: string;
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  duplicate(...args: never[]): unknown;
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** Options of {@link IovalkeyLockAdapter}: the same as the ioredis adapter's. */
export type IovalkeyLockAdapterOptions = IoredisLockAdapterOptions;

/**
 * A lock node on iovalkey, Valkey's Node client: a standalone server, a Sentinel-managed master,
 * or a Cluster, on Valkey or Redis.
 *
 * iovalkey is a fork of ioredis with the same API, so it runs over the ioredis connection. iovalkey
 * 0.4 cannot route sharded subscriptions on a Cluster, so there release notifications use
 * PUBLISH / SUBSCRIBE. This module imports nothing from iovalkey, at runtime or in its types.
 *
 * @example
 * ```ts
 * import Valkey from 'iovalkey';
 * const adapter = new IovalkeyLockAdapter(new Valkey('redis://10.0.0.5:6379'), { owned: true });
 * ```
 */
export class IovalkeyLockAdapter extends RedisLockAdapter {
  // ES private (#) field: the client carries credentials in its options, and unlike
  // TypeScript's `private` this stays out of util.inspect and JSON.stringify.
  readonly #client: IovalkeyClient;

  constructor(client: IovalkeyClient, options: IovalkeyLockAdapterOptions = {}) {
    // ioredis' classes have private members, so TypeScript treats the fork's classes as
    // unrelated types even though every member the connection uses is the same.
    super(new IoredisConnection(client as unknown as IoredisClient, options));
    this.#client = client;
  }

  /** The iovalkey client this adapter sends lock commands through. */
  get valkey(): IovalkeyClient {
    return this.#client;
  }
}
