/**
 * Memory per held lock, in a child run with --expose-gc (see memory-child.ts), on one node.
 * The node is audited and emptied first, so the `used_memory` delta is the locks' alone.
 */
import type { WorkloadEnv } from '../core/config.js';
import type { ContenderId } from '../core/contenders.js';
import { type Audit, auditKeys } from '../core/key-audit.js';
import { forkTracked, nextMessage, send, stopChild } from '../core/processes.js';
import type { HeldLocksResult, MemoryConfigMessage, MemoryResultMessage } from './memory-child.js';

export interface MemoryBlock {
  readonly locks: number;
  readonly results: readonly HeldLocksResult[];
  readonly audit: Audit;
}

export async function runMemory(
  ids: readonly ContenderId[],
  { urls, admin, config, log }: WorkloadEnv,
): Promise<MemoryBlock> {
  const { heldLocks, ttl } = config.memory;
  const before: Audit = {
    when: 'before the memory workload',
    nodes: 1,
    owners: await auditKeys(admin.first(1)),
  };
  await admin.flushAll(1);
  const child = forkTracked('./memory-child.js', import.meta.url, { execArgv: ['--expose-gc'] });
  try {
    const done = nextMessage<MemoryResultMessage>(child, 'result', 120_000 + ids.length * 30_000);
    const message: MemoryConfigMessage = {
      type: 'config',
      ids,
      url: urls[0]!,
      locks: heldLocks,
      ttl,
    };
    send(child, message);
    const { results } = await done;
    for (const r of results) {
      log(
        `  memory ${r.contender}: heap ${r.heapBytesPerLock.toFixed(0)} B/lock, Redis ${r.redisUsedMemoryPerLock.toFixed(0)} B/lock ` +
          `(MEMORY USAGE ${r.memoryUsagePerLock.toFixed(0)} B in ${r.keysPerLock.toFixed(2)} keys), ${r.keysAfterRelease} keys after release` +
          (r.errors ? `, ${r.errors} errors (${r.firstError})` : ''),
      );
    }
    return { locks: heldLocks, results, audit: before };
  } finally {
    await stopChild(child);
  }
}
