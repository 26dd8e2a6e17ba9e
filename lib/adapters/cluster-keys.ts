import calculateSlot from 'cluster-key-slot';
import { clusterSafe } from './redis-keys.js';

/**
 * Rejects keys one Redis Cluster script cannot lock together: keys whose release channel would
 * land in another slot (see `redis-keys.ts`), and keys spread over several hash slots. Every
 * client library goes through here, so each refuses the same keys with the same message before
 * anything is sent.
 */
export function assertSameClusterSlot(keys: readonly string[]): void {
  for (const key of keys) {
    if (!clusterSafe(key)) {
      throw new Error(
        `Key "${key}" has a '}' outside a {hash tag}; on Redis Cluster put a non-empty {tag} before it.`,
      );
    }
  }
  if (keys.length === 0) return;
  const slot = calculateSlot(keys[0]!);
  if (keys.some((key) => calculateSlot(key) !== slot)) {
    throw new Error(
      `Keys ${keys.map((k) => `"${k}"`).join(', ')} fall in different Cluster hash slots; ` +
        'give the resources a common {hash tag} (e.g. "account:{42}:from", "account:{42}:to") to lock them together.',
    );
  }
}
