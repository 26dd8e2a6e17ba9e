import { afterAll, beforeAll, beforeEach, describe, it } from '@jest/globals';
import { fenceKey } from '../../lib/adapters/redis-keys.js';
import {
  describeLockAdapterContract as describeContract,
  type LockAdapterContractOptions,
  type LockAdapterContractTarget,
} from '../../lib/testing/lock-adapter.contract.js';
import type { RedisNode } from '../support/redis-fleet.js';

export type { LockAdapterContractTarget as ContractTarget };

/** The library's adapter contract suite (`lib/testing`), under jest. */
export function describeLockAdapterContract(
  label: string,
  setup: () => Promise<LockAdapterContractTarget>,
  options?: LockAdapterContractOptions,
): void {
  describeContract(label, setup, { describe, it, beforeAll, afterAll, beforeEach }, options);
}

/**
 * The optional probes of a target on real redis-server processes: the fencing counter read
 * through `probe` (a plain client on the same node or Cluster), and `nodes` to SIGSTOP.
 */
export function redisProbes(
  probe: { pttl(key: string): Promise<number> },
  cluster: boolean,
  nodes: readonly RedisNode[],
): Pick<LockAdapterContractTarget, 'fenceCounter' | 'pause'> {
  return {
    fenceCounter: async (keys) => {
      const key = fenceKey(keys[0]!, cluster);
      return { key, ttl: await probe.pttl(key) };
    },
    pause: async () => {
      await Promise.all(nodes.map((node) => node.pause()));
      return async () => {
        await Promise.all(nodes.map((node) => node.resume()));
      };
    },
  };
}
