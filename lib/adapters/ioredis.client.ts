import type { Cluster, Redis } from 'ioredis';
import { redact } from '../redaction.js';

/** A standalone (or Sentinel-backed) ioredis client, or an ioredis Cluster. */
export type IoredisClient = Redis | Cluster;

/**
 * Duck-typed rather than `instanceof Cluster`, so ioredis-compatible forks (iovalkey) work too
 * and this module needs no runtime import of ioredis.
 */
export function isIoredisCluster(client: IoredisClient): client is Cluster {
  return client.isCluster;
}

/** A name for logs and errors built from the address only, so no credential can leak. */
export function describeClient(client: IoredisClient): string {
  if (isIoredisCluster(client)) {
    const nodes = (client as unknown as { startupNodes?: unknown[] }).startupNodes ?? [];
    const addresses = nodes.map((node) =>
      typeof node === 'object' && node !== null
        ? `${(node as { host?: string }).host ?? '127.0.0.1'}:${(node as { port?: number }).port ?? 6379}`
        : typeof node === 'number'
          ? `127.0.0.1:${node}`
          : redact(String(node)),
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
