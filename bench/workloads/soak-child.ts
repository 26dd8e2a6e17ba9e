/**
 * Child of the soak (run with --expose-gc): ours through `RedlockService`, acquire + release
 * cycles with 64 in flight over a key space small enough that some calls collide and wait, so
 * subscriptions and wake-ups are exercised too. The heap (after GC) and the process's active
 * handles are read before, at checkpoints during, and after the measured cycles.
 */
import 'reflect-metadata';
import { setTimeout as delay } from 'node:timers/promises';
import { type DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { RedlockModule, RedlockService } from '../../lib/index.js';
import { messageOf } from '../core/clock.js';
import { resourceName } from '../core/contenders.js';
import { type ChildMessage, exitWithParent, parentMessage, reply } from '../core/processes.js';

export interface SoakConfigMessage extends ChildMessage {
  readonly type: 'config';
  readonly url: string;
  readonly cycles: number;
  readonly warmupCycles: number;
  readonly concurrency: number;
  readonly keySpace: number;
  readonly maxMs: number;
  readonly checkpoints: number;
}

export interface SoakSnapshot {
  /** Cycles done when the snapshot was taken (0 = before the measured part). */
  readonly cycles: number;
  readonly heapUsed: number;
  readonly rss: number;
  /** `process.getActiveResourcesInfo()` counted by kind (Timeout, TCPSocketWrap, ...). */
  readonly resources: Record<string, number>;
  /** Locks the engine still tracks as held. */
  readonly held: number;
}

export interface SoakResultMessage extends ChildMessage {
  readonly type: 'result';
  readonly cycles: number;
  readonly elapsedMs: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly snapshots: SoakSnapshot[];
}

@Module({})
class SoakModule {
  static register(url: string): DynamicModule {
    return { module: SoakModule, imports: [RedlockModule.forRoot({ nodes: [url] })] };
  }
}

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

async function snapshot(service: RedlockService, cycles: number): Promise<SoakSnapshot> {
  // Let unsubscribes and timers of the last cycles settle, then collect twice (weak refs,
  // finalizers) before reading.
  await delay(200);
  const collect = globalThis.gc;
  if (!collect) throw new Error('run the soak child with --expose-gc');
  collect();
  await delay(10);
  collect();
  const memory = process.memoryUsage();
  return {
    cycles,
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    resources: countResources(),
    held: service.engine.heldCount,
  };
}

async function main(): Promise<void> {
  exitWithParent();
  process.on('message', (message: unknown) => {
    if ((message as ChildMessage | undefined)?.type === 'stop') process.exit(0);
  });
  const config = await parentMessage<SoakConfigMessage>('config');
  const app = await NestFactory.createApplicationContext(SoakModule.register(config.url), {
    logger: false,
  });
  const service = app.get(RedlockService);
  let errors = 0;
  let firstError: string | undefined;
  let done = 0;

  const cycles = async (count: number, endAt: number): Promise<void> => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count && performance.now() < endAt) {
        next += 1;
        const key = resourceName('ours', 'soak', Math.floor(Math.random() * config.keySpace));
        try {
          const lock = await service.acquire(key, { ttl: 10_000, wait: 5_000 });
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
  };

  await cycles(config.warmupCycles, performance.now() + config.maxMs);
  done = 0;
  const snapshots = [await snapshot(service, 0)];
  const start = performance.now();
  const endAt = start + config.maxMs;
  const step = Math.ceil(config.cycles / config.checkpoints);
  let elapsedMs = 0;
  for (let k = 1; k <= config.checkpoints && performance.now() < endAt; k += 1) {
    const before = performance.now();
    await cycles(Math.min(step, config.cycles - done), endAt);
    elapsedMs += performance.now() - before;
    // The snapshot's settle time is kept out of the rate.
    snapshots.push(await snapshot(service, done));
  }
  const result: SoakResultMessage = {
    type: 'result',
    cycles: done,
    elapsedMs,
    errors,
    firstError,
    snapshots,
  };
  await reply(result);
  await app.close();
}

main().catch(async (error: unknown) => {
  await reply({ type: 'error', message: messageOf(error) }).catch(() => undefined);
  process.exit(1);
});
