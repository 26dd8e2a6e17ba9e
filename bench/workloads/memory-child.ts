/**
 * Child of the memory workload (run with --expose-gc): for each contender in turn, holds many
 * locks at once and reads what they cost: heap after GC (the handles the caller keeps plus
 * whatever the library keeps per lock) and Redis memory (`used_memory` delta, and `MEMORY
 * USAGE` of the keys found). Then releases them and counts the keys still there.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { messageOf } from '../core/clock.js';
import { type ContenderId, createContender, resourceName } from '../core/contenders.js';
import { auditKeys, keyNames, OURS_HELPERS, type OwnerKeys } from '../core/key-audit.js';
import { type ChildMessage, exitWithParent, parentMessage, reply } from '../core/processes.js';

export interface MemoryConfigMessage extends ChildMessage {
  readonly type: 'config';
  readonly ids: readonly ContenderId[];
  readonly url: string;
  readonly locks: number;
  readonly ttl: number;
}

export interface HeldLocksResult {
  readonly contender: ContenderId;
  readonly locks: number;
  readonly heapBytesPerLock: number;
  readonly redisUsedMemoryPerLock: number;
  /** Keys on the node per held lock (helper keys included) and their `MEMORY USAGE`. */
  readonly keysPerLock: number;
  readonly memoryUsagePerLock: number;
  /** Keys of this contender still on the node right after every lock was released. */
  readonly keysAfterRelease: number;
  readonly errors: number;
  readonly firstError: string | undefined;
}

export interface MemoryResultMessage extends ChildMessage {
  readonly type: 'result';
  readonly results: HeldLocksResult[];
}

async function settledHeap(): Promise<number> {
  const collect = globalThis.gc;
  if (!collect) throw new Error('run the memory child with --expose-gc');
  // Twice, with a turn of the loop between: weak references and finalizers settle.
  await delay(50);
  collect();
  await delay(10);
  collect();
  return process.memoryUsage().heapUsed;
}

async function usedMemory(admin: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
}

/** `count` calls of `fn(i)`, 64 at a time. */
async function inParallel(count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: 64 }, lane));
}

function mine(owners: readonly OwnerKeys[], id: string): { keys: number; bytes: number } {
  const ours = id.startsWith('ours');
  const picked = owners.filter((o) => o.owner === id || (ours && o.owner === OURS_HELPERS));
  return {
    keys: picked.reduce((sum, o) => sum + o.keys, 0),
    bytes: picked.reduce((sum, o) => sum + o.bytes, 0),
  };
}

async function measure(
  id: ContenderId,
  config: MemoryConfigMessage,
  admin: Redis,
): Promise<HeldLocksResult> {
  const contender = await createContender(id, [config.url], {
    mode: 'uncontended',
    ttl: config.ttl,
    waitMs: 0,
  });
  let errors = 0;
  let firstError: string | undefined;
  try {
    // Warm-up: JIT, script cache, lazily built state.
    await inParallel(200, async (i) => {
      await contender.release(await contender.acquire(resourceName(id, 'mem-warm', i)));
    });
    // The caller's array of handles exists before the first reading: only locks are counted.
    const handles: unknown[] = new Array<unknown>(config.locks).fill(undefined);
    // Keys from before the first held lock (warm-up leftovers, per-instance records) are not
    // the held locks' keys.
    const baseline = await keyNames([admin]);
    const heapBefore = await settledHeap();
    const redisBefore = await usedMemory(admin);
    await inParallel(config.locks, async (i) => {
      try {
        handles[i] = await contender.acquire(resourceName(id, 'held', i));
      } catch (error) {
        errors += 1;
        firstError ??= messageOf(error);
      }
    });
    const held = config.locks - errors;
    const heapHeld = await settledHeap();
    const redisHeld = await usedMemory(admin);
    const onNode = mine(await auditKeys([admin], baseline), id);
    await inParallel(config.locks, async (i) => {
      if (handles[i] === undefined) return;
      try {
        await contender.release(handles[i]);
      } catch (error) {
        errors += 1;
        firstError ??= messageOf(error);
      }
    });
    handles.length = 0;
    const after = mine(await auditKeys([admin], baseline), id);
    const per = (value: number): number => value / Math.max(1, held);
    return {
      contender: id,
      locks: held,
      heapBytesPerLock: per(heapHeld - heapBefore),
      redisUsedMemoryPerLock: per(redisHeld - redisBefore),
      keysPerLock: per(onNode.keys),
      memoryUsagePerLock: per(onNode.bytes),
      keysAfterRelease: after.keys,
      errors,
      firstError,
    };
  } finally {
    await contender.close();
  }
}

async function main(): Promise<void> {
  exitWithParent();
  process.on('message', (message: unknown) => {
    if ((message as ChildMessage | undefined)?.type === 'stop') process.exit(0);
  });
  const config = await parentMessage<MemoryConfigMessage>('config');
  const admin = new Redis(config.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  const results: HeldLocksResult[] = [];
  try {
    for (const id of config.ids) results.push(await measure(id, config, admin));
  } finally {
    admin.disconnect();
  }
  const message: MemoryResultMessage = { type: 'result', results };
  await reply(message);
  process.exit(0);
}

main().catch(async (error: unknown) => {
  await reply({ type: 'error', message: messageOf(error) }).catch(() => undefined);
  process.exit(1);
});
