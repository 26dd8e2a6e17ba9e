/**
 * Child process of workload 5 (run with --expose-gc): a million acquire/release cycles with 64
 * in flight over a key space small enough that some calls collide and wait, so subscriptions
 * and wake-ups are exercised too. Heap, RSS and the process's active handles are read after a
 * forced GC before and after the measured cycles.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createLockAdapter, type LockAdapter, Redlock } from '../../lib/index.js';
import { messageOf } from '../core/clock.js';
import { type ChildMessage, exitWithParent, parentMessage, reply } from '../core/processes.js';

export interface SoakConfigMessage extends ChildMessage {
  readonly type: 'config';
  readonly url: string;
  readonly cycles: number;
  readonly warmupCycles: number;
  readonly concurrency: number;
  readonly keySpace: number;
  readonly maxMs: number;
}

export interface SoakSnapshot {
  readonly heapUsed: number;
  readonly rss: number;
  readonly external: number;
  /** `process.getActiveResourcesInfo()` counted by kind (Timeout, TCPSocketWrap, ...). */
  readonly resources: Record<string, number>;
  /** Locks the engine still tracks as held. */
  readonly held: number;
  /** Keys with an in-process release listener (waiters). */
  readonly localWaiters: number;
  /** Release channels the adapter is subscribed to (ioredis adapter only). */
  readonly channels: number | undefined;
}

export interface SoakResultMessage extends ChildMessage {
  readonly type: 'result';
  readonly cycles: number;
  readonly elapsedMs: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Acquisitions that needed more than one attempt (collisions that waited). */
  readonly waited: number;
  readonly before: SoakSnapshot;
  readonly after: SoakSnapshot;
}

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

async function snapshot(engine: Redlock, adapter: LockAdapter): Promise<SoakSnapshot> {
  // Let unsubscribes and timers of the last cycles settle, then collect twice (weak refs,
  // finalizers) before reading.
  await delay(300);
  const collect = globalThis.gc;
  if (!collect) throw new Error('run the soak child with --expose-gc');
  collect();
  await delay(10);
  collect();
  const memory = process.memoryUsage();
  const internals = engine as unknown as { local?: { size?: number } };
  const channels = (adapter as unknown as { channels?: Map<string, unknown> }).channels;
  return {
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    external: memory.external,
    resources: countResources(),
    held: engine.heldCount,
    localWaiters: internals.local?.size ?? -1,
    channels: channels?.size,
  };
}

async function main(): Promise<void> {
  exitWithParent();
  process.on('message', (message: unknown) => {
    if ((message as ChildMessage | undefined)?.type === 'stop') process.exit(0);
  });
  const config = await parentMessage<SoakConfigMessage>('config');
  const adapter = createLockAdapter(config.url);
  await adapter.ready?.(5_000);
  let waited = 0;
  const engine = new Redlock([adapter], {
    onEvent: (event) => {
      if (event.type === 'acquired' && event.attempts > 1) waited += 1;
    },
  });
  let errors = 0;
  let firstError: string | undefined;

  const cycles = async (
    count: number,
    maxMs: number,
  ): Promise<{ done: number; elapsedMs: number }> => {
    let next = 0;
    let done = 0;
    const start = performance.now();
    const end = start + maxMs;
    const lane = async (): Promise<void> => {
      while (next < count && performance.now() < end) {
        next += 1;
        const key = `soak:${Math.floor(Math.random() * config.keySpace)}`;
        try {
          const lock = await engine.acquire(key, { ttl: 10_000, wait: 5_000 });
          await lock.release();
          done += 1;
        } catch (error) {
          errors += 1;
          firstError ??= messageOf(error);
          if (errors > 1_000) return;
        }
      }
    };
    await Promise.all(Array.from({ length: config.concurrency }, lane));
    return { done, elapsedMs: performance.now() - start };
  };

  await cycles(config.warmupCycles, config.maxMs);
  waited = 0;
  const before = await snapshot(engine, adapter);
  const run = await cycles(config.cycles, config.maxMs);
  const after = await snapshot(engine, adapter);
  const result: SoakResultMessage = {
    type: 'result',
    cycles: run.done,
    elapsedMs: run.elapsedMs,
    errors,
    firstError,
    waited,
    before,
    after,
  };
  await reply(result);
  await engine.close();
  await adapter.close();
}

main().catch(async (error: unknown) => {
  await reply({ type: 'error', message: messageOf(error) }).catch(() => undefined);
  process.exit(1);
});
